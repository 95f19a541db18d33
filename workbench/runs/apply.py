"""Applying a recorded run to a table: the one way, for opening a run in the app, labeling an
import's counties and re-labeling a re-attached run.

    models = load_models(store, record)            # the run's PCA and K-Means, read back
    prepared = prepare_like(raw, record, where)    # the table cleaned and scaled as the run did
    applied = apply(models, prepared)              # scores, labels, distances (pipeline stages)

`check_fits` is for data prepared elsewhere (the app prepares through its own caches): it
checks the features (names and count), the fingerprint and the fitted scaler against what the
run recorded. Every problem is an ApplyError whose message says what is wrong and what to do.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backends.algorithms.pca import total_variance
from backends.base import TrainingJob
from backends.format import models as models_mod
from backends.format.errors import ArtifactError
from workbench.core import cleaning, pipeline, recipes, scaling, schema, sources
from workbench.core.errors import DataError
from workbench.runs.records import RegistryError, RunRecord
from workbench.runs.store import RunStore


class ApplyError(ValueError):
    """A run cannot be opened or applied to this data; the message says why and what to do."""


@dataclass
class RunModels:
    """A run's models as read from its artifacts, with the training jobs they came from."""

    record: RunRecord | None  # None: models not (yet) recorded, e.g. an import being labeled
    pca: models_mod.PCAModel
    pca_job: TrainingJob | None
    kmeans: models_mod.KMeansModel | None
    kmeans_job: TrainingJob | None
    top: int
    pca_owner: RunRecord | None = None  # the run holding the PCA: the run itself, or a K-Means run's parent

    @property
    def feature_dim(self) -> int:
        return self.pca.feature_dim

    @property
    def label(self) -> str:
        return f"Run {self.record.run_id}'s" if self.record is not None else "The"


@dataclass
class Applied:
    """A run's models on a prepared table: the stages the pages and the labeled table use."""

    pca: pipeline.PCAStage
    kmeans: pipeline.KMeansStage | None
    scores: np.ndarray
    prepared: pipeline.PreparedData

    def labeled(self, **names: Any) -> pd.DataFrame:
        if self.kmeans is None:
            raise ApplyError("This run has no K-Means model, so it labels no counties.")
        return pipeline.labeled_table(self.prepared, self.scores, self.kmeans, **names)


# --------------------------------------------------------------------------- models
def _job(algorithm: str, path: Path, owner: RunRecord) -> TrainingJob:
    job = owner.jobs[algorithm]
    name = job.job_name or f"{owner.run_id}-{algorithm}"  # imports may have no name; pages key caches on it
    return TrainingJob(algorithm, job.backend, name, dict(job.hyperparameters or {}), path,
                       float(job.seconds or 0.0), dict(job.details or {}))


def _read(record: RunRecord, algorithm: str, owner: RunRecord, folder: Path | None) -> tuple[Any, TrainingJob]:
    what = "PCA" if algorithm == "pca" else "K-Means"
    job = owner.jobs.get(algorithm)
    folder = folder if folder is not None and owner is record else owner.run_dir
    if job is None or not job.artifact or folder is None:
        raise ApplyError(f"Run {record.run_id} has no {what} model to open ({owner.kind} run, status {owner.status}).")
    path = folder / job.artifact
    if not path.is_file():
        raise ApplyError(f"Run {record.run_id}'s {what} model is missing: {path} does not exist (status "
                         f"{owner.status}). The run folder was moved or damaged; delete the run on the Runs page "
                         "or run it again.")
    try:
        model = models_mod.load_pca(path) if algorithm == "pca" else models_mod.load_kmeans(path)
    except (ArtifactError, OSError, ValueError) as exc:
        raise ApplyError(f"Run {record.run_id}'s {what} model {path} cannot be read: {exc}. The file is damaged; "
                         "delete the run on the Runs page and train again (or re-run it).") from None
    return model, _job(algorithm, path, owner)


def load_models(store: RunStore, record: RunRecord, *, folder: Path | None = None) -> RunModels:
    """The run's PCA (its own, or its parent run's for a lone K-Means run) and K-Means models.
    `folder`: where the run's own artifacts are, when not yet in its run folder (re-attaching)."""
    pca, pca_job, pca_owner = load_pca(store, record, folder=folder)
    kmeans = kmeans_job = None
    if "kmeans" in record.jobs:
        kmeans, kmeans_job = _read(record, "kmeans", record, folder)
        top = kmeans.feature_dim
        if top > pca.n_components:
            raise ApplyError(f"Run {record.run_id}'s K-Means model was trained on {top} components but its PCA "
                             f"model has only {pca.n_components}; they do not belong together.")
    else:
        top = max(1, min(int(record.top or pca.n_components), pca.n_components))
    return RunModels(record, pca, pca_job, kmeans, kmeans_job, top, pca_owner)


def load_pca(store: RunStore, record: RunRecord, *, folder: Path | None = None):
    """(PCA model, its job, the run that holds it): the run's own, or its parent run's for a lone
    K-Means run. Only the PCA artifact is read (Compare and `runs import --pca-run` need no more)."""
    if record.status == "InProgress" and folder is None:
        raise ApplyError(f"Run {record.run_id} is still being written (InProgress); open it when it has finished.")
    pca_owner = record
    if "pca" not in record.jobs and record.parent_run_id:
        try:
            pca_owner = store.get(record.parent_run_id)
        except RegistryError:
            raise ApplyError(f"Run {record.run_id} is a K-Means model whose PCA was run {record.parent_run_id}, "
                             "which is no longer in the registry; import the PCA model again with it.") from None
    if "pca" not in pca_owner.jobs:
        raise ApplyError(f"Run {record.run_id} holds only a K-Means model, without the PCA it was trained on, so "
                         "its clusters cannot be placed: import it again with its PCA model.tar.gz (or --pca-run).")
    pca, pca_job = _read(record, "pca", pca_owner, folder)
    return pca, pca_job, pca_owner


# --------------------------------------------------------------------------- data
def knows_its_data(record: RunRecord) -> bool:
    """Whether the run recorded the features and fingerprint of the data it was trained on."""
    return bool(record.features) and bool(record.data_fingerprint)


def prepare_like(raw: pd.DataFrame, record: RunRecord, where: str = "The table") -> pipeline.PreparedData:
    """`raw` prepared as the run prepared its own table — its chosen columns, its recipe's rates,
    its own fitted scaler (with its transforms) — and checked against the run's fingerprint."""
    recipe, wanted = record.feature_recipe, record.source_features
    missing = [f for f in wanted if f not in raw.columns]
    if missing:
        raise ApplyError(f"{where} is not the table run {record.run_id} was trained on: it lacks the feature(s) "
                         f"{', '.join(missing[:6])}{'…' if len(missing) > 6 else ''}.")
    try:
        clean = cleaning.clean_table(raw, schema.detect_schema(raw), features=wanted or None)
        if recipe is not None:
            clean = recipes.apply_rates(clean, recipe)
    except (DataError, ValueError) as exc:
        raise ApplyError(f"{where} cannot be cleaned with run {record.run_id}'s features: {exc}") from None
    fingerprint = cleaning.fingerprint(clean.feature_frame)
    _check_fingerprint(record, fingerprint, where)
    try:
        fitted = (scaling.FittedScaler.from_dict(record.scaler) if record.scaler
                  else scaling.fit_scaler("minmax", clean.feature_frame))
        X = fitted.transform(clean.feature_frame)
    except scaling.ScalingError as exc:
        raise ApplyError(f"Run {record.run_id}'s recorded scaler cannot scale {where.lower()}: {exc}") from None
    description = str(raw.attrs.get("source_description", record.source or "table"))
    return pipeline.PreparedData(description, clean, fitted, X, fingerprint, recipe, wanted or None,
                                 record.source_request)


def _check_fingerprint(record: RunRecord, fingerprint: str, where: str) -> None:
    if record.data_fingerprint and fingerprint != record.data_fingerprint:
        raise ApplyError(f"{where} no longer holds the data run {record.run_id} was trained on: its fingerprint is "
                         f"{fingerprint[:12]}…, the run recorded {record.data_fingerprint[:12]}… (the table "
                         "changed since the run).")


def check_fits(record: RunRecord, prepared: pipeline.PreparedData, where: str = "The table") -> None:
    """Data prepared elsewhere fits the run: the same features in the same order, the same
    fingerprint, and a scaler with the recipe and parameters the run recorded."""
    if record.features and list(prepared.features) != list(record.features):
        raise ApplyError(f"{where} gives the features {', '.join(prepared.features[:6])}…, not the "
                         f"{len(record.features)} run {record.run_id} was trained on; choose them on the Features page.")
    _check_fingerprint(record, prepared.fingerprint, where)
    if record.scaler and prepared.scaler.to_dict() != scaling.FittedScaler.from_dict(record.scaler).to_dict():
        raise ApplyError(f"{where} is scaled differently ({prepared.scaler.recipe}) from run {record.run_id} "
                         f"({record.scaler_recipe}); choose its scaling on the Features page.")


def apply(models: RunModels, prepared: pipeline.PreparedData) -> Applied:
    """The run's models on the prepared table: its component scores, clusters and distances."""
    X = prepared.X
    if X.shape[1] != models.pca.feature_dim:
        raise ApplyError(f"{models.label} PCA model takes {models.pca.feature_dim} features, but the "
                         f"data has {X.shape[1]}; choose the features it was trained on.")
    pca_stage = pipeline.PCAStage(models.pca_job, models.pca, total_variance(X, models.pca.mean))
    scores = pipeline.project(pca_stage, X, models.top)
    kmeans_stage = None
    if models.kmeans is not None:
        labels, distances = pipeline.assign(models.kmeans, scores)
        kmeans_stage = pipeline.KMeansStage(models.kmeans_job, models.kmeans, labels, distances)
    return Applied(pca_stage, kmeans_stage, scores, prepared)


def relabel_from_source(store: RunStore, record: RunRecord, folder: Path) -> pd.DataFrame | None:
    """The labeled counties of a recovered segmentation when its data can be loaded again and is
    unchanged; None otherwise (the run stays usable, without labels)."""
    if record.kind != "segmentation" or not record.source_ref or not knows_its_data(record):
        return None
    try:
        models = load_models(store, record, folder=folder)
        raw = sources.load_table(None if record.source_ref == "default" else record.source_ref)
        return apply(models, prepare_like(raw, record)).labeled()
    except (ApplyError, DataError, ValueError, OSError):  # the data moved or changed
        return None


def data_problem(record: RunRecord, tried: list[str]) -> str:
    """The analyst's message when no table at hand holds the run's data (`tried`: what went wrong where)."""
    if not knows_its_data(record):
        return (f"Run {record.run_id} was imported without the data it was trained on, so the workbench cannot tell "
                "which counties and features its models describe. Import it again with `runs import … --data SRC "
                "--features …`, or load a table on the Data page whose chosen features match its PCA model, then "
                "open it again.")
    detail = " ".join(tried)
    ref = (record.source_ref or "").strip()
    if not ref:
        return (f"Run {record.run_id} was trained on {record.source or 'an uploaded table'}, which the workbench did "
                f"not keep. Upload the same file on the Data page, then open the run again. {detail}").strip()
    where = "the walkthrough's dataset" if ref == "default" else f"`{ref}`"
    return (f"Run {record.run_id}'s data cannot be used: {detail} Put the original data back at {where} (or load a "
            "copy of it on the Data page), then open the run again; or train PCA and K-Means anew on the current "
            "data.")
