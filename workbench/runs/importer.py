"""Import an existing SageMaker `model.tar.gz` — PCA or K-Means — as a run, from a path or s3://.

A job from an earlier notebook becomes a run like any other: its artifact is copied byte for byte
into a new run folder (written atomically, `workbench.runs.staged_run`), read through the shared
codec (`backends.artifacts.read_model_tar` / `load_model`, the only artifact reader), and recorded
in the registry with origin "import", the job name (given, or read off SageMaker's
`…/<job-name>/output/model.tar.gz` layout) and where the artifact came from.

With the data it was trained on (`data=`, plus the features and scaler it used), an import
also records the data fingerprint, features and scaler parameters and — when there is a K-Means
model and its PCA (imported alongside, or an earlier run via `pca_run=`) — labels every county,
so the run can be compared cluster by cluster with the workbench's own runs.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from backends.base import TrainingJob
from backends.format import model_tar, models
from backends.format.errors import ArtifactError
from workbench.core import cleaning, parsing, schema, sources
from workbench.runs import folders as runs
from workbench.runs import manifest, writer
from workbench.runs.records import RunRecord
from workbench.runs.store import Registry

Source = Union[str, Path, bytes]
_JOB_NAME = re.compile(r"(?:^|/)([A-Za-z0-9][A-Za-z0-9-]{0,62})/output/model\.tar\.gz$")


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


def _read_bytes(source: Source, *, s3_client: Any = None, label: str | None = None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), label or "the uploaded artifact"
    text = str(source).strip()
    if text.lower().startswith("s3://"):
        bucket, key = sources._parse_s3_uri(text)
        client = s3_client if s3_client is not None else sources.s3_client()
        advice = "Check the URI, your network and your AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/…)."
        with sources._s3_errors(text, advice):
            return client.get_object(Bucket=bucket, Key=key)["Body"].read(), text
    path = Path(text).expanduser()
    if not path.exists():
        raise ArtifactError(f"No artifact at {path}: the file does not exist.")
    if path.is_dir():
        raise ArtifactError(f"{path} is a folder; give the path of a model.tar.gz.")
    return path.read_bytes(), str(path.resolve())


def read_artifact(source: Source | Artifact, *, s3_client: Any = None, label: str | None = None) -> Artifact:
    """Read a model.tar.gz (or a bare model_algo-1) from a path, an s3:// URI or bytes."""
    if isinstance(source, Artifact):
        return source
    payload, location = _read_bytes(source, s3_client=s3_client, label=label)
    if payload.startswith(model_tar.GZIP_MAGIC):
        members = list(model_tar.read_model_tar(payload))
    else:
        members = [model_tar.MODEL_MEMBER]
    try:
        model = models.load_model(payload)
    except ArtifactError as exc:
        raise ArtifactError(f"Cannot import {location}: {exc}") from None
    return Artifact(location, payload, members, model, infer_job_name(location))


def _prepared_like(source: Any, parent: RunRecord):
    """The data scaled exactly as an earlier run scaled its own (its features and fitted scaler)."""
    from workbench.core import pipeline, scaling

    raw = sources.load_table(source)
    clean = cleaning.clean_table(raw, schema.detect_schema(raw), features=parent.features)
    fitted = scaling.FittedScaler.from_dict(parent.scaler)
    X = fitted.transform(clean.feature_frame)
    description = raw.attrs.get(parsing.SOURCE_ATTR, "table")
    return pipeline.PreparedData(description, clean, fitted, X, cleaning.fingerprint(clean.feature_frame))


def import_run(
    pca: Source | Artifact | None = None,
    kmeans: Source | Artifact | None = None,
    *,
    data: Any = None,
    features: Sequence[str] | None = None,
    scaler: str = "minmax",
    top: int | None = None,
    pca_run: str | None = None,
    name: str = "",
    job_name: str | None = None,
    kmeans_job_name: str | None = None,
    backend: str = "sagemaker",
    workspace: Path | None = None,
    registry: Registry | None = None,
    s3_client: Any = None,
) -> RunRecord:
    """Import a PCA artifact, a K-Means artifact, or both (one segmentation run) as a new run.

    data: the table the models were trained on (a path, s3:// URI, bytes, or "default" for the
      walkthrough's dataset), scaled with `features` and `scaler` as the notebook did (the
      walkthrough: every numeric column, minmax). Without it nothing is labeled.
    pca_run: an earlier run whose PCA the K-Means model was trained on (instead of a PCA artifact);
      its features and fitted scaler are reused for `data`.
    top: components kept for clustering; with a K-Means model it is the model's feature_dim.
    """
    from workbench.core import pipeline

    if pca is None and kmeans is None and pca_run is None:
        raise ValueError("Give a PCA or a K-Means model.tar.gz to import.")
    if pca is not None and pca_run is not None:
        raise ValueError("Give either a PCA artifact or --pca-run, not both.")
    registry = registry or Registry(workspace=workspace)
    pa = read_artifact(pca, s3_client=s3_client) if pca is not None else None
    ka = read_artifact(kmeans, s3_client=s3_client) if kmeans is not None else None
    if pa is not None and pa.kind != "pca":
        raise ValueError(f"{pa.location} holds a K-Means model, not a PCA one; import it as the K-Means model.")
    if ka is not None and ka.kind != "kmeans":
        raise ValueError(f"{ka.location} holds a PCA model, not a K-Means one; import it as the PCA model.")
    if ka is None and pca_run is not None:
        raise ValueError("--pca-run goes with a K-Means artifact (the PCA it was trained on).")

    parent = registry.get(pca_run) if pca_run is not None else None
    pca_model = pa.model if pa is not None else (parent.pca_model() if parent is not None else None)
    if ka is not None:
        if top is not None and top != ka.model.feature_dim:
            raise ValueError(f"The K-Means model was trained on {ka.model.feature_dim} components, not --top {top}.")
        top = ka.model.feature_dim
        if pca_model is not None and top > pca_model.n_components:
            raise ValueError(f"The K-Means model was trained on {top} components but the PCA model has only "
                             f"{pca_model.n_components}; they do not belong together.")
    elif pca_model is not None:
        top = top or pca_model.n_components
        if not 1 <= top <= pca_model.n_components:
            raise ValueError(f"--top must be between 1 and the PCA model's {pca_model.n_components} components.")

    prepared = labeled = source = None
    if data is not None:
        if pca_model is None:
            raise ValueError("To label counties, a K-Means model needs the PCA it was trained on: import the PCA "
                             "model.tar.gz with it, or name its run with --pca-run.")
        source = None if isinstance(data, str) and data == "default" else data
        if parent is not None and parent.scaler and parent.features:
            prepared = _prepared_like(source, parent)
        else:
            prepared = pipeline.prepare(source, features=features, scaler=scaler)
        if prepared.X.shape[1] != pca_model.feature_dim:
            raise ValueError(
                f"The PCA model was trained on {pca_model.feature_dim} features, but the data gives "
                f"{prepared.X.shape[1]} ({', '.join(prepared.features[:8])}{'…' if len(prepared.features) > 8 else ''}); "
                "choose the features it was trained on with --features."
            )
        if ka is not None:
            scores = pca_model.top(top).transform(prepared.X)
            labels, distances = ka.model.assign(scores)
            stage = pipeline.KMeansStage(None, ka.model, labels, distances)
            labeled = pipeline.labeled_table(prepared, scores, stage)

    kind = "segmentation" if pa is not None and ka is not None else ("pca" if pa is not None else "kmeans")
    settings = {"n_components": pca_model.n_components if pca_model is not None else None, "top": top,
                "k": ka.model.k if ka is not None else None}
    run_id = runs.new_run_id()
    recording = writer.recording(
        registry.workspace, run_id, backend=backend, kind=kind, prepared=prepared, registry=registry,
        origin="import", name=name, settings=settings, seed=None,
        parent_run_id=parent.run_id if parent is not None else None,
        source_ref=writer._source_ref(source) if data is not None else None,
    )
    with recording as recorder, runs.staged_run(registry.workspace, run_id) as (_, staging):
        for art, algorithm, given_name in ((pa, "pca", job_name), (ka, "kmeans", kmeans_job_name)):
            if art is None:
                continue
            target = staging / algorithm / "model.tar.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            if art.data.startswith(model_tar.GZIP_MAGIC):
                target.write_bytes(art.data)  # byte for byte, as SageMaker wrote it
            else:
                model_tar.write_model_tar(target, {model_tar.MODEL_MEMBER: art.data})
            details = {"imported_from": art.location, "members": art.members,
                       "hyperparameters_from": "the artifact's array shapes"}
            job = TrainingJob(algorithm, backend, given_name or art.job_name or "", art.hyperparameters(), target,
                              0.0, details)
            recorder.job_finished(job, f"{algorithm}/model.tar.gz", artifact_source=art.location)
        if labeled is not None:
            runs.write_labels(labeled, staging / runs.LABELS)
        runs.write_json_atomic(staging / runs.MANIFEST, manifest.manifest_for(registry.get(run_id)))
    return registry.get(run_id)


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
