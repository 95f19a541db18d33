"""A moto harness that plays SageMaker's built-in PCA and K-Means, and Docker helpers for the tests.

moto's CreateTrainingJob completes at once and writes nothing. Inside `SageMakerHarness`:

- every CreateTrainingJob request body, exactly as the SDK sent it, is kept in
  `training_requests` (so tests can assert ResourceConfig, InputDataConfig…);
- a training job walks through scripted states, one per DescribeTrainingJob call —
  InProgress/Starting → Downloading → Training → Uploading → Completed — so progress lines
  can be tested;
- on reaching Completed the harness plays the algorithm the job's image names (…/pca:1 or
  …/kmeans:1): it reads the job's S3 input exactly as SageMaker would (the `.amazon.manifest`
  that `record_set` writes, then each RecordIO-protobuf shard, decoded with the SDK's own
  `read_records`), runs the emulator (`backends.algorithms`, seeded by the job's
  workbench:seed tag), and puts model.tar.gz at the job's output path, with
  BillableTimeInSeconds and K-Means' final metrics;
- a job on several instances has one shard per instance; the harness plays it on all the
  shards together (SageMaker's merge of per-instance results is not modelled);
- `fail_next(reason)` makes the next job end Failed with that FailureReason; invalid
  hyperparameters fail the job as SageMaker would ("ClientError: …");
- endpoints answer InvokeEndpoint like the real ones (RecordIO-protobuf in and out, PCA's
  `projection` in storage order, K-Means' `closest_cluster` and `distance_to_cluster`),
  computed from the endpoint's model artifact; `fail_invocations = True` makes them error;
- Batch Transform jobs write their `.out` file from the model artifact the same way.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np

# ---------------------------------------------------------------------------------------------
# pytest fixtures (import them into a test module to use them)
# ---------------------------------------------------------------------------------------------
import pytest  # noqa: E402

from backends import sagemaker_common

DEFAULT_STEPS = (
    ("InProgress", "Starting", "Preparing the instances for training"),
    ("InProgress", "Downloading", "Downloading input data"),
    ("InProgress", "Training", "Training image download completed. Training in progress."),
    ("InProgress", "Uploading", "Uploading generated training model"),
)
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/WorkbenchTestSageMakerRole"
BUCKET = "workbench-test-bucket"


def _s3(account_id: str, region: str):
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    return s3_backends[account_id][get_partition(region)]


def _split(uri: str) -> tuple[str, str]:
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _read(account_id, region, uri) -> bytes:
    bucket, key = _split(uri)
    obj = _s3(account_id, region).get_object(bucket, key)
    if obj is None:
        raise FileNotFoundError(uri)
    return obj.value


def _put(account_id, region, uri, data: bytes) -> None:
    bucket, key = _split(uri)
    _s3(account_id, region).put_object(bucket, key, data)


def records_to_matrix(data: bytes) -> np.ndarray:
    """Rows of RecordIO-protobuf, decoded with the SDK's own reader."""
    from sagemaker.amazon.common import read_records

    rows = [list(r.features["values"].float32_tensor.values) for r in read_records(io.BytesIO(data))]
    return np.asarray(rows, dtype=np.float32)


def _channel_matrix(account_id, region, channel: dict) -> np.ndarray:
    source = channel["DataSource"]["S3DataSource"]
    uri = source["S3Uri"]
    if source.get("S3DataType") == "ManifestFile":
        manifest = json.loads(_read(account_id, region, uri))
        prefix = manifest[0]["prefix"]
        uris = [prefix + name for name in manifest[1:]]
    elif source.get("S3DataType") == "S3Prefix":
        bucket, key = _split(uri)
        backend = _s3(account_id, region)
        uris = sorted(f"s3://{bucket}/{k}" for k in backend.get_bucket(bucket).keys.keys() if k.startswith(key))
    else:
        uris = [uri]
    return np.vstack([records_to_matrix(_read(account_id, region, u)) for u in uris])


def _encode_predictions(model, X: np.ndarray) -> bytes:
    from sagemaker.amazon.record_pb2 import Record
    from sagemaker.serializer_utils import _write_recordio

    from backends.format import models

    out = io.BytesIO()
    record = Record()
    if isinstance(model, models.PCAModel):
        projections = model.transform(X)[:, ::-1]  # the endpoint answers in storage order
        for row in projections:
            record.Clear()
            record.label["projection"].float32_tensor.values.extend(row.tolist())
            _write_recordio(out, record.SerializeToString())
    else:
        labels, distances = model.assign(X)
        for label, distance in zip(labels, distances):
            record.Clear()
            record.label["closest_cluster"].float32_tensor.values.append(float(label))
            record.label["distance_to_cluster"].float32_tensor.values.append(float(distance))
            _write_recordio(out, record.SerializeToString())
    return out.getvalue()


class SageMakerHarness:
    def __init__(self, steps=DEFAULT_STEPS, billable_seconds: int = 42):
        self.steps = list(steps)
        self.billable_seconds = billable_seconds
        self.created: list[str] = []
        self.describes: dict[str, int] = {}
        self.training_requests: list[dict] = []  # CreateTrainingJob request bodies, as sent
        self.invocations = 0
        self.fail_invocations = False
        self._failures: list[str] = []
        self._pending_failure: dict[str, str] = {}
        self._progress: dict[str, int] = {}
        self._stack: ExitStack | None = None

    # -- scripting -------------------------------------------------------------------------
    def fail_next(self, reason: str) -> None:
        self._failures.append(reason)

    # -- the patches -------------------------------------------------------------------------
    def __enter__(self) -> "SageMakerHarness":
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        harness = self
        create_training_response = SageMakerResponse.create_training_job

        def record_training_request(response):
            body = response.body
            harness.training_requests.append(json.loads(body.decode() if isinstance(body, bytes) else body))
            return create_training_response(response)
        create_training = SageMakerModelBackend.create_training_job
        describe_training = SageMakerModelBackend.describe_training_job
        create_transform = SageMakerModelBackend.create_transform_job

        def create_training_job(backend, *args, **kwargs):
            job = create_training(backend, *args, **kwargs)
            job.training_job_status, job.secondary_status = "InProgress", "Starting"
            job.secondary_status_transitions = []
            job.final_metric_data_list = []
            job.failure_reason = None
            if harness._failures:
                harness._pending_failure[job.training_job_name] = harness._failures.pop(0)
            harness.created.append(job.training_job_name)
            harness._progress[job.training_job_name] = 0
            return job

        def describe_training_job(backend, training_job_name):
            job = backend.training_jobs.get(training_job_name)
            if job is not None and job.training_job_status == "InProgress":
                harness._advance(backend, job)
            harness.describes[training_job_name] = harness.describes.get(training_job_name, 0) + 1
            return describe_training(backend, training_job_name)

        def create_transform_job(backend, *args, **kwargs):
            job = create_transform(backend, *args, **kwargs)
            harness._play_transform(backend, job)
            return job

        def invoke_endpoint(response):
            return harness._invoke(response)

        self._stack = ExitStack()
        for target, name, new in (
            (SageMakerResponse, "create_training_job", record_training_request),
            (SageMakerModelBackend, "create_training_job", create_training_job),
            (SageMakerModelBackend, "describe_training_job", describe_training_job),
            (SageMakerModelBackend, "create_transform_job", create_transform_job),
            (SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint),
        ):
            self._stack.enter_context(mock.patch.object(target, name, new))
        # Endpoints take binary RecordIO bodies: keep moto from decoding them as UTF-8.
        self._stack.enter_context(mock.patch.object(SageMakerRuntimeResponse, "use_raw_body", True, create=True))
        return self

    def __exit__(self, *exc) -> None:
        assert self._stack is not None
        self._stack.close()

    # -- training --------------------------------------------------------------------------
    def _advance(self, backend, job) -> None:
        name = job.training_job_name
        step = self._progress[name]
        if step < len(self.steps):
            status, secondary, message = self.steps[step]
            job.training_job_status, job.secondary_status = status, secondary
            job.secondary_status_transitions.append({"Status": secondary, "StatusMessage": message})
            self._progress[name] = step + 1
            return
        job.failure_reason = self._pending_failure.pop(name, None) or self._play_training(backend, job)
        if job.failure_reason:
            job.training_job_status, job.secondary_status = "Failed", "Failed"
            job.secondary_status_transitions.append({"Status": "Failed", "StatusMessage": job.failure_reason})
        else:
            job.training_job_status, job.secondary_status = "Completed", "Completed"
            job.secondary_status_transitions.append(
                {"Status": "Completed", "StatusMessage": "Training job completed"})
            job.billable_time_in_seconds = self.billable_seconds

    def _play_training(self, backend, job) -> str | None:
        """Run the emulator on the job's S3 input; returns a failure reason or None."""
        from backends.algorithms import kmeans, pca
        from backends.format import models
        from backends.format.hyperparameters import HyperparameterError

        image = job.algorithm_specification["TrainingImage"]
        algorithm = "kmeans" if "/kmeans:" in image else "pca" if "/pca:" in image else None
        if algorithm is None:
            return f"AlgorithmError: the harness plays only the built-in pca and kmeans images, not {image}"
        tags = {t["Key"]: t["Value"] for t in job.tags}
        seed = int(tags.get("workbench:seed", "0"))
        channel = next(c for c in job.input_data_config if c["ChannelName"] == "train")
        X = _channel_matrix(backend.account_id, backend.region_name, channel)
        try:
            with tempfile.TemporaryDirectory() as scratch:
                path = Path(scratch) / "model.tar.gz"
                if algorithm == "pca":
                    models.save_pca(pca.fit_pca(X, job.hyper_parameters, seed=seed), path)
                else:
                    model, metrics = kmeans.fit_kmeans(X, job.hyper_parameters, seed=seed)
                    models.save_kmeans(model, path)
                    job.final_metric_data_list = [
                        {"MetricName": f"train:{k}", "Value": float(v), "Timestamp": job.creation_time}
                        for k, v in metrics.items() if k in ("msd", "ssd")
                    ]
                _put(backend.account_id, backend.region_name, job.model_artifacts["S3ModelArtifacts"],
                     path.read_bytes())
        except (HyperparameterError, ValueError) as exc:
            return f"ClientError: {exc}"
        return None

    # -- models behind endpoints and transform jobs -----------------------------------------
    @staticmethod
    def _model_of(backend, model_name: str):
        from backends.format import models

        model = backend._models[model_name]
        url = (model.primary_container or {}).get("ModelDataUrl")
        return models.load_model(_read(backend.account_id, backend.region_name, url))

    def _invoke(self, response):
        from moto.sagemaker.models import sagemaker_backends

        self.invocations += 1
        if self.fail_invocations:
            body = json.dumps({"Message": "Received client error (400) from model with message "
                                          "\"unable to evaluate payload provided\".",
                               "OriginalStatusCode": 400, "OriginalMessage": "unable to evaluate payload provided"})
            return 424, {"status": 424, "Content-Type": "application/json", "x-amzn-ErrorType": "ModelError"}, body
        backend = sagemaker_backends[response.current_account][response.region]
        endpoint = backend.endpoints[response.path.split("/")[2]]
        config = backend.endpoint_configs[endpoint.endpoint_config_name]
        model = self._model_of(backend, config.production_variants[0]["ModelName"])
        body = response.body if isinstance(response.body, bytes) else response.body.encode("latin-1")
        X = records_to_matrix(body)
        return 200, {"Content-Type": "application/x-recordio-protobuf"}, _encode_predictions(model, X)

    def _play_transform(self, backend, job) -> None:
        model = self._model_of(backend, job.model_name)
        source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
        X = records_to_matrix(_read(backend.account_id, backend.region_name, source))
        output = job.transform_output["S3OutputPath"].rstrip("/") + "/" + source.rsplit("/", 1)[-1] + ".out"
        _put(backend.account_id, backend.region_name, output, _encode_predictions(model, X))


# ---------------------------------------------------------------------------------------------
# Docker: is there a daemon, and the local-mode test image (built without any registry)
# ---------------------------------------------------------------------------------------------
TEST_IMAGE = os.environ.get("WORKBENCH_TEST_IMAGE", "county-workbench-algorithms:test")


def docker_unavailable_reason() -> str | None:
    """None when a Docker daemon and Compose are usable, else why not (for pytest.skip)."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH (CI installs one with scripts/ci_docker.sh)"
    try:
        done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                              text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer within 20 s"
    if done.returncode != 0:
        return "no Docker daemon is running (start one with scripts/ci_docker.sh)"
    compose_v2 = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True).returncode == 0
    if not compose_v2 and shutil.which("docker-compose") is None:
        return "Docker Compose is missing (apt-get install docker-compose, or scripts/ci_docker.sh)"
    return None


def ensure_test_image(tag: str = TEST_IMAGE) -> str:
    """The test image, (re)imported from a root filesystem of this machine's Python when missing or stale."""
    from backends.container import rootfs

    if rootfs.image_fingerprint(tag) != rootfs.source_fingerprint():
        subprocess.run([sys.executable, "-m", "backends.container.rootfs", "--import", tag], check=True,
                       cwd=Path(__file__).resolve().parents[2], capture_output=True)
    return tag


@pytest.fixture()
def aws_env(monkeypatch, tmp_path):
    """Fake credentials and a region, and nothing from the machine's own AWS or workbench settings."""
    for name in list(os.environ):
        if name.startswith("WORKBENCH_SAGEMAKER_") or name in (
                "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION",
                "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class _TimeWithoutSleep:
    """The time module, except that sleep() only records how long it was asked to sleep."""

    def __init__(self, record):
        self._record = record

    def sleep(self, seconds):
        self._record(seconds)

    def __getattr__(self, name):
        import time

        return getattr(time, name)


@pytest.fixture()
def moto_sagemaker(aws_env, monkeypatch):
    """moto's SageMaker and S3 with the harness playing the algorithms; poll sleeps recorded, not slept.

    The backends poll through `sagemaker_common.sleep`; the SDK's own wait loops
    (sagemaker.session: wait_for_job, wait_for_endpoint, …) are patched too, in case a path uses them.
    """
    from moto import mock_aws

    pass  # first: it imports the SDK quietly
    import sagemaker.session

    sleeps: list[float] = []
    sdk_sleeps: list[float] = []
    monkeypatch.setattr(sagemaker_common, "sleep", sleeps.append)
    monkeypatch.setattr(sagemaker.session, "time", _TimeWithoutSleep(sdk_sleeps.append))
    with mock_aws(), SageMakerHarness() as harness:
        import boto3

        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        harness.sleeps, harness.sdk_sleeps = sleeps, sdk_sleeps
        yield harness


@pytest.fixture()
def cloud_backend(moto_sagemaker):
    from backends import registry

    return registry.create_backend("sagemaker", role=ROLE, bucket=BUCKET, poll_seconds=7)


@pytest.fixture(scope="session")
def local_mode_image():
    """The local-mode test image; skips (or fails, with WORKBENCH_REQUIRE_DOCKER=1) without Docker."""
    reason = docker_unavailable_reason()
    if reason:
        if os.environ.get("WORKBENCH_REQUIRE_DOCKER"):
            pytest.fail(f"WORKBENCH_REQUIRE_DOCKER is set but {reason}")
        pytest.skip(f"local mode needs Docker: {reason}")
    return ensure_test_image()


@pytest.fixture()
def local_backend(local_mode_image):
    from backends import registry

    return registry.create_backend("sagemaker-local", image_uri=local_mode_image)
