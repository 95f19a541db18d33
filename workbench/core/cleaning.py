"""Cleaning a raw table for segmentation: keep the usable rows and feature columns, and report
every row and column dropped, with the reason; and the table's fingerprint.

    result = clean_table(raw, detect_schema(raw))
"""
from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.census import ANNOTATIONS, ANNOTATIONS_ATTR
from workbench.core.errors import DataError
from workbench.core.parsing import parse_report
from workbench.core.schema import Schema, detect_schema

# --------------------------------------------------------------------------- cleaning


@dataclass(frozen=True)
class DropRecord:
    """Rows (or, for *_column reasons, feature columns) that cleaning dropped, and why.

    reason: a stable key: "annotation", "incomplete", "non_numeric", "infinite", "duplicate_id",
            "empty_column", "constant_column" or "duplicate_column".
    count: how many rows (or columns) were dropped for this reason.
    examples: up to five human-readable examples, e.g. "Texas-Loving (missing Income, IncomeErr)".
    columns: the columns involved, most affected first.
    detail: one sentence for people.
    """

    reason: str
    count: int
    examples: list[str]
    columns: list[str]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "examples": list(self.examples),
                "columns": list(self.columns), "detail": self.detail}


@dataclass(frozen=True)
class CleanWarning:
    """Something kept that the analyst should know about. kind: "near_duplicate" (two features
    with |r| ≥ NEAR_DUPLICATE_R: together they weigh one thing twice); columns: the pair; detail:
    one sentence for people."""

    kind: str
    columns: list[str]
    detail: str
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": list(self.columns), "detail": self.detail, "value": self.value}


@dataclass(frozen=True)
class CleanReport:
    rows_raw: int
    rows_clean: int
    drops: list[DropRecord] = field(default_factory=list)
    warnings: list[CleanWarning] = field(default_factory=list)
    # What parsing read and converted (parsing.parse_report): encoding, delimiter, number formats, notes.
    parsing: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        return self.rows_raw - self.rows_clean

    def drop(self, reason: str) -> DropRecord | None:
        """The record for one reason, or None when nothing was dropped for it."""
        return next((d for d in self.drops if d.reason == reason), None)

    def summary(self) -> str:
        lines = [f"{self.rows_clean} of {self.rows_raw} rows kept."]
        lines += [f"- Read: {note}" for note in self.parsing.get("notes", [])]
        lines += [f"- {d.detail} E.g. {'; '.join(d.examples)}." for d in self.drops]
        lines += [f"- Warning: {w.detail}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"rows_raw": self.rows_raw, "rows_clean": self.rows_clean, "drops": [d.to_dict() for d in self.drops],
                "warnings": [w.to_dict() for w in self.warnings], "parsing": dict(self.parsing)}


@dataclass(frozen=True, eq=False)
class CleanResult:
    """frame: index = unique row label ("State-County", e.g. "Alabama-Autauga"); columns = the id
    and name columns, then the features as float64, and possibly more (after a rates step,
    recipes.apply_rates, the counts and total the rates came from stay beside them). features:
    the feature columns kept; use feature_frame for just those."""

    frame: pd.DataFrame
    features: list[str]
    report: CleanReport
    schema: Schema

    @property
    def feature_frame(self) -> pd.DataFrame:
        return self.frame[self.features]


_MAX_EXAMPLES = 5


def clean_table(df: pd.DataFrame, schema: Schema | None = None, features: Sequence[str] | None = None) -> CleanResult:
    """Keep the rows and feature columns a segmentation can use, and report what was dropped.

    features: the feature columns to use (default: all of schema.feature_columns); kept in table order.
    First feature columns that are entirely blank are dropped (they would drop every row). Then
    rows are dropped, each for the first reason that applies: a Census Data API annotation in the
    id, name or chosen feature columns; missing values there; non-numeric feature values; infinite
    values; an id seen earlier (the first row with an id is kept). Then feature columns constant
    on the kept rows are dropped, exact duplicates screened out and near-duplicates warned of.
    """
    schema = schema or detect_schema(df)
    rows_raw = len(df)
    if rows_raw < 2:
        raise DataError(
            f"The table has {rows_raw} row(s); segmenting needs at least 2 counties (ideally hundreds). "
            "Load the full table."
        )
    absent = [c for c in (schema.id_column, *schema.name_columns, *schema.feature_columns) if c is not None and c not in df]
    if absent:
        raise DataError(f"The schema names column(s) {absent} that the table lacks; detect the schema from this table.")
    chosen = _choose_features(schema, features)
    original = df
    df = df.reset_index(drop=True)  # positions, whatever index the caller's frame had
    # pandas deep-copies a frame's attrs into every column it hands out (some 200 copies, 3 ms, in
    # a census cleaning): the working frame has none; `original` keeps them for what reads them.
    df.attrs = {}
    keys = [c for c in (schema.id_column, *schema.name_columns) if c is not None]
    parsed = _Parsed.of(df, keys, chosen)
    drops: list[DropRecord] = []
    chosen = _drop_empty_columns(chosen, parsed.missing, drops)
    labels = _labels(parsed.key_values, schema, rows_raw)
    rows = _RowDropper(rows_raw, drops)
    _drop_rows(rows, df, original.attrs, schema, keys, chosen, parsed, labels)
    keep = rows.keep
    chosen, warnings = screen_columns(chosen, {c: parsed.numbers[c][keep] for c in chosen}, drops)
    columns: dict[str, Any] = {c: _tidy_key(parsed.key_values[c][keep]) for c in keys}
    columns.update({c: parsed.numbers[c][keep] for c in chosen})
    index = pd.Index(_unique_labels(labels[keep], parsed.key_values.get(schema.id_column), keep), name="label")
    frame = pd.DataFrame({c: np.asarray(v) for c, v in columns.items()}, index=index)
    report = CleanReport(rows_raw, rows.kept, drops, warnings, parse_report(original))
    return CleanResult(frame, chosen, report, schema)


@dataclass
class _Parsed:
    """The key columns with blanks as missing, and the chosen features as numbers with their masks."""

    key_values: dict[str, pd.Series]
    missing: dict[str, np.ndarray]
    numbers: dict[str, np.ndarray]
    non_numeric: dict[str, np.ndarray]

    @classmethod
    def of(cls, df: pd.DataFrame, keys: list[str], chosen: list[str]) -> _Parsed:
        key_values = {c: _blank_to_na(df[c]) for c in keys}
        missing = {c: key_values[c].isna().to_numpy() for c in keys}
        numbers: dict[str, np.ndarray] = {}
        non_numeric: dict[str, np.ndarray] = {}
        for c in chosen:
            column = df[c]
            if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiu":
                # Already numbers (pandas read them so): what the general path gives, without its
                # three pandas passes a column.
                numbers[c] = column.to_numpy(dtype="float64")
                missing[c] = np.isnan(numbers[c])
                non_numeric[c] = np.zeros(len(column), dtype=bool)
                continue
            raw = _blank_to_na(column)
            numbers[c] = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            missing[c] = raw.isna().to_numpy()
            non_numeric[c] = np.isnan(numbers[c]) & ~missing[c]
        return cls(key_values, missing, numbers, non_numeric)


def _drop_empty_columns(chosen: list[str], missing: dict[str, np.ndarray], drops: list[DropRecord]) -> list[str]:
    """A feature column with no values at all would drop every row; drop the column instead."""
    empty = [c for c in chosen if missing[c].all()]
    if not empty:
        return chosen
    drops.append(DropRecord("empty_column", len(empty), empty[:_MAX_EXAMPLES], empty,
                            f"Dropped {len(empty)} feature column(s) with no values."))
    chosen = [c for c in chosen if c not in empty]
    if not chosen:
        raise DataError(f"Every chosen feature column is blank ({', '.join(empty)}). Choose columns that hold numbers.")
    return chosen


class _RowDropper:
    """The rows still kept, and a DropRecord for each reason rows were dropped."""

    def __init__(self, rows_raw: int, drops: list[DropRecord]):
        self.rows_raw = rows_raw
        self.keep = np.ones(rows_raw, dtype=bool)
        self.drops = drops
        self.lost_to: Counter[str] = Counter()  # column -> rows it caused to be dropped, for advice

    @property
    def kept(self) -> int:
        return int(self.keep.sum())

    def drop(self, reason: str, masks: dict[str, np.ndarray], describe, detail: str) -> None:
        """Drop the still-kept rows flagged in any mask; describe(row, columns) makes an example."""
        masks = {c: m & self.keep for c, m in masks.items()}
        hit = np.logical_or.reduce(list(masks.values())) if masks else np.zeros(self.rows_raw, bool)
        if not hit.any():
            return
        counts = {c: int(m.sum()) for c, m in masks.items() if m.any()}
        self.lost_to.update(counts)
        columns = sorted(counts, key=counts.get, reverse=True)
        examples = [describe(i, [c for c in columns if masks[c][i]]) for i in np.flatnonzero(hit)[:_MAX_EXAMPLES]]
        self.drops.append(DropRecord(reason, int(hit.sum()), examples, columns, detail.format(n=int(hit.sum()))))
        self.keep &= ~hit

    def check_enough(self) -> None:
        if self.kept == 0:
            worst = ", ".join(f"{c} ({n} rows)" for c, n in self.lost_to.most_common(3))
            raise DataError(
                f"All {self.rows_raw} rows were dropped.\n{CleanReport(self.rows_raw, 0, self.drops).summary()}\n"
                f"Fix the data, or exclude the columns causing it (mainly {worst})."
            )
        if self.kept < 2:
            raise DataError(
                f"Only {self.kept} row is left after cleaning; segmenting needs at least 2.\n"
                f"{CleanReport(self.rows_raw, self.kept, self.drops).summary()}\n"
                "Fix the data or exclude the columns with problems."
            )


def _drop_rows(rows: _RowDropper, df: pd.DataFrame, attrs: dict, schema: Schema, keys: list[str], chosen: list[str],
               parsed: _Parsed, labels: np.ndarray) -> None:
    """Each row dropped for the first reason that applies, in the order the docstring of clean_table gives.
    attrs: the raw table's (they hold the Census Data API's annotations)."""
    numbers = parsed.numbers
    rows.drop("annotation", _annotation_masks(df, attrs, keys + chosen),
              lambda i, cols: f"{labels[i]} ({', '.join(_annotation_text(df, attrs, c, i) for c in cols)})",
              "Dropped {n} row(s) where the Census Data API gave an annotation, not a number (now missing).")
    rows.drop("incomplete", {c: parsed.missing[c] for c in keys + chosen},
              lambda i, cols: f"{labels[i]} (missing {', '.join(cols)})",
              "Dropped {n} row(s) with missing values.")
    rows.drop("non_numeric", {c: parsed.non_numeric[c] for c in chosen},
              lambda i, cols: f"{labels[i]} ({', '.join(f'{c}={df.at[i, c]!r}' for c in cols)})",
              "Dropped {n} row(s) with non-numeric values in numeric columns.")
    rows.drop("infinite", {c: np.isinf(numbers[c]) for c in chosen},
              lambda i, cols: f"{labels[i]} ({', '.join(f'{c}={numbers[c][i]}' for c in cols)})",
              "Dropped {n} row(s) with infinite values.")
    if schema.id_column is not None:
        ids = parsed.key_values[schema.id_column]
        duplicate = np.zeros(rows.rows_raw, dtype=bool)
        duplicate[rows.keep] = ids[rows.keep].duplicated(keep="first").to_numpy()
        rows.drop("duplicate_id", {schema.id_column: duplicate},
                  lambda i, cols: f"{labels[i]} ({schema.id_column}={ids.iat[i]})",
                  "Dropped {n} row(s) whose id repeats an earlier row's (the first was kept).")
    rows.check_enough()


def _drop_constant_columns(chosen: list[str], values: dict[str, np.ndarray], drops: list[DropRecord]) -> list[str]:
    constant = [c for c in chosen if np.ptp(values[c]) == 0]
    if not constant:
        return chosen
    drops.append(DropRecord(
        "constant_column", len(constant),
        [f"{c} (always {values[c][0]:g})" for c in constant[:_MAX_EXAMPLES]], constant,
        f"Dropped {len(constant)} feature column(s) with the same value in every row; they cannot separate counties.",
    ))
    chosen = [c for c in chosen if c not in constant]
    if not chosen:
        raise DataError(f"Every chosen feature is constant ({', '.join(constant)}). Choose features that vary between counties.")
    return chosen


# --------------------------------------------------------------------------- column screening

NEAR_DUPLICATE_R = 0.99


def screen_columns(chosen: list[str], values: dict[str, np.ndarray], drops: list[DropRecord]
                   ) -> tuple[list[str], list[CleanWarning]]:
    """Drop feature columns with one value in every row, then those that repeat an earlier one
    exactly (both recorded in `drops`; of a repeat the first copy is kept), and warn of pairs with
    |r| ≥ NEAR_DUPLICATE_R among the rest. values: each chosen column's kept rows."""
    chosen = _drop_constant_columns(chosen, values, drops)
    first_of: dict[bytes, str] = {}
    repeats: dict[str, str] = {}
    for column in chosen:
        digest = hashlib.sha256(np.ascontiguousarray(values[column] + 0.0).tobytes()).digest()  # -0.0 == 0.0
        if digest in first_of and np.array_equal(values[first_of[digest]], values[column]):
            repeats[column] = first_of[digest]
        else:
            first_of.setdefault(digest, column)
    if repeats:
        described = [f"{c} (= {original})" for c, original in repeats.items()]
        drops.append(DropRecord(
            "duplicate_column", len(repeats), described[:_MAX_EXAMPLES], list(repeats),
            f"Dropped {len(repeats)} feature column(s) that repeat another column exactly, so the variable counts "
            f"once: {', '.join(described)}.",
        ))
        chosen = [c for c in chosen if c not in repeats]
    return chosen, _near_duplicates(chosen, values)


def _near_duplicates(chosen: list[str], values: dict[str, np.ndarray]) -> list[CleanWarning]:
    if len(chosen) < 2 or len(values[chosen[0]]) < 3:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(np.column_stack([values[c] for c in chosen]), rowvar=False)
    warnings = []
    for i, j in zip(*np.nonzero(np.triu(np.abs(np.nan_to_num(r)) >= NEAR_DUPLICATE_R, k=1))):
        a, b = chosen[i], chosen[j]
        warnings.append(CleanWarning(
            "near_duplicate", [a, b],
            f"{a} and {b} are near-duplicates (r = {r[i, j]:+.4f}): clustered together, they weigh one thing twice. "
            "Keep one, or turn counts into rates of a total.", float(r[i, j])))
    return warnings


def _annotation_masks(df: pd.DataFrame, attrs: dict, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Per column, the rows whose value was a Census Data API annotation (census.fetch_table
    lists them by GEOID in the table's attrs, so a subset or reordering of the fetched table still matches)."""
    hits = attrs.get(ANNOTATIONS_ATTR) or {}
    if not hits or "GEOID" not in df.columns:
        return {}
    geoids = df["GEOID"].astype(str)
    return {c: geoids.isin(list(hits[c])).to_numpy() for c in columns if hits.get(c)}


def _annotation_text(df: pd.DataFrame, attrs: dict, column: str, row: int) -> str:
    code = (attrs.get(ANNOTATIONS_ATTR) or {}).get(column, {}).get(str(df.at[row, "GEOID"]))
    return f"{column}: {code}, {ANNOTATIONS.get(code, 'no value')}" if code is not None else f"{column}: no value"


def _choose_features(schema: Schema, features: Sequence[str] | None) -> list[str]:
    valid = list(schema.feature_columns)
    if not valid:
        named = [c for c in (schema.id_column, *schema.name_columns, *schema.ignored_columns, *schema.code_columns) if c]
        raise DataError(
            f"No numeric columns found (columns: {', '.join(map(str, named))}). Segmenting needs numeric "
            "features such as population counts or percentages. If the numbers are there, check the "
            "delimiter and that decimals use a point (1.5, not 1,5)."
        )
    if features is None:
        return valid
    if isinstance(features, str):
        features = [features]
    requested = set(features)
    unknown = [f for f in dict.fromkeys(features) if f not in valid]
    if unknown:
        hints = [f"{f!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(str(f), valid, n=1)) else repr(f)
                 for f in unknown]
        raise DataError(f"Unknown feature(s): {', '.join(hints)}. Valid features: {', '.join(valid)}.")
    if not requested:
        raise DataError(f"No features selected. Choose at least one of: {', '.join(valid)}.")
    return [c for c in valid if c in requested]


def _blank_to_na(series: pd.Series) -> pd.Series:
    """Text cells stripped of spaces, with blank ones (only whitespace) treated as missing.

    Only spaces: a leading tab or CR is what neutralises a formula (`\t=1+1`) in a
    spreadsheet, and stripping it would make the cell live again.
    """
    if isinstance(series.dtype, pd.StringDtype):
        stripped, blank = series.str.strip(" "), series.str.strip().eq("")
    elif pd.api.types.is_object_dtype(series):
        stripped = series.map(lambda v: v.strip(" ") if isinstance(v, str) else v)
        blank = series.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    else:
        return series
    return stripped.mask(blank.fillna(False).astype(bool))


def _tidy_key(series: pd.Series) -> pd.Series:
    """Ids read as float only because of blanks (1001.0) go back to integers once blanks are gone."""
    if pd.api.types.is_float_dtype(series) and len(series) and np.all(np.mod(series.to_numpy(), 1) == 0):
        return series.astype("int64")
    return series


def _labels(key_values: dict[str, pd.Series], schema: Schema, n: int) -> np.ndarray:
    """Row labels: "State-County" (the walkthrough's index), else the names or id present, else "row N"."""
    def text(series: pd.Series) -> pd.Series:
        return _tidy_key(series.dropna()).astype(str).reindex(series.index).fillna("?")

    if schema.name_columns:
        parts = [text(key_values[c]) for c in schema.name_columns]
        out = parts[0]
        for part in parts[1:]:
            out = out + "-" + part
        return out.to_numpy(dtype=object)
    if schema.id_column is not None:
        return text(key_values[schema.id_column]).to_numpy(dtype=object)
    return np.array([f"row {i + 1}" for i in range(n)], dtype=object)


def _unique_labels(labels: np.ndarray, ids: pd.Series | None, keep: np.ndarray) -> list[str]:
    """Disambiguate repeated labels with the row's id, then (if any still repeat) a running number."""
    labels = pd.Series(labels, dtype=object)
    repeated = labels.duplicated(keep=False)
    if repeated.any() and ids is not None:
        id_text = pd.Series(_tidy_key(ids[keep]).astype(str).to_numpy(), dtype=object)
        labels = labels.where(~repeated, labels + " (" + id_text + ")")
    if labels.duplicated().any():
        number = labels.groupby(labels).cumcount() + 1
        labels = labels.where(number == 1, labels + " #" + number.astype(str))
    return labels.tolist()


# --------------------------------------------------------------------------- fingerprint


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 (hex) of a table's labels, column names and values, independent of memory layout
    and pandas' dtype names, so the same cleaned table gives the same fingerprint in every run."""
    digest = hashlib.sha256()

    def add(tag: bytes, payload: bytes) -> None:
        digest.update(tag + len(payload).to_bytes(8, "little") + payload)

    def texts(values: Iterable[Any]) -> bytes:
        return json.dumps([None if v is None else str(v) for v in values], ensure_ascii=False).encode()

    add(b"I", texts(frame.index.to_numpy(dtype=object)))
    add(b"C", json.dumps([str(c) for c in frame.columns], ensure_ascii=False).encode())
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_float_dtype(series):
            values = series.to_numpy(dtype="<f8", na_value=np.nan) + 0.0  # + 0.0 turns -0.0 into 0.0
            values[np.isnan(values)] = np.nan  # one NaN bit pattern
            add(b"f", np.ascontiguousarray(values).tobytes())
        elif pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
            add(b"i", np.ascontiguousarray(series.to_numpy(dtype="<i8")).tobytes())
        else:
            add(b"s", texts(series.astype(object).where(series.notna(), None).to_numpy()))
    return digest.hexdigest()
