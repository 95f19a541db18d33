"""The local-mode backend: real SageMaker local mode running the algorithm image in Docker.

The Docker tests need a daemon and Compose (CI gets them from scripts/ci_docker.sh) and the
test image, which `local_mode_image` imports without any registry when it is missing or
stale; without a daemon they skip, saying why (or fail, with WORKBENCH_REQUIRE_DOCKER=1).
The preflight and log-handling tests below them need no Docker.
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from backends import registry, sagemaker_common, sagemaker_local
from backends.base import BackendError
from backends.format import models
from backends.sagemaker_cloud import JOB_RECORD


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(21)
    centres = rng.normal(scale=6.0, size=(5, 8))
    return np.vstack([c + rng.normal(size=(50, 8)) for c in centres]).astype(np.float32)


# --- real local-mode jobs in a container ---------------------------------------------------
def test_local_mode_pca_matches_the_embedded_backend(local_backend, planted, tmp_path):
    hp = {"feature_dim": 8, "num_components": 6, "mini_batch_size": 250}
    lines = []
    job = local_backend.train_pca(planted, hp, seed=3, output_dir=tmp_path / "local", progress=lines.append)
    reference = registry.create_backend("embedded").train_pca(planted, hp, seed=3, output_dir=tmp_path / "emb")
    assert job.backend == "sagemaker-local" and job.job_name.startswith("county-wb-pca-local-")
    assert job.artifact_path.read_bytes() == reference.artifact_path.read_bytes()
    assert models.load_pca(job.artifact_path).n_components == 6
    text = "\n".join(lines)
    assert "Training pca on 250 rows x 8 features (seed 3)" in text, "the container's own log, streamed as progress"
    assert '"num_components": "6"' in text, "hyperparameters.json holds SageMaker's strings"
    record = json.loads((tmp_path / "local" / JOB_RECORD).read_text())
    assert record["job_name"] == job.job_name and record["backend"] == "sagemaker-local"


def test_local_mode_kmeans_matches_the_embedded_backend(local_backend, planted, tmp_path):
    hp = {"k": 5, "feature_dim": 8, "eval_metrics": ["msd", "ssd"], "init_method": "kmeans++"}
    job = local_backend.train_kmeans(planted, hp, seed=8, output_dir=tmp_path / "local")
    reference = registry.create_backend("embedded").train_kmeans(planted, hp, seed=8, output_dir=tmp_path / "emb")
    assert job.artifact_path.read_bytes() == reference.artifact_path.read_bytes()
    for name in ("msd", "ssd"):
        assert job.details["metrics"][name] == pytest.approx(reference.details["metrics"][name], rel=1e-12)
    labels, _ = models.load_kmeans(job.artifact_path).assign(planted)
    assert sorted(np.bincount(labels).tolist()) == [50] * 5


def test_local_mode_kmeans_beyond_the_compiled_threshold_matches_the_embedded_backend(local_backend, tmp_path):
    """Beyond parallel.COMPILED_ROWS rows the container compiles the stream with its own numba (into
    the image's writable /tmp) and writes the embedded backend's artifact byte for byte."""
    from backends.algorithms import parallel

    rows = parallel.COMPILED_ROWS + 1_000
    X = np.random.default_rng(4).normal(size=(rows, 3)).astype(np.float32)
    hp = {"k": 3, "feature_dim": 3}
    job = local_backend.train_kmeans(X, hp, seed=2, output_dir=tmp_path / "local")
    reference = registry.create_backend("embedded").train_kmeans(X, hp, seed=2, output_dir=tmp_path / "emb")
    assert job.artifact_path.read_bytes() == reference.artifact_path.read_bytes()


def test_a_failing_container_reports_its_failure_file(local_backend, planted, tmp_path, monkeypatch):
    # Smuggle a value past the shared validation, so the container's own check fails.
    sent = sagemaker_common.sagemaker_hyperparameters
    monkeypatch.setattr(sagemaker_common, "sagemaker_hyperparameters",
                        lambda algorithm, hp: {**sent(algorithm, hp), "num_components": "99"})
    with pytest.raises(BackendError, match=r"failed: ClientError: num_components=99 is more than the 8 feature"):
        local_backend.train_pca(planted, {"feature_dim": 8, "num_components": 2, "mini_batch_size": 10},
                                output_dir=tmp_path)
    assert not (tmp_path / "model.tar.gz").exists()


def test_a_missing_image_says_how_to_build_it(local_mode_image, planted, tmp_path):
    backend = registry.create_backend("sagemaker-local", image_uri="county-workbench-algorithms:never-built")
    with pytest.raises(BackendError, match=r"not in the local Docker.*docker build -f backends/container/Dockerfile"):
        backend.train_pca(planted, {"feature_dim": 8, "num_components": 2, "mini_batch_size": 10}, output_dir=tmp_path)


# --- clear messages when something is missing (no Docker needed) ------------------------------
def _completed(code, out="", err=""):
    return subprocess.CompletedProcess([], code, out, err)


def test_no_docker_cli(monkeypatch):
    monkeypatch.setattr(sagemaker_local.shutil, "which", lambda _name: None)
    with pytest.raises(BackendError, match="needs Docker, and no `docker` command is on the PATH"):
        sagemaker_local.preflight("image")


def test_no_docker_daemon(monkeypatch):
    monkeypatch.setattr(sagemaker_local.shutil, "which", lambda _name: "/usr/bin/docker")
    monkeypatch.setattr(sagemaker_local, "_docker", lambda *a, **k: _completed(
        1, err="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"))
    with pytest.raises(BackendError, match="needs a running Docker daemon.*Cannot connect"):
        sagemaker_local.preflight("image")


def test_no_docker_compose(monkeypatch):
    from sagemaker.local.image import _SageMakerContainer

    def no_compose():
        raise ImportError("Docker Compose is not installed.")

    monkeypatch.setattr(sagemaker_local.shutil, "which", lambda _name: "/usr/bin/docker")
    monkeypatch.setattr(sagemaker_local, "_docker", lambda *a, **k: _completed(0, "20.10"))
    monkeypatch.setattr(_SageMakerContainer, "_get_compose_cmd_prefix", staticmethod(no_compose))
    with pytest.raises(BackendError, match="needs Docker Compose.*apt-get install docker-compose"):
        sagemaker_local.preflight("image")


def test_preflight_failures_leave_nothing_behind(monkeypatch, planted, tmp_path):
    monkeypatch.setattr(sagemaker_local.shutil, "which", lambda _name: None)
    with pytest.raises(BackendError):
        registry.create_backend("sagemaker-local").train_pca(
            planted, {"feature_dim": 8, "num_components": 2, "mini_batch_size": 10}, output_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_image_is_a_setting(monkeypatch):
    monkeypatch.setenv("WORKBENCH_SAGEMAKER_IMAGE_URI", "registry.example/algos:7")
    assert registry.create_backend("sagemaker-local").settings.image_uri == "registry.example/algos:7"
    assert registry.create_backend("sagemaker-local", image_uri="mine:1").settings.image_uri == "mine:1"


def test_compose_output_becomes_clean_progress_lines():
    lines = []
    writer = sagemaker_local._ProgressWriter(lines.append)
    writer.write("Creating abc-algo-1-xyz12 ... done\n\x1b[36mabc-algo-1-xyz12  |\x1b[0m [INFO] Training pca\n")
    writer.write("\x1b[36mabc-algo-1-xyz12  |\x1b[0m #quality_metric: host=algo-1, train msd <loss>=0.25\npartial")
    writer.flush()
    assert lines == ["Creating abc-algo-1-xyz12 ... done", "[INFO] Training pca",
                     "#quality_metric: host=algo-1, train msd <loss>=0.25", "partial"]
    assert sagemaker_local._metrics(lines) == {"msd": 0.25}


def test_a_printing_progress_callback_does_not_loop(capsys):
    writer = sagemaker_local._ProgressWriter(print)
    import contextlib

    with contextlib.redirect_stdout(writer):
        print("from the container")
    assert writer.lines == ["from the container"]
    assert "from the container" in capsys.readouterr().out
