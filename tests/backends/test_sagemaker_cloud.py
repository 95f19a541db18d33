"""The cloud backend under moto (`mock_aws`), with tests/support/sagemaker_harness.py playing the algorithms.

What is real here: the SageMaker Python SDK v2 (PCA/KMeans estimators, record_set, fit,
Model.deploy, transformer), boto3, and moto's SageMaker and S3 APIs. What the harness
plays: the training container (the emulator on the job's S3 input), the job's states, the
endpoint's answers and Batch Transform's output.
"""
from __future__ import annotations

import contextlib
import json
import logging
import re

import boto3
import numpy as np
import pytest

from backends import registry, sagemaker_common, sagemaker_endpoints, sagemaker_settings
from backends.base import BackendError
from backends.format import models
from backends.format.hyperparameters import validate_kmeans, validate_pca
from backends.sagemaker_cloud import JOB_RECORD, SageMakerCloudBackend
from tests.support.sagemaker_harness import BUCKET, REGION, ROLE, records_to_matrix
from workbench.cli import main as cli
from workbench.runs import store


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=6.0, size=(4, 6))
    return np.vstack([c + rng.normal(size=(60, 6)) for c in centres]).astype(np.float32)


PCA_HP = {"feature_dim": 6, "num_components": 4, "mini_batch_size": 100}
KMEANS_HP = {"k": 4, "feature_dim": 6}


def sm():
    return boto3.client("sagemaker", region_name=REGION)


# --- training ---------------------------------------------------------------------------------
def test_pca_job_gives_the_embedded_backends_artifact(cloud_backend, planted, tmp_path):
    job = cloud_backend.train_pca(planted, PCA_HP, seed=2, output_dir=tmp_path / "cloud")
    reference = registry.create_backend("embedded").train_pca(planted, PCA_HP, seed=2, output_dir=tmp_path / "emb")
    assert job.artifact_path == tmp_path / "cloud" / "model.tar.gz"
    assert job.artifact_path.read_bytes() == reference.artifact_path.read_bytes()
    model = models.load_pca(job.artifact_path)
    assert (model.feature_dim, model.n_components) == (6, 4)
    described = sm().describe_training_job(TrainingJobName=job.job_name)
    # What the walkthrough sent: the required values as strings (defaults are SageMaker's own).
    assert described["HyperParameters"] == {"feature_dim": "6", "num_components": "4", "mini_batch_size": "100"}
    assert validate_pca(described["HyperParameters"]) == validate_pca(PCA_HP), "the same settings, exactly"
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("/pca:1"), "SageMaker's built-in PCA"
    assert described["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] == "ManifestFile"
    assert described["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600


def test_kmeans_job_reports_sagemakers_metrics(cloud_backend, planted, tmp_path):
    job = cloud_backend.train_kmeans(planted, {**KMEANS_HP, "eval_metrics": ["msd", "ssd"]}, seed=3,
                                     output_dir=tmp_path)
    reference = registry.create_backend("embedded").train_kmeans(planted, {**KMEANS_HP, "eval_metrics": ["msd", "ssd"]},
                                                              seed=3, output_dir=tmp_path / "emb")
    assert job.artifact_path.read_bytes() == reference.artifact_path.read_bytes()
    assert job.details["metrics"]["msd"] == pytest.approx(reference.details["metrics"]["msd"])
    assert job.details["metrics"]["ssd"] == pytest.approx(reference.details["metrics"]["ssd"])
    sent = sm().describe_training_job(TrainingJobName=job.job_name)["HyperParameters"]
    assert sent == {"k": "4", "feature_dim": "6", "eval_metrics": '["msd","ssd"]', "force_dense": "True"}
    assert validate_kmeans(sent) == validate_kmeans({**KMEANS_HP, "eval_metrics": ["msd", "ssd"]})


def test_values_the_sdk_cannot_express_are_sent_as_sagemaker_accepts_them(cloud_backend, planted, tmp_path):
    # The SDK's KMeans descriptors reject k=1 and 'auto'; SageMaker and the shared validation accept them.
    hp = {"k": 1, "feature_dim": 6, "extra_center_factor": 3, "local_lloyd_num_trials": "auto", "epochs": 2}
    job = cloud_backend.train_kmeans(planted, hp, output_dir=tmp_path)
    sent = sm().describe_training_job(TrainingJobName=job.job_name)["HyperParameters"]
    assert sent == {"k": "1", "feature_dim": "6", "extra_center_factor": "3", "epochs": "2", "force_dense": "True"}
    assert models.load_kmeans(job.artifact_path).k == 1


def test_progress_shows_status_secondary_status_billable_seconds_and_cost(cloud_backend, moto_sagemaker, planted,
                                                                          tmp_path):
    lines: list[str] = []
    job = cloud_backend.train_pca(planted, PCA_HP, output_dir=tmp_path, progress=lines.append)
    text = "\n".join(lines)
    for secondary in ("Starting", "Downloading", "Training", "Uploading"):
        assert f"{job.job_name}: InProgress / {secondary}" in text
    assert "Preparing the instances for training" in text
    assert f"{job.job_name}: Completed" in text
    assert "42 billable second(s) on 1 × ml.m5.large" in text
    assert re.search(r"about \$0\.0013", text), text
    assert job.details["billable_seconds"] == 42
    assert job.details["estimated_cost_usd"] == pytest.approx(0.115 * 42 / 3600, abs=1e-6)
    # The poll sleeps went through the one patched sleep, at the configured interval.
    assert moto_sagemaker.sleeps and set(moto_sagemaker.sleeps) == {7}
    assert len(moto_sagemaker.sleeps) == moto_sagemaker.describes[job.job_name] - 1


def test_jobs_are_tagged_and_uniquely_named(cloud_backend, planted, tmp_path):
    first = cloud_backend.train_kmeans(planted, KMEANS_HP, seed=5, output_dir=tmp_path / "a")
    second = cloud_backend.train_kmeans(planted, KMEANS_HP, seed=5, output_dir=tmp_path / "b")
    assert first.job_name != second.job_name
    for name in (first.job_name, second.job_name):
        assert re.fullmatch(r"county-wb-kmeans-\d{8}-\d{6}-[0-9a-f]{6}", name) and len(name) <= 63
        arn = sm().describe_training_job(TrainingJobName=name)["TrainingJobArn"]
        tags = sagemaker_common.tags_dict(sm().list_tags(ResourceArn=arn)["Tags"])
        assert tags[sagemaker_common.TAG_KEY] == sagemaker_common.TAG_VALUE
        assert tags["workbench:kind"] == "training-job" and tags["workbench:algorithm"] == "kmeans"
        assert tags["workbench:seed"] == "5"


def test_the_job_is_recorded_before_it_is_submitted(moto_sagemaker, planted, tmp_path):
    seen = []

    def on_submit(record):
        with pytest.raises(Exception, match="Could not find training job"):
            sm().describe_training_job(TrainingJobName=record["job_name"])
        assert json.loads((tmp_path / JOB_RECORD).read_text())["job_name"] == record["job_name"]
        seen.append(record)

    backend = SageMakerCloudBackend(role=ROLE, bucket=BUCKET, poll_seconds=0)
    job = backend.train_pca(planted, PCA_HP, seed=4, output_dir=tmp_path, on_submit=on_submit)
    assert [r["job_name"] for r in seen] == [job.job_name]
    assert seen[0]["algorithm"] == "pca" and seen[0]["region"] == REGION and seen[0]["seed"] == 4


def test_nothing_typed_is_logged_or_stored(moto_sagemaker, planted, tmp_path, caplog):
    role = "arn:aws:iam::123456789012:role/AnalystTypedThisRole"
    bucket = "analyst-typed-this-bucket"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    lines, records = [], []
    caplog.set_level(logging.DEBUG, logger="backends")
    backend = registry.create_backend("sagemaker", role=role, bucket=bucket, poll_seconds=0)
    job = backend.train_kmeans(planted, KMEANS_HP, output_dir=tmp_path, progress=lines.append, on_submit=records.append)
    stored = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.suffix == ".json")
    shown = "\n".join(lines) + caplog.text + json.dumps(job.details) + json.dumps(records) + stored
    assert role not in shown and bucket not in shown
    assert "AnalystTypedThisRole" not in repr(sagemaker_settings.resolve_settings().public())
    # …while SageMaker itself did get them.
    described = sm().describe_training_job(TrainingJobName=job.job_name)
    assert described["RoleArn"] == role and described["OutputDataConfig"]["S3OutputPath"].startswith(f"s3://{bucket}/")


def test_a_failed_job_raises_with_its_failure_reason(cloud_backend, moto_sagemaker, planted, tmp_path):
    reason = "ClientError: Unable to initialize the algorithm. Failed to validate input data configuration."
    moto_sagemaker.fail_next(reason)
    lines = []
    with pytest.raises(BackendError, match="failed: ClientError: Unable to initialize") as caught:
        cloud_backend.train_pca(planted, PCA_HP, output_dir=tmp_path, progress=lines.append)
    assert moto_sagemaker.created[-1] in str(caught.value)
    assert any(reason in line for line in lines), "the failure reason is shown while polling too"
    assert not (tmp_path / "model.tar.gz").exists()


def test_an_interrupted_run_re_attaches_to_its_job(cloud_backend, moto_sagemaker, planted, tmp_path, monkeypatch):
    records = []

    class AppStopped(BaseException):
        pass

    def stop(_seconds):
        raise AppStopped

    monkeypatch.setattr(sagemaker_common, "sleep", stop)
    interrupted = SageMakerCloudBackend(role=ROLE, bucket=BUCKET)
    with pytest.raises(AppStopped):
        interrupted.train_kmeans(planted, KMEANS_HP, seed=6, output_dir=tmp_path / "first", on_submit=records.append)
    name = records[0]["job_name"]
    assert sm().describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"
    assert not (tmp_path / "first" / "model.tar.gz").exists()

    monkeypatch.setattr(sagemaker_common, "sleep", lambda _s: None)
    lines = []
    # A fresh process knows only the name (and needs no role or bucket to re-attach).
    job = SageMakerCloudBackend(poll_seconds=0).attach(name, output_dir=tmp_path / "again", progress=lines.append)
    assert job.job_name == name and job.algorithm == "kmeans"
    assert any("Re-attached" in line for line in lines) and any("Completed" in line for line in lines)
    reference = registry.create_backend("embedded").train_kmeans(planted, KMEANS_HP, seed=6, output_dir=tmp_path / "emb")
    assert job.artifact_path.read_bytes() == reference.artifact_path.read_bytes()


def test_attach_to_a_failed_or_unknown_job_raises(moto_sagemaker, cloud_backend, planted, tmp_path):
    moto_sagemaker.fail_next("AlgorithmError: out of memory")
    with pytest.raises(BackendError):
        cloud_backend.train_pca(planted, PCA_HP, output_dir=tmp_path / "a")
    with pytest.raises(BackendError, match="out of memory"):
        cloud_backend.attach(moto_sagemaker.created[-1], output_dir=tmp_path / "b")
    with pytest.raises(BackendError, match="Cannot re-attach to training job no-such-job"):
        cloud_backend.attach("no-such-job", output_dir=tmp_path / "c")


# --- several instances: the rows sharded across them (ShardedByS3Key) --------------------------
def _train_channel(request):
    (channel,) = request["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    return channel["DataSource"]["S3DataSource"]


def _shards(request) -> list[np.ndarray]:
    """The data objects the job's manifest lists, in its order, decoded; every object under the prefix is listed."""
    source = _train_channel(request)
    assert source["S3DataType"] == "ManifestFile"
    s3 = boto3.client("s3", region_name=REGION)
    bucket, _, manifest_key = source["S3Uri"][5:].partition("/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    prefix = manifest[0]["prefix"]
    assert prefix == f"s3://{bucket}/{manifest_key.rsplit('/', 1)[0]}/"
    under = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix[len(f"s3://{bucket}/"):])["Contents"]}
    assert under == {manifest_key} | {prefix[len(f"s3://{bucket}/"):] + name for name in manifest[1:]}
    return [records_to_matrix(s3.get_object(Bucket=bucket, Key=prefix[len(f"s3://{bucket}/"):] + name)["Body"].read())
            for name in manifest[1:]]


@pytest.mark.parametrize("algorithm, hp, instances, sizes", [
    ("pca", PCA_HP, 3, [80, 80, 80]),
    ("kmeans", KMEANS_HP, 7, [34, 34, 34, 34, 34, 34, 36]),  # 240 rows: the remainder goes to the last shard
])
def test_several_instances_get_one_shard_each(moto_sagemaker, planted, tmp_path, algorithm, hp, instances, sizes):
    backend = SageMakerCloudBackend(role=ROLE, bucket=BUCKET, poll_seconds=0, instance_count=instances,
                                    instance_type="ml.c5.xlarge")
    lines = []
    job = backend.train(algorithm, planted, hp, seed=1, output_dir=tmp_path / "cloud", progress=lines.append)
    (request,) = moto_sagemaker.training_requests
    assert request["TrainingJobName"] == job.job_name
    assert request["ResourceConfig"]["InstanceCount"] == instances
    assert _train_channel(request)["S3DataDistributionType"] == "ShardedByS3Key"
    shards = _shards(request)
    assert [len(shard) for shard in shards] == sizes and sum(sizes) == len(planted)
    np.testing.assert_array_equal(np.vstack(shards), planted)  # every row once, in order
    assert any(f"as {instances} RecordIO-protobuf shards, one per instance" in line for line in lines)
    # SageMaker bills every instance: the estimate multiplies by the count.
    assert (job.details["instance_count"], job.details["data_distribution"]) == (instances, "ShardedByS3Key")
    assert job.details["estimated_cost_usd"] == pytest.approx(sagemaker_settings.estimate_cost("ml.c5.xlarge", instances, 42))
    assert json.loads((tmp_path / "cloud" / JOB_RECORD).read_text())["instance_count"] == instances
    # The harness plays the job on all shards together: the same model as one machine.
    reference = registry.create_backend("embedded").train(algorithm, planted, hp, seed=1, output_dir=tmp_path / "emb")
    assert job.artifact_path.read_bytes() == reference.artifact_path.read_bytes()


def test_one_instance_gets_all_the_data_fully_replicated(cloud_backend, moto_sagemaker, planted, tmp_path):
    job = cloud_backend.train_pca(planted, PCA_HP, output_dir=tmp_path)
    (request,) = moto_sagemaker.training_requests
    assert request["ResourceConfig"]["InstanceCount"] == 1
    assert _train_channel(request)["S3DataDistributionType"] == "FullyReplicated"
    (shard,) = _shards(request)
    np.testing.assert_array_equal(shard, planted)
    assert job.details["data_distribution"] == "FullyReplicated"


def test_the_distribution_follows_the_instance_count():
    assert [sagemaker_common.training_distribution(n) for n in (1, 2, 16)] == ["FullyReplicated"] + ["ShardedByS3Key"] * 2
    assert sagemaker_common.shard_rows(10, 1) == [10]
    assert sagemaker_common.shard_rows(10, 3) == [3, 3, 4]
    assert sagemaker_common.shard_rows(4, 4) == [1, 1, 1, 1]


@pytest.mark.parametrize("count, message", [(0, "at least 1"), (-2, "at least 1"), ("two", "a whole number"),
                                            (2.5, "a whole number")])
def test_instance_count_must_be_a_positive_whole_number(aws_env, monkeypatch, count, message):
    with pytest.raises(ValueError, match=f"instance_count must be {message}"):
        SageMakerCloudBackend(instance_count=count)
    monkeypatch.setenv("WORKBENCH_SAGEMAKER_INSTANCE_COUNT", str(count))
    with pytest.raises(ValueError, match="instance_count must be"):
        sagemaker_settings.resolve_settings()
    monkeypatch.setenv("WORKBENCH_SAGEMAKER_INSTANCE_COUNT", " 3 ")
    assert sagemaker_settings.resolve_settings().instance_count == 3
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(BackendError, match="instance_count must be a positive whole number"):
            sagemaker_common.shard_rows(10, bad)


def test_more_instances_than_rows_is_refused_before_anything_is_sent(moto_sagemaker, tmp_path):
    few = np.arange(24, dtype=np.float32).reshape(4, 6)
    backend = SageMakerCloudBackend(role=ROLE, bucket=BUCKET, poll_seconds=0, instance_count=5)
    with pytest.raises(BackendError, match=r"instance_count is 5 but the training data has only 4 row\(s\).*"
                                           r"Use an instance_count of at most 4 \(--instance-count"):
        backend.train_pca(few, {"feature_dim": 6, "num_components": 2, "mini_batch_size": 4}, output_dir=tmp_path)
    assert moto_sagemaker.training_requests == [] and not (tmp_path / JOB_RECORD).exists()
    assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    # As many instances as rows is allowed: one row each.
    job = SageMakerCloudBackend(role=ROLE, bucket=BUCKET, poll_seconds=0, instance_count=4).train_pca(
        few, {"feature_dim": 6, "num_components": 2, "mini_batch_size": 1}, output_dir=tmp_path)
    assert [len(shard) for shard in _shards(moto_sagemaker.training_requests[-1])] == [1, 1, 1, 1]
    assert job.details["instance_count"] == 4


# --- the job's ARN reaches the runs registry -------------------------------------------------------
def test_the_finished_job_carries_its_arn(cloud_backend, moto_sagemaker, planted, tmp_path):
    job = cloud_backend.train_kmeans(planted, KMEANS_HP, output_dir=tmp_path)
    arn = sm().describe_training_job(TrainingJobName=job.job_name)["TrainingJobArn"]
    assert job.details["job_arn"] == arn
    assert arn.startswith(f"arn:aws:sagemaker:{REGION}:") and arn.endswith(f":training-job/{job.job_name}")
    # …and after re-attaching, from a fresh backend.
    again = SageMakerCloudBackend(poll_seconds=0).attach(job.job_name, output_dir=tmp_path / "again")
    assert again.details["job_arn"] == arn


# --- settings and the clear messages when something is missing -----------------------------
def test_settings_come_from_the_construction_then_the_environment(aws_env, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SAGEMAKER_INSTANCE_TYPE", "ml.c5.xlarge")
    monkeypatch.setenv("WORKBENCH_SAGEMAKER_VOLUME_SIZE_GB", "50")
    assert sagemaker_settings.resolve_settings().instance_type == "ml.c5.xlarge"
    assert sagemaker_settings.resolve_settings().volume_size_gb == 50
    configured = SageMakerCloudBackend(instance_type="ml.c4.xlarge", role=None)
    assert configured.settings.instance_type == "ml.c4.xlarge" and configured.settings.volume_size_gb == 50
    assert SageMakerCloudBackend().settings.instance_type == "ml.c5.xlarge"  # nothing ambient carried over
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert SageMakerCloudBackend().settings.region == "eu-west-3"  # AWS_REGION is honoured
    assert SageMakerCloudBackend(region="us-west-2").settings.region == "us-west-2"
    for bad, message in ((dict(instance_count=0), "at least 1"), (dict(instance_type="m5.large"), "ml\\.\\*"),
                         (dict(bucket="s3://b/k"), "bare S3 bucket"), (dict(max_runtime_seconds="x"), "whole number"),
                         (dict(max_runtime_seconds=59), "at least 60"), (dict(poll_seconds="soon"), "number of seconds"),
                         # refused, not clamped to 0 (nan) or left to overflow time.sleep (inf)
                         (dict(poll_seconds=-5), "at least 0"), (dict(poll_seconds="nan"), "finite"),
                         (dict(poll_seconds=float("inf")), "finite"),
                         # a finite 1e308 overflowed time.sleep after the job was submitted; True is no number
                         (dict(poll_seconds=1e308), "at most 3600"), (dict(poll_seconds=True), "number of seconds")):
        with pytest.raises(ValueError, match=message):
            sagemaker_settings.resolve_settings(bad)
    with pytest.raises(ValueError, match="Unknown SageMaker setting"):
        SageMakerCloudBackend(colour="red")


def test_settings_form_for_the_app():
    cloud = {f["name"]: f for f in sagemaker_settings.settings_fields("sagemaker")}
    assert {"instance_type", "instance_count", "max_runtime_seconds", "volume_size_gb", "role", "bucket", "region"} <= set(cloud)
    assert cloud["role"]["secret"] and cloud["bucket"]["secret"]
    assert cloud["instance_type"]["default"] == "ml.m5.large" and "ml.m5.large" in cloud["instance_type"]["choices"]
    assert cloud["instance_count"]["env"] == "WORKBENCH_SAGEMAKER_INSTANCE_COUNT"
    assert [f["name"] for f in sagemaker_settings.settings_fields("sagemaker-local")] == ["image_uri"]


@pytest.mark.parametrize("missing, message", [
    ("credentials", "No AWS credentials found"),
    ("region", "No AWS region"),
    ("role", "No SageMaker execution role"),
])
def test_missing_credentials_region_or_role_say_what_to_do(aws_env, monkeypatch, planted, tmp_path, missing, message):
    from moto import mock_aws

    kwargs = {"role": ROLE, "bucket": BUCKET}
    if missing == "credentials":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    elif missing == "region":
        monkeypatch.delenv("AWS_DEFAULT_REGION")
    else:
        kwargs.pop("role")
    # moto would supply credentials of its own; these checks happen before any AWS call.
    mock = mock_aws() if missing == "role" else contextlib.nullcontext()
    with mock, pytest.raises(BackendError, match=message):
        SageMakerCloudBackend(**kwargs).train_pca(planted, PCA_HP, output_dir=tmp_path)
    assert not (tmp_path / JOB_RECORD).exists(), "nothing was submitted"


def test_cost_estimates():
    assert sagemaker_settings.estimate_cost("ml.m5.large", 2, 3600) == pytest.approx(0.23)
    assert sagemaker_settings.estimate_cost("ml.t2.medium", 1, 1800, hosting=True) == pytest.approx(0.028)
    assert sagemaker_settings.estimate_cost("ml.unknown.type", 1, 100) is None


# --- endpoints: none by default, optional real-time endpoint and Batch Transform -----------
def test_training_creates_no_endpoint(cloud_backend, planted, tmp_path):
    cloud_backend.train_pca(planted, PCA_HP, output_dir=tmp_path)
    assert sm().list_endpoints()["Endpoints"] == [] and sm().list_models()["Models"] == []


def test_real_time_endpoint_predicts_what_the_artifact_computes_then_is_deleted(cloud_backend, moto_sagemaker,
                                                                                 planted, tmp_path):
    pca_job = cloud_backend.train_pca(planted, PCA_HP, output_dir=tmp_path / "pca")
    lines = []
    projections = cloud_backend.predict_with_endpoint(pca_job, planted, progress=lines.append, batch_rows=100)
    model = models.load_pca(pca_job.artifact_path)
    # The endpoint answers in SageMaker's storage order (smallest component first).
    np.testing.assert_allclose(projections[:, ::-1], model.transform(planted), rtol=1e-6, atol=1e-6)
    assert moto_sagemaker.invocations == 3, "240 rows in batches of 100"
    kmeans_job = cloud_backend.train_kmeans(planted, KMEANS_HP, output_dir=tmp_path / "km")
    clusters, distances = cloud_backend.predict_with_endpoint(kmeans_job.job_name, planted)
    expected_labels, expected_distances = models.load_kmeans(kmeans_job.artifact_path).assign(planted)
    np.testing.assert_array_equal(clusters, expected_labels)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5)
    assert any("InService" in line for line in lines) and any(line.startswith("Deleted endpoint") for line in lines)
    assert sm().list_endpoints()["Endpoints"] == []
    assert sm().list_endpoint_configs()["EndpointConfigs"] == []
    assert sm().list_models()["Models"] == []


def test_the_endpoint_is_deleted_even_when_predict_raises(cloud_backend, moto_sagemaker, planted, tmp_path):
    job = cloud_backend.train_pca(planted, PCA_HP, output_dir=tmp_path)
    moto_sagemaker.fail_invocations = True
    with pytest.raises(BackendError, match="failed: ModelError: .*unable to evaluate payload"):
        cloud_backend.predict_with_endpoint(job, planted)
    assert moto_sagemaker.invocations == 1
    assert sm().list_endpoints()["Endpoints"] == []
    assert sm().list_endpoint_configs()["EndpointConfigs"] == []
    assert sm().list_models()["Models"] == []


def test_batch_transform_computes_what_the_artifact_computes(cloud_backend, planted, tmp_path):
    job = cloud_backend.train_kmeans(planted, KMEANS_HP, output_dir=tmp_path)
    lines = []
    clusters, distances = cloud_backend.batch_transform(job, planted, progress=lines.append)
    expected, expected_distances = models.load_kmeans(job.artifact_path).assign(planted)
    np.testing.assert_array_equal(clusters, expected)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5)
    assert any("Completed" in line for line in lines)
    assert sm().list_models()["Models"] == [] and sm().list_endpoints()["Endpoints"] == []


def _live_endpoint(name: str, tags):
    client = sm()
    client.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1",
                                          "ModelDataUrl": f"s3://{BUCKET}/x/model.tar.gz"})
    client.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": f"{name}-model", "InitialInstanceCount": 1,
        "InstanceType": "ml.t2.medium"}])
    client.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)


def test_list_and_delete_the_workbench_endpoints_only(moto_sagemaker, capsys):
    _live_endpoint("county-wb-forgotten", sagemaker_common.workbench_tags("endpoint", algorithm="pca"))
    _live_endpoint("someone-elses", [{"Key": "team", "Value": "data"}])
    found = sagemaker_endpoints.list_workbench_endpoints(region=REGION)
    assert [e.name for e in found] == ["county-wb-forgotten"]
    assert found[0].instance_type == "ml.t2.medium" and found[0].hourly_cost_usd == pytest.approx(0.056)
    assert found[0].algorithm == "pca" and found[0].status == "InService"

    assert cli.main(["endpoints", "list", "--json", "--region", REGION]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in listed] == ["county-wb-forgotten"]

    assert cli.main(["endpoints", "delete", "someone-elses"]) == 2
    assert "not created by the workbench" in capsys.readouterr().err
    assert cli.main(["endpoints", "delete", "--all"]) == 0
    assert "Deleted endpoint county-wb-forgotten, endpoint config county-wb-forgotten, model county-wb-forgotten-model" \
        in capsys.readouterr().out
    assert [e["EndpointName"] for e in sm().list_endpoints()["Endpoints"]] == ["someone-elses"]
    assert cli.main(["endpoints", "list"]) == 0
    assert "No live endpoints created by the workbench" in capsys.readouterr().out
    assert cli.main(["endpoints", "delete"]) == 2


# --- the CLI end to end ------------------------------------------------------------------------
def test_cli_segment_on_the_cloud_backend(moto_sagemaker, census_csv, tmp_path, capsys):
    role = "arn:aws:iam::123456789012:role/TypedOnTheCommandLine"
    code = cli.main(["segment", "--data", str(census_csv), "--backend", "sagemaker", "--role", role,
                     "--bucket", BUCKET, "--instance-type", "ml.c5.xlarge", "--volume-size", "40",
                     "--max-runtime", "900", "--k", "5", "--json", "--workspace", str(tmp_path / "ws")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["rows_clean"] == 3218 and sum(summary["cluster_sizes"]) == 3218
    pca_name, kmeans_name = moto_sagemaker.created
    described = sm().describe_training_job(TrainingJobName=pca_name)
    assert described["ResourceConfig"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 40}
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 900
    manifest = (tmp_path / "ws" / "runs" / summary["run_id"] / "manifest.json").read_text()
    assert json.loads(manifest)["pca"]["job_name"] == pca_name
    assert role not in manifest and BUCKET not in manifest
    # The runs registry holds each job's ARN, as DescribeTrainingJob gives it.
    recorded = store.RunStore(workspace=tmp_path / "ws").get(summary["run_id"]).jobs
    for algorithm, name in (("pca", pca_name), ("kmeans", kmeans_name)):
        assert recorded[algorithm].job_name == name
        assert recorded[algorithm].job_arn == sm().describe_training_job(TrainingJobName=name)["TrainingJobArn"]


def test_cli_instance_count_shards_the_training_data(moto_sagemaker, census_csv, tmp_path, capsys):
    code = cli.main(["segment", "--data", str(census_csv), "--backend", "sagemaker", "--role", ROLE,
                     "--bucket", BUCKET, "--instance-count", "2", "--json", "--workspace", str(tmp_path / "ws")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["rows_clean"] == 3218
    assert len(moto_sagemaker.training_requests) == 2, "PCA then K-Means"
    for request in moto_sagemaker.training_requests:
        assert request["ResourceConfig"]["InstanceCount"] == 2
        assert _train_channel(request)["S3DataDistributionType"] == "ShardedByS3Key"
        assert [len(shard) for shard in _shards(request)] == [1609, 1609]


def test_cli_refuses_sagemaker_flags_for_the_embedded_backend(capsys):
    assert cli.main(["segment", "--role", "arn:aws:iam::1:role/x", "--instance-type", "ml.m5.large"]) == 2
    assert "--instance-type, --role only apply to --backend sagemaker" in capsys.readouterr().err
