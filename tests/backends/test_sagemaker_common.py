"""backends.sagemaker_common and sagemaker_endpoints offline: one-line BackendErrors, and no
bucket name or role ARN in any error text.
"""
from __future__ import annotations

import boto3.exceptions
import botocore.exceptions
import pytest

from backends import sagemaker_common, sagemaker_endpoints
from backends.base import BackendError
from backends.sagemaker_settings import resolve_settings

BUCKET = "secret-analyst-bucket-123"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-Secret"


@pytest.fixture
def offline(aws_env, monkeypatch):
    """AWS credentials and a region, with every endpoint on a closed local port."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")


def test_offline_default_bucket_lookup_is_a_one_line_backend_error(offline):
    settings = resolve_settings({"role": ROLE})
    session = sagemaker_common.sagemaker_session(settings)
    with pytest.raises(BackendError, match="default SageMaker bucket: could not connect to AWS") as info:
        sagemaker_common.resolve_bucket(settings, session, lambda _m: None)
    assert "\n" not in str(info.value) and ROLE not in str(info.value)


def test_offline_endpoints_list_and_delete_are_backend_errors(offline):
    with pytest.raises(BackendError, match="Could not list SageMaker endpoints: could not connect to AWS"):
        sagemaker_endpoints.list_workbench_endpoints(resolve_settings({}))
    with pytest.raises(BackendError, match="No endpoint 'x' to delete: could not connect"):
        sagemaker_endpoints.delete_workbench_endpoint("x", resolve_settings({}))


def test_connection_errors_name_the_service_not_the_bucket():
    error = botocore.exceptions.EndpointConnectionError(
        endpoint_url=f"https://{BUCKET}.s3.us-east-1.amazonaws.com/input/job/matrix.pbr")
    message = sagemaker_common.aws_message(error)
    assert BUCKET not in message and "s3.us-east-1.amazonaws.com" in message


def test_upload_failures_and_client_errors_carry_no_bucket_or_role():
    client_error = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": f"User cannot assume {ROLE} to write s3://{BUCKET}/x"}},
        "PutObject")
    try:
        try:
            raise client_error
        except botocore.exceptions.ClientError as e:
            raise boto3.exceptions.S3UploadFailedError(f"Failed to upload /tmp/f to {BUCKET}/input/x: {e}") from None
    except boto3.exceptions.S3UploadFailedError as upload_error:
        message = sagemaker_common.aws_message(upload_error)
    assert message.startswith("AccessDenied: User cannot assume <the execution role>")
    assert BUCKET not in message and "123456789012" not in message
    other = RuntimeError(f"odd failure at https://s3.amazonaws.com/{BUCKET}/key and s3://{BUCKET}")
    assert BUCKET not in sagemaker_common.aws_message(other)
    assert "named" not in sagemaker_common.aws_message(RuntimeError("named x"), hide=("named",))


def test_aws_region_is_honoured(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert sagemaker_common.boto_session(resolve_settings({})).region_name == "eu-west-3"
    assert sagemaker_common.boto_session(resolve_settings({"region": "ap-south-1"})).region_name == "ap-south-1"
