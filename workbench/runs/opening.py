"""Opening a recorded run: its models read back and its data checked, ready for the app's pages.

No Streamlit here. The app (`app_pages/common.open_recorded_run`) loads the candidate tables
through its caches, asks `check_data` which one holds the run's data, reads the models with
`load_models` and builds the pipeline stages with `stages`; every problem is an `OpenRunError`
whose message says what is wrong and what to do.
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
from workbench.core import cleaning, pipeline, schema
from workbench.core.errors import DataError
from workbench.runs.records import RegistryError, RunRecord
from workbench.runs.store import Registry


class OpenRunError(ValueError):
    """A run cannot be opened; the message says why and what to do."""


@dataclass
class RunModels:
    """A run's models as read from its artifacts, with the training jobs they came from."""

    record: RunRecord
    pca: models_mod.PCAModel
    pca_job: TrainingJob
    kmeans: models_mod.KMeansModel | None
    kmeans_job: TrainingJob | None
    top: int

    @property
    def feature_dim(self) -> int:
        return self.pca.feature_dim


def recorded_source(record: RunRecord) -> tuple[str, str] | None:
    """Where the run's data can be loaded from again: ("default", "") or ("path", path-or-URI);
    None when it cannot (an upload, or an import without data)."""
    ref = (record.source_ref or "").strip()
    if ref == "default":
        return ("default", "")
    if ref:
        return ("path", ref)
    return None


def knows_its_data(record: RunRecord) -> bool:
    """Whether the run recorded the features and fingerprint of the data it was trained on."""
    return bool(record.features) and bool(record.data_fingerprint)


def _job(algorithm: str, path: Path, owner: RunRecord) -> TrainingJob:
    job = owner.jobs[algorithm]
    name = job.job_name or f"{owner.run_id}-{algorithm}"  # imports may have no name; pages key caches on it
    return TrainingJob(algorithm, job.backend, name, dict(job.hyperparameters or {}), path,
                       float(job.seconds or 0.0), dict(job.details or {}))


def _read(record: RunRecord, algorithm: str, owner: RunRecord) -> tuple[Any, TrainingJob]:
    what = "PCA" if algorithm == "pca" else "K-Means"
    job = owner.jobs.get(algorithm)
    if job is None or not job.artifact or owner.run_dir is None:
        raise OpenRunError(f"Run {record.run_id} has no {what} model to open ({owner.kind} run, status "
                           f"{owner.status}).")
    path = owner.run_dir / job.artifact
    if not path.is_file():
        raise OpenRunError(f"Run {record.run_id}'s {what} model is missing: {path} does not exist (status "
                           f"{owner.status}). The run folder was moved or damaged; delete the run on the Runs page "
                           "or run it again.")
    try:
        model = models_mod.load_pca(path) if algorithm == "pca" else models_mod.load_kmeans(path)
    except (ArtifactError, OSError, ValueError) as exc:
        raise OpenRunError(f"Run {record.run_id}'s {what} model {path} cannot be read: {exc}. The file is damaged; "
                           "delete the run on the Runs page and train again (or re-run it).") from None
    return model, _job(algorithm, path, owner)


def load_models(registry: Registry, record: RunRecord) -> RunModels:
    """The run's PCA (its own, or its parent run's for a lone K-Means run) and K-Means models."""
    if record.status == "InProgress":
        raise OpenRunError(f"Run {record.run_id} is still being written (InProgress); open it when it has finished.")
    pca_owner = record
    if "pca" not in record.jobs and record.parent_run_id:
        try:
            pca_owner = registry.get(record.parent_run_id)
        except RegistryError:
            raise OpenRunError(f"Run {record.run_id} is a K-Means model whose PCA was run {record.parent_run_id}, "
                               "which is no longer in the registry; import the PCA model again with it.") from None
    if "pca" not in pca_owner.jobs:
        raise OpenRunError(f"Run {record.run_id} holds only a K-Means model, without the PCA it was trained on, so "
                           "its clusters cannot be placed: import it again with its PCA model.tar.gz (or --pca-run).")
    pca, pca_job = _read(record, "pca", pca_owner)
    kmeans = kmeans_job = None
    if "kmeans" in record.jobs:
        kmeans, kmeans_job = _read(record, "kmeans", record)
        top = kmeans.feature_dim
        if top > pca.n_components:
            raise OpenRunError(f"Run {record.run_id}'s K-Means model was trained on {top} components but its PCA "
                               f"model has only {pca.n_components}; they do not belong together.")
    else:
        top = max(1, min(int(record.top or pca.n_components), pca.n_components))
    return RunModels(record, pca, pca_job, kmeans, kmeans_job, top)


def check_data(record: RunRecord, raw: pd.DataFrame, where: str) -> str:
    """Raise OpenRunError unless `raw` (loaded from `where`) holds the run's data: its features,
    cleaned as the run cleaned them, with the fingerprint it recorded. Returns the fingerprint."""
    features = list(record.features or [])
    missing = [f for f in features if f not in raw.columns]
    if missing:
        raise OpenRunError(f"{where} is not the table run {record.run_id} was trained on: it lacks the feature(s) "
                           f"{', '.join(missing[:6])}{'…' if len(missing) > 6 else ''}.")
    try:
        clean = cleaning.clean_table(raw, schema.detect_schema(raw), features=features or None)
    except (DataError, ValueError) as exc:
        raise OpenRunError(f"{where} cannot be cleaned with run {record.run_id}'s features: {exc}") from None
    fingerprint = cleaning.fingerprint(clean.feature_frame)
    if record.data_fingerprint and fingerprint != record.data_fingerprint:
        raise OpenRunError(f"{where} no longer holds the data run {record.run_id} was trained on: its fingerprint is "
                           f"{fingerprint[:12]}…, the run recorded {record.data_fingerprint[:12]}… (the table "
                           "changed since the run).")
    return fingerprint


def data_problem(record: RunRecord, tried: list[str]) -> str:
    """The analyst's message when no table at hand holds the run's data (`tried`: what went wrong where)."""
    found = recorded_source(record)
    if not knows_its_data(record):
        return (f"Run {record.run_id} was imported without the data it was trained on, so the workbench cannot tell "
                "which counties and features its models describe. Import it again with `runs import … --data SRC "
                "--features …`, or load a table on the Data page whose chosen features match its PCA model, then "
                "open it again.")
    detail = " ".join(tried)
    if found is None:
        return (f"Run {record.run_id} was trained on {record.source or 'an uploaded table'}, which the workbench did "
                f"not keep. Upload the same file on the Data page, then open the run again. {detail}").strip()
    where = "the walkthrough's dataset" if found[0] == "default" else f"`{found[1]}`"
    return (f"Run {record.run_id}'s data cannot be used: {detail} Put the original data back at {where} (or load a "
            "copy of it on the Data page), then open the run again; or train PCA and K-Means anew on the current "
            "data.")


def stages(models: RunModels, X: np.ndarray) -> tuple[pipeline.PCAStage, pipeline.KMeansStage | None, np.ndarray]:
    """The pipeline stages the pages work with, rebuilt from the models on the scaled matrix X."""
    if X.shape[1] != models.pca.feature_dim:
        raise OpenRunError(f"Run {models.record.run_id}'s PCA model takes {models.pca.feature_dim} features, but the "
                           f"data has {X.shape[1]}; choose the features it was trained on.")
    pca_stage = pipeline.PCAStage(models.pca_job, models.pca, total_variance(X, models.pca.mean))
    scores = pipeline.project(pca_stage, X, models.top)
    kmeans_stage = None
    if models.kmeans is not None:
        labels, distances = models.kmeans.assign(scores)
        kmeans_stage = pipeline.KMeansStage(models.kmeans_job, models.kmeans, labels, distances)
    return pca_stage, kmeans_stage, scores
