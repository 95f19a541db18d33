from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"The shared fixtures folder {SHARED} is missing; it must sit beside the repository.")
    return SHARED


@pytest.fixture(scope="session")
def census_csv(shared_dir) -> Path:
    return shared_dir / "data" / "acs2015_county_data.csv"


@pytest.fixture(scope="session")
def sagemaker_fixtures(shared_dir) -> Path:
    return shared_dir / "fixtures" / "sagemaker-artifacts"


@pytest.fixture(scope="session")
def mxnet_fixtures(shared_dir) -> Path:
    return shared_dir / "fixtures" / "mxnet-ndarray"
