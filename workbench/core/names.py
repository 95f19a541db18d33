"""The names an analyst types — of components, clusters and runs — checked in one place, for
the app, the CLI and the run registry alike; and names made safe to print.

Component and cluster names become column headers and cell values of every export, so none
may equal a key column of the table (its id, state and county columns), another name of the
same kind (default names included: `pc2`, `cluster 1`), or a column the workbench adds
(`cluster`, `cluster_name`, `distance_to_cluster`, and `county`, the labels file's key);
comparisons ignore case, as spreadsheets do. No name holds a control character (NUL, ESC,
newline, …) or an invisible formatting one, or exceeds MAX_NAME_LENGTH characters. A blank
name means "use the default".

A run name may never equal or start any run's id (lookups take an id prefix first, so
`runs delete NAME` would reach the other run), nor look like the start of a future one.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from workbench.core import conventions

MAX_NAME_LENGTH = 80
# The labeled table's own columns, and labels.csv's key (workbench.runs.folders.write_labels).
ADDED_COLUMNS = (*conventions.RESERVED_COLUMNS, "county", "county key")
# workbench.runs.folders.new_run_id: YYYYMMDD-HHMMSS-<6 hex digits>
_RUN_ID_START = re.compile(r"\d{1,8}(?:-\d{0,6}(?:-[0-9a-f]{0,6})?)?", re.IGNORECASE)


class InvalidName(ValueError):
    """A name that cannot be used; the message says which and why, in one line."""


def _unsafe_character(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def check_name(name: object, what: str) -> str:
    """`name` stripped of surrounding spaces, or InvalidName: not text, a control or invisible
    character, longer than MAX_NAME_LENGTH. `what` names it in messages ("component 2")."""
    if name is None:
        return ""
    if not isinstance(name, str):
        raise InvalidName(f"The name of {what} must be text, not {type(name).__name__}.")
    bad = _unsafe_character(name)
    if bad:
        raise InvalidName(f"The name of {what} contains the control character {bad}; use letters, digits, "
                          "spaces and punctuation only.")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"The name of {what} is {len(name)} characters long; keep it to {MAX_NAME_LENGTH}.")
    return name


def _check_set(names: Sequence[object], defaults: Sequence[str], kind: str, key_columns: Iterable[str]) -> list[str]:
    chosen = [check_name(name, f"{kind} {i + 1 if kind == 'component' else i}") for i, name in enumerate(names)]
    keys = {str(c).casefold(): str(c) for c in key_columns if c}
    added = {c.casefold(): c for c in ADDED_COLUMNS}
    effective = [name or default for name, default in zip(chosen, defaults)]
    for name in effective:
        folded = name.casefold()
        if folded in keys:
            raise InvalidName(f"The {kind} name {name!r} is the name of the table's column {keys[folded]!r}; "
                              "choose another, or the export would mix them up.")
        if folded in added:
            raise InvalidName(f"The {kind} name {name!r} is taken by the workbench's column {added[folded]!r}; "
                              "choose another.")
    first: dict[str, str] = {}
    twice = []
    for name in effective:
        if name.casefold() in first and first[name.casefold()] not in twice:
            twice.append(first[name.casefold()])
        first.setdefault(name.casefold(), name)
    if twice:
        raise InvalidName(f"{kind.capitalize()} names must be unique (ignoring case); "
                          f"{', '.join(map(repr, twice))} is used twice.")
    return chosen


def check_component_names(names: Sequence[object], *, key_columns: Iterable[str] = ()) -> list[str]:
    """The component names (largest first) stripped, blank where the default pcN applies; or
    InvalidName. key_columns: the table's id and name columns (Schema.id_column, name_columns)."""
    names = list(names)
    return _check_set(names, conventions.default_component_names(len(names)), "component", key_columns)


def check_cluster_names(names: Sequence[object], *, key_columns: Iterable[str] = ()) -> list[str]:
    """The cluster names (by cluster id) stripped, blank where the default "cluster i" applies; or InvalidName."""
    names = list(names)
    return _check_set(names, [conventions.default_cluster_name(i) for i in range(len(names))], "cluster",
                      key_columns)


def check_run_name(name: object, run_ids: Iterable[str]) -> str:
    """A run's name stripped (blank: no name), or InvalidName when it equals, or starts, one of
    `run_ids` (every run's id but its own), or could start a future run id."""
    name = check_name(name, "the run")
    if not name:
        return name
    folded = name.casefold()
    clash = next((run_id for run_id in run_ids if str(run_id).casefold().startswith(folded)), None)
    if clash is not None:
        same = "is" if clash.casefold() == folded else "starts"
        raise InvalidName(f"The run name {name!r} {same} the id of run {clash}, so commands given it could "
                          "reach that run; choose another name.")
    if _RUN_ID_START.fullmatch(name):
        raise InvalidName(f"The run name {name!r} looks like the start of a run id (they start with the date, "
                          "e.g. 20250131-…), so it could be mistaken for one; add a word.")
    return name


def terminal_text(text: object) -> str:
    """`text` on one line with every control character (ESC, newline, NUL, …) and invisible
    formatting character written as an escape (`\\x1b`, `\\n`), so it cannot move the cursor,
    recolour or clear a terminal, or fake another line of output."""
    out = []
    for char in str(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            escaped = char.encode("unicode_escape").decode("ascii")
            out.append(escaped if escaped != char else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)
