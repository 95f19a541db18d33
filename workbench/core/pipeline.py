"""The segmentation pipeline's stages: prepare (clean, scale) → PCA → project → K-Means → labels.

Each stage is its own function so the app can cache them separately. They compute and leave
artifacts where they are told; recording a run (folder, manifest, registry) is the run
writer's (workbench/runs/writer.py), and `workbench.runs.segment` chains the stages as one run.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backends.algorithms import kmeans_steps
from backends.algorithms.pca import project as project_rows
from backends.algorithms.pca import total_variance
from backends.base import TRAINING_TOTAL_VARIANCE, Backend, OnSubmit, TrainingJob
from backends.format import models
from backends.registry import DEFAULT_BACKEND, create_backend
from workbench.core import census, cleaning, conventions, names, parsing, recipes, scaling, sources
from workbench.core import schema as schema_mod
from workbench.core.errors import DataError

Progress = Callable[[str], None]


@dataclass
class PreparedData:
    """The cleaned table and the scaled float32 matrix the algorithms train on."""

    source_description: str
    clean: cleaning.CleanResult
    scaler: scaling.FittedScaler
    X: np.ndarray
    fingerprint: str
    recipe: recipes.FeatureRecipe | None = None
    source_features: list[str] | None = None  # the table's columns chosen, before the recipe's rates
    source_request: dict[str, Any] | None = None  # a Census Data API source's request (no key), for the manifest

    def recipe_record(self) -> dict[str, Any]:
        """What a manifest records to prepare the same features again:
        prepare_table(raw, features=record["source_features"], recipe=FeatureRecipe.from_dict(record["recipe"]))."""
        return {"source_features": list(self.source_features or self.features),
                "recipe": self.recipe.to_dict() if self.recipe is not None else None}

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


def prepare(source: Any = None, *, features: Sequence[str] | None = None, scaler: str | None = None,
            recipe: recipes.FeatureRecipe | None = None) -> PreparedData:
    """Load and clean a table, then scale its features. `source=None` is the default dataset."""
    return prepare_table(sources.load_table(source), features=features, scaler=scaler, recipe=recipe)


def prepare_table(raw: pd.DataFrame, *, features: Sequence[str] | None = None, scaler: str | None = None,
                  recipe: recipes.FeatureRecipe | None = None) -> PreparedData:
    """`prepare` from a table already loaded: detect, clean, apply the recipe's rates, scale (after
    the recipe's transforms), fingerprint. (The app loads a source once and prepares it for many
    feature and scaler choices.) scaler: the recipe's, else "minmax"; naming another is an error."""
    if recipe is not None and scaler is not None and scaler != recipe.scaler:
        raise ValueError(f"The scaler {scaler!r} contradicts the recipe's {recipe.scaler!r}; name one.")
    scaler = recipe.scaler if recipe is not None else (scaler or "minmax")
    plain = raw.copy(deep=False)  # no attrs: pandas would deep-copy them into every column it reads
    plain.attrs = {}
    clean = cleaning.clean_table(raw, schema_mod.detect_schema(plain), features=features)
    source_features = list(clean.features)
    transforms: dict[str, str] = {}
    if recipe is not None:
        clean = recipes.apply_rates(clean, recipe)
        transforms = dict(recipe.transforms)
        unknown = [c for c in transforms if c not in clean.features]
        if unknown:
            raise ValueError(f"The recipe transforms {unknown}, which are not among the features ({', '.join(clean.features)}).")
    feature_frame = clean.feature_frame  # built once: each access makes a new frame
    fitted = scaling.fit_scaler(scaler, feature_frame, transforms=transforms)
    X = fitted.transform(feature_frame)
    description = str(raw.attrs.get(parsing.SOURCE_ATTR, "table"))
    return PreparedData(description, clean, fitted, X, cleaning.fingerprint(feature_frame),
                        recipe, source_features, raw.attrs.get(census.REQUEST_ATTR))


def _train(algorithm: str, X: np.ndarray, hp: dict[str, Any], options: dict[str, Any]) -> tuple[TrainingJob, Any]:
    """Run one job on a configured backend (or the named one with its default settings); (job, model)."""
    backend = options.pop("backend")
    backend = create_backend(backend) if isinstance(backend, str) else backend
    hp.update(options.pop("hyperparameters") or {})
    job = backend.train(algorithm, X, hp, **options)
    return job, (models.load_pca if algorithm == "pca" else models.load_kmeans)(job.artifact_path)


def train_pca(X: np.ndarray, n_components: int, *, backend: Backend | str = DEFAULT_BACKEND,
              seed: int = conventions.DEFAULT_SEED, output_dir: Path, hyperparameters: dict[str, Any] | None = None,
              progress: Progress | None = None, on_submit: OnSubmit | None = None) -> PCAStage:
    hp = {"feature_dim": X.shape[1], "num_components": n_components,
          "mini_batch_size": conventions.pca_mini_batch(len(X))}
    job, model = _train("pca", X, hp, dict(backend=backend, seed=seed, output_dir=output_dir,
                                           hyperparameters=hyperparameters, progress=progress, on_submit=on_submit))
    total = job.details.get(TRAINING_TOTAL_VARIANCE)  # the embedded backend's, from its one pass
    return PCAStage(job, model, total_variance(X, model.mean) if total is None else float(total))


def project(pca: PCAStage, X: np.ndarray, top: int) -> np.ndarray:
    if not 1 <= top <= pca.model.n_components:
        raise ValueError(f"Keep between 1 and {pca.model.n_components} components (asked for {top}).")
    return project_rows(X, pca.model.top(top))  # PCAModel.transform a chunk at a time, on every core


def train_kmeans(scores: np.ndarray, k: int, *, backend: Backend | str = DEFAULT_BACKEND,
                 seed: int = conventions.DEFAULT_SEED, output_dir: Path, hyperparameters: dict[str, Any] | None = None,
                 progress: Progress | None = None, on_submit: OnSubmit | None = None) -> KMeansStage:
    job, model = _train("kmeans", scores, {"k": k, "feature_dim": scores.shape[1]},
                        dict(backend=backend, seed=seed, output_dir=output_dir, hyperparameters=hyperparameters,
                             progress=progress, on_submit=on_submit))
    labels, distances = assign(model, scores)
    _check_no_empty_cluster(scores, labels, k)
    return KMeansStage(job, model, labels, distances)


def assign(model: models.KMeansModel, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centroid and its distance: KMeansModel.assign a chunk at a time, on every
    core (at 10M rows the whole-array version held 2 GB of float64 temporaries)."""
    return kmeans_steps.assign(scores, model.centroids)


def _check_no_empty_cluster(scores: np.ndarray, labels: np.ndarray, k: int) -> None:
    """A clustering with an empty cluster is fewer clusters than asked for: refused, saying why."""
    empty = np.flatnonzero(np.bincount(labels, minlength=k) == 0)
    if not len(empty):
        return
    raise DataError(conventions.empty_clusters_message(empty, k, len(np.unique(scores, axis=0))))


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
    column, another name or contain control characters, and there may be no more names than
    components or clusters (InvalidName, a ValueError).
    """
    frame = prepared.clean.frame
    schema = prepared.clean.schema
    keys = [column for column in (schema.id_column, *schema.name_columns) if column]
    n, k = scores.shape[1], kmeans.model.k
    chosen_components = names.check_component_names(_padded(component_names, n, "component"), key_columns=keys)
    columns = conventions.component_columns(n, chosen_components)
    chosen_clusters = None if cluster_names is None else names.check_cluster_names(
        _padded(cluster_names, k, "cluster"), key_columns=keys)
    out = pd.DataFrame(index=frame.index)
    for column in keys:
        out[column] = frame[column].to_numpy()
    for i, name in enumerate(columns):
        out[name] = scores[:, i]
    out[conventions.CLUSTER_COLUMN] = kmeans.labels
    if chosen_clusters is not None:
        out[conventions.CLUSTER_NAME_COLUMN] = [conventions.cluster_label(chosen_clusters, label)
                                                for label in kmeans.labels]
    out[conventions.DISTANCE_COLUMN] = kmeans.distances
    return out


def _padded(given: Sequence[object] | None, count: int, kind: str) -> list[object]:
    """`given` names blank-padded to `count`; more names than there are components or clusters
    would be dropped without a word, so they are refused."""
    given = list(given or [])
    if len(given) > count:
        raise names.InvalidName(f"{len(given)} {kind} names were given for {count} {kind}s; give at most {count} "
                                f"(one per {kind}, blank for the default).")
    return given + [""] * (count - len(given))
