"""Fixtures of the core tests: the census table, a moto S3, a clean environment.
"""
from __future__ import annotations

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from workbench.core import settings, sources


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Never read the developer's WORKBENCH_* settings or touch their real cache."""
    monkeypatch.delenv(settings.ENV_DEFAULT_DATA, raising=False)
    monkeypatch.delenv(settings.ENV_WORKSPACE, raising=False)
    monkeypatch.setenv(settings.ENV_CACHE_DIR, str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def census_bytes(census_csv) -> bytes:
    return census_csv.read_bytes()


@pytest.fixture(scope="session")
def census_raw(census_csv) -> pd.DataFrame:
    return sources.read_csv_path(census_csv)


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 with the walkthrough's (empty) public bucket; yields a client to fill it."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=sources.DEFAULT_BUCKET)
        yield client
