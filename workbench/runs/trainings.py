"""The app's trainings, each recorded as a run through the run writer (no Streamlit here).

- Train PCA records a `pca` run.
- Train K-Means records a `segmentation` run whose parent is that PCA run: it holds a copy of
  the PCA artifact (its cost stays with the PCA run), the K-Means artifact, labels.csv and the
  analyst's component names, so each PCA + K-Means pair is one self-contained run.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.base import Backend
from workbench.core import pipeline
from workbench.runs.store import RunStore
from workbench.runs.writer import RunWriter, artifact_path

Progress = Callable[[str], None]


@dataclass
class Recorded:
    """A training and the run that records it."""

    stage: Any  # pipeline.PCAStage | pipeline.KMeansStage, its job pointing at the saved artifact
    run_id: str
    timings: dict[str, float] = field(default_factory=dict)


def train_pca_run(
    store: RunStore, prepared: pipeline.PreparedData, *, backend: Backend, backend_name: str, n_components: int,
    seed: int, hyperparameters: Mapping[str, Any] | None = None, source_ref: str | None = None,
    progress: Progress = lambda _m: None,
) -> Recorded:
    with RunWriter(store, kind="pca", backend=backend_name, origin="app", prepared=prepared, source_ref=source_ref,
                   seed=seed, settings={"n_components": n_components}) as run:
        progress(f"Run `{run.run_id}` (recorded in the run registry)")
        progress(f"{len(prepared.X):,} counties × {len(prepared.features)} features, scaled with "
                 f"{prepared.scaler.recipe}")
        stage = run.train_pca(prepared.X, n_components, backend=backend, seed=seed,
                              hyperparameters=dict(hyperparameters or {}), progress=progress)
    stage.job.artifact_path = run.final_path(artifact_path("pca"))
    return Recorded(stage, run.run_id, run.timings)


def train_segmentation_run(
    store: RunStore, prepared: pipeline.PreparedData, pca: pipeline.PCAStage, *, pca_run_id: str | None,
    pca_seed: int | None, top: int, scores: np.ndarray, backend: Backend, backend_name: str, k: int, seed: int,
    hyperparameters: Mapping[str, Any] | None = None, source_ref: str | None = None,
    component_names: Sequence[str] = (), progress: Progress = lambda _m: None,
) -> Recorded:
    settings = {"n_components": pca.model.n_components, "top": top, "k": k, "pca_seed": pca_seed,
                "kmeans_seed": seed}
    with RunWriter(store, kind="segmentation", backend=backend_name, origin="app", prepared=prepared,
                   source_ref=source_ref, seed=seed, settings=settings, parent_run_id=pca_run_id) as run:
        progress(f"Run `{run.run_id}` (recorded in the run registry)")
        run.copy_job(pca.job, from_run=pca_run_id)
        progress(f"{len(scores):,} counties × {top} components (largest first)")
        stage = run.train_kmeans(scores, k, backend=backend, seed=seed, hyperparameters=dict(hyperparameters or {}),
                                 progress=progress)
        run.write_labels(pipeline.labeled_table(prepared, scores, stage))
        run.set_names(components=list(component_names)[:top])
    stage.job.artifact_path = run.final_path(artifact_path("kmeans"))
    return Recorded(stage, run.run_id, run.timings)
