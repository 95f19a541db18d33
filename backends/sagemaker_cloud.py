"""The cloud backend: SageMaker's real built-in PCA and K-Means, as training jobs in your account.

One job per `train` call, through the SageMaker Python SDK v2's `PCA`/`KMeans` estimators:

1. `record_set` writes the matrix to S3 as RecordIO-protobuf (s3://BUCKET/PREFIX/input/JOB/),
   one object per training instance; with several instances the channel is ShardedByS3Key,
   so each instance reads its own shard and SageMaker's PCA / K-Means merge the results
   (one instance: FullyReplicated);
2. the job's record (name, algorithm, region, seed; never the role or bucket) goes to the
   caller's `on_submit` callback and to `sagemaker-job.json` in the output folder — before submitting,
   so an interrupted app can `attach(job_name)` later;
3. `fit(wait=False)` submits the job, tagged as the workbench's, under a unique name;
4. DescribeTrainingJob is polled: every change of status / secondary status is a progress
   line; a failed job raises BackendError with SageMaker's FailureReason;
5. when it completes: billable seconds and an estimated cost, then model.tar.gz is
   downloaded from S3 into the output folder and read through the shared codec.

No endpoint is created by default: projections and cluster assignments are computed in-process
from the artifacts (exactly what the endpoints compute). `predict_with_endpoint` (deploy,
predict, delete in `finally`) and `batch_transform` are there when wanted.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3.exceptions
import botocore.exceptions
import numpy as np
from sagemaker.amazon.common import read_records, write_numpy_to_dense_tensor

from backends import sagemaker_common, sagemaker_endpoints
from backends.base import BackendError, OnSubmit, Progress, TrainingJob
from backends.format import models
from backends.format.errors import ArtifactError

JOB_RECORD = "sagemaker-job.json"
RECORDIO = "application/x-recordio-protobuf"


def _write_record(output_dir: Path, record: Mapping[str, Any]) -> None:
    path = Path(output_dir) / JOB_RECORD
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _parse_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BackendError(f"Expected an s3:// location from SageMaker, got {uri!r}.")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _algorithm_of(description: Mapping[str, Any], tags: list[dict[str, str]]) -> str:
    tagged = sagemaker_common.tags_dict(tags).get(f"{sagemaker_common.TAG_KEY}:algorithm")
    if tagged in ("pca", "kmeans"):
        return tagged
    hp = description.get("HyperParameters") or {}
    if "k" in hp:
        return "kmeans"
    if "num_components" in hp:
        return "pca"
    image = (description.get("AlgorithmSpecification") or {}).get("TrainingImage", "")
    for name in ("kmeans", "pca"):
        if f"/{name}:" in image:
            return name
    raise BackendError(f"Training job {description.get('TrainingJobName')} is neither a PCA nor a K-Means job.")


def _load(algorithm: str, path: Path):
    try:
        return models.load_pca(path) if algorithm == "pca" else models.load_kmeans(path)
    except ArtifactError as exc:
        raise BackendError(f"The job's model.tar.gz is not a readable {algorithm} model: {exc}") from None


class SageMakerCloudBackend(sagemaker_common.SageMakerBackend):
    name = "sagemaker"

    # -- training ------------------------------------------------------------------------
    def _train(
        self, algorithm: str, X: np.ndarray, hp: dict[str, Any], *, seed: int, output_dir: Path, progress: Progress,
        on_submit: OnSubmit,
    ) -> TrainingJob:
        settings = self.settings
        # Checked before anything is contacted: one S3 shard per instance, each with some rows.
        shards = sagemaker_common.shard_rows(X.shape[0], settings.instance_count)
        distribution = sagemaker_common.training_distribution(settings.instance_count)
        session = sagemaker_common.sagemaker_session(settings)
        region = session.boto_region_name
        role = sagemaker_common.resolve_role(settings, session)
        bucket = sagemaker_common.resolve_bucket(settings, session, progress)
        job_name = sagemaker_common.unique_name(algorithm)
        root = f"s3://{bucket}/{settings.prefix}" if settings.prefix else f"s3://{bucket}"
        estimator = sagemaker_common.ESTIMATORS[algorithm](
            role=role,
            instance_count=settings.instance_count,
            instance_type=settings.instance_type,
            sagemaker_session=session,
            output_path=f"{root}/output",
            data_location=f"{root}/input/{job_name}/",
            max_run=settings.max_runtime_seconds,
            volume_size=settings.volume_size_gb,
            tags=sagemaker_common.workbench_tags("training-job", algorithm=algorithm, seed=seed),
            debugger_hook_config=False,
            disable_profiler=True,
        )
        estimator.exact_hyperparameters = sagemaker_common.sagemaker_hyperparameters(algorithm, hp)
        if len(shards) == 1:
            progress(f"Uploading {X.shape[0]:,} rows × {X.shape[1]} features as RecordIO-protobuf (record_set)")
        else:
            sizes = f"{shards[0]:,} rows each" if len(set(shards)) == 1 else f"{shards[0]:,} to {shards[-1]:,} rows"
            progress(f"Uploading {X.shape[0]:,} rows × {X.shape[1]} features as {len(shards)} RecordIO-protobuf "
                     f"shards, one per instance ({sizes}; {distribution})")
            if hp.get("mini_batch_size", 0) > min(shards):
                # The SDK's own default never exceeds the rows per instance; the job is sent as asked.
                progress(f"Note: mini_batch_size {hp['mini_batch_size']:,} is more than the {min(shards):,} rows "
                         f"of the smallest shard; if SageMaker rejects it, lower mini_batch_size or instance_count.")
        try:
            # record_set writes one S3 object per estimator instance (instance_count of them) and a
            # manifest listing them; the channel's distribution decides who reads which.
            records = estimator.record_set(X, distribution=distribution)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, boto3.exceptions.Boto3Error) as exc:
            raise BackendError(f"Could not upload the training data to S3: {sagemaker_common.aws_message(exc)}") from None
        record = sagemaker_common.job_record(job_name, algorithm, self.name, settings, region=region, seed=seed)
        _write_record(output_dir, record)
        on_submit(dict(record))
        progress(f"Submitting {job_name} on {settings.instance_count} × {settings.instance_type} in {region}")
        try:
            estimator.fit(records, mini_batch_size=hp["mini_batch_size"], wait=False, logs=False, job_name=job_name)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise BackendError(f"SageMaker refused training job {job_name}: {sagemaker_common.aws_message(exc)}") from None
        return self._follow(job_name, algorithm, hp, session, output_dir, progress)

    # -- re-attaching ----------------------------------------------------------------------
    def attach(self, job_name: str, *, output_dir: Path, progress: Progress | None = None) -> TrainingJob:
        """Follow an already submitted job (e.g. after the app was interrupted) to its artifact."""
        progress = progress or (lambda _m: None)
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        session = sagemaker_common.sagemaker_session(self.settings)
        description, tags = sagemaker_common.describe_training_job(
            session.sagemaker_client, job_name, f"Cannot re-attach to training job {job_name}")
        algorithm = _algorithm_of(description, tags)
        hp = dict(description.get("HyperParameters") or {})
        progress(f"Re-attached to {job_name} ({algorithm})")
        job = self._follow(job_name, algorithm, hp, session, output_dir, progress)
        job.seconds = time.perf_counter() - started
        return job

    def _follow(self, job_name, algorithm, hp, session, output_dir: Path, progress: Progress) -> TrainingJob:
        client = session.sagemaker_client
        description = sagemaker_common.wait_for_training_job(client, job_name, progress, self.settings.poll_seconds)
        details = sagemaker_common.finished_details(description)
        details["job_name"] = job_name
        details["region"] = session.boto_region_name
        status = description["TrainingJobStatus"]
        if status != "Completed":
            reason = description.get("FailureReason") or f"the job ended {status}"
            progress(f"{job_name}: {status} — {reason}")
            raise BackendError(f"SageMaker training job {job_name} {status.lower()}: {reason}")
        progress(f"{job_name}: Completed — {sagemaker_common.cost_line(details)}")
        s3_uri = (description.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        if not s3_uri:
            raise BackendError(f"Training job {job_name} completed but reports no model artifact.")
        artifact_path = Path(output_dir) / "model.tar.gz"
        self._download(session, s3_uri, artifact_path)
        progress(f"Downloaded model.tar.gz ({artifact_path.stat().st_size:,} bytes)")
        _load(algorithm, artifact_path)  # read through the shared codec: fail here, not downstream
        details["model_artifact"] = "model.tar.gz"
        return TrainingJob(algorithm, self.name, job_name, dict(hp), artifact_path, 0.0, details)

    @staticmethod
    def _download(session, s3_uri: str, destination: Path) -> None:
        bucket, key = _parse_s3(s3_uri)
        fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".model.", suffix=".tmp")
        os.close(fd)
        try:
            session.boto_session.client("s3").download_file(bucket, key, tmp)
            os.replace(tmp, destination)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise BackendError(f"Could not download the model artifact: {sagemaker_common.aws_message(exc)}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    # -- optional: a real-time endpoint, deleted in `finally` --------------------------------
    def _model(self, job: TrainingJob | str, session):
        """An SDK PCAModel/KMeansModel for a finished job (by TrainingJob or name), named uniquely."""
        from sagemaker.amazon.kmeans import KMeansModel
        from sagemaker.amazon.pca import PCAModel

        job_name = job if isinstance(job, str) else job.job_name
        description, tags = sagemaker_common.describe_training_job(
            session.sagemaker_client, job_name, f"No training job {job_name}")
        if description["TrainingJobStatus"] != "Completed":
            raise BackendError(f"Training job {job_name} is {description['TrainingJobStatus']}, not Completed.")
        algorithm = _algorithm_of(description, tags)
        model_cls = PCAModel if algorithm == "pca" else KMeansModel
        role = sagemaker_common.resolve_role(self.settings, session)
        model = model_cls(description["ModelArtifacts"]["S3ModelArtifacts"], role=role, sagemaker_session=session,
                          name=sagemaker_common.unique_name(f"{algorithm}-model"))
        return algorithm, model

    def predict_with_endpoint(self, job: TrainingJob | str, X: np.ndarray, *, progress: Progress | None = None,
                              batch_rows: int = 500) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Deploy the job's model to a real-time endpoint, predict X, and always delete it.

        PCA returns the projections (n, components) as the endpoint orders them (SageMaker's
        storage order, smallest component first); K-Means returns (closest_cluster,
        distance_to_cluster). Costs money while it runs; the in-process computation from the
        artifact gives the same numbers for free.
        """
        progress = progress or (lambda _m: None)
        session = sagemaker_common.sagemaker_session(self.settings)
        client = session.sagemaker_client
        algorithm, model = self._model(job, session)
        endpoint_name = sagemaker_common.unique_name(f"{algorithm}-ep")
        X = np.ascontiguousarray(X, dtype=np.float32)
        try:
            progress(f"Deploying {endpoint_name} on 1 × {self.settings.endpoint_instance_type}")
            model.deploy(initial_instance_count=1, instance_type=self.settings.endpoint_instance_type,
                         endpoint_name=endpoint_name, wait=False,
                         tags=sagemaker_common.workbench_tags("endpoint", algorithm=algorithm))
            sagemaker_common.wait_for_endpoint(client, endpoint_name, progress, self.settings.poll_seconds)
            predictor = model.predictor_cls(endpoint_name, sagemaker_session=session)
            records = []
            for start in range(0, len(X), batch_rows):
                records.extend(predictor.predict(X[start:start + batch_rows]))
            progress(f"Predicted {len(X):,} rows on {endpoint_name}")
            return _from_records(algorithm, records)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise BackendError(f"Endpoint {endpoint_name} failed: {sagemaker_common.aws_message(exc)}") from exc
        finally:
            deleted = sagemaker_endpoints.delete_endpoint_resources(client, endpoint_name, config_name=endpoint_name,
                                                       model_names=[model.name])
            progress(f"Deleted {', '.join(deleted) or 'nothing (the endpoint was never created)'}")

    # -- optional: Batch Transform -------------------------------------------------------------
    def batch_transform(self, job: TrainingJob | str, X: np.ndarray, *, progress: Progress | None = None):
        """Run X through a Batch Transform job on the job's model (no endpoint), then delete the model."""
        progress = progress or (lambda _m: None)
        settings = self.settings
        session = sagemaker_common.sagemaker_session(settings)
        client = session.sagemaker_client
        algorithm, model = self._model(job, session)
        bucket = sagemaker_common.resolve_bucket(settings, session, progress)
        transform_name = sagemaker_common.unique_name(f"{algorithm}-bt")
        root = f"{settings.prefix}/" if settings.prefix else ""
        input_key = f"{root}transform/{transform_name}/input/matrix.pbr"
        output_prefix = f"{root}transform/{transform_name}/output"
        s3 = session.boto_session.client("s3")
        buffer = tempfile.TemporaryFile()
        write_numpy_to_dense_tensor(buffer, np.ascontiguousarray(X, dtype=np.float32))
        buffer.seek(0)
        try:
            s3.upload_fileobj(buffer, bucket, input_key)
            transformer = model.transformer(
                instance_count=1, instance_type=settings.endpoint_instance_type,
                output_path=f"s3://{bucket}/{output_prefix}", accept=RECORDIO,
                tags=sagemaker_common.workbench_tags("transform-job", algorithm=algorithm),
            )
            progress(f"Starting Batch Transform {transform_name}")
            transformer.transform(f"s3://{bucket}/{input_key}", content_type=RECORDIO, split_type="RecordIO",
                                  job_name=transform_name, wait=False, logs=False)
            description = sagemaker_common.wait_for_transform_job(client, transform_name, progress, settings.poll_seconds)
            if description["TransformJobStatus"] != "Completed":
                reason = description.get("FailureReason") or description["TransformJobStatus"]
                raise BackendError(f"Batch Transform {transform_name} failed: {reason}")
            body = s3.get_object(Bucket=bucket, Key=f"{output_prefix}/matrix.pbr.out")["Body"].read()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise BackendError(f"Batch Transform {transform_name} failed: {sagemaker_common.aws_message(exc)}") from None
        finally:
            buffer.close()
            sagemaker_endpoints.delete_model(client, model.name)
        return _from_records(algorithm, read_records(io.BytesIO(body)))


def _from_records(algorithm: str, records) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    if algorithm == "pca":
        return np.asarray([list(r.label["projection"].float32_tensor.values) for r in records], dtype=np.float32)
    clusters = np.asarray([r.label["closest_cluster"].float32_tensor.values[0] for r in records]).astype(np.int64)
    distances = np.asarray([r.label["distance_to_cluster"].float32_tensor.values[0] for r in records], dtype=np.float32)
    return clusters, distances
