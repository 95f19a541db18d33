"""Recording a run: in the registry (InProgress) before its first write or submission, Completed
once its folder is in place, Failed or Interrupted otherwise.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.runs import folders as runs
from workbench.runs.records import LOCAL_BACKENDS, RegistryError, RunRecord, canonical_backend
from workbench.runs.store import Registry


# --------------------------------------------------------------------------- recording a run
def _source_ref(source: Any) -> str | None:
    """What lets a run be loaded again: "default", an s3:// URI or an absolute path; None for uploads."""
    if source is None:
        return "default"
    if isinstance(source, str) and source.strip().lower().startswith("s3://"):
        return source.strip()
    if isinstance(source, (str, os.PathLike)):
        return str(Path(source).expanduser().resolve())
    return None


class RunRecorder:
    """What `recording` hands the code that writes a run."""

    def __init__(self, registry: Registry, run_id: str, backend: str, *,
                 timings: Mapping[str, float] | None = None, n_counties: int | None = None):
        self.registry = registry
        self.run_id = run_id
        self.backend = backend
        self.timings = timings  # may be filled while the run goes on: it is read when the run is saved
        self.n_counties = n_counties
        self.run_dir: Path | None = None

    @contextmanager
    def submissions(self) -> Iterator[None]:
        """Record each SageMaker job as InProgress just before it is submitted (the backends'
        on_submit hook), so a restarted app can re-attach to it."""
        if self.backend in LOCAL_BACKENDS:
            yield
            return
        from backends import sagemaker_settings

        try:
            previous = sagemaker_settings.resolve_settings().on_submit
        except ValueError:  # a bad setting: the backend reports it properly when the job starts
            previous = None

        def on_submit(record: dict[str, Any]) -> None:
            self.registry.job_submitted(self.run_id, {"backend": self.backend, **record})
            if previous is not None:
                previous(record)

        with sagemaker_settings.backend_settings(on_submit=on_submit):
            yield

    def job_finished(self, job: Any, artifact: str, **kwargs: Any) -> None:
        self.registry.job_finished(self.run_id, job, artifact, **kwargs)

    def published(self, run_dir: Path | None = None, *, timings: Mapping[str, float] | None = None,
                  n_counties: int | None = None) -> RunRecord:
        """Mark the run saved (done by `recording` itself when its folder is in place at the end)."""
        self.run_dir = Path(run_dir) if run_dir else self.registry.runs_dir / self.run_id
        return self.registry.published(self.run_id, self.run_dir, timings=timings or self.timings,
                                       n_counties=n_counties or self.n_counties)


@contextmanager
def recording(
    workspace: Path | None,
    run_id: str,
    *,
    backend: str,
    kind: str = "segmentation",
    source: Any = None,
    prepared: Any = None,
    registry: Registry | None = None,
    timings: Mapping[str, float] | None = None,
    **fields: Any,
) -> Iterator[RunRecorder]:
    """Record a run from before its first write to after its folder is in place.

    `prepared` (a pipeline.PreparedData) fills the data fingerprint, features, scaler and county
    count. Inside the block: `recorder.submissions()` around cloud training and
    `recorder.job_finished(job, artifact)` per job, with `runs.staged_run(workspace, run_id)` nested
    inside so that its folder is in place when the block ends: the run is then Completed (see
    Registry.published). An error marks the run Failed; an interruption (KeyboardInterrupt, a
    stopped app) marks it Interrupted and leaves its cloud jobs InProgress, to be re-attached.
    """
    registry = registry or Registry(workspace=workspace)
    if prepared is not None:
        fields.setdefault("source", getattr(prepared, "source_description", None))
        fields.setdefault("data_fingerprint", prepared.fingerprint)
        fields.setdefault("features", list(prepared.features))
        fields.setdefault("scaler", prepared.scaler.to_dict())
    fields.setdefault("source_ref", _source_ref(source))
    registry.begin_run(run_id, kind=kind, backend=backend, **fields)
    recorder = RunRecorder(registry, run_id, canonical_backend(backend), timings=timings,
                           n_counties=len(prepared.X) if prepared is not None else None)
    try:
        yield recorder
    except Exception as exc:
        _quietly(registry.end_run, run_id, "Failed", str(exc) or type(exc).__name__)
        raise
    except BaseException as exc:
        _quietly(registry.end_run, run_id, "Interrupted", f"Stopped ({type(exc).__name__}).", fail_open_jobs=False)
        raise
    if recorder.run_dir is None:
        if (registry.runs_dir / run_id / runs.MANIFEST).is_file():
            recorder.published()
        else:
            _quietly(registry.end_run, run_id, "Failed", "The run ended without saving its folder.")


def _quietly(fn, *args, **kwargs) -> None:
    """Record a failure without hiding the error that caused it."""
    try:
        fn(*args, **kwargs)
    except RegistryError:
        pass
