"""The segmentation pipeline: load → clean → scale → PCA → project → K-Means → labels.

Each stage is its own function so the app can cache them separately; `run_segmentation`
chains them for the CLI and keeps the run's artifacts and manifest in a run directory.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backends.algorithms.pca import total_variance
from backends.base import TrainingJob
from backends.format import models
from backends.registry import DEFAULT_BACKEND, get_backend
from workbench.core import cleaning, names, parsing, scaling, sources
from workbench.core import schema as schema_mod

Progress = Callable[[str], None]


@dataclass
class PreparedData:
    """The cleaned table and the scaled float32 matrix the algorithms train on."""

    source_description: str
    clean: cleaning.CleanResult
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
    model: models.PCAModel  # every trained component, largest first
    total_variance: float

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Exact shares of the centred data's total variance, not of the kept components'."""
        return (self.model.s.astype(np.float64) ** 2) / self.total_variance


@dataclass
class KMeansStage:
    job: TrainingJob
    model: models.KMeansModel
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
    return prepare_table(sources.load_table(source), features=features, scaler=scaler)


def prepare_table(raw: pd.DataFrame, *, features: Sequence[str] | None = None, scaler: str = "minmax") -> PreparedData:
    """`prepare` from a table already loaded: detect, clean, scale, fingerprint. (The app loads a
    source once and prepares it for many feature and scaler choices.)"""
    clean = cleaning.clean_table(raw, schema_mod.detect_schema(raw), features=features)
    fitted = scaling.fit_scaler(scaler, clean.feature_frame)
    X = fitted.transform(clean.feature_frame)
    description = str(raw.attrs.get(parsing.SOURCE_ATTR, "table"))
    return PreparedData(description, clean, fitted, X, cleaning.fingerprint(clean.feature_frame))


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
    model = models.load_pca(job.artifact_path)
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
    model = models.load_kmeans(job.artifact_path)
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
    """One row per county: id, State, County, component scores, cluster (and its name), distance.

    The names are checked first (workbench.core.names): none may be a key column, an added
    column, another name or contain control characters (InvalidName, a ValueError).
    """
    frame = prepared.clean.frame
    schema = prepared.clean.schema
    keys = [column for column in (schema.id_column, *schema.name_columns) if column]
    columns = component_columns(scores.shape[1], component_names)
    names.check_component_names(columns, key_columns=keys)
    out = pd.DataFrame(index=frame.index)
    for column in keys:
        out[column] = frame[column].to_numpy()
    for i, name in enumerate(columns):
        out[name] = scores[:, i]
    out["cluster"] = kmeans.labels
    if cluster_names is not None:
        chosen = names.check_cluster_names(list(cluster_names) + [""] * (kmeans.model.k - len(cluster_names)),
                                           key_columns=keys)
        out["cluster_name"] = [chosen[label] or f"cluster {label}" for label in kmeans.labels]
    out["distance_to_cluster"] = kmeans.distances
    return out
