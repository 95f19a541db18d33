"""Environment-driven settings.

Every function reads the environment when called (not at import), so tests can
monkeypatch variables and a long-running app picks up changes on the next call.
Nothing here creates directories; the code that writes into them does.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "county-workbench"

ENV_DEFAULT_DATA = "WORKBENCH_DEFAULT_DATA"
ENV_WORKSPACE = "WORKBENCH_WORKSPACE"
ENV_CACHE_DIR = "WORKBENCH_CACHE_DIR"
ENV_CENSUS_API_URL = "WORKBENCH_CENSUS_API_URL"
ENV_CENSUS_API_KEY = "CENSUS_API_KEY"
DEFAULT_CENSUS_API_URL = "https://api.census.gov/data"


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
