"""CSV bytes to a raw table: refuse what is not text, decode, sniff the delimiter, parse.
"""
from __future__ import annotations

import codecs
import csv
import io

import pandas as pd

from workbench.core.errors import DataError

# Key in DataFrame.attrs under which loaders say where a table came from.
SOURCE_ATTR = "source_description"


# --------------------------------------------------------------------------- CSV parsing

_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NOT_CSV = {
    b"PK\x03\x04": "a ZIP archive or an Excel .xlsx workbook",
    b"\xd0\xcf\x11\xe0": "an old-style Excel .xls workbook",
    b"\x1f\x8b": "a gzip-compressed file",
    b"%PDF": "a PDF document",
    b"PAR1": "a Parquet file",
}
_SNIFF_CHARS = 64 * 1024


def _parse_csv(data: bytes, *, what: str, description: str) -> pd.DataFrame:
    """Decode, sniff the delimiter and parse CSV bytes; what names the input in messages."""
    if not data.strip():
        raise DataError(f"{what} is empty. Choose a CSV file with a header row and one row per county.")
    for magic, kind in _NOT_CSV.items():
        if data.startswith(magic):
            raise DataError(f"{what} looks like {kind}, not a CSV text file. Save or export it as CSV and load that.")
    text, encoding = _decode(data, what)

    sep = _sniff_delimiter(text)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep or ",", skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{what} has no header row. The first line must name the columns.") from exc
    except pd.errors.ParserError as exc:
        name = _DELIMITER_NAMES.get(sep or ",", repr(sep))
        raise DataError(
            f"{what} could not be parsed as {name}-separated values: {str(exc).strip()}. "
            f"Check that every row has as many fields as the header and that quotes are balanced."
        ) from exc
    df.columns = [str(c).strip() for c in df.columns]

    if df.shape[1] < 2:
        first_line = text.lstrip("\ufeff").splitlines()[0][:80]
        raise DataError(
            f"{what} has a single column (first line: {first_line!r}). A county table needs several "
            "columns separated by commas, semicolons, tabs or pipes; check the file's delimiter."
        )
    if df.empty:
        raise DataError(f"{what} has a header but no data rows. Add one row per county.")
    df.attrs[SOURCE_ATTR] = description
    df.attrs["delimiter"] = sep or ","
    df.attrs["encoding"] = encoding
    return df


def _decode(data: bytes, what: str) -> tuple[str, str]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DataError(f"{what} starts like UTF-16 text but is not valid UTF-16. Re-save it as CSV UTF-8.") from exc
    if b"\x00" in data[:_SNIFF_CHARS]:
        raise DataError(f"{what} contains binary data, not CSV text. Save or export it as CSV and load that.")
    # UTF-8 first (with or without BOM); Windows-1252 is what Excel writes for "CSV" on many systems.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError(f"{what} is neither UTF-8 nor Windows-1252 text. Re-save it as 'CSV UTF-8' and load it again.")


def _sniff_delimiter(text: str) -> str | None:
    """The field delimiter among , ; tab |, or None when the header has none of them."""
    sample = text[:_SNIFF_CHARS]
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(text) > _SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off mid-row
    lines = lines[:12]  # the sniffer's cost grows with every line; a dozen settle the delimiter
    if not lines:
        return None
    header = lines[0]
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sep = None
    if sep is None or sep not in header:
        # The sniffer gives up on some valid files (e.g. one data row); use the header's best split.
        widths = {d: len(next(csv.reader([header], delimiter=d))) for d in _DELIMITERS}
        best = max(widths, key=widths.get)
        sep = best if widths[best] > 1 else None
    return sep
