"""Run directories: every run's artifacts plus a manifest that makes it reproducible.

A run is assembled in a hidden staging folder and renamed into place when complete, so a
crash never leaves a half-written run where readers would find it.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import secrets
import shutil
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

MANIFEST = "manifest.json"
LABELS = "labels.csv"  # the labeled counties (first column: the county key), when a run has K-Means labels
STAGING_PREFIX = ".staging-"
ENV_PAUSE_AT = "WORKBENCH_TEST_PAUSE_AT"  # test hook: see checkpoint()
TRACKED_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "boto3", "streamlit", "sagemaker")


def library_versions() -> dict[str, str]:
    return dict(_library_versions())


@functools.cache  # reading the installed packages' metadata takes ~25 ms; it cannot change in-process
def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def checkpoint(point: str) -> None:
    """A named step of a write. Tests set WORKBENCH_TEST_PAUSE_AT=<point> to freeze the process here
    (after creating the file WORKBENCH_TEST_PAUSE_MARKER, if set) and kill it mid-write."""
    if os.environ.get(ENV_PAUSE_AT) != point:
        return
    marker = os.environ.get("WORKBENCH_TEST_PAUSE_MARKER")
    if marker:
        Path(marker).write_text(f"{os.getpid()} {point}")
    time.sleep(float(os.environ.get("WORKBENCH_TEST_PAUSE_SECONDS", "60")))


def write_labels(table: Any, path: Path) -> None:
    """A run's labels.csv: the labeled counties, their index as the first column, `county`
    (`county key` when the table has a column of its own called county; readers take the first
    column as the index, whatever its name).

    pyarrow's CSV writer: 3-4x faster than DataFrame.to_csv on the census table (the same
    values come back from pd.read_csv; text fields are quoted).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    key = "county" if "county" not in table.columns else "county key"
    frame = table.rename_axis(key).reset_index()
    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def write_json_atomic(path: Path, payload: Any) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        checkpoint("json-written")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def staged_run(workspace: Path, run_id: str | None = None) -> Iterator[tuple[str, Path]]:
    """Yield (run_id, staging_dir); on success the folder becomes `workspace/runs/<run_id>`."""
    runs_dir = Path(workspace) / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id()
    staging = Path(tempfile.mkdtemp(dir=runs_dir, prefix=f"{STAGING_PREFIX}{run_id}-"))
    try:
        yield run_id, staging
        checkpoint("run-staged")
        final = runs_dir / run_id
        if final.exists():
            raise FileExistsError(f"A run called {run_id} already exists in {runs_dir}.")
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / MANIFEST).read_text())
