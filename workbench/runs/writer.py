"""The one run writer: every run folder is written here, whoever produces it.

CLI `segment` and re-runs (workbench.runs.segment), the app's trainings
(workbench.runs.trainings), imports (workbench.runs.importer) and re-attached cloud jobs
(workbench.runs.reattach) all record through `RunWriter`:

    with RunWriter(store, kind="segmentation", backend="embedded", prepared=prepared, seed=0,
                   settings={"n_components": 33, "top": 5, "k": 7}) as run:
        pca = run.train_pca(prepared.X, 33, backend=backend, seed=0)  # trains into the run's folder
        ...
        run.write_labels(table)
    run.record                                                    # Completed, folder in place

The writer owns the run's life: its registry row is InProgress before the first byte is written
or any job is submitted (each cloud job is recorded as it is submitted, through the backend's
`on_submit` callback, so a restarted app can re-attach to it); the folder is assembled in a
hidden staging folder, its manifest (workbench.runs.manifest, schema 2) written last, then
renamed into place and the run marked Completed. An error marks it Failed with its message; an
interruption (KeyboardInterrupt, a stopped app) marks it Interrupted and leaves its cloud jobs
InProgress, to be re-attached. Either way no half-written folder is left where readers look.
"""
from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv  # noqa: F401  labels.csv's writer (folders.write_labels), imported with the writer, not mid-run

from backends.base import Backend, TrainingJob
from backends.format import model_tar
from workbench.core import csv_out, names, pipeline  # noqa: F401  (csv_out: for labels.csv, as pyarrow.csv)
from workbench.runs import folders, manifest
from workbench.runs.records import RegistryError, RunRecord
from workbench.runs.store import RunStore

ARTIFACT = "model.tar.gz"


def artifact_path(algorithm: str) -> str:
    """Where a run folder keeps an algorithm's model, relative to the folder."""
    return f"{algorithm}/{ARTIFACT}"


class RunWriter:
    """Records one run (see the module's docstring). Use it as a context manager."""

    def __init__(
        self,
        store: RunStore,
        *,
        backend: str,
        kind: str = "segmentation",
        origin: str = "pipeline",
        prepared: pipeline.PreparedData | None = None,
        source_ref: str | None = None,
        seed: int | None = None,
        settings: Mapping[str, Any] | None = None,
        name: str = "",
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ):
        self.store = store
        self.backend = backend
        self.run_id = run_id or folders.new_run_id()
        self.timings: dict[str, float] = {}
        self.n_counties = len(prepared.X) if prepared is not None else None
        self.manifest_extra: dict[str, Any] = {}  # top-level manifest fields beyond the record's
        self.job_extra: dict[str, dict[str, Any]] = {}  # more about a job, e.g. {"kmeans": {"sse": …}}
        self.record: RunRecord | None = None
        self.staging: Path | None = None
        self._resuming = False
        self._begin = {
            "kind": kind, "backend": backend, "origin": origin, "name": name, "parent_run_id": parent_run_id,
            "source_ref": source_ref, "seed": seed, "settings": dict(settings or {}),
        }
        if prepared is not None:
            self._begin.update(source=prepared.source_description, data_fingerprint=prepared.fingerprint,
                               features=list(prepared.features), scaler=prepared.scaler.to_dict(),
                               recipe=prepared.recipe_record(), geography=prepared.clean.schema.geography,
                               source_request=prepared.source_request)

    @classmethod
    def resume(cls, store: RunStore, run: RunRecord) -> RunWriter:
        """Take over a recorded run that an interrupted process left unsaved (re-attaching its jobs)."""
        writer = cls(store, backend=run.backend, kind=run.kind, run_id=run.run_id)
        writer._resuming = True
        writer.n_counties = run.n_counties
        return writer

    # -- the run's life ------------------------------------------------------------------------
    def __enter__(self) -> RunWriter:
        # The run's registry calls share one connection (opened, set up and closed once).
        self._session = contextlib.ExitStack()
        self._session.enter_context(self.store.session())
        try:
            return self._start()
        except BaseException:
            self._session.close()
            raise

    def _start(self) -> RunWriter:
        if self._resuming:
            self.store.take_over(self.run_id)
        else:
            if self._begin["name"]:  # a name that could shadow a run id is refused before anything starts
                self._begin["name"] = names.check_run_name(self._begin["name"], self.store.list_runs()["run_id"])
            self.store.begin_run(self.run_id, **self._begin)
        try:
            self.staging = folders.new_staging(self.store.runs_dir, self.run_id)
        except OSError as exc:
            self.store.end_run(self.run_id, "Failed", f"Cannot create the run's folder: {exc}")
            raise RegistryError(f"Cannot create run {self.run_id}'s folder in {self.store.runs_dir}: {exc}. Set "
                                "WORKBENCH_WORKSPACE to a writable folder.") from exc
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        with self._session:
            if exc is None:
                try:
                    self._publish()
                    return False
                except BaseException as failure:
                    self._end(failure)
                    raise
            self._end(exc)
            return False

    def _publish(self) -> None:
        started = time.perf_counter()
        # The writer's own timings: the store records them only once the folder is published.
        written = manifest.build(self.store.get(self.run_id), **{"timings": dict(self.timings), **self.manifest_extra})
        for algorithm, more in self.job_extra.items():
            written.setdefault(algorithm, {}).update(more)
        manifest.write(self.staging, written)
        final = self.store.runs_dir / self.run_id
        folders.publish(self.staging, final)
        self.timings["record"] = self.timings.get("record", 0.0) + time.perf_counter() - started
        self.record = self.store.published(self.run_id, final, timings=self.timings, n_counties=self.n_counties)

    def _end(self, exc: BaseException) -> None:
        if isinstance(exc, Exception):
            status, message, fail_jobs = "Failed", str(exc) or type(exc).__name__, True
        else:
            status, message, fail_jobs = "Interrupted", f"Stopped ({type(exc).__name__}).", False
        try:
            self.store.end_run(self.run_id, status, message, fail_open_jobs=fail_jobs)
        except RegistryError:  # the error that caused it matters more
            pass
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)

    # -- what goes into the folder -----------------------------------------------------------------
    def path(self, relative: str) -> Path:
        """Where `relative` is while the run is being written."""
        return self.staging / relative

    def final_path(self, relative: str) -> Path:
        """Where `relative` will be once the run is saved."""
        return self.store.runs_dir / self.run_id / relative

    def on_submit(self, record: Mapping[str, Any]) -> None:
        """The backends' on_submit callback: a job about to be submitted is recorded InProgress."""
        self.store.job_submitted(self.run_id, {"backend": self.backend, **record})

    def add_job(self, job: TrainingJob, *, artifact_source: str | None = None) -> None:
        """A finished job whose model is already in this run's folder."""
        relative = Path(job.artifact_path).resolve().relative_to(self.staging.resolve()).as_posix()
        self.store.job_finished(self.run_id, job, relative, artifact_source=artifact_source)

    def train_pca(self, X: np.ndarray, n_components: int, *, backend: Backend, seed: int,
                  hyperparameters: dict[str, Any] | None = None, progress=None) -> pipeline.PCAStage:
        started = time.perf_counter()
        stage = pipeline.train_pca(X, n_components, backend=backend, seed=seed, output_dir=self.path("pca"),
                                   hyperparameters=hyperparameters, progress=progress, on_submit=self.on_submit)
        self.timings["pca"] = time.perf_counter() - started
        self.add_job(stage.job)
        return stage

    def train_kmeans(self, scores: np.ndarray, k: int, *, backend: Backend, seed: int,
                     hyperparameters: dict[str, Any] | None = None, progress=None) -> pipeline.KMeansStage:
        started = time.perf_counter()
        stage = pipeline.train_kmeans(scores, k, backend=backend, seed=seed, output_dir=self.path("kmeans"),
                                      hyperparameters=hyperparameters, progress=progress, on_submit=self.on_submit)
        self.timings["kmeans"] = time.perf_counter() - started
        self.add_job(stage.job)
        return stage

    def copy_job(self, job: TrainingJob, *, from_run: str | None) -> TrainingJob:
        """Another run's finished job, its model copied byte for byte into this run. Its cost stays
        with the run that paid for it, so adding up runs' costs counts each job once."""
        source = Path(job.artifact_path)
        if not source.is_file():
            raise FileNotFoundError(f"The {job.algorithm} model {source} is gone (was its run deleted?); train it "
                                    "again first.")
        target = self.path(artifact_path(job.algorithm))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        details = {**(job.details or {}), "estimated_cost_usd": 0.0}
        if from_run:
            details.update(copied_from_run=from_run, cost_recorded_in_run=from_run)
        copied = replace(job, artifact_path=target, details=details)
        self.add_job(copied)
        return copied

    def add_artifact(self, algorithm: str, payload: bytes, *, job_name: str, hyperparameters: Mapping[str, Any],
                     details: Mapping[str, Any], artifact_source: str | None) -> TrainingJob:
        """An artifact from elsewhere (an import): a model.tar.gz kept byte for byte, or a bare
        model_algo-1 packed into one."""
        target = self.path(artifact_path(algorithm))
        target.parent.mkdir(parents=True, exist_ok=True)
        if payload.startswith(model_tar.GZIP_MAGIC):
            target.write_bytes(payload)
        else:
            model_tar.write_model_tar(target, {model_tar.MODEL_MEMBER: payload})
        job = TrainingJob(algorithm, self.backend, job_name, dict(hyperparameters), target, 0.0, dict(details))
        self.add_job(job, artifact_source=artifact_source)
        return job

    def write_labels(self, table: Any) -> None:
        """The labeled counties (workbench.core.pipeline.labeled_table) as the run's labels.csv."""
        started = time.perf_counter()
        folders.write_labels(table, self.path(folders.LABELS))
        self.timings["labels"] = time.perf_counter() - started
        self.n_counties = len(table)

    def set_names(self, *, components: Sequence[str] | None = None, clusters: Sequence[str] | None = None) -> None:
        """The analyst's names, recorded with the run (they go into names.json when it is saved)."""
        if (components and any(components)) or (clusters and any(clusters)):
            self.store.set_names(self.run_id, components=components, clusters=clusters)
