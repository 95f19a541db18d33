"""The segmentation pipeline: load → clean → scale → PCA → project → K-Means → labels.

Each stage is its own function so the app can cache them separately; `run_segmentation`
chains them for the CLI and keeps the run's artifacts and manifest in a run directory.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backends import DEFAULT_BACKEND, artifacts, get_backend
from backends.algorithms import total_variance
from backends.base import TrainingJob
from workbench import data, registry, runs, scaling, settings

Progress = Callable[[str], None]


@dataclass
class PreparedData:
    """The cleaned table and the scaled float32 matrix the algorithms train on."""

    source_description: str
    clean: data.CleanResult
    scaler: scaling.FittedScaler
    X: np.ndarray
    fingerprint: str

    @property
    def features(self) -> list[str]:
        return list(self.clean.features)

    @property
    def index(self) -> pd.Index:
        return self.clean.frame.index


@dataclass
class PCAStage:
    job: TrainingJob
    model: artifacts.PCAModel  # every trained component, largest first
    total_variance: float

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Exact shares of the centred data's total variance, not of the kept components'."""
        return (self.model.s.astype(np.float64) ** 2) / self.total_variance


@dataclass
class KMeansStage:
    job: TrainingJob
    model: artifacts.KMeansModel
    labels: np.ndarray
    distances: np.ndarray

    @property
    def sse(self) -> float:
        return float(np.sum(self.distances.astype(np.float64) ** 2))

    @property
    def cluster_sizes(self) -> list[int]:
        return np.bincount(self.labels, minlength=self.model.k).tolist()


def prepare(source: Any = None, *, features: Sequence[str] | None = None, scaler: str = "minmax") -> PreparedData:
    """Load and clean a table, then scale its features. `source=None` is the default dataset."""
    return prepare_table(data.load_table(source), features=features, scaler=scaler)


def prepare_table(raw: pd.DataFrame, *, features: Sequence[str] | None = None, scaler: str = "minmax") -> PreparedData:
    """`prepare` from a table already loaded: detect, clean, scale, fingerprint. (The app loads a
    source once and prepares it for many feature and scaler choices.)"""
    clean = data.clean_table(raw, data.detect_schema(raw), features=features)
    fitted = scaling.fit_scaler(scaler, clean.feature_frame)
    X = fitted.transform(clean.feature_frame)
    description = str(raw.attrs.get(data.SOURCE_ATTR, "table"))
    return PreparedData(description, clean, fitted, X, data.fingerprint(clean.feature_frame))


def train_pca(
    X: np.ndarray,
    n_components: int,
    *,
    backend: str = DEFAULT_BACKEND,
    seed: int = 0,
    output_dir: Path,
    hyperparameters: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> PCAStage:
    hp = {"feature_dim": X.shape[1], "num_components": n_components, "mini_batch_size": min(len(X), 500)}
    hp.update(hyperparameters or {})
    job = get_backend(backend).train_pca(X, hp, seed=seed, output_dir=output_dir, progress=progress)
    model = artifacts.load_pca(job.artifact_path)
    return PCAStage(job, model, total_variance(X, model.mean))


def project(pca: PCAStage, X: np.ndarray, top: int) -> np.ndarray:
    if not 1 <= top <= pca.model.n_components:
        raise ValueError(f"Keep between 1 and {pca.model.n_components} components (asked for {top}).")
    return pca.model.top(top).transform(X)


def train_kmeans(
    scores: np.ndarray,
    k: int,
    *,
    backend: str = DEFAULT_BACKEND,
    seed: int = 0,
    output_dir: Path,
    hyperparameters: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> KMeansStage:
    hp = {"k": k, "feature_dim": scores.shape[1]}
    hp.update(hyperparameters or {})
    job = get_backend(backend).train_kmeans(scores, hp, seed=seed, output_dir=output_dir, progress=progress)
    model = artifacts.load_kmeans(job.artifact_path)
    labels, distances = model.assign(scores)
    return KMeansStage(job, model, labels, distances)


def component_columns(n: int, names: Sequence[str] | None = None) -> list[str]:
    """Score column names, largest component first: the analyst's names, else pc1…pcN."""
    defaults = [f"pc{i + 1}" for i in range(n)]
    if not names:
        return defaults
    chosen = [(name or "").strip() or default for name, default in zip(names, defaults)]
    chosen += defaults[len(chosen):]
    if len(set(chosen)) != len(chosen):
        raise ValueError("Component names must be unique; two components share a name.")
    return chosen


def labeled_table(
    prepared: PreparedData,
    scores: np.ndarray,
    kmeans: KMeansStage,
    *,
    component_names: Sequence[str] | None = None,
    cluster_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per county: id, State, County, component scores, cluster (and its name), distance."""
    frame = prepared.clean.frame
    schema = prepared.clean.schema
    out = pd.DataFrame(index=frame.index)
    for column in [schema.id_column, *schema.name_columns]:
        if column:
            out[column] = frame[column].to_numpy()
    for i, name in enumerate(component_columns(scores.shape[1], component_names)):
        out[name] = scores[:, i]
    out["cluster"] = kmeans.labels
    if cluster_names is not None:
        names = list(cluster_names) + [""] * (kmeans.model.k - len(cluster_names))
        out["cluster_name"] = [names[label] or f"cluster {label}" for label in kmeans.labels]
    out["distance_to_cluster"] = kmeans.distances
    return out


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
    record = registry.recording(workspace, runs.new_run_id(), backend=backend, source=source, prepared=prepared,
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
