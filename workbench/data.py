"""Loading, schema detection and cleaning of county tables.

Three steps, each usable alone:

    raw = load_table(source)              # a raw DataFrame from a path, bytes, upload, s3:// URI or the default
    schema = detect_schema(raw)           # which columns are the id, the names and the numeric features
    result = clean_table(raw, schema)     # drop unusable rows/columns, with a report of what was dropped

Every problem with the data is raised as a DataError whose message says what is
wrong and what to do about it, so the app and the CLI can show it as is.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import json
import os
import re
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from workbench import settings

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_KEY",
    "DEFAULT_MD5",
    "DEFAULT_URI",
    "SOURCE_ATTR",
    "CleanReport",
    "CleanResult",
    "DataError",
    "DropRecord",
    "Schema",
    "clean_table",
    "detect_schema",
    "fetch_default",
    "fingerprint",
    "load_default",
    "load_table",
    "read_csv_bytes",
    "read_csv_path",
    "read_s3_uri",
    "read_upload",
    "s3_client",
]

# The walkthrough's dataset: a public bucket, read anonymously.
DEFAULT_BUCKET = "aws-ml-blog-sagemaker-census-segmentation"
DEFAULT_KEY = "Census_Data_for_SageMaker.csv"
DEFAULT_MD5 = "066d37f43f7762f1eb409b1660fe9763"
DEFAULT_URI = f"s3://{DEFAULT_BUCKET}/{DEFAULT_KEY}"

# Key in DataFrame.attrs under which loaders say where a table came from.
SOURCE_ATTR = "source_description"


class DataError(ValueError):
    """The data cannot be used as given; the message says what is wrong and what to do."""


# --------------------------------------------------------------------------- loading


def load_table(source: Any = None) -> pd.DataFrame:
    """Load a raw table from any supported source.

    source:
      None                      the walkthrough's default dataset (see load_default)
      str / os.PathLike         a local CSV file; a str starting with "s3://" is an S3 object
      bytes / bytearray         the contents of an uploaded file
      file-like with .read()    an uploaded file (e.g. Streamlit's UploadedFile); .name is used in messages

    The returned frame's attrs[SOURCE_ATTR] describes where it came from.
    """
    if source is None:
        return load_default()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return read_csv_bytes(bytes(source))
    if isinstance(source, str) and source.strip().lower().startswith("s3://"):
        return read_s3_uri(source.strip())
    if isinstance(source, (str, os.PathLike)):
        return read_csv_path(source)
    if hasattr(source, "read"):
        return read_upload(source)
    raise DataError(
        f"Cannot load data from a {type(source).__name__}. Pass a file path, an s3:// URI, "
        "the bytes or file object of an upload, or None for the default dataset."
    )


def read_csv_path(path: str | os.PathLike) -> pd.DataFrame:
    """Read a local CSV file."""
    path = Path(path).expanduser()
    return _parse_csv(_read_file(path), what=f"The file {path}", description=f"local file {path}")


def read_csv_bytes(data: bytes, name: str | None = None) -> pd.DataFrame:
    """Read CSV content already in memory (an upload); name is the uploaded file's name, for messages."""
    label = f"uploaded file {name!r}" if name else "uploaded data"
    return _parse_csv(bytes(data), what=f"The {label}", description=label)


def read_upload(fileobj: Any) -> pd.DataFrame:
    """Read a file-like upload (binary or text) with an optional .name."""
    # getvalue() returns the whole upload even when it was read before (Streamlit reruns reuse the object).
    data = fileobj.getvalue() if hasattr(fileobj, "getvalue") else fileobj.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    name = getattr(fileobj, "name", None)
    return read_csv_bytes(data, name=Path(str(name)).name if name else None)


def read_s3_uri(uri: str, *, client: Any = None) -> pd.DataFrame:
    """Read a CSV object from s3://bucket/key, signed with the standard AWS credential chain
    (unsigned when no credentials are configured, which works for public buckets)."""
    bucket, key = _parse_s3_uri(uri)
    client = client if client is not None else s3_client()
    advice = "Check the URI, your network and your AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/…)."
    with _s3_errors(uri, advice):
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return _parse_csv(data, what=f"The S3 object {uri}", description=uri)


def load_default(
    *, expected_md5: str = DEFAULT_MD5, client: Any = None, cache_dir: str | os.PathLike | None = None
) -> pd.DataFrame:
    """The walkthrough's dataset.

    When WORKBENCH_DEFAULT_DATA is set, that local file is read instead of S3. Otherwise the
    public object is fetched anonymously once, checked against expected_md5, and cached.
    """
    local = settings.default_data_path()
    if local is not None:
        data = _read_file(local, hint=f"It is named by {settings.ENV_DEFAULT_DATA}; fix or unset that variable.")
        md5 = hashlib.md5(data).hexdigest()
        same = "the walkthrough's file" if md5 == DEFAULT_MD5 else f"md5 {md5}, not the walkthrough's {DEFAULT_MD5}"
        return _parse_csv(
            data,
            what=f"The file {local}",
            description=f"default dataset from the local copy {local} ({settings.ENV_DEFAULT_DATA} is set; {same})",
        )
    path = fetch_default(expected_md5=expected_md5, client=client, cache_dir=cache_dir)
    return _parse_csv(
        path.read_bytes(), what=f"The cached file {path}", description=f"default dataset {DEFAULT_URI} (cached at {path})"
    )


def fetch_default(
    *, expected_md5: str = DEFAULT_MD5, client: Any = None, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Path of a verified local copy of the default S3 object, downloading it when the cache
    is missing or its md5 is wrong. The download goes to a temporary file that is renamed
    into place only after its md5 checks out, so readers never see a partial file."""
    directory = Path(cache_dir) if cache_dir is not None else settings.cache_dir()
    target = directory / DEFAULT_BUCKET / DEFAULT_KEY
    if target.is_file() and _md5_of_file(target) == expected_md5:
        return target

    advice = (
        f"Check your network, or download {DEFAULT_URI} yourself and set "
        f"{settings.ENV_DEFAULT_DATA} to the local file's path."
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{DEFAULT_KEY}.", suffix=".part")
    except OSError as exc:
        raise DataError(
            f"Cannot write the download cache in {target.parent}: {exc}. "
            f"Set {settings.ENV_CACHE_DIR} to a writable folder."
        ) from exc
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out:
            client = client if client is not None else s3_client(anonymous=True)
            with _s3_errors(DEFAULT_URI, advice):
                body = client.get_object(Bucket=DEFAULT_BUCKET, Key=DEFAULT_KEY)["Body"]
                for chunk in body.iter_chunks(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != expected_md5:
            raise DataError(
                f"The download of {DEFAULT_URI} has md5 {digest.hexdigest()}, expected {expected_md5}: "
                f"the object changed or the transfer was corrupted. Try again; if it persists, "
                f"set {settings.ENV_DEFAULT_DATA} to a trusted local copy."
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise DataError(f"Cannot write the download cache {target}: {exc}. Set {settings.ENV_CACHE_DIR} to a writable folder.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def s3_client(*, anonymous: bool = False) -> Any:
    """A boto3 S3 client: signed with the standard credential chain, or unsigned when
    anonymous is true or no credentials are found (enough for public buckets)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    # Fail within seconds when offline instead of botocore's long default retries.
    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
    try:
        session = boto3.session.Session()
        credentials = None if anonymous else session.get_credentials()
        if credentials is None:
            config = config.merge(Config(signature_version=UNSIGNED))
        return session.client("s3", config=config)
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        raise DataError(f"Your AWS configuration is unusable: {exc}. Fix it, or unset AWS_PROFILE to read public buckets anonymously.") from exc


def _parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme.lower() != "s3" or not bucket or not key:
        raise DataError(f"{uri!r} is not an S3 object URI; write it as s3://bucket/path/to/file.csv.")
    return bucket, key


@contextmanager
def _s3_errors(uri: str, advice: str):
    """Turn botocore's exceptions into DataErrors that say what happened."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            problem = f"The bucket of {uri} does not exist."
        elif code in {"NoSuchKey", "404", "NotFound"}:
            problem = f"There is no object {uri}."
        elif code in {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}:
            problem = (
                f"Access to {uri} was denied. If the bucket is private, configure AWS credentials "
                "allowed to read it (s3:GetObject)."
            )
        elif code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}:
            problem = (
                f"AWS rejected your credentials ({code}) while reading {uri}. Refresh them, "
                "or unset them to read a public bucket anonymously."
            )
        else:
            problem = f"S3 refused to read {uri} ({code or 'unknown error'}): {exc}."
        raise DataError(f"{problem} {advice}") from exc
    except (BotoConnectionError, HTTPClientError) as exc:
        raise DataError(f"Could not reach S3 to read {uri} (no network?): {exc}. {advice}") from exc
    except BotoCoreError as exc:
        raise DataError(f"Reading {uri} failed: {exc}. {advice}") from exc


def _read_file(path: Path, hint: str = "") -> bytes:
    path = Path(path).expanduser()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        problem = f"File not found: {path}{where}."
    except IsADirectoryError:
        problem = f"{path} is a folder, not a CSV file."
    except PermissionError:
        problem = f"No permission to read {path}."
    except OSError as exc:
        problem = f"Cannot read {path}: {exc}."
    raise DataError(f"{problem} {hint or 'Check the path.'}")


def _md5_of_file(path: Path) -> str:
    try:
        return hashlib.md5(path.read_bytes()).hexdigest()
    except OSError:
        return ""


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


# --------------------------------------------------------------------------- schema

# Normalised (lower-case, alphanumerics only) column names, in order of preference.
_ID_PATTERNS = (r"censusid", r"countyid", r"countyfips", r"fips(code)?", r"geoid\d*", r"id\d*")
_STATE_PATTERNS = (r"state", r"statename", r"stname", r"statenm")
_COUNTY_PATTERNS = (r"county", r"countyname", r"ctyname", r"countynm", r"name", r"geographicareaname", r"areaname")


@dataclass(frozen=True)
class Schema:
    """The roles of a table's columns.

    id_column: the county identifier (e.g. CensusId, CountyId, FIPS, GEOID), or None.
    name_columns: the state then county name columns present, e.g. ("State", "County"); may be empty.
    feature_columns: numeric (or numeric-looking) columns, in table order.
    ignored_columns: everything else (text columns that are neither id nor name).
    """

    id_column: str | None
    name_columns: tuple[str, ...]
    feature_columns: tuple[str, ...]
    ignored_columns: tuple[str, ...] = ()


def detect_schema(df: pd.DataFrame) -> Schema:
    """Find the id, name and feature columns by name and content, not from a fixed list."""
    columns = [str(c) for c in df.columns]
    id_column = _match_column(columns, _ID_PATTERNS, taken=())
    state = _match_column(columns, _STATE_PATTERNS, taken=(id_column,))
    county = _match_column(columns, _COUNTY_PATTERNS, taken=(id_column, state))
    name_columns = tuple(c for c in (state, county) if c is not None)

    roles = {id_column, *name_columns}
    features, ignored = [], []
    for column in df.columns:
        if column in roles:
            continue
        (features if _looks_numeric(df[column]) else ignored).append(column)
    return Schema(id_column, name_columns, tuple(features), tuple(ignored))


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _match_column(columns: Sequence[str], patterns: Iterable[str], taken: Iterable[str | None]) -> str | None:
    taken = set(taken)
    for pattern in patterns:
        for column in columns:
            if column not in taken and re.fullmatch(pattern, _normalise(column)):
                return column
    return None


def _looks_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return True
    if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
        return False  # dates, categories, ...
    values = series.dropna()
    if values.empty:
        return False
    # Mostly numbers: a column with a few typos is a feature whose bad rows cleaning reports.
    numbers = pd.to_numeric(values, errors="coerce").notna().sum()
    return numbers > 0 and 2 * numbers >= len(values)


# --------------------------------------------------------------------------- cleaning


@dataclass(frozen=True)
class DropRecord:
    """Rows (or, for *_column reasons, feature columns) that cleaning dropped, and why.

    reason: a stable key: "incomplete", "non_numeric", "infinite", "duplicate_id",
            "empty_column" or "constant_column".
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
class CleanReport:
    rows_raw: int
    rows_clean: int
    drops: list[DropRecord] = field(default_factory=list)

    @property
    def rows_dropped(self) -> int:
        return self.rows_raw - self.rows_clean

    def drop(self, reason: str) -> DropRecord | None:
        """The record for one reason, or None when nothing was dropped for it."""
        return next((d for d in self.drops if d.reason == reason), None)

    def summary(self) -> str:
        lines = [f"{self.rows_clean} of {self.rows_raw} rows kept."]
        lines += [f"- {d.detail} E.g. {'; '.join(d.examples)}." for d in self.drops]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"rows_raw": self.rows_raw, "rows_clean": self.rows_clean, "drops": [d.to_dict() for d in self.drops]}


@dataclass(frozen=True, eq=False)
class CleanResult:
    """frame: index = unique row label ("State-County", e.g. "Alabama-Autauga"); columns = the id
    and name columns, then the features as float64. features: the feature columns kept."""

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
    Rows are dropped, each for the first reason that applies: missing values in the id, name or
    chosen feature columns; non-numeric feature values; infinite values; an id seen earlier (the first
    row with an id is kept). Then feature columns that are entirely blank or constant are dropped.
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
    df = df.reset_index(drop=True)  # positions, whatever index the caller's frame had
    keys = [c for c in (schema.id_column, *schema.name_columns) if c is not None]
    drops: list[DropRecord] = []

    key_values = {c: _blank_to_na(df[c]) for c in keys}
    missing = {c: key_values[c].isna().to_numpy() for c in keys}
    numbers: dict[str, np.ndarray] = {}
    non_numeric: dict[str, np.ndarray] = {}
    for c in chosen:
        raw = _blank_to_na(df[c])
        numbers[c] = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        missing[c] = raw.isna().to_numpy()
        non_numeric[c] = np.isnan(numbers[c]) & ~missing[c]

    # A feature column with no values at all would drop every row; drop the column instead.
    empty = [c for c in chosen if missing[c].all()]
    if empty:
        chosen = [c for c in chosen if c not in empty]
        drops.append(DropRecord("empty_column", len(empty), empty[:_MAX_EXAMPLES], empty,
                                f"Dropped {len(empty)} feature column(s) with no values."))
        if not chosen:
            raise DataError(f"Every chosen feature column is blank ({', '.join(empty)}). Choose columns that hold numbers.")

    labels = _labels(key_values, schema, rows_raw)
    keep = np.ones(rows_raw, dtype=bool)
    rows_lost_to: Counter[str] = Counter()  # column -> rows it caused to be dropped, for advice

    def drop_rows(reason: str, masks: dict[str, np.ndarray], describe, detail: str) -> None:
        """Drop the still-kept rows flagged in any mask; describe(row, columns) makes an example."""
        nonlocal keep
        masks = {c: m & keep for c, m in masks.items()}
        hit = np.logical_or.reduce(list(masks.values())) if masks else np.zeros(rows_raw, bool)
        if not hit.any():
            return
        counts = {c: int(m.sum()) for c, m in masks.items() if m.any()}
        rows_lost_to.update(counts)
        columns = sorted(counts, key=counts.get, reverse=True)
        examples = [describe(i, [c for c in columns if masks[c][i]]) for i in np.flatnonzero(hit)[:_MAX_EXAMPLES]]
        drops.append(DropRecord(reason, int(hit.sum()), examples, columns, detail.format(n=int(hit.sum()))))
        keep &= ~hit

    drop_rows("incomplete", {c: missing[c] for c in keys + chosen},
              lambda i, cols: f"{labels[i]} (missing {', '.join(cols)})",
              "Dropped {n} row(s) with missing values.")
    drop_rows("non_numeric", {c: non_numeric[c] for c in chosen},
              lambda i, cols: f"{labels[i]} ({', '.join(f'{c}={df.at[i, c]!r}' for c in cols)})",
              "Dropped {n} row(s) with non-numeric values in numeric columns.")
    drop_rows("infinite", {c: np.isinf(numbers[c]) for c in chosen},
              lambda i, cols: f"{labels[i]} ({', '.join(f'{c}={numbers[c][i]}' for c in cols)})",
              "Dropped {n} row(s) with infinite values.")
    if schema.id_column is not None:
        ids = key_values[schema.id_column]
        duplicate = np.zeros(rows_raw, dtype=bool)
        duplicate[keep] = ids[keep].duplicated(keep="first").to_numpy()
        drop_rows("duplicate_id", {schema.id_column: duplicate},
                  lambda i, cols: f"{labels[i]} ({schema.id_column}={ids.iat[i]})",
                  "Dropped {n} row(s) whose id repeats an earlier row's (the first was kept).")

    rows_clean = int(keep.sum())
    if rows_clean == 0:
        worst = ", ".join(f"{c} ({n} rows)" for c, n in rows_lost_to.most_common(3))
        raise DataError(
            f"All {rows_raw} rows were dropped.\n{CleanReport(rows_raw, 0, drops).summary()}\n"
            f"Fix the data, or exclude the columns causing it (mainly {worst})."
        )
    if rows_clean < 2:
        raise DataError(
            f"Only {rows_clean} row is left after cleaning; segmenting needs at least 2.\n"
            f"{CleanReport(rows_raw, rows_clean, drops).summary()}\n"
            "Fix the data or exclude the columns with problems."
        )

    constant = [c for c in chosen if np.ptp(numbers[c][keep]) == 0]
    if constant:
        chosen = [c for c in chosen if c not in constant]
        drops.append(DropRecord(
            "constant_column", len(constant),
            [f"{c} (always {numbers[c][keep][0]:g})" for c in constant[:_MAX_EXAMPLES]], constant,
            f"Dropped {len(constant)} feature column(s) with the same value in every row; they cannot separate counties.",
        ))
        if not chosen:
            raise DataError(f"Every chosen feature is constant ({', '.join(constant)}). Choose features that vary between counties.")

    columns: dict[str, Any] = {c: _tidy_key(key_values[c][keep]) for c in keys}
    columns.update({c: numbers[c][keep] for c in chosen})
    index = pd.Index(_unique_labels(labels[keep], key_values.get(schema.id_column), keep), name="label")
    frame = pd.DataFrame({c: np.asarray(v) for c, v in columns.items()}, index=index)
    return CleanResult(frame, chosen, CleanReport(rows_raw, rows_clean, drops), schema)


def _choose_features(schema: Schema, features: Sequence[str] | None) -> list[str]:
    valid = list(schema.feature_columns)
    if not valid:
        named = [c for c in (schema.id_column, *schema.name_columns, *schema.ignored_columns) if c]
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
    """Text cells stripped, with blank ones treated as missing."""
    if isinstance(series.dtype, pd.StringDtype):
        stripped = series.str.strip()
    elif pd.api.types.is_object_dtype(series):
        stripped = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    else:
        return series
    return stripped.mask(stripped.eq(""))


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
