"""CSV written for people, safe to open in a spreadsheet; and read back as written.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and a leading
tab or CR is dropped on import, exposing what follows): a county or analyst-typed name such
as `=cmd|' /C calc'!A0` would run. Following OWASP's advice on CSV injection, every text
cell — and every column name — that starts with one of those characters is written with a
leading `'`, which spreadsheets show as text and do not display. Numbers stay numbers:
only text cells are touched, so `-1.5` in a numeric column is written as it is.

So that reading back gives exactly what was written, a text cell that already starts with
quotes followed by one of those characters gets one more quote; `unprotect_text` removes
exactly one. `read_csv` reads the workbench's own files (labels.csv, exports) that way.

`excel=True` writes UTF-8 with a byte-order mark, which Excel needs to read UTF-8 (without
it, `Doña Ana` opens as `DoÃ±a Ana`); the app's downloads use it.
"""
from __future__ import annotations

import csv
import io
import os
import re
from typing import Any

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_PREFIX = re.compile(r"'*[=+\-@\t\r]")
_HAS_PREFIX = re.compile(r"''*[=+\-@\t\r]")
BOM = "\ufeff"


def protect_text(value: str) -> str:
    """`'` + value when a spreadsheet would run it as a formula (or value starts with quotes and then would)."""
    return "'" + value if _NEEDS_PREFIX.match(value) else value


def unprotect_text(value: str) -> str:
    """The text protect_text was given: one leading `'` removed where protect_text added it."""
    return value[1:] if _HAS_PREFIX.match(value) else value


def _map_text(values: pd.Series, change) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if isinstance(values.dtype, pd.StringDtype):
        return values.map(change, na_action="ignore").astype(values.dtype)
    if pd.api.types.is_object_dtype(values):
        return values.map(lambda v: change(v) if isinstance(v, str) else v)
    return values


def _map_frame(frame: pd.DataFrame, change) -> pd.DataFrame:
    out = frame.copy()
    for position in range(out.shape[1]):
        out.isetitem(position, _map_text(out.iloc[:, position], change))
    out.columns = [change(c) if isinstance(c, str) else c for c in out.columns]
    index = out.index
    if not isinstance(index, pd.MultiIndex) and (pd.api.types.is_object_dtype(index) or pd.api.types.is_string_dtype(index)):
        out.index = pd.Index(_map_text(index.to_series(), change).to_numpy(), name=index.name)
    if isinstance(out.index.name, str):
        out.index.name = change(out.index.name)
    return out


def protect_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell, column name and index label protected; for
    writers of their own (e.g. pyarrow's CSV writer, run on the result)."""
    return _map_frame(frame, protect_text)


def unprotect_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of protect_frame, for a frame read from a CSV the workbench wrote."""
    return _map_frame(frame, unprotect_text)


def _holds_cr(frame: pd.DataFrame) -> bool:
    texts = [*map(str, frame.columns), str(frame.index.name)]
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if not pd.api.types.is_numeric_dtype(column):
            texts.extend(v for v in column if isinstance(v, str))
    if not pd.api.types.is_numeric_dtype(frame.index):
        texts.extend(v for v in frame.index if isinstance(v, str))
    return any("\r" in text for text in texts)


def csv_text(frame: pd.DataFrame, *, index: bool = False) -> str:
    """Protected CSV text, floats at full precision, "\\n" line ends.

    Python's csv writer quotes a field holding a lone CR only when CR is in the line
    terminator, and a reader would end the row there; a frame with a CR in any text is
    written with every text field quoted.
    """
    buffer = io.StringIO()
    quoting = csv.QUOTE_NONNUMERIC if _holds_cr(frame) else csv.QUOTE_MINIMAL
    protect_frame(frame).to_csv(buffer, index=index, lineterminator="\n", quoting=quoting)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame, *, excel: bool = False, index: bool = False) -> bytes:
    """Protected CSV as UTF-8 bytes; with a byte-order mark when `excel`."""
    return ((BOM if excel else "") + csv_text(frame, index=index)).encode("utf-8")


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, *, excel: bool = False, index: bool = False) -> None:
    """Write protected CSV to `path` (as csv_bytes)."""
    with open(path, "wb") as handle:
        handle.write(csv_bytes(frame, excel=excel, index=index))


def read_csv(source: Any, **kwargs: Any) -> pd.DataFrame:
    """pd.read_csv of a file the workbench wrote, with the protection removed (a byte-order
    mark too) and whole numbers too wide for int64 kept as text."""
    kwargs.setdefault("encoding", "utf-8-sig")
    frame = pd.read_csv(source, **kwargs)
    for position in range(frame.shape[1]):
        text = wide_ints_as_text(frame.iloc[:, position])
        if text is not None:
            frame.isetitem(position, text)
    return unprotect_frame(frame)


INT64_MAX = 2**63 - 1


def wide_ints_as_text(column: pd.Series) -> pd.Series | None:
    """The column with its whole numbers too wide for int64 as text (pandas reads them as uint64,
    or as Python ints in an object column), or None when it has none. Shared by parsing and
    read_csv, so a table and the files written from it agree."""
    if pd.api.types.is_unsigned_integer_dtype(column) and len(column) and int(column.max()) > INT64_MAX:
        return column.astype(str)
    if pd.api.types.is_object_dtype(column) and column.map(lambda v: type(v) is int).any():
        return column.map(lambda v: str(v) if type(v) is int else v)
    return None
