"""SageMaker backend settings: what either SageMaker backend can be told, checked in one place,
and the on-demand prices behind every cost estimate.

No SDK import here, so a settings form or `--help` costs nothing. Settings come, in this
order, from explicit values, the environment (`WORKBENCH_SAGEMAKER_*`), then the defaults.
Credentials are never a setting: boto3's standard chain finds them.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from backends.format.hyperparameters import whole_number

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

    def public(self) -> dict[str, Any]:
        """The settings that are safe to show or store (no role, bucket or profile)."""
        return {k: v for k, v in asdict(self).items() if k not in SECRET_SETTINGS}


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
_INT_SETTINGS = {f["name"]: f["minimum"] for f in SETTINGS_FIELDS if f["kind"] == "int"}
_FIELD_NAMES = {f.name for f in fields(SageMakerSettings)}


def settings_fields(backend: str) -> list[dict[str, Any]]:
    """The settings form for one backend ("sagemaker" or "sagemaker-local"), with defaults."""
    defaults = SageMakerSettings()
    out = []
    for spec in SETTINGS_FIELDS:
        if backend in spec["backends"]:
            item = {**spec, "default": getattr(defaults, spec["name"]), "env": ENV_PREFIX + spec["name"].upper()}
            out.append(item)
    return out


MAX_POLL_SECONDS = 3600.0  # a status check at least hourly; far larger ones overflow time.sleep mid-job


def _poll_seconds(value: Any) -> float:
    """A pause between status polls: refused, not clamped, when not a number, negative or over
    MAX_POLL_SECONDS (an infinite or huge one would end in time.sleep's OverflowError mid-job)."""
    if isinstance(value, bool):
        raise ValueError(f"poll_seconds must be a number of seconds, got {value!r}.")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"poll_seconds must be a number of seconds, got {value!r}.") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_POLL_SECONDS:
        raise ValueError(f"poll_seconds must be a finite number of seconds, at least 0 and at most "
                         f"{MAX_POLL_SECONDS:g}, got {value!r}.")
    return seconds


def resolve_settings(explicit: Mapping[str, Any] | None = None) -> SageMakerSettings:
    """Explicit values (the backend's construction) > WORKBENCH_SAGEMAKER_* > defaults, checked.

    None values are ignored, so a form or the CLI can pass every field and only the set ones
    apply. The region also falls back to AWS_REGION, which boto3 itself does not read."""
    explicit = {k: v for k, v in (explicit or {}).items() if v is not None}
    unknown = set(explicit) - _FIELD_NAMES
    if unknown:
        raise ValueError(f"Unknown SageMaker setting(s): {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {}
    for name in _FIELD_NAMES:
        text = os.environ.get(ENV_PREFIX + name.upper(), "").strip()
        if text:
            values[name] = text
    if "region" not in values and os.environ.get("AWS_REGION", "").strip():
        values["region"] = os.environ["AWS_REGION"].strip()
    values.update(explicit)
    for name, minimum in _INT_SETTINGS.items():
        if name in values:
            values[name] = whole_number(values[name], name, minimum)
    if "poll_seconds" in values:
        values["poll_seconds"] = _poll_seconds(values["poll_seconds"])
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
