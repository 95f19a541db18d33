"""Import an existing SageMaker `model.tar.gz` — PCA or K-Means — as a run, from a path or s3://.

A job from an earlier notebook becomes a run like any other: its artifact is read through the
one source reader (workbench.core.sources.read_source) and the shared codec
(backends.format.models), copied byte for byte into a new run folder by the run writer, and
recorded with origin "import", the job name (given, or read off SageMaker's
`…/<job-name>/output/model.tar.gz` layout) and where the artifact came from.

With the data it was trained on (`data=`, plus the features and scaler it used), an import
also records the data fingerprint, features and scaler parameters and — when there is a K-Means
model and its PCA (imported alongside, or an earlier run via `pca_run=`) — labels every county
(workbench.runs.apply), so the run can be compared cluster by cluster with the workbench's own.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import pandas as pd

from backends.format import model_tar, models
from backends.format.errors import ArtifactError
from workbench.core import conventions, pipeline, sources
from workbench.core.errors import DataError
from workbench.core.names import terminal_text
from workbench.runs import apply
from workbench.runs.records import RunRecord
from workbench.runs.store import RunStore
from workbench.runs.writer import RunWriter

Source = Union[str, Path, bytes]
_VALID_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}")  # SageMaker's TrainingJobName
_JOB_NAME = re.compile(rf"(?:^|/)({_VALID_JOB_NAME.pattern})/output/model\.tar\.gz$")  # a job's artifact path


@dataclass
class Artifact:
    """A model artifact read into memory: its bytes, members and typed model."""

    location: str
    data: bytes
    members: list[str]
    model: models.PCAModel | models.KMeansModel
    job_name: str | None = None

    @property
    def kind(self) -> str:
        return "pca" if isinstance(self.model, models.PCAModel) else "kmeans"

    def hyperparameters(self) -> dict[str, Any]:
        """What the artifact itself tells about the job's hyperparameters."""
        if isinstance(self.model, models.PCAModel):
            return {"feature_dim": self.model.feature_dim, "num_components": self.model.n_components}
        return {"k": self.model.k, "feature_dim": self.model.feature_dim}


def infer_job_name(location: str) -> str | None:
    """The training job's name when the artifact sits where SageMaker puts it: …/<job>/output/model.tar.gz."""
    match = _JOB_NAME.search(str(location).replace("\\", "/"))
    return match.group(1) if match else None


def read_artifact(source: Source | Artifact, *, s3_client: Any = None, label: str | None = None) -> Artifact:
    """Read a model.tar.gz (or a bare model_algo-1) from a path, an s3:// URI or bytes."""
    if isinstance(source, Artifact):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        payload, location = bytes(source), label or "the uploaded artifact"
    else:
        text = str(source).strip()
        if text.lower().startswith("s3://"):
            try:
                payload = sources.read_source(text, client=s3_client).data
            except DataError as exc:
                raise ArtifactError(f"Cannot import {text}: {exc}") from None
            location = text
        else:
            # A regular file within the artifact limits: a FIFO or /dev/zero is refused before reading.
            payload = model_tar.read_artifact_file(Path(text).expanduser())
            location = str(Path(text).expanduser().resolve())
    try:
        contents = models.read_artifact(payload)  # decompressed once: members and arrays together
        members, model = contents.members, contents.model()
    except ArtifactError as exc:
        raise ArtifactError(f"Cannot import {location}: {exc}") from None
    return Artifact(location, payload, members, model, infer_job_name(location))


def _checked(pa: Artifact | None, ka: Artifact | None, pca_run: str | None) -> None:
    if pa is None and ka is None and pca_run is None:
        raise ValueError("Give a PCA or a K-Means model.tar.gz to import.")
    if pa is not None and pca_run is not None:
        raise ValueError("Give either a PCA artifact or --pca-run, not both.")
    if pa is not None and pa.kind != "pca":
        raise ValueError(f"{pa.location} holds a K-Means model, not a PCA one; import it as the K-Means model.")
    if ka is not None and ka.kind != "kmeans":
        raise ValueError(f"{ka.location} holds a PCA model, not a K-Means one; import it as the PCA model.")
    if ka is None and pca_run is not None:
        raise ValueError("--pca-run goes with a K-Means artifact (the PCA it was trained on).")


def _kept(pca_model: models.PCAModel | None, ka: Artifact | None, top: int | None) -> int | None:
    """Components kept for clustering: a K-Means model's feature_dim, else --top, else all."""
    if ka is not None:
        if top is not None and top != ka.model.feature_dim:
            raise ValueError(f"The K-Means model was trained on {ka.model.feature_dim} components, not --top {top}.")
        top = ka.model.feature_dim
        if pca_model is not None and top > pca_model.n_components:
            raise ValueError(f"The K-Means model was trained on {top} components but the PCA model has only "
                             f"{pca_model.n_components}; they do not belong together.")
        return top
    if pca_model is not None:
        top = top or pca_model.n_components
        if not 1 <= top <= pca_model.n_components:
            raise ValueError(f"--top must be between 1 and the PCA model's {pca_model.n_components} components.")
    return top


def _check_preparation(data: Any, parent: RunRecord | None, features, scaler) -> None:
    """--features and --scaler say how --data is prepared: refused where they would be ignored."""
    given = [flag for flag, value in (("--features", features), ("--scaler", scaler)) if value is not None]
    if not given:
        return
    if data is None:
        raise ValueError(f"{' and '.join(given)} say how the --data table is prepared; give --data with them "
                         "(or leave them out).")
    if parent is not None and parent.features and parent.scaler:
        raise ValueError(f"Run {parent.run_id}, the PCA named with --pca-run, recorded the features and fitted "
                         f"scaler it was trained on, and --data is prepared with them; leave out {' and '.join(given)}.")


def _labeled_data(data: Any, parent: RunRecord | None, features, scaler, pca_model, ka, top):
    """(source, prepared data, labeled counties or None) for an import with the data it was trained on."""
    if pca_model is None:
        raise ValueError("To label counties, a K-Means model needs the PCA it was trained on: import the PCA "
                         "model.tar.gz with it, or name its run with --pca-run.")
    source = None if isinstance(data, str) and data == "default" else data
    if parent is not None and parent.scaler and parent.features:
        prepared = apply.prepare_like(sources.load_table(source), parent)
    else:
        prepared = pipeline.prepare(source, features=features, scaler=scaler or conventions.DEFAULT_SCALER)
    if prepared.X.shape[1] != pca_model.feature_dim:
        shown = ", ".join(prepared.features[:8]) + ("…" if len(prepared.features) > 8 else "")
        raise ValueError(f"The PCA model was trained on {pca_model.feature_dim} features, but the data gives "
                         f"{prepared.X.shape[1]} ({shown}); choose the features it was trained on with --features.")
    labeled = None
    if ka is not None:
        fitted = apply.RunModels(parent, pca_model, None, ka.model, None, top)
        labeled = apply.apply(fitted, prepared).labeled()
    return source, prepared, labeled


def import_run(
    pca: Source | Artifact | None = None,
    kmeans: Source | Artifact | None = None,
    *,
    data: Any = None,
    features: Sequence[str] | None = None,
    scaler: str | None = None,
    top: int | None = None,
    pca_run: str | None = None,
    name: str = "",
    job_name: str | None = None,
    kmeans_job_name: str | None = None,
    backend: str = "sagemaker",
    workspace: Path | None = None,
    store: RunStore | None = None,
    s3_client: Any = None,
) -> RunRecord:
    """Import a PCA artifact, a K-Means artifact, or both (one segmentation run) as a new run.

    data: the table the models were trained on (a path, s3:// URI, bytes, or "default" for the
      walkthrough's dataset), scaled with `features` and `scaler` as the notebook did (the
      walkthrough: every numeric column, minmax — the defaults). Without it nothing is labeled,
      and `features` or `scaler` are refused.
    pca_run: an earlier run whose PCA the K-Means model was trained on (instead of a PCA artifact);
      its features and fitted scaler are reused for `data` (`features` or `scaler` are then refused;
      a run imported without its data recorded none, and they are used).
    top: components kept for clustering; with a K-Means model it is the model's feature_dim.
    """
    for given in (job_name, kmeans_job_name):
        if given and not _VALID_JOB_NAME.fullmatch(given):
            raise ValueError(f"The job name {terminal_text(given)!r} is not a SageMaker training job's name: 1 to 63 "
                             "letters, digits and hyphens, starting with a letter or digit.")
    store = store or RunStore(workspace=workspace)
    pa = read_artifact(pca, s3_client=s3_client) if pca is not None else None
    ka = read_artifact(kmeans, s3_client=s3_client) if kmeans is not None else None
    _checked(pa, ka, pca_run)
    parent = None  # the run holding the PCA: --pca-run's, or the parent of a K-Means run named there
    pca_model = pa.model if pa is not None else None
    if pca_run is not None:
        pca_model, _, parent = apply.load_pca(store, store.get(pca_run))  # as every page opens a run's PCA
    top = _kept(pca_model, ka, top)
    _check_preparation(data, parent, features, scaler)
    source = prepared = labeled = None
    if data is not None:
        source, prepared, labeled = _labeled_data(data, parent, features, scaler, pca_model, ka, top)
    kind = "segmentation" if pa is not None and ka is not None else ("pca" if pa is not None else "kmeans")
    settings = {"n_components": pca_model.n_components if pca_model is not None else None, "top": top,
                "k": ka.model.k if ka is not None else None}
    writer = RunWriter(store, backend=backend, kind=kind, origin="import", prepared=prepared, name=name,
                       settings=settings, parent_run_id=parent.run_id if parent is not None else None,
                       source_ref=sources.reference(source) if data is not None else None)
    with writer:
        for art, algorithm, given_name in ((pa, "pca", job_name), (ka, "kmeans", kmeans_job_name)):
            if art is not None:
                details = {"imported_from": art.location, "members": art.members,
                           "hyperparameters_from": "the artifact's array shapes"}
                writer.add_artifact(algorithm, art.data, job_name=given_name or art.job_name or "",
                                    hyperparameters=art.hyperparameters(), details=details,
                                    artifact_source=art.location)
        if isinstance(labeled, pd.DataFrame):
            writer.write_labels(labeled)
    return writer.record


def import_model(source: Source, *, kmeans: Source | None = None, job_name: str | None = None,
                 **kwargs: Any) -> RunRecord:
    """Import one artifact, whichever model it holds — or a PCA artifact plus `kmeans` — as a run
    (see import_run for data=, features=, scaler=, top=, pca_run=, name=)."""
    first = read_artifact(source, s3_client=kwargs.get("s3_client"))
    if first.kind == "pca":
        return import_run(first, kmeans, job_name=job_name, **kwargs)
    if kmeans is not None:
        raise ValueError(f"{first.location} holds a K-Means model; give the PCA model.tar.gz first, then --kmeans.")
    return import_run(None, first, kmeans_job_name=job_name, **kwargs)
