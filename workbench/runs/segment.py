"""The whole walkthrough as one recorded run: load → clean → scale → PCA → project → K-Means →
labels, and running a recorded segmentation again.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backends.registry import DEFAULT_BACKEND
from workbench.core import settings
from workbench.core.pipeline import (
    KMeansStage,
    PCAStage,
    PreparedData,
    Progress,
    labeled_table,
    prepare,
    project,
    train_kmeans,
    train_pca,
)
from workbench.runs import folders as runs
from workbench.runs import writer
from workbench.runs.store import Registry


@dataclass
class SegmentationResult:
    prepared: PreparedData
    pca: PCAStage
    top: int
    scores: np.ndarray
    kmeans: KMeansStage
    seed: int
    run_id: str
    run_dir: Path
    timings: dict[str, float] = field(default_factory=dict)

    def labeled(self, **names) -> pd.DataFrame:
        return labeled_table(self.prepared, self.scores, self.kmeans, **names)

    def summary(self) -> dict[str, Any]:
        report = self.prepared.clean.report
        return {
            "run_id": self.run_id,
            "source": self.prepared.source_description,
            "rows_raw": report.rows_raw,
            "rows_clean": report.rows_clean,
            "dropped": [drop.to_dict() for drop in report.drops],
            "features": self.prepared.features,
            "scaler": self.prepared.scaler.recipe,
            "explained_variance_ratio": [float(r) for r in self.pca.explained_variance_ratio[: self.top]],
            "sse": self.kmeans.sse,
            "cluster_sizes": self.kmeans.cluster_sizes,
            "artifacts": {
                "pca": str(self.run_dir / "pca" / "model.tar.gz"),
                "kmeans": str(self.run_dir / "kmeans" / "model.tar.gz"),
            },
            "run_dir": str(self.run_dir),
            "timings": {name: round(seconds, 4) for name, seconds in self.timings.items()},
        }


def run_segmentation(
    source: Any = None,
    *,
    features: Sequence[str] | None = None,
    scaler: str = "minmax",
    n_components: int = 33,
    top: int = 5,
    k: int = 7,
    seed: int = 0,
    backend: str = DEFAULT_BACKEND,
    workspace: Path | None = None,
    progress: Progress | None = None,
) -> SegmentationResult:
    """The whole walkthrough in one call; the run lands in `workspace/runs/<run_id>`."""
    timings: dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - started
        return result

    prepared = timed("prepare", prepare, source, features=features, scaler=scaler)
    if not 1 <= top <= n_components:
        raise ValueError(f"--top must be between 1 and the number of components ({n_components}); got {top}.")
    workspace = Path(workspace) if workspace else settings.workspace_dir()
    # The registry records the run (InProgress) before anything is written or submitted.
    record = writer.recording(workspace, runs.new_run_id(), backend=backend, source=source, prepared=prepared,
                                seed=seed, settings={"n_components": n_components, "top": top, "k": k},
                                timings=timings)
    with record as recorder, runs.staged_run(workspace, recorder.run_id) as (run_id, staging), recorder.submissions():
        pca = timed("pca", train_pca, prepared.X, n_components, backend=backend, seed=seed,
                    output_dir=staging / "pca", progress=progress)
        recorder.job_finished(pca.job, "pca/model.tar.gz")
        scores = timed("project", project, pca, prepared.X, top)
        kmeans = timed("kmeans", train_kmeans, scores, k, backend=backend, seed=seed,
                       output_dir=staging / "kmeans", progress=progress)
        recorder.job_finished(kmeans.job, "kmeans/model.tar.gz")
        runs.write_labels(labeled_table(prepared, scores, kmeans), staging / runs.LABELS)
        runs.write_json_atomic(staging / runs.MANIFEST, {
            "run_id": run_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "backend": backend,
            "seed": seed,
            "source": prepared.source_description,
            "data_fingerprint": prepared.fingerprint,
            "features": prepared.features,
            "scaler": prepared.scaler.to_dict(),
            "top_components": top,
            "pca": {"job_name": pca.job.job_name, "hyperparameters": pca.job.hyperparameters,
                    "artifact": "pca/model.tar.gz"},
            "kmeans": {"job_name": kmeans.job.job_name, "hyperparameters": kmeans.job.hyperparameters,
                       "artifact": "kmeans/model.tar.gz", "sse": kmeans.sse},
            "library_versions": runs.library_versions(),
            "timings": timings,
        })
    run_dir = workspace / "runs" / run_id
    # Point the jobs at the artifacts' final home, not the staging folder.
    pca.job.artifact_path = run_dir / "pca" / "model.tar.gz"
    kmeans.job.artifact_path = run_dir / "kmeans" / "model.tar.gz"
    return SegmentationResult(prepared, pca, top, scores, kmeans, seed, run_id, run_dir, timings)


def rerun(ref: str, *, backend: str, registry: Registry | None = None, source: Any = ..., progress=None,
          workspace: Path | None = None):
    """Run a segmentation again with the same settings, on `backend`; returns the SegmentationResult
    (the new run is recorded like any other). `source=` replaces the data when it cannot be reloaded."""
    from workbench.runs import segment

    registry = registry or Registry(workspace=workspace)
    if source is not ...:
        run = registry.get(ref)
        kwargs = {"source": source, "features": run.features, "scaler": run.scaler_recipe or "minmax",
                  "n_components": run.n_components or 33, "top": run.top or 5, "k": run.k or 7, "seed": run.seed or 0}
    else:
        kwargs = registry.rerun_settings(ref)
    original = registry.resolve(ref)
    result = segment.run_segmentation(**kwargs, backend=backend, workspace=registry.workspace, progress=progress)
    with registry._transaction() as conn:
        conn.execute("UPDATE runs SET parent_run_id = ?, origin = 'rerun' WHERE run_id = ?", (original, result.run_id))
    return result
