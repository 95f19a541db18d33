"""CSV bytes to a raw table: refuse what is not text, decode, sniff the delimiter, check the
shape, parse.

Nothing can shift a column: pandas never infers an index column, every row must have one
field per header name (a row with more or fewer is refused, naming its line), and the header
must name every column once. Numbers written for people (`55,221`, `$1,200`, `12.5%`, and
decimal commas in `;`-separated files) are read as numbers and reported (`parse_report`).
Ids too wide for int64 are kept as text. Error messages never quote the file's contents,
apart from the header names they are about.

Encodings: UTF-8 (with or without BOM), UTF-16 (with a BOM, or without one when its zero
bytes give it away), or the one fallback, Windows-1252 (what Excel writes as "CSV" on many
systems), only when no line of the file is UTF-8: a file mixing the two is refused with the
first line that is not UTF-8.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.core import human_numbers, settings
from workbench.core.csv_out import wide_ints_as_text
from workbench.core.errors import DataError
from workbench.core.schema import is_code_name

# Key in DataFrame.attrs under which loaders say where a table came from.
SOURCE_ATTR = "source_description"
# Keys in DataFrame.attrs of what parsing did: {column: formats} and notes for people.
NUMBER_FORMATS_ATTR = "number_formats"
NOTES_ATTR = "parse_notes"
FALLBACK_ENCODING = "cp1252"


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
_MAX_EXAMPLES = 5


@dataclass
class _Shape:
    """The header's names and what the row check found."""

    names: list[str]
    drop_last: bool = False  # the header ends with a delimiter, and so does every row
    notes: list[str] = field(default_factory=list)


def _parse_csv(data: bytes, *, what: str, description: str) -> pd.DataFrame:
    """Decode, sniff the delimiter, check the shape and parse CSV bytes; what names the input in messages."""
    if not data.strip():
        raise DataError(f"{what} is empty. Choose a CSV file with a header row and one row per county.")
    for magic, kind in _NOT_CSV.items():
        if data.startswith(magic):
            raise DataError(f"{what} looks like {kind}, not a CSV text file. Save or export it as CSV and load that.")
    text, encoding = _decode(data, what)
    # pandas reads UTF-8 bytes itself: about 1.5 ms faster on the census than reading the decoded
    # text, and without io.StringIO's copy of it at 4 bytes a character. Other encodings are
    # re-encoded to UTF-8 once the checks below are done.
    utf8 = data if encoding == "utf-8" else None
    del data

    sep = _sniff_delimiter(text)
    if sep is None:
        raise DataError(
            f"{what} has a single column (its first line has no comma, semicolon, tab or pipe). A county table "
            "needs several columns separated by one of those; check the file's delimiter."
        )
    shape = _check_shape(text, sep, what)
    readable = utf8 if utf8 is not None else text.encode("utf-8")
    del text, utf8  # the bytes hold the same characters (pandas skips a UTF-8 byte-order mark, as the decode did)
    df = _read_frame(readable, sep, shape, what)
    if df.empty:
        raise DataError(f"{what} has a header but no data rows. Add one row per county.")
    notes = list(shape.notes)
    notes += _codes_as_read(df)
    notes += _keep_wide_ids(df)
    formats = _read_numbers_for_people(df, sep)
    if formats:
        notes.append("Read numbers written for people: "
                      + "; ".join(f"{column} ({how})" for column, how in formats.items()) + ".")
    df.attrs[SOURCE_ATTR] = description
    df.attrs["delimiter"] = sep
    df.attrs["encoding"] = encoding
    df.attrs[NUMBER_FORMATS_ATTR] = formats
    df.attrs[NOTES_ATTR] = notes
    return df


def parse_report(df: pd.DataFrame) -> dict[str, Any]:
    """What parsing did to a raw table, for the CLI's summary and the Data page:
    {"encoding", "delimiter", "number_formats": {column: formats}, "notes": [sentences]}."""
    return {
        "encoding": df.attrs.get("encoding"),
        "delimiter": df.attrs.get("delimiter"),
        "number_formats": dict(df.attrs.get(NUMBER_FORMATS_ATTR, {})),
        "notes": list(df.attrs.get(NOTES_ATTR, [])),
    }


# --------------------------------------------------------------------------- encodings

# A multi-byte UTF-8 sequence (RFC 3629): its presence in a file that is not valid UTF-8
# means the file mixes encodings.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, what: str) -> tuple[str, str]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        return _decode_utf16(data, "utf-16", what), "utf-16"
    utf16 = _utf16_without_bom(data)
    if utf16:
        return _decode_utf16(data, utf16, what), utf16
    if b"\x00" in data:
        raise DataError(f"{what} contains binary data (a NUL byte on line {_line_of(data, data.index(0)):,}), "
                        "not CSV text. Save or export it as CSV and load that.")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)
    if data.startswith(codecs.BOM_UTF8) or _UTF8_SEQUENCE.search(data):
        raise DataError(
            f"{what} mixes text encodings: it is UTF-8, but line {_line_of(data, first_bad):,} has a byte "
            f"(0x{data[first_bad]:02X}) that is not UTF-8, such as one value pasted from a Windows-1252 or "
            "Latin-1 file. Read either way, some names would come out garbled. Re-save the whole file as "
            "'CSV UTF-8' and load it again."
        )
    try:
        return data.decode(FALLBACK_ENCODING), FALLBACK_ENCODING
    except UnicodeDecodeError:
        raise DataError(f"{what} is neither UTF-8 nor Windows-1252 text. Re-save it as 'CSV UTF-8' and load it again.") from None


def _utf16_without_bom(data: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when the zero bytes say so (mostly-ASCII text in UTF-16 has
    a zero in every other byte), else None."""
    sample = data[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_zeros, odd_zeros = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_zeros > 0.4 and even_zeros < 0.05:
        return "utf-16-le"
    if even_zeros > 0.4 and odd_zeros < 0.05:
        return "utf-16-be"
    return None


def _decode_utf16(data: bytes, encoding: str, what: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise DataError(f"{what} looks like UTF-16 text but is not valid UTF-16. Re-save it as CSV UTF-8.") from None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise DataError(f"{what} contains binary data (a NUL character), not CSV text. Save or export it as CSV and load that.")
    return text


# --------------------------------------------------------------------------- delimiter and shape


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


def _is_blank(record: list[str]) -> bool:
    return len(record) <= 1 and not "".join(record).strip()  # pandas skips these lines too


def _check_unquoted_shape(text: str, sep: str, what: str) -> _Shape | None:
    """`_check_shape` for text without a quote character, or None to leave it to `_check_shape`.

    Without quotes a csv record is a line (ended by CR, LF or CRLF) and its fields are the
    delimiter's pieces, so counting delimiters per line (str.count, in C) gives the csv module's
    verdict at a fifth of its cost on the census. Any row it would refuse, and any line longer
    than the csv module's field limit, is left to `_check_shape`, which words the message.
    """
    lines = (text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text).split("\n")
    if max(map(len, lines)) > csv.field_size_limit():
        return None
    start = next((i for i, line in enumerate(lines) if sep in line or line.strip()), None)
    if start is None:
        return None
    shape = _check_header([name.strip() for name in lines[start].split(sep)], what)
    width = len(shape.names) + shape.drop_last
    for line in lines[start + 1:]:
        fields = line.count(sep) + 1
        if fields == width:
            if shape.drop_last and line.rpartition(sep)[2].strip():
                return None  # a value under the nameless last column
        elif not (fields == 1 and not line.strip()) and not (shape.drop_last and fields == width - 1):
            return None
    if shape.drop_last:
        shape.notes.append("Ignored the empty last column: every line ends with a delimiter.")
    return shape


def _check_shape(text: str, sep: str, what: str) -> _Shape:
    """The header's names, after checking that every row has one field per name."""
    if '"' not in text:
        shape = _check_unquoted_shape(text, sep, what)
        if shape is not None:
            return shape
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
    try:
        header = next((r for r in reader if not _is_blank(r)), None)
        if header is None:
            raise DataError(f"{what} has no header row. The first line must name the columns.")
        shape = _check_header([name.strip() for name in header], what)
        width = len(shape.names) + shape.drop_last
        wrong: list[tuple[int, list[str]]] = []
        count = 0
        nameless_filled = False  # a value under the nameless last column: it is a column after all
        last_line = reader.line_num
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if len(record) == width or _is_blank(record):
                nameless_filled |= shape.drop_last and len(record) == width and bool(record[-1].strip())
                continue
            if shape.drop_last and len(record) == width - 1:
                continue  # the row lacks only the nameless trailing column
            count += 1
            if len(wrong) < _MAX_EXAMPLES:
                wrong.append((start, record))
    except csv.Error as exc:
        raise DataError(f"{what} could not be parsed as {_DELIMITER_NAMES[sep]}-separated values near line "
                        f"{reader.line_num:,}: {exc}. Check that quotes are balanced.") from None
    if count:
        raise DataError(_ragged_message(what, sep, width, wrong, count))
    if nameless_filled:
        raise DataError(f"{what} has 1 column(s) without a name in the header row: column(s) {width} of {width}. "
                        "Name every column.")
    if shape.drop_last:
        shape.notes.append("Ignored the empty last column: every line ends with a delimiter.")
    return shape


def _ragged_message(what: str, sep: str, width: int, wrong: list[tuple[int, list[str]]], count: int) -> str:
    def one(line: int, record: list[str]) -> str:
        extra = record[width:]
        why = " (the extra field is empty: a trailing delimiter?)" if extra and not "".join(extra).strip() else ""
        return f"line {line:,} has {len(record)}{why}"

    listed = "; ".join(one(line, record) for line, record in wrong)
    more = f"; and {count - len(wrong):,} more" if count > len(wrong) else ""
    return (
        f"{what} has {count:,} row(s) whose number of {_DELIMITER_NAMES[sep]}-separated fields differs from the "
        f"header's {width}: {listed}{more}. Every row needs as many fields as the header, or values would land in "
        "the wrong columns; fix those lines (e.g. remove trailing delimiters) and load it again."
    )


def _check_header(names: list[str], what: str) -> _Shape:
    """Every column named, once; a nameless last column is dropped when the header ends with a delimiter."""
    shape = _Shape(names)
    if len(names) > 1 and not names[-1]:
        shape = _Shape(names[:-1], drop_last=True)
    cap = settings.max_columns()
    if len(shape.names) > cap:
        raise DataError(
            f"{what} has {len(shape.names):,} columns, over the {cap:,}-column limit ({settings.ENV_MAX_COLUMNS}). "
            "PCA's time and memory grow with the cube of the number of features; keep the columns you need, "
            "or raise the limit."
        )
    blank = [i + 1 for i, name in enumerate(shape.names) if not name]
    if blank:
        which = ", ".join(map(str, blank[:_MAX_EXAMPLES])) + (" …" if len(blank) > _MAX_EXAMPLES else "")
        hint = " If column 1 holds row numbers (an index written by a spreadsheet or pandas), delete it." if 1 in blank else ""
        raise DataError(f"{what} has {len(blank)} column(s) without a name in the header row: column(s) {which} "
                        f"of {len(shape.names)}. Name every column.{hint}")
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(shape.names):
        seen.setdefault(name, []).append(i + 1)
    duplicated = {name: where for name, where in seen.items() if len(where) > 1}
    if duplicated:
        listed = "; ".join(f"{name[:40]!r} (columns {', '.join(map(str, where))})"
                           for name, where in list(duplicated.items())[:_MAX_EXAMPLES])
        raise DataError(f"{what} names more than one column the same: {listed}. Give each column its own name.")
    return shape


def _read_frame(content: str | bytes | bytearray, sep: str, shape: _Shape, what: str) -> pd.DataFrame:
    """The table from its UTF-8 bytes (or from decoded text)."""
    try:
        # index_col=False: the first column is data, whatever the rows look like.
        # Columns named like geography codes are read as text: an id's leading zero is part of it.
        codes = {i: str for i, name in enumerate(shape.names) if is_code_name(name)}
        text = isinstance(content, str)
        source = io.StringIO(content) if text else io.BytesIO(content)
        df = pd.read_csv(source, sep=sep, skipinitialspace=True, index_col=False, header=0, dtype=codes,
                         encoding=None if text else "utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{what} has no header row. The first line must name the columns.") from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[-1][:200]
        raise DataError(
            f"{what} could not be parsed as {_DELIMITER_NAMES[sep]}-separated values ({reason}). "
            "Check that quotes are balanced."
        ) from None
    if shape.drop_last:
        df = df.iloc[:, :-1].copy()
    df.columns = shape.names
    return df


def _codes_as_read(df: pd.DataFrame) -> list[str]:
    """Code columns read as text (see _read_frame) go back to numbers when every code is a whole
    number without a leading zero, as pandas would have read them; those with leading zeros stay
    text, and are named. Codes that are not whole numbers ("201.01", "1001.0", "0500000US27001")
    stay text as written: an id is never a number to compute with (a tract's "201.01" read as
    201.01 would look like a feature)."""
    kept = []
    for column in df.columns:
        if not is_code_name(column):
            continue
        values = df[column]
        text = values.dropna().astype(str)
        if not len(text) or not text.iloc[0].isdigit() or not text.str.fullmatch(r"[0-9]+").all():
            continue  # names, codes such as 0500000US27001 or 201.01: text (the first test is a fast exit)
        leading_zero = text.str.match(r"0[0-9]")
        if leading_zero.any():
            kept.append(f"{column} (e.g. {text[leading_zero].iloc[0][:14]})")
            continue
        df[column] = pd.to_numeric(values)
    if not kept:
        return []
    return [f"Kept {', '.join(kept)} as text: geography codes keep their leading zeros."]


# --------------------------------------------------------------------------- values


def _keep_wide_ids(df: pd.DataFrame) -> list[str]:
    """Integer columns too wide for int64 (pandas gives them as uint64 or Python ints) become text."""
    wide = []
    for column, dtype in df.dtypes.items():
        if not (pd.api.types.is_unsigned_integer_dtype(dtype) or pd.api.types.is_object_dtype(dtype)):
            continue  # only these can hold integers too wide for int64 (looking costs a column access)
        text = wide_ints_as_text(df[column])
        if text is not None:
            df[column] = text.astype("str")
            wide.append(column)
    if not wide:
        return []
    return [f"Kept {', '.join(wide)} as text: whole numbers too wide for 64-bit integers."]


def _read_numbers_for_people(df: pd.DataFrame, sep: str) -> dict[str, str]:
    formats = {}
    for column, dtype in df.dtypes.items():
        if not (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)):
            continue
        series = df[column]
        parsed = human_numbers.parse(series, decimal_comma={";": True, ",": False}.get(sep))
        if parsed is not None:
            df[column], formats[column] = parsed
    return formats
