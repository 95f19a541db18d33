"""Where the session's table comes from (no Streamlit here): the walkthrough's default object, an
upload, or a path / s3:// URI typed on the Data page."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from workbench.core import settings, sources

SOURCE_LABELS = {
    "default": "Walkthrough dataset (ACS 2015 counties)",
    "upload": "Upload a CSV",
    "path": "Path or s3:// URI",
    "census": "Census Data API (ACS 5-year)",
}


@dataclass(frozen=True)
class Source:
    """Where the table comes from: kind is "default", "upload", "path" (a path or s3:// URI) or
    "census" (a Census Data API request, its census: URI as the location)."""

    kind: str
    location: str = ""  # the path/URI, or the uploaded file's name
    digest: str = ""  # uploads: sha256 of the bytes

    @property
    def label(self) -> str:
        if self.kind == "default":
            return "the walkthrough's dataset"
        if self.kind == "upload":
            return f"upload {self.location}"
        if self.kind == "census":
            from workbench.core import census

            return census.parse_uri(self.location).describe()
        return self.location

    @property
    def identity(self) -> str:
        """Which source this is, whatever its file's timestamps."""
        return f"{self.kind}:{self.digest or self.location}"

    @property
    def reference(self) -> str | None:
        """What lets a recorded run load its data again: "default", a path or s3:// URI; None for uploads."""
        if self.kind == "default":
            return "default"
        if self.kind in ("path", "census") and self.location.strip():
            return sources.reference(self.location.strip())
        return None

    def cache_key(self) -> str:
        """Changes whenever what would be loaded changes (env var, file on disk, upload)."""
        if self.kind == "default":
            local = settings.default_data_path()
            return "default:" + (_file_stamp(local) if local else sources.DEFAULT_URI)
        if self.kind == "upload":
            return f"upload:{self.digest}"
        if self.kind == "census" or self.location.strip().lower().startswith("s3://"):
            return f"s3:{self.location.strip()}"
        return "path:" + _file_stamp(Path(self.location).expanduser())


DEFAULT_SOURCE = Source("default")


def _file_stamp(path: Path) -> str:
    try:
        stat = os.stat(path)
        return f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        return f"{path}:missing"


