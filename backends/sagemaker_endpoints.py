"""The workbench's live SageMaker endpoints: list them with their hourly cost, and delete them
(forgotten endpoints cost money). Only endpoints tagged as the workbench's are touched."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import botocore.exceptions

from backends.base import BackendError
from backends.sagemaker_common import TAG_KEY, TAG_VALUE, aws_message, boto_session, is_workbench, tags_dict
from backends.sagemaker_settings import SageMakerSettings, estimate_cost, resolve_settings


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
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
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
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise BackendError(f"No endpoint {name!r} to delete: {aws_message(exc)}") from None
    if not is_workbench(tags):
        raise BackendError(f"Endpoint {name!r} was not created by the workbench (it lacks the "
                           f"{TAG_KEY}={TAG_VALUE} tag); delete it in the SageMaker console if you mean to.")
    try:
        return delete_endpoint_resources(client, name)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise BackendError(f"Could not delete endpoint {name!r}: {aws_message(exc)}") from None
