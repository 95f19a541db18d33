"""Where a table comes from: a local path, an s3:// URI, the bytes of an upload, or the
walkthrough's default object. Each is read to bytes here and parsed by `parsing`.

    raw = load_table(source)              # a raw DataFrame; attrs say where it came from

Every problem is a DataError whose message says what is wrong and what to do. Reads are
bounded: a local path must be a regular file (FIFOs, devices and folders are refused before
anything is read) and every source is at most settings.max_data_bytes() (a file's or S3
object's size is checked before reading; an upload already in memory, from getvalue() or as
bytes, is checked once it is there; a Census API table, fetched by workbench.core.census, is not
checked against it);
`check_user_source` keeps the paths an app user types inside the allowed roots.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from backends.format.files import FileRefused, read_regular_file
from workbench.core import census, settings
from workbench.core.errors import DataError
from workbench.core.parsing import _parse_csv

# The walkthrough's dataset: a public bucket, read anonymously.
DEFAULT_BUCKET = "aws-ml-blog-sagemaker-census-segmentation"
DEFAULT_KEY = "Census_Data_for_SageMaker.csv"
DEFAULT_MD5 = "066d37f43f7762f1eb409b1660fe9763"
DEFAULT_URI = f"s3://{DEFAULT_BUCKET}/{DEFAULT_KEY}"


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class SourceBytes:
    """What one source holds, and how to name it: `what` starts a sentence about it in messages,
    `description` says where a table came from (its attrs carry it)."""

    data: bytes
    what: str
    description: str


def read_source(source: Any = None, *, client: Any = None) -> SourceBytes:
    """The one reader: the bytes of any supported source. New kinds of source plug in here.

    source:
      None                      the walkthrough's default dataset (see read_default)
      str / os.PathLike         a local file; a str starting with "s3://" is an S3 object
      bytes / bytearray         the contents of an upload
      file-like with .read()    an upload (e.g. Streamlit's UploadedFile); .name is used in messages

    (A "census:" URI is a Census Data API request, which gives a table rather than bytes:
    load_table fetches it through workbench.core.census.)
    """
    if source is None:
        return read_default(client=client)
    if isinstance(source, (bytes, bytearray, memoryview)):
        _check_size(len(source), "The uploaded data")
        return SourceBytes(bytes(source), "The uploaded data", "uploaded data")
    if isinstance(source, str) and source.strip().lower().startswith("s3://"):
        uri = source.strip()
        return SourceBytes(_s3_bytes(uri, client=client), f"The S3 object {uri}", uri)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        return SourceBytes(_read_file(path), f"The file {path}", f"local file {path}")
    if hasattr(source, "read"):
        # getvalue() returns the whole upload even when it was read before (Streamlit reruns reuse the object).
        data = source.getvalue() if hasattr(source, "getvalue") else source.read(settings.max_data_bytes() + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = getattr(source, "name", None)
        label = f"uploaded file {Path(str(name)).name!r}" if name else "uploaded data"
        _check_size(len(data), f"The {label}")
        return SourceBytes(data, f"The {label}", label)
    raise DataError(
        f"Cannot load data from a {type(source).__name__}. Pass a file path, an s3:// URI, "
        "the bytes or file object of an upload, or None for the default dataset."
    )


def reference(source: Any) -> str | None:
    """What loads `source` again later: "default", an s3:// URI or an absolute path; None for an
    upload, which the workbench does not keep."""
    if source is None:
        return "default"
    if isinstance(source, str) and (source.strip().lower().startswith("s3://") or is_census(source)):
        return source.strip()
    if isinstance(source, (str, os.PathLike)):
        return str(Path(source).expanduser().resolve())
    return None


def load_table(source: Any = None) -> pd.DataFrame:
    """A raw table from any supported source (see read_source) or a Census Data API request
    (a "census:" URI); its attrs say where it came from."""
    if is_census(source):
        return census.fetch_table(census.parse_uri(source))
    return _parsed(read_source(source))


def _parsed(found: SourceBytes) -> pd.DataFrame:
    return _parse_csv(found.data, what=found.what, description=found.description)


def is_census(source: Any) -> bool:
    return isinstance(source, str) and source.strip().lower().startswith(census.URI_SCHEME)


def read_csv_path(path: str | os.PathLike) -> pd.DataFrame:
    """Read a local CSV file."""
    return load_table(Path(path))


def read_csv_bytes(data: bytes, name: str | None = None) -> pd.DataFrame:
    """Read CSV content already in memory (an upload); name is the uploaded file's name, for messages."""
    label = f"uploaded file {name!r}" if name else "uploaded data"
    _check_size(len(data), f"The {label}")
    return _parsed(SourceBytes(bytes(data), f"The {label}", label))


def read_s3_uri(uri: str, *, client: Any = None) -> pd.DataFrame:
    """Read a CSV object from s3://bucket/key (see _s3_bytes)."""
    return _parsed(SourceBytes(_s3_bytes(uri.strip(), client=client), f"The S3 object {uri}", uri))


def _s3_bytes(uri: str, *, client: Any = None) -> bytes:
    """An S3 object's bytes, signed with the standard AWS credential chain (unsigned when no
    credentials are configured, which works for public buckets)."""
    bucket, key = _parse_s3_uri(uri)
    client = client if client is not None else s3_client()
    advice = "Check the URI, your network and your AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/…)."
    limit = settings.max_data_bytes()
    with _s3_errors(uri, advice):
        response = client.get_object(Bucket=bucket, Key=key)
        if response.get("ContentLength") is not None:
            _check_size(int(response["ContentLength"]), f"The S3 object {uri}")
        data = response["Body"].read(limit + 1)
    _check_size(len(data), f"The S3 object {uri}")
    return data


def read_default(
    *, expected_md5: str = DEFAULT_MD5, client: Any = None, cache_dir: str | os.PathLike | None = None
) -> SourceBytes:
    """The walkthrough's dataset.

    When WORKBENCH_DEFAULT_DATA is set, that local file is read instead of S3. Otherwise the
    public object is fetched anonymously once, checked against expected_md5, and cached.
    """
    local = settings.default_data_path()
    if local is not None:
        data = _read_file(local, hint=f"It is named by {settings.ENV_DEFAULT_DATA}; fix or unset that variable.")
        md5 = hashlib.md5(data).hexdigest()
        same = "the walkthrough's file" if md5 == DEFAULT_MD5 else f"md5 {md5}, not the walkthrough's {DEFAULT_MD5}"
        return SourceBytes(data, f"The file {local}", f"default dataset from the local copy {local} "
                                                      f"({settings.ENV_DEFAULT_DATA} is set; {same})")
    path, data = _fetch_default(expected_md5, client, cache_dir)
    return SourceBytes(data, f"The cached file {path}", f"default dataset {DEFAULT_URI} (cached at {path})")


def load_default(
    *, expected_md5: str = DEFAULT_MD5, client: Any = None, cache_dir: str | os.PathLike | None = None
) -> pd.DataFrame:
    """The walkthrough's dataset as a raw table (see read_default)."""
    return _parsed(read_default(expected_md5=expected_md5, client=client, cache_dir=cache_dir))


def _fetch_default(expected_md5: str, client: Any, cache_dir: str | os.PathLike | None) -> tuple[Path, bytes]:
    """(path, bytes) of a verified local copy of the default S3 object, downloading it when the
    cache is missing or its md5 is wrong: the bytes that were hashed, so the file is read once.
    The download goes to a temporary file that is renamed into place only after its md5 checks
    out, so readers never see a partial file."""
    directory = Path(cache_dir) if cache_dir is not None else settings.cache_dir()
    target = directory / DEFAULT_BUCKET / DEFAULT_KEY
    cached = _cached_bytes(target)
    if cached is not None and hashlib.md5(cached).hexdigest() == expected_md5:
        return target, cached

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
                chunks, size = [], 0
                for chunk in body.iter_chunks(1 << 20):
                    size += len(chunk)
                    _check_size(size, f"The download of {DEFAULT_URI}")  # bounded while it arrives
                    digest.update(chunk)
                    out.write(chunk)
                    chunks.append(chunk)
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
    return target, b"".join(chunks)


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
        session = boto3.session.Session(region_name=settings.aws_region())
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


def _check_size(size: int, what: str) -> None:
    limit = settings.max_data_bytes()
    if size > limit:
        raise DataError(
            f"{what} is {size:,} bytes, over the {limit:,}-byte limit for a table read in memory "
            f"({settings.ENV_MAX_DATA_BYTES}). Raise that setting if the table is genuine, or save it as "
            f"Parquet and segment it in chunks ({_STREAM_ADVICE})."
        )


def _read_file(path: Path, hint: str = "") -> bytes:
    """A local file's bytes: a regular file (never a FIFO or device) within max_data_bytes()."""
    path = Path(path).expanduser()
    try:
        return read_regular_file(path, max_bytes=settings.max_data_bytes(), limit_name=settings.ENV_MAX_DATA_BYTES)
    except FileRefused as exc:
        problem = f"{path} is a folder, not a CSV file." if exc.reason == "folder" else str(exc)
        advice = _REFUSAL_ADVICE.get(exc.reason, "Check the path.")
    raise DataError(" ".join(part for part in (problem, advice, hint) if part))


_STREAM_ADVICE = "`python -m workbench stream FILE.parquet`"
# What to do about each FileRefused reason (backends.format.files): a too-big file needs no new path.
_REFUSAL_ADVICE = {
    "missing": "Check the path.",
    "folder": "Give the path of the CSV file itself.",
    "not_regular": "Save the table to a regular file and give its path.",
    "too_big": f"Or save the table as Parquet and segment it in chunks ({_STREAM_ADVICE}).",
    "permission": "Check the file's permissions, or copy it somewhere you can read.",
}


def _cached_bytes(path: Path) -> bytes | None:
    """A cache file's bytes, or None (a cache miss) when it is absent or unreadable. One over the
    limit is refused as any table over it is: downloading it again would not make it smaller."""
    try:
        return read_regular_file(path, max_bytes=settings.max_data_bytes(), limit_name=settings.ENV_MAX_DATA_BYTES)
    except FileRefused as exc:
        if exc.reason == "too_big":
            _check_size(path.stat().st_size, f"The cached copy of {DEFAULT_URI}")
        return None
    except OSError:
        return None


# --------------------------------------------------------------------------- paths users type


def allowed_path(path: str | os.PathLike, roots: Sequence[str | os.PathLike] | None = None) -> Path:
    """`path` resolved (symbolic links and `..` followed), when it lies inside one of `roots`
    (default settings.allowed_roots(): the working directory and the workspace); else a
    DataError. Nothing is opened or tested for existence before the check."""
    roots = settings.allowed_roots() if roots is None else [Path(r) for r in roots]
    resolved = Path(os.path.realpath(Path(path).expanduser()))
    for root in roots:
        real_root = Path(os.path.realpath(Path(root).expanduser()))
        if resolved.is_relative_to(real_root):
            return resolved
    raise DataError(
        f"{path} is outside the folders this app reads files from. Put the file in "
        f"{' or '.join(str(r) for r in roots) or 'an allowed folder'}, upload it, or ask whoever runs the app "
        f"to add its folder to {settings.ENV_ALLOWED_ROOTS}."
    )


def check_user_source(text: str, roots: Sequence[str | os.PathLike] | None = None) -> str:
    """A data source typed by an app user, bounded: an s3:// URI as given, a path only inside
    the allowed roots (see allowed_path), returned resolved."""
    text = str(text).strip()
    if text.lower().startswith("s3://"):
        return text
    if not text:
        raise DataError("Type the path of a CSV file, or an s3:// URI.")
    return str(allowed_path(text, roots))
