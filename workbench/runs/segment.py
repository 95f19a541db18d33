"""The whole walkthrough as one recorded run — load → clean → scale → PCA → project → K-Means →
labels — for `python -m workbench segment`, and running a recorded segmentation again.

    result = run_segmentation("counties.csv", k=6)     # recorded in the workspace's run store
    result.summary()                                   # what `segment --json` prints
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backends.format.hyperparameters import (
    check_kmeans_against_data,
    check_pca_against_data,
    validate_kmeans,
    validate_pca,
    validate_seed,
)
from backends.registry import DEFAULT_BACKEND, backend_class, create_backend, spec
from workbench.core import conventions, sources
from workbench.core.pipeline import KMeansStage, PCAStage, PreparedData, Progress, labeled_table, prepare, project
from workbench.runs import writer as writer_mod
from workbench.runs.records import RegistryError
from workbench.runs.store import RunStore
from workbench.runs.writer import RunWriter


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
            "warnings": [warning.to_dict() for warning in report.warnings],
            "parsing": dict(report.parsing),
            "ignored": list(self.prepared.clean.schema.ignored_columns),
            "id_column": self.prepared.clean.schema.id_column,
            "geography": self.prepared.clean.schema.geography,
            "features": self.prepared.features,
            "scaler": self.prepared.scaler.recipe,
            "recipe": self.prepared.recipe.to_dict() if self.prepared.recipe is not None else None,
            "explained_variance_ratio": [float(r) for r in self.pca.explained_variance_ratio[: self.top]],
            "sse": self.kmeans.sse,
            "cluster_sizes": self.kmeans.cluster_sizes,
            "artifacts": {
                "pca": str(self.run_dir / writer_mod.artifact_path("pca")),
                "kmeans": str(self.run_dir / writer_mod.artifact_path("kmeans")),
            },
            "run_dir": str(self.run_dir),
            "timings": {name: round(seconds, 4) for name, seconds in self.timings.items()},
        }


def run_segmentation(
    source: Any = None,
    *,
    features: Sequence[str] | None = None,
    scaler: str | None = None,
    recipe=None,
    n_components: int = conventions.WALKTHROUGH_COMPONENTS,
    top: int = conventions.WALKTHROUGH_TOP,
    k: int = conventions.WALKTHROUGH_K,
    seed: int = conventions.DEFAULT_SEED,
    backend: str = DEFAULT_BACKEND,
    backend_settings: Mapping[str, Any] | None = None,
    workspace: Path | None = None,
    store: RunStore | None = None,
    origin: str = "pipeline",
    parent_run_id: str | None = None,
    progress: Progress | None = None,
) -> SegmentationResult:
    """The whole walkthrough in one call; the run lands in `workspace/runs/<run_id>`.

    `recipe` (workbench.core.recipes.FeatureRecipe) makes counts rates and transforms skewed
    features before scaling; `scaler` defaults to the recipe's, else min-max.
    `backend_settings` configure the backend (the SageMaker settings: instance type, role,
    bucket…); they are never recorded. Timings cover every stage to the written files."""
    seed = validate_seed(seed)  # before reading any data: a bad seed is a one-line error at once
    # The backend's code is imported before the clock starts, as a script's imports are (7 ms for
    # the embedded backend's algorithms); a missing package is still reported by create_backend.
    with contextlib.suppress(ImportError, ValueError):
        backend_class(spec(backend))
    started = time.perf_counter()
    timings: dict[str, float] = {}
    prepared = prepare(source, features=features, scaler=scaler, recipe=recipe)
    timings["prepare"] = time.perf_counter() - started
    _check_settings_fit(prepared.X.shape, n_components, top, k)
    compute = create_backend(backend, **dict(backend_settings or {}))
    store = store or RunStore(workspace=workspace)
    run = RunWriter(store, backend=backend, origin=origin, prepared=prepared, source_ref=sources.reference(source),
                    seed=seed, settings={"n_components": n_components, "top": top, "k": k},
                    parent_run_id=parent_run_id)
    run.timings.update(timings)
    with run:
        pca = run.train_pca(prepared.X, n_components, backend=compute, seed=seed, progress=progress)
        projected = time.perf_counter()
        scores = project(pca, prepared.X, top)
        run.timings["project"] = time.perf_counter() - projected
        kmeans = run.train_kmeans(scores, k, backend=compute, seed=seed, progress=progress)
        run.write_labels(labeled_table(prepared, scores, kmeans))
        run.job_extra["kmeans"] = {"sse": kmeans.sse}
    for stage, relative in ((pca, writer_mod.artifact_path("pca")), (kmeans, writer_mod.artifact_path("kmeans"))):
        stage.job.artifact_path = run.final_path(relative)  # the artifact's home, not the staging folder
    timings = {**run.timings, "total": time.perf_counter() - started}
    return SegmentationResult(prepared, pca, top, scores, kmeans, seed, run.run_id, run.final_path(""), timings)


def _check_settings_fit(shape: tuple[int, int], n_components: int, top: int, k: int) -> None:
    """Settings that do not fit the data are refused before anything is recorded or trained (on
    SageMaker, before a PCA job is paid for only for the K-Means to be refused)."""
    n_rows, n_features = shape
    if not 1 <= top <= n_components:
        raise ValueError(f"--top must be between 1 and the number of components ({n_components}); got {top}.")
    pca = validate_pca({"feature_dim": n_features, "num_components": n_components,
                        "mini_batch_size": conventions.pca_mini_batch(n_rows)})
    check_pca_against_data(pca, n_rows, n_features)
    check_kmeans_against_data(validate_kmeans({"k": k, "feature_dim": top}), n_rows, top)


def rerun_settings(store: RunStore, ref: str, *, source: Any = ...) -> dict[str, Any]:
    """`run_segmentation` keyword arguments that repeat a recorded run (source, features, scaler,
    n_components, top, k, seed). Pass backend=… to run it elsewhere; `source=` replaces the data
    when the run's own cannot be loaded again (an upload)."""
    run = store.get(ref)
    if run.kind != "segmentation":
        raise RegistryError(f"Run {run.run_id} is a lone {run.kind} run; only whole segmentations re-run.")
    if source is ...:
        if not run.source_ref:
            raise RegistryError(f"Run {run.run_id} came from {run.source or 'unknown data'}, which cannot be "
                                "loaded again by itself (an upload); pass the data (source=…) to re-run it.")
        source = None if run.source_ref == "default" else run.source_ref
    recipe, features = run.feature_recipe, run.source_features
    return {
        "source": source,
        "features": list(features) if features else None,
        "recipe": recipe,
        "scaler": None if recipe is not None else (run.scaler_recipe or conventions.DEFAULT_SCALER),
        "n_components": run.n_components or conventions.WALKTHROUGH_COMPONENTS,
        "top": run.top or conventions.WALKTHROUGH_TOP,
        "k": run.k or conventions.WALKTHROUGH_K,
        "seed": run.seed or conventions.DEFAULT_SEED,
    }


def rerun(ref: str, *, backend: str, store: RunStore, source: Any = ..., progress: Progress | None = None,
          backend_settings: Mapping[str, Any] | None = None) -> SegmentationResult:
    """Run a segmentation again with the same settings, on `backend`, recorded as a new run whose
    parent is the original (origin "rerun")."""
    original = store.resolve(ref)
    return run_segmentation(**rerun_settings(store, original, source=source), backend=backend,
                            backend_settings=backend_settings, store=store, origin="rerun",
                            parent_run_id=original, progress=progress)
