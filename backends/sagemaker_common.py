"""What the two SageMaker backends share: settings, SDK sessions, job names and tags, polling,
cost estimates, and the workbench's endpoints (listing and clean-up).

SDK: the SageMaker Python SDK v2 (`sagemaker>=2.257,<3`). Version 3 dropped the built-in
algorithm estimators (`sagemaker.PCA`, `sagemaker.KMeans`, `record_set`) and pulls in
mlflow, so the workbench stays on v2.

Settings come, in this order, from the backend's keyword arguments, the innermost
`backend_settings(...)` block (how the CLI and the app pass what the analyst chose), the
environment (`WORKBENCH_SAGEMAKER_*`), then the defaults. Credentials are never a setting:
boto3's standard chain finds them (environment, ~/.aws, SSO, an instance or task role).
Nothing the analyst types — role, bucket — is logged, written to a run directory or put in
a progress line.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from backends import hyperparameters as hpmod
from backends.base import BackendError, Progress

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
# Cost estimates: on-demand list prices in USD per instance-hour, us-east-1, as published
# on the SageMaker pricing page. Estimates only: other regions, savings plans and spot
# differ. Unknown instance types give no estimate rather than a wrong one.
# ---------------------------------------------------------------------------------------
TRAINING_PRICE_PER_HOUR = {
    "ml.m4.xlarge": 0.24, "ml.m4.2xlarge": 0.48, "ml.m4.4xlarge": 0.96, "ml.m4.10xlarge": 2.40,
    "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461, "ml.m5.4xlarge": 0.922,
    "ml.m5.12xlarge": 2.765, "ml.m5.24xlarge": 5.53,
    "ml.c4.xlarge": 0.239, "ml.c4.2xlarge": 0.477, "ml.c4.4xlarge": 0.955, "ml.c4.8xlarge": 1.91,
    "ml.c5.xlarge": 0.204, "ml.c5.2xlarge": 0.408, "ml.c5.4xlarge": 0.816, "ml.c5.9xlarge": 1.836,
    "ml.c5.18xlarge": 3.672,
    "ml.p2.xlarge": 1.125, "ml.p3.2xlarge": 3.825, "ml.g4dn.xlarge": 0.736,
}
HOSTING_PRICE_PER_HOUR = {
    "ml.t2.medium": 0.056, "ml.t2.large": 0.111, "ml.t2.xlarge": 0.223,
    "ml.m4.xlarge": 0.24, "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461,
    "ml.c4.large": 0.119, "ml.c4.xlarge": 0.239, "ml.c5.large": 0.102, "ml.c5.xlarge": 0.204,
}


def estimate_cost(instance_type: str, instance_count: int, seconds: float, *, hosting: bool = False) -> float | None:
    """Dollars for `seconds` of `instance_count` instances, or None for an unknown type.

    SageMaker's BillableTimeInSeconds is per instance: multiply by the instance count.
    """
    price = (HOSTING_PRICE_PER_HOUR if hosting else TRAINING_PRICE_PER_HOUR).get(instance_type)
    if price is None or seconds is None:
        return None
    return round(price * instance_count * float(seconds) / 3600.0, 6)


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------
ENV_PREFIX = "WORKBENCH_SAGEMAKER_"
DEFAULT_IMAGE = "county-workbench-algorithms:latest"


@dataclass
class SageMakerSettings:
    """Everything either SageMaker backend can be told. See SETTINGS_FIELDS for the meanings."""

    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    max_runtime_seconds: int = 3600
    volume_size_gb: int = 30
    role: str | None = None
    bucket: str | None = None
    prefix: str = "county-workbench"
    region: str | None = None
    profile: str | None = None
    poll_seconds: float = 15.0
    endpoint_instance_type: str = "ml.m5.large"
    image_uri: str = DEFAULT_IMAGE
    # Called with the job's record (name, algorithm, region…; never the role or bucket)
    # just before the job is submitted, so a registry can re-attach after an interruption.
    on_submit: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        """The settings that are safe to show or store (no role, bucket or profile)."""
        return {k: v for k, v in asdict(self).items() if k not in SECRET_SETTINGS and k != "on_submit"}


# One entry per setting: what a form or a --help needs. kind: text, int, float, choice.
# `backends` says which backend uses it; `secret` ones are never shown back or stored.
SETTINGS_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "instance_type", "label": "Training instance type", "kind": "choice", "backends": ("sagemaker",),
     "choices": tuple(sorted(TRAINING_PRICE_PER_HOUR)), "help": "The ml.* instance each training job runs on."},
    {"name": "instance_count", "label": "Instance count", "kind": "int", "minimum": 1, "backends": ("sagemaker",),
     "help": "Instances per training job. Above 1 the rows are split into one S3 shard per instance "
             "(ShardedByS3Key) and SageMaker merges the per-instance results; for data beyond one machine."},
    {"name": "max_runtime_seconds", "label": "Maximum runtime (s)", "kind": "int", "minimum": 60,
     "backends": ("sagemaker",), "help": "SageMaker stops a job that runs longer than this."},
    {"name": "volume_size_gb", "label": "Volume size (GB)", "kind": "int", "minimum": 1, "backends": ("sagemaker",),
     "help": "The EBS volume attached to each training instance."},
    {"name": "role", "label": "Execution role ARN", "kind": "text", "secret": True, "backends": ("sagemaker",),
     "help": "The IAM role SageMaker assumes to read the data and write the model."},
    {"name": "bucket", "label": "S3 bucket", "kind": "text", "secret": True, "backends": ("sagemaker",),
     "help": "Where training data and artifacts go (default: the SDK's sagemaker-<region>-<account>)."},
    {"name": "prefix", "label": "S3 key prefix", "kind": "text", "backends": ("sagemaker",),
     "help": "Key prefix for the workbench's objects in the bucket."},
    {"name": "region", "label": "AWS region", "kind": "text", "backends": ("sagemaker",),
     "help": "Default: AWS_REGION, AWS_DEFAULT_REGION or your profile's region."},
    {"name": "profile", "label": "AWS profile", "kind": "text", "secret": True, "backends": ("sagemaker",),
     "help": "A named profile from ~/.aws (default: the standard credential chain)."},
    {"name": "endpoint_instance_type", "label": "Endpoint instance type", "kind": "choice",
     "choices": tuple(sorted(HOSTING_PRICE_PER_HOUR)), "backends": ("sagemaker",),
     "help": "Only for the optional real-time endpoint and Batch Transform."},
    {"name": "image_uri", "label": "Algorithm image", "kind": "text", "backends": ("sagemaker-local",),
     "help": "The local Docker image built from backends/container/Dockerfile."},
)
SECRET_SETTINGS = frozenset(f["name"] for f in SETTINGS_FIELDS if f.get("secret"))
_INT_SETTINGS = {"instance_count": 1, "max_runtime_seconds": 60, "volume_size_gb": 1}
_FIELD_NAMES = {f.name for f in fields(SageMakerSettings)}

_overrides: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("workbench_sagemaker_settings", default={})


def settings_fields(backend: str) -> list[dict[str, Any]]:
    """The settings form for one backend ("sagemaker" or "sagemaker-local"), with defaults."""
    defaults = SageMakerSettings()
    out = []
    for spec in SETTINGS_FIELDS:
        if backend in spec["backends"]:
            item = {**spec, "default": getattr(defaults, spec["name"]), "env": ENV_PREFIX + spec["name"].upper()}
            out.append(item)
    return out


@contextlib.contextmanager
def backend_settings(**settings: Any) -> Iterator[None]:
    """Settings for every SageMaker backend created inside the block (this thread/context only).

    None values are ignored, so a form or CLI can pass every field and only set ones apply:

        with backend_settings(instance_type="ml.c5.xlarge", role=role_arn):
            pipeline.train_pca(X, 33, backend="sagemaker", output_dir=..., progress=...)
    """
    unknown = set(settings) - _FIELD_NAMES
    if unknown:
        raise ValueError(f"Unknown SageMaker setting(s): {', '.join(sorted(unknown))}.")
    merged = {**_overrides.get(), **{k: v for k, v in settings.items() if v is not None}}
    token = _overrides.set(merged)
    try:
        yield
    finally:
        _overrides.reset(token)


def resolve_settings(explicit: Mapping[str, Any] | None = None) -> SageMakerSettings:
    """Keyword arguments > backend_settings(...) > WORKBENCH_SAGEMAKER_* > defaults, checked."""
    explicit = {k: v for k, v in (explicit or {}).items() if v is not None}
    unknown = set(explicit) - _FIELD_NAMES
    if unknown:
        raise ValueError(f"Unknown SageMaker setting(s): {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {}
    for name in _FIELD_NAMES - {"on_submit"}:
        text = os.environ.get(ENV_PREFIX + name.upper(), "").strip()
        if text:
            values[name] = text
    values.update(_overrides.get())
    values.update(explicit)
    for name, minimum in _INT_SETTINGS.items():
        if name in values:
            values[name] = _as_int(name, values[name], minimum)
    if "poll_seconds" in values:
        try:
            values["poll_seconds"] = max(0.0, float(values["poll_seconds"]))
        except (TypeError, ValueError):
            raise ValueError(f"poll_seconds must be a number of seconds, got {values['poll_seconds']!r}.") from None
    for name in ("role", "bucket", "region", "profile", "prefix", "instance_type", "endpoint_instance_type", "image_uri"):
        if isinstance(values.get(name), str):
            values[name] = values[name].strip() or None
    settings = SageMakerSettings(**{k: v for k, v in values.items() if v is not None})
    if not settings.instance_type.startswith("ml."):
        raise ValueError(f"instance_type must be a SageMaker ml.* instance type, e.g. ml.m5.large; got "
                         f"{settings.instance_type!r}.")
    if settings.bucket and (settings.bucket.startswith("s3://") or "/" in settings.bucket):
        raise ValueError("bucket must be a bare S3 bucket name (no s3:// and no key); use prefix for the key.")
    settings.prefix = (settings.prefix or "").strip("/")
    return settings


def _as_int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}.") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}.")
    return number


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
    except botocore.exceptions.ClientError as exc:
        raise BackendError(f"Could not find or create the default SageMaker bucket: {aws_message(exc)} "
                           "Set the bucket setting (--bucket, WORKBENCH_SAGEMAKER_BUCKET).") from None


def aws_message(exc: BaseException) -> str:
    """The human part of an AWS error."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}"
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return NO_CREDENTIALS
    return str(exc)


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
        except botocore.exceptions.ClientError as exc:
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


# ---------------------------------------------------------------------------------------
# The workbench's live endpoints: list and delete (forgotten endpoints cost money)
# ---------------------------------------------------------------------------------------
@dataclass
class EndpointInfo:
    name: str
    status: str
    created: str
    instance_type: str | None
    instance_count: int | None
    hourly_cost_usd: float | None
    kind: str | None
    algorithm: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _client(settings: SageMakerSettings | None, **overrides):
    settings = settings or resolve_settings(overrides)
    return boto_session(settings).client("sagemaker")


def list_workbench_endpoints(settings: SageMakerSettings | None = None, **overrides) -> list[EndpointInfo]:
    """Every endpoint in the region tagged as the workbench's, with its estimated hourly cost."""
    client = _client(settings, **overrides)
    found: list[EndpointInfo] = []
    try:
        for page in client.get_paginator("list_endpoints").paginate():
            for summary in page["Endpoints"]:
                tags = client.list_tags(ResourceArn=summary["EndpointArn"]).get("Tags", [])
                if not is_workbench(tags):
                    continue
                instance_type = count = None
                try:
                    config_name = client.describe_endpoint(EndpointName=summary["EndpointName"])["EndpointConfigName"]
                    variants = client.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
                    instance_type = variants[0].get("InstanceType")
                    count = int(variants[0].get("InitialInstanceCount") or 1)
                except (botocore.exceptions.ClientError, KeyError, IndexError):
                    pass
                values = tags_dict(tags)
                found.append(EndpointInfo(
                    name=summary["EndpointName"],
                    status=summary["EndpointStatus"],
                    created=str(summary.get("CreationTime")),
                    instance_type=instance_type,
                    instance_count=count,
                    hourly_cost_usd=estimate_cost(instance_type, count or 1, 3600, hosting=True) if instance_type else None,
                    kind=values.get(f"{TAG_KEY}:kind"),
                    algorithm=values.get(f"{TAG_KEY}:algorithm"),
                ))
    except botocore.exceptions.ClientError as exc:
        raise BackendError(f"Could not list SageMaker endpoints: {aws_message(exc)}") from None
    return found


def _ignore_missing(call, *args, **kwargs) -> bool:
    try:
        call(*args, **kwargs)
        return True
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in ("ValidationException", "ResourceNotFound") and ("Could not find" in message or "not found" in message.lower()):
            return False
        raise


def delete_model(client, model_name: str) -> bool:
    """Delete a model; False when it was already gone."""
    return _ignore_missing(client.delete_model, ModelName=model_name)


def delete_endpoint_resources(client, endpoint_name: str, *, config_name: str | None = None,
                              model_names: list[str] | None = None) -> list[str]:
    """Delete an endpoint, its endpoint config and its models; missing pieces are skipped."""
    deleted = []
    if config_name is None or model_names is None:
        try:
            config_name = config_name or client.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        except botocore.exceptions.ClientError:
            config_name = config_name or endpoint_name
        if model_names is None:
            try:
                variants = client.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
                model_names = [v["ModelName"] for v in variants if v.get("ModelName")]
            except botocore.exceptions.ClientError:
                model_names = []
    if _ignore_missing(client.delete_endpoint, EndpointName=endpoint_name):
        deleted.append(f"endpoint {endpoint_name}")
    if config_name and _ignore_missing(client.delete_endpoint_config, EndpointConfigName=config_name):
        deleted.append(f"endpoint config {config_name}")
    for model in model_names or []:
        if _ignore_missing(client.delete_model, ModelName=model):
            deleted.append(f"model {model}")
    return deleted


def delete_workbench_endpoint(name: str, settings: SageMakerSettings | None = None, **overrides) -> list[str]:
    """Delete one of the workbench's endpoints (with its config and model); refuses others'."""
    client = _client(settings, **overrides)
    try:
        arn = client.describe_endpoint(EndpointName=name)["EndpointArn"]
        tags = client.list_tags(ResourceArn=arn).get("Tags", [])
    except botocore.exceptions.ClientError as exc:
        raise BackendError(f"No endpoint {name!r} to delete: {aws_message(exc)}") from None
    if not is_workbench(tags):
        raise BackendError(f"Endpoint {name!r} was not created by the workbench (it lacks the "
                           f"{TAG_KEY}={TAG_VALUE} tag); delete it in the SageMaker console if you mean to.")
    try:
        return delete_endpoint_resources(client, name)
    except botocore.exceptions.ClientError as exc:
        raise BackendError(f"Could not delete endpoint {name!r}: {aws_message(exc)}") from None
