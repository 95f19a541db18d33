"""Run folders on disk: where a run's artifacts, labels.csv and manifest.json live, how a run is
assembled in a hidden staging folder and renamed into place complete (so a crash never leaves a
half-written run where readers would find it), and the test hook that pauses a write.

Only workbench/runs/writer.py writes run folders (the store adds names.json and deletes them);
this module gives it the pieces.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
LABELS = "labels.csv"  # the labeled counties (first column: the county key), when a run has K-Means labels
STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"  # a run folder being deleted
NAMES = "names.json"  # a copy of the analyst's names, so a registry rebuilt from the folders keeps them
ENV_PAUSE_AT = "WORKBENCH_TEST_PAUSE_AT"  # test hook: see checkpoint()
TRACKED_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "boto3", "streamlit", "sagemaker")


def library_versions() -> dict[str, str]:
    return dict(_library_versions())


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_versions() -> dict[str, str]:
    """{normalised name: version} read off the `NAME-VERSION.dist-info` folders on sys.path, first
    found first (as importlib.metadata looks them up): one listing of each folder, about 0.4 ms."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                names = [item.name for item in listing if item.name.endswith(".dist-info")]
        except OSError:
            continue
        for folder in names:
            name, _, version = folder[: -len(".dist-info")].partition("-")
            if version:
                found.setdefault(_normalised(name), version)
    return found


@functools.cache  # it cannot change in-process
def _library_versions() -> dict[str, str]:
    # importlib.metadata costs ~10 ms to import and ~5 ms for these lookups, a tenth of a county
    # run: it is asked only about a library whose dist-info folder the listing did not find.
    versions = {"python": platform.python_version()}
    installed = _installed_versions()
    for name in TRACKED_LIBRARIES:
        version = installed.get(_normalised(name))
        if version is None:
            from importlib import metadata

            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        versions[name] = version
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
    values come back from read_labels; text fields are quoted). Text that a spreadsheet would
    run as a formula is written with a leading `'` (workbench.core.csv_out), which read_labels removes.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from workbench.core import csv_out

    key = "county" if "county" not in table.columns else "county key"
    frame = table.rename_axis(key).reset_index()
    if _needs_protection(frame):
        frame = csv_out.protect_frame(frame)
    if all(isinstance(column, str) for column in frame.columns) and frame.columns.is_unique:
        # Column by column, as Table.from_pandas converts them (NaN as null), without its pandas
        # metadata: 0.4 ms where from_pandas takes 3-4 ms in a fresh process.
        arrow = pa.table({column: pa.array(frame[column], from_pandas=True) for column in frame.columns})
    else:
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
    pa_csv.write_csv(arrow, str(path))


_LINE_NEEDS_PREFIX = re.compile(r"\n'*[=+\-@\t\r]")  # csv_out's test, at the start of any line


def _needs_protection(frame: Any) -> bool:
    """Whether csv_out.protect_frame would change any column name or text cell of `frame` (a frame
    with a plain index): one vectorised match a text column instead of a Python call a cell."""
    import pandas as pd

    from workbench.core import csv_out

    if any(isinstance(c, str) and csv_out.protect_text(c) != c for c in frame.columns):
        return True
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = pd.Series(values.cat.categories)
        if isinstance(values.dtype, pd.StringDtype):
            # Each cell starts a line of the joined text: a cell needing protection matches there
            # (a cell holding a line break may match too, and then protect_frame decides).
            if _LINE_NEEDS_PREFIX.search("\n" + "\n".join(values.dropna().tolist())):
                return True
        elif pd.api.types.is_object_dtype(values):
            if values.map(lambda v: isinstance(v, str) and csv_out.protect_text(v) != v).any():
                return True
    return False


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


def new_staging(runs_dir: Path, run_id: str) -> Path:
    """A hidden folder beside the runs where a run is assembled before it is published."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=runs_dir, prefix=f"{STAGING_PREFIX}{run_id}-"))


def staging_dirs(runs_dir: Path, run_id: str) -> list[Path]:
    """The staging folders a run left behind (an interrupted writer's)."""
    runs_dir = Path(runs_dir)
    return sorted(runs_dir.glob(f"{STAGING_PREFIX}{run_id}-*")) if runs_dir.is_dir() else []


def publish(staging: Path, final: Path) -> None:
    """Rename a complete staging folder into place: readers see the whole run or none of it."""
    checkpoint("run-staged")
    if final.exists():
        raise FileExistsError(f"A run called {final.name} already exists in {final.parent}.")
    os.replace(staging, final)


def read_labels(path: Path):
    """A labels.csv as written by write_labels (index: the county key, whatever its column's name)."""
    from workbench.core import csv_out

    frame = csv_out.read_csv(path, index_col=0, keep_default_na=False, na_values=[""])
    return frame.rename_axis("county")
