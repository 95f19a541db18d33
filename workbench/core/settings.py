"""Environment-driven settings.

Every function reads the environment when called (not at import), so tests can
monkeypatch variables and a long-running app picks up changes on the next call.
Nothing here creates directories; the code that writes into them does.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

APP_NAME = "county-workbench"

ENV_DEFAULT_DATA = "WORKBENCH_DEFAULT_DATA"
ENV_WORKSPACE = "WORKBENCH_WORKSPACE"
ENV_CACHE_DIR = "WORKBENCH_CACHE_DIR"
ENV_CENSUS_API_URL = "WORKBENCH_CENSUS_API_URL"
ENV_CENSUS_API_KEY = "CENSUS_API_KEY"
DEFAULT_CENSUS_API_URL = "https://api.census.gov/data"
ENV_MAX_DATA_BYTES = "WORKBENCH_MAX_DATA_BYTES"
ENV_MAX_COLUMNS = "WORKBENCH_MAX_COLUMNS"
ENV_ALLOWED_ROOTS = "WORKBENCH_ALLOWED_ROOTS"

# The census county table is 1.5 MB; a national block-group table of ~240,000 rows and a few
# hundred columns is a few hundred MB. Parsing holds the text and the table (~3x the file).
DEFAULT_MAX_DATA_BYTES = 512 << 20
# Columns of a table read in memory: PCA's cost grows with the cube of the features (at 2,000
# features the embedded backend's eigendecomposition takes seconds; at 10,000, minutes and GBs).
DEFAULT_MAX_COLUMNS = 2_000


class SettingsError(ValueError):
    """A setting's value is unusable; the message names the variable and the expected form."""


def _env_path(name: str) -> Path | None:
    """The path in environment variable `name`, or None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def default_data_path() -> Path | None:
    """A local copy of the default dataset (WORKBENCH_DEFAULT_DATA), or None to fetch it from S3."""
    return _env_path(ENV_DEFAULT_DATA)


def workspace_dir() -> Path:
    """Where runs are stored (WORKBENCH_WORKSPACE, else <user data dir>/workspace)."""
    return _env_path(ENV_WORKSPACE) or platformdirs.user_data_path(APP_NAME) / "workspace"


def cache_dir() -> Path:
    """Where downloads are cached (WORKBENCH_CACHE_DIR, else the user cache dir)."""
    return _env_path(ENV_CACHE_DIR) or platformdirs.user_cache_path(APP_NAME)


def census_api_url() -> str:
    """The Census Data API's base URL (WORKBENCH_CENSUS_API_URL, else the official one), no trailing /."""
    return (os.environ.get(ENV_CENSUS_API_URL, "").strip() or DEFAULT_CENSUS_API_URL).rstrip("/")


def census_api_key() -> str | None:
    """The Census Data API key (CENSUS_API_KEY), or None; small requests work without one.
    Never log, record or print it."""
    return os.environ.get(ENV_CENSUS_API_KEY, "").strip() or None
_SIZE = re.compile(r"\s*(\d+)\s*([KMG]i?B?|B)?\s*", re.IGNORECASE)


def _env_int(name: str, default: int, *, sizes: bool = False) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    match = _SIZE.fullmatch(value) if sizes else re.fullmatch(r"\s*(\d+)\s*", value)
    if not match or int(match.group(1)) < 1:
        form = "a whole number of bytes, or with a K, M or G suffix (e.g. 512M)" if sizes else "a positive whole number"
        raise SettingsError(f"{name} must be {form}; it is {value[:40]!r}.")
    unit = (match.group(2) or "").upper()[:1] if sizes else ""
    return int(match.group(1)) << {"": 0, "B": 0, "K": 10, "M": 20, "G": 30}[unit]


def max_data_bytes() -> int:
    """The largest data file read in memory (WORKBENCH_MAX_DATA_BYTES, default 512 MiB); a
    larger table belongs in Parquet (`python -m workbench stream FILE.parquet` reads it in chunks)."""
    return _env_int(ENV_MAX_DATA_BYTES, DEFAULT_MAX_DATA_BYTES, sizes=True)


def max_columns() -> int:
    """The most columns a table read in memory may have (WORKBENCH_MAX_COLUMNS, default 2,000)."""
    return _env_int(ENV_MAX_COLUMNS, DEFAULT_MAX_COLUMNS)


def allowed_roots() -> list[Path]:
    """The folders whose files the app may read when a user types a path
    (WORKBENCH_ALLOWED_ROOTS, folders separated by the OS path separator, ":" on Unix;
    default: the working directory and the workspace). The CLI reads any path it is given."""
    value = os.environ.get(ENV_ALLOWED_ROOTS, "").strip()
    if not value:
        return [Path.cwd(), workspace_dir()]
    return [Path(part.strip()).expanduser() for part in value.split(os.pathsep) if part.strip()]


def aws_region() -> str | None:
    """AWS_REGION, else AWS_DEFAULT_REGION, else None (the AWS config file decides). The AWS
    CLI and newer SDKs read AWS_REGION first; the pinned boto3 reads only AWS_DEFAULT_REGION."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None
