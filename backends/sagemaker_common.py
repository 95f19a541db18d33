"""What the two SageMaker backends share: SDK sessions, job names and tags, shards, the
estimators, polling, and the details of a finished job.

SDK: the SageMaker Python SDK v2 (`sagemaker>=2.257,<3`). Version 3 dropped the built-in
algorithm estimators (`sagemaker.PCA`, `sagemaker.KMeans`, `record_set`) and pulls in
mlflow, so the workbench stays on v2.

Settings (backends/sagemaker_settings.py) are given when a backend is made; then the
environment (`WORKBENCH_SAGEMAKER_*`), then the defaults apply. Credentials are never a setting:
boto3's standard chain finds them (environment, ~/.aws, SSO, an instance or task role).
Nothing the analyst types — role, bucket — is logged, written to a run directory or put in
a progress line.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from backends.base import Backend, BackendError, Progress
from backends.format import hyperparameters as hpmod
from backends.sagemaker_settings import SageMakerSettings, estimate_cost, resolve_settings

# Quiet the v2 SDK before it is imported: its deprecation banner and its config loader's
# INFO lines go to stdout, which would corrupt `--json` output.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
# Importing the SDK also changes process-wide state we undo at once: sagemaker-core installs
# rich tracebacks (sys.excepthook), and sagemaker.experiments calls logging.basicConfig(INFO)
# at import (normally on the first fit()), which would send every library's INFO to stderr.
_excepthook = sys.excepthook
_root_logger = logging.getLogger()
_root_state = (list(_root_logger.handlers), _root_logger.level)
import boto3  # noqa: E402
import boto3.exceptions  # noqa: E402
import botocore.exceptions  # noqa: E402
import sagemaker  # noqa: E402
import sagemaker.experiments.run  # noqa: E402,F401  (imported now, so its basicConfig runs here)
from sagemaker.amazon.kmeans import KMeans  # noqa: E402
from sagemaker.amazon.pca import PCA  # noqa: E402
from sagemaker.telemetry import telemetry_logging as _telemetry  # noqa: E402

sys.excepthook = _excepthook
_root_logger.handlers[:] = _root_state[0]
_root_logger.setLevel(_root_state[1])
# Telemetry off. The SDK would send a request to AWS after every fit() (and look up the
# account with STS first). Its own switch, TelemetryOptOut in an SDK config dict, makes every
# config lookup re-validate that dict against the SDK's JSON schema (~0.3 s each, 20+ per job),
# so the workbench turns the sender itself into a no-op.
_telemetry._send_telemetry_request = lambda *args, **kwargs: None


class _DropTroubleshootingLink(logging.Filter):
    """The SDK logs a generic troubleshooting link on every failed job; our error says what failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "troubleshooting guide" not in str(record.msg)


for _name in ("sagemaker", "sagemaker.estimator"):
    logging.getLogger(_name).addFilter(_DropTroubleshootingLink())

logger = logging.getLogger(__name__)

TAG_KEY = "workbench"
TAG_VALUE = "county-segmentation-workbench"
NAME_PREFIX = "county-wb"
TERMINAL_TRAINING = ("Completed", "Failed", "Stopped")
# Host settings the local container inherits, so it computes with the embedded backend's kernels.
PASSTHROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")



# ---------------------------------------------------------------------------------------
# Sessions and the clear messages when something is missing
# ---------------------------------------------------------------------------------------
NO_CREDENTIALS = (
    "No AWS credentials found. The workbench never asks for keys: configure them the standard way "
    "(`aws configure`, `aws sso login`, AWS_PROFILE, the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "environment variables, or an instance/task role)."
)
NO_REGION = (
    "No AWS region. Set AWS_REGION (or AWS_DEFAULT_REGION), a region in your AWS profile, or the "
    "region setting (--region, WORKBENCH_SAGEMAKER_REGION)."
)
NO_ROLE = (
    "No SageMaker execution role. Set the role setting (--role, WORKBENCH_SAGEMAKER_ROLE) to the ARN of an "
    "IAM role that SageMaker can assume and that can read and write the bucket "
    "(e.g. one with the AmazonSageMakerFullAccess policy)."
)


def boto_session(settings: SageMakerSettings, *, need_credentials: bool = True) -> boto3.Session:
    """A boto3 session for resolved settings (resolve_settings has already fallen back to
    AWS_REGION; boto3 then tries AWS_DEFAULT_REGION and the profile's region)."""
    try:
        session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except botocore.exceptions.ProfileNotFound:
        raise BackendError(f"The AWS profile named in the settings does not exist in your AWS config. {NO_CREDENTIALS}") from None
    if not session.region_name:
        raise BackendError(NO_REGION)
    if need_credentials:
        try:
            credentials = session.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:
            raise BackendError(f"{NO_CREDENTIALS} ({exc})") from None
        if credentials is None:
            raise BackendError(NO_CREDENTIALS)
    return session


def sagemaker_session(settings: SageMakerSettings) -> sagemaker.Session:
    boto = boto_session(settings)
    return sagemaker.Session(boto_session=boto, default_bucket=settings.bucket)


def resolve_role(settings: SageMakerSettings, session: sagemaker.Session) -> str:
    if settings.role:
        return settings.role
    try:  # inside SageMaker Studio or a notebook instance the SDK knows the role
        return sagemaker.get_execution_role(session)
    except Exception:  # noqa: BLE001 - any failure here means "not inside SageMaker"
        raise BackendError(NO_ROLE) from None


def resolve_bucket(settings: SageMakerSettings, session: sagemaker.Session, progress: Progress) -> str:
    if settings.bucket:
        return settings.bucket
    progress("No bucket set: using the SDK's default bucket sagemaker-<region>-<account>.")
    try:
        return session.default_bucket()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise BackendError(f"Could not find or create the default SageMaker bucket: {aws_message(exc)} "
                           "Set the bucket setting (--bucket, WORKBENCH_SAGEMAKER_BUCKET).") from None


# What an AWS error may carry that is never to be shown or stored: bucket names (in s3:// URIs,
# in virtual-hosted S3 endpoint URLs, in URL paths) and role ARNs.
_S3_URI = re.compile(r"s3://[^\s'\"]*")
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:(?:iam|sts)::\d{12}:(?:role|assumed-role)/[\w+=,.@/-]+")
_URL = re.compile(r"(https?)://([^/\s'\"]+)[^\s'\"]*")


def _host_without_bucket(host: str) -> str:
    match = re.search(r"(?:^|\.)(s3[.-].*)$", host)
    return match.group(1) if match else host


def redact(text: str, hide: tuple[str | None, ...] = ()) -> str:
    """`text` without bucket names or role ARNs (and without any of `hide`)."""
    for secret in hide:
        if secret:
            text = text.replace(secret, "<hidden>")
    text = _S3_URI.sub("s3://<bucket>/…", text)
    text = _ROLE_ARN.sub("<the execution role>", text)
    return _URL.sub(lambda m: f"{m.group(1)}://{_host_without_bucket(m.group(2))}", text)


def aws_message(exc: BaseException, hide: tuple[str | None, ...] = ()) -> str:
    """The human part of an AWS error, one line, with no bucket name or role ARN in it."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return redact(f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}", hide)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        where = getattr(exc, "kwargs", {}).get("endpoint_url") or ""
        host = _URL.match(where)
        service = f" ({_host_without_bucket(host.group(2))})" if host else ""
        return f"could not connect to AWS{service}: no network, or a proxy or firewall in the way."
    if isinstance(exc, boto3.exceptions.Boto3Error) and isinstance(exc.__context__, botocore.exceptions.ClientError):
        return aws_message(exc.__context__, hide)  # S3UploadFailedError: "Failed to upload … to bucket/key: …"
    return redact(" ".join(str(exc).split()), hide)


# ---------------------------------------------------------------------------------------
# Names and tags
# ---------------------------------------------------------------------------------------
def unique_name(kind: str) -> str:
    """A SageMaker-valid, unique name: county-wb-<kind>-<UTC time>-<random>, at most 63 characters."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"{NAME_PREFIX}-{kind}-{stamp}-{secrets.token_hex(3)}"
    if len(name) > 63:
        raise ValueError(f"Name {name!r} is longer than SageMaker's 63 characters.")
    return name


def workbench_tags(kind: str, **extra: Any) -> list[dict[str, str]]:
    """The tags that mark a resource as the workbench's (and say what it is)."""
    tags = [{"Key": TAG_KEY, "Value": TAG_VALUE}, {"Key": f"{TAG_KEY}:kind", "Value": kind}]
    tags += [{"Key": f"{TAG_KEY}:{key}", "Value": str(value)} for key, value in extra.items() if value is not None]
    return tags


def tags_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def is_workbench(tags: list[dict[str, str]]) -> bool:
    return tags_dict(tags).get(TAG_KEY) == TAG_VALUE


def job_record(job_name: str, algorithm: str, backend: str, settings: SageMakerSettings, *, region: str | None,
               seed: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What is recorded about a job before it is submitted: enough to re-attach, nothing typed."""
    record = {
        "job_name": job_name,
        "algorithm": algorithm,
        "backend": backend,
        "region": region,
        "seed": seed,
        "submitted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if backend == "sagemaker":
        record.update(instance_type=settings.instance_type, instance_count=settings.instance_count)
    record.update(extra or {})
    return record


# ---------------------------------------------------------------------------------------
# Several training instances: the data is split into one S3 object per instance
# ---------------------------------------------------------------------------------------
SHARDED = "ShardedByS3Key"
REPLICATED = "FullyReplicated"


def training_distribution(instance_count: int) -> str:
    """The train channel's S3DataDistributionType for a job on `instance_count` instances.

    Several instances: ShardedByS3Key, so each instance reads only its own S3 object (its share
    of the rows) and SageMaker's PCA / K-Means merge the per-instance results. One instance:
    FullyReplicated (the whole data set on the one machine).
    """
    return SHARDED if instance_count > 1 else REPLICATED


def shard_rows(rows: int, instance_count: Any) -> list[int]:
    """Rows in each S3 object `record_set` writes: one object per instance.

    The SDK's split (sagemaker.amazon.amazon_estimator._build_shards): equal shards of
    rows // instance_count, the remainder in the last one. Refuses, with what to do, an
    instance count that is not a positive whole number or that exceeds the rows (an instance
    would get no data).
    """
    if isinstance(instance_count, bool) or not isinstance(instance_count, int) or instance_count < 1:
        raise BackendError(f"instance_count must be a positive whole number of training instances, "
                           f"got {instance_count!r}.")
    if rows < instance_count:
        raise BackendError(
            f"instance_count is {instance_count} but the training data has only {rows:,} row(s): with "
            f"ShardedByS3Key each instance trains on its own shard of at least one row. Use an instance_count "
            f"of at most {rows:,} (--instance-count, WORKBENCH_SAGEMAKER_INSTANCE_COUNT); 1 suits any data "
            f"that fits one instance's memory and disk.")
    size = rows // instance_count
    return [size] * (instance_count - 1) + [rows - size * (instance_count - 1)]


# ---------------------------------------------------------------------------------------
# SDK estimators that send exactly the validated hyperparameters
# ---------------------------------------------------------------------------------------
def sagemaker_hyperparameters(algorithm: str, hp: Mapping[str, Any]) -> dict[str, str]:
    """The hyperparameters.json both SageMaker backends send, from validated hyperparameters.

    Required values, values that differ from SageMaker's defaults, and K-Means' force_dense
    (the SDK always sends it) — as the SDK itself sends only what was set. Validating the
    result again gives back `hp` exactly, so every backend trains on the same settings.
    """
    spec = hpmod.SPECS[algorithm]
    kept = {name: value for name, value in hp.items()
            if spec[name].required or name == "force_dense" or value != spec[name].default}
    return hpmod.to_sagemaker_strings(kept)


class _ExactHyperparameters:
    """Send the workbench's own hyperparameter strings (`sagemaker_hyperparameters`) unchanged.

    The SDK's descriptors cannot express everything SageMaker accepts (`auto` for
    extra_center_factor and local_lloyd_num_trials, k = 1), and validation already happened
    once, in backends/base.py, for every backend. So the cloud job's hyperparameters.json is
    the same map the local container gets.
    """

    exact_hyperparameters: dict[str, str] = {}

    def hyperparameters(self):
        return dict(self.exact_hyperparameters)


class WorkbenchPCA(_ExactHyperparameters, PCA):
    pass


class WorkbenchKMeans(_ExactHyperparameters, KMeans):
    pass


ESTIMATORS = {"pca": WorkbenchPCA, "kmeans": WorkbenchKMeans}


# ---------------------------------------------------------------------------------------
# Polling
# ---------------------------------------------------------------------------------------
def sleep(seconds: float) -> None:
    """The one sleep every poll loop uses (tests replace it)."""
    time.sleep(seconds)


def describe_line(description: Mapping[str, Any]) -> str:
    status = description.get("TrainingJobStatus") or description.get("TransformJobStatus") or description.get("EndpointStatus")
    secondary = description.get("SecondaryStatus")
    transitions = description.get("SecondaryStatusTransitions") or []
    message = transitions[-1].get("StatusMessage") if transitions else None
    line = f"{status}"
    if secondary and secondary != status:
        line += f" / {secondary}"
    if message:
        line += f" — {message}"
    return line


def _poll(describe: Callable[[], dict[str, Any]], line_of: Callable[[Mapping[str, Any]], str],
          ended: Callable[[Mapping[str, Any]], bool], progress: Progress, poll_seconds: float,
          label: str) -> dict[str, Any]:
    """Call describe() every poll_seconds until ended(description); report each new line."""
    last = None
    while True:
        description = describe()
        line = line_of(description)
        if line != last:
            progress(f"{label}: {line}")
            last = line
        if ended(description):
            return description
        sleep(poll_seconds)


def wait_for_training_job(client, job_name: str, progress: Progress, poll_seconds: float) -> dict[str, Any]:
    """Poll DescribeTrainingJob until the job ends; report every change of status."""
    def describe() -> dict[str, Any]:
        try:
            return client.describe_training_job(TrainingJobName=job_name)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise BackendError(f"Could not follow training job {job_name}: {aws_message(exc)}") from None

    return _poll(describe, describe_line, lambda d: d["TrainingJobStatus"] in TERMINAL_TRAINING, progress,
                 poll_seconds, job_name)


def wait_for_transform_job(client, job_name: str, progress: Progress, poll_seconds: float) -> dict[str, Any]:
    return _poll(lambda: client.describe_transform_job(TransformJobName=job_name),
                 lambda d: d["TransformJobStatus"], lambda d: d["TransformJobStatus"] in TERMINAL_TRAINING,
                 progress, poll_seconds, job_name)


def wait_for_endpoint(client, endpoint_name: str, progress: Progress, poll_seconds: float) -> dict[str, Any]:
    def in_service(description: Mapping[str, Any]) -> bool:
        status = description["EndpointStatus"]
        if status in ("Failed", "OutOfService", "Deleting"):
            reason = description.get("FailureReason") or status
            raise BackendError(f"Endpoint {endpoint_name} did not come into service: {reason}")
        return status == "InService"

    return _poll(lambda: client.describe_endpoint(EndpointName=endpoint_name), lambda d: d["EndpointStatus"],
                 in_service, progress, poll_seconds, f"Endpoint {endpoint_name}")


def finished_details(description: Mapping[str, Any]) -> dict[str, Any]:
    """Status, ARN, billable seconds, estimated cost and final metrics of an ended training job.

    `job_arn` is DescribeTrainingJob's TrainingJobArn: the runs registry records it (jobs.job_arn).
    """
    resources = description.get("ResourceConfig") or {}
    instance_type = resources.get("InstanceType")
    count = int(resources.get("InstanceCount") or 1)
    billable = description.get("BillableTimeInSeconds")
    final = {m["MetricName"]: float(m["Value"]) for m in description.get("FinalMetricDataList") or []}
    details = {
        "job_arn": description.get("TrainingJobArn"),
        "status": description.get("TrainingJobStatus"),
        "secondary_status": description.get("SecondaryStatus"),
        "instance_type": instance_type,
        "instance_count": count,
        "billable_seconds": billable,
        "estimated_cost_usd": estimate_cost(instance_type, count, billable) if billable is not None else None,
        "final_metrics": final,
        "training_image": (description.get("AlgorithmSpecification") or {}).get("TrainingImage"),
    }
    channels = {c.get("ChannelName"): c for c in description.get("InputDataConfig") or []}
    train_source = ((channels.get("train") or {}).get("DataSource") or {}).get("S3DataSource") or {}
    if train_source.get("S3DataDistributionType"):
        details["data_distribution"] = train_source["S3DataDistributionType"]
    metrics = {name.split(":", 1)[1]: value for name, value in final.items()
               if name.startswith("train:") and name.split(":", 1)[1] in ("msd", "ssd")}
    if metrics:
        details["metrics"] = metrics
    return details


def cost_line(details: Mapping[str, Any]) -> str:
    billable = details.get("billable_seconds")
    if billable is None:
        return "billable time not reported"
    text = f"{billable} billable second(s) on {details.get('instance_count', 1)} × {details.get('instance_type')}"
    cost = details.get("estimated_cost_usd")
    text += f", about ${cost:.4f} (on-demand us-east-1 list price)" if cost is not None else " (no price on file for this type)"
    return text


class SageMakerBackend(Backend):
    """What both SageMaker backends are made with: their settings, resolved and checked when the
    backend is made (backends.sagemaker_settings). Nothing is contacted until a job starts, so a
    missing credential or role shows then, in the job's message."""

    def __init__(self, **settings: Any):
        self.settings = resolve_settings(settings)


def describe_training_job(client: Any, job_name: str, failure: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A training job's description and tags; a BackendError starting with `failure` when AWS refuses."""
    try:
        description = client.describe_training_job(TrainingJobName=job_name)
        tags = client.list_tags(ResourceArn=description["TrainingJobArn"]).get("Tags", [])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise BackendError(f"{failure}: {aws_message(exc)}") from None
    return description, tags
