"""Fixtures shared by the whole suite, and the markers that give a fast inner loop.

Markers (see pytest.ini): `docker` for tests that run real containers, `browser` for the
real-Chromium tests, `slow` for the long ones (the benchmark smoke run, the large-k app sweep,
the county-geometry rebuild). For example
`./run test -m "not docker and not browser and not slow"`.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


# The SageMaker harness's fixtures (aws_env, moto_sagemaker, cloud_backend, local_backend, …) for every test.
pytest_plugins = ("tests.support.sagemaker_harness",)


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


@pytest.fixture(scope="module")
def census_prepared(census_csv):
    """The census table prepared as the walkthrough prepares it (every feature, min-max)."""
    from workbench.core import pipeline, sources

    return pipeline.prepare_table(sources.read_csv_path(census_csv))


@pytest.fixture
def app_env(monkeypatch, census_csv, tmp_path):
    """The census data as the default dataset and a private workspace, for one test."""
    if not census_csv.is_file():
        pytest.fail(f"The census data {census_csv} is missing.")
    monkeypatch.setenv("WORKBENCH_DEFAULT_DATA", str(census_csv))
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path / "workspace"))
    # Paths typed in the app are read only inside these folders: the test's own and the data's.
    monkeypatch.setenv("WORKBENCH_ALLOWED_ROOTS", os.pathsep.join([str(tmp_path), str(census_csv.parent)]))
    return tmp_path / "workspace"


@pytest.fixture(scope="session")
def persistent_cache(request, tmp_path_factory):
    """A folder that outlives the session (pytest's cache), or a temporary one when the cache
    plugin is off (`-p no:cacheprovider`): for slow, rebuildable things such as the county map."""
    cache = getattr(request.config, "cache", None)

    def folder(name: str) -> Path:
        return Path(cache.mkdir(name)) if cache is not None else tmp_path_factory.mktemp(name)

    return folder


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tests that need a Docker daemon are marked `docker` by the fixture they use."""
    for item in items:
        if {"local_mode_image", "local_backend"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)


@pytest.fixture
def census_api(monkeypatch, tmp_path):
    """A stand-in Census Data API on localhost (tests/support/census_api.py), named by
    WORKBENCH_CENSUS_API_URL, with a test key in CENSUS_API_KEY and a private cache. Yields the
    stand-in: set its units and values, read its requests."""
    from tests.support.census_api import CensusStandIn, Server

    stand_in = CensusStandIn(units=[])
    server = Server(stand_in).start()
    monkeypatch.setenv("WORKBENCH_CENSUS_API_URL", server.url)
    monkeypatch.setenv("CENSUS_API_KEY", "stand-in-key-0123456789")
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    stand_in.url = server.url
    try:
        yield stand_in
    finally:
        server.stop()
