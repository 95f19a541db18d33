"""The conformance suite every backend passes, and the registry that finds them.

The suite runs against every backend in backends.registry, set up from the capabilities the
registry declares: one that needs AWS runs under moto with tests/support/sagemaker_harness.py
playing SageMaker's algorithms; one that needs Docker runs real containers (marked `docker`;
skipped without a daemon unless WORKBENCH_REQUIRE_DOCKER is set). A new backend is tested by
adding it to the registry.
"""
from __future__ import annotations

import numpy as np
import pytest

from backends import registry
from backends.base import Backend
from backends.format import models
from backends.format.hyperparameters import HyperparameterError
from tests.support.sagemaker_harness import BUCKET, ROLE


def _params():
    for name in registry.available_backends():
        marks = [pytest.mark.docker] if registry.spec(name).needs_docker else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=list(_params()))
def backend(request) -> Backend:
    """Each registered backend, configured as its capabilities ask."""
    spec = registry.spec(request.param)
    settings = {}
    if spec.needs_aws:
        request.getfixturevalue("moto_sagemaker")  # SageMaker played by the harness under moto
        settings.update(role=ROLE, bucket=BUCKET, poll_seconds=0)
    if spec.needs_docker:
        settings.update(image_uri=request.getfixturevalue("local_mode_image"))
    return registry.create_backend(request.param, **settings)


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=6.0, size=(4, 6))
    X = np.vstack([c + rng.normal(size=(60, 6)) for c in centres]).astype(np.float32)
    return X


def pca_hp(X, n):
    return {"feature_dim": X.shape[1], "num_components": n, "mini_batch_size": 100}


def test_pca_artifact_is_readable_and_shaped(backend, planted, tmp_path):
    job = backend.train_pca(planted, pca_hp(planted, 4), seed=1, output_dir=tmp_path)
    model = models.load_pca(job.artifact_path)
    assert (model.feature_dim, model.n_components) == (6, 4)
    assert np.all(np.diff(model.s) <= 0), "components must come back largest first"
    assert job.algorithm == "pca" and job.backend == backend.name and job.job_name


def test_kmeans_artifact_is_readable_and_shaped(backend, planted, tmp_path):
    job = backend.train_kmeans(planted, {"k": 4, "feature_dim": 6}, seed=1, output_dir=tmp_path)
    model = models.load_kmeans(job.artifact_path)
    assert model.centroids.shape == (4, 6)
    labels, _ = model.assign(planted)
    assert sorted(np.bincount(labels).tolist()) == [60, 60, 60, 60]


def test_projections_equal_the_exact_pca(backend, planted, tmp_path):
    job = backend.train_pca(planted, pca_hp(planted, 3), seed=0, output_dir=tmp_path)
    scores = models.load_pca(job.artifact_path).transform(planted)
    centred = planted.astype(np.float64) - planted.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:3].T
    # Up to sign per component.
    signs = np.sign((scores * expected).sum(0))
    np.testing.assert_allclose(scores * signs, expected, atol=1e-3)


def test_same_seed_gives_identical_artifacts(backend, planted, tmp_path):
    first = backend.train_kmeans(planted, {"k": 4, "feature_dim": 6}, seed=5, output_dir=tmp_path / "a")
    second = backend.train_kmeans(planted, {"k": 4, "feature_dim": 6}, seed=5, output_dir=tmp_path / "b")
    assert first.artifact_path.read_bytes() == second.artifact_path.read_bytes()


@pytest.mark.parametrize(
    "algorithm, hp, fragment",
    [
        ("pca", {"feature_dim": 6, "num_components": 0, "mini_batch_size": 10}, "num_components"),
        ("pca", {"feature_dim": 6, "num_components": 7, "mini_batch_size": 10}, "num_components"),
        ("pca", {"feature_dim": 5, "num_components": 2, "mini_batch_size": 10}, "feature_dim"),
        ("pca", {"feature_dim": 6, "num_components": 2, "mini_batch_size": 10, "algorithm_mode": "fast"}, "algorithm_mode"),
        ("kmeans", {"k": 0, "feature_dim": 6}, "k"),
        ("kmeans", {"k": 241, "feature_dim": 6}, "k"),
        ("kmeans", {"k": 3, "feature_dim": 6, "init_method": "best"}, "init_method"),
        ("kmeans", {"k": 3, "feature_dim": 6, "num_clusters": 3}, "num_clusters"),
    ],
)
def test_invalid_hyperparameters_are_rejected_identically(backend, planted, tmp_path, algorithm, hp, fragment):
    with pytest.raises(HyperparameterError) as caught:
        backend.train(algorithm, planted, hp, output_dir=tmp_path)
    assert fragment in str(caught.value)
    assert not list(tmp_path.iterdir()), "a rejected job must not leave artifacts behind"


def test_non_finite_training_data_is_rejected(backend, planted, tmp_path):
    bad = planted.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        backend.train_pca(bad, pca_hp(bad, 2), output_dir=tmp_path)


def test_registry_names_every_backend_and_rejects_unknown_names():
    assert {"embedded", "sagemaker", "sagemaker-local"} <= set(registry.available_backends())
    assert registry.create_backend("local").name == "embedded"
    with pytest.raises(ValueError, match="Unknown backend 'cloud9'.*embedded"):
        registry.create_backend("cloud9")


def test_a_backend_without_settings_refuses_them_by_name():
    with pytest.raises(ValueError, match="The 'embedded' backend takes no settings; got poll_seconds, region"):
        registry.create_backend("local", region="eu-west-1", poll_seconds=1)
    assert registry.create_backend("embedded", region=None).name == "embedded"  # None: not given


def test_a_backend_refuses_settings_it_would_not_read():
    """Local mode has no role, bucket or instance count: they are refused, not silently dropped."""
    pytest.importorskip("sagemaker")
    with pytest.raises(ValueError, match="'sagemaker-local' backend does not use instance_count, role"):
        registry.create_backend("sagemaker-local", instance_count=4, role="arn:aws:iam::1:role/x")
    local = registry.create_backend("sagemaker-local", image_uri="mine:1", max_runtime_seconds=120)
    assert (local.settings.image_uri, local.settings.max_runtime_seconds) == ("mine:1", 120)
    with pytest.raises(ValueError, match="'sagemaker' backend does not use image_uri"):
        registry.create_backend("sagemaker", image_uri="mine:1")


def test_registry_gives_install_hint_when_a_backend_package_is_missing():
    missing = registry.BackendSpec("needs-missing", "a_module_that_is_not_installed:Backend", "test",
                                   install_hint="pip install thing")
    with pytest.raises(ImportError, match="pip install thing"):
        registry.backend_class(missing)


def test_the_registry_is_read_only_to_callers():
    with pytest.raises(TypeError):
        registry.REGISTRY["mine"] = registry.REGISTRY["embedded"]
    with pytest.raises(TypeError):
        registry.ALIASES["cloud"] = "sagemaker"
