"""The algorithm image's entry point against SageMaker's training-container contract, without Docker.

Each test lays out a temporary /opt/ml-shaped folder (hyperparameters.json, the train
channel, model/), points WORKBENCH_OPT_ML at it and runs the entry point, then checks what
SageMaker would collect: /opt/ml/model (the same model_algo-1 the embedded backend writes)
or /opt/ml/output/failure.
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from sagemaker.amazon.common import read_records, write_numpy_to_dense_tensor, write_spmatrix_to_sparse_tensor

import backends.sagemaker_common  # noqa: F401  (imports the SDK quietly: no v2 banner, no logging changes)
from backends.container import recordio, rootfs, train
from backends.format import model_tar
from backends.format.hyperparameters import HyperparameterError, to_sagemaker_strings, validate_kmeans, validate_pca
from backends.registry import create_backend

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(11)
    centres = rng.normal(scale=5.0, size=(3, 5))
    return np.vstack([c + rng.normal(size=(40, 5)) for c in centres]).astype(np.float32)


def opt_ml(root: Path, hp: dict, X: np.ndarray | None = None, *, csv: bool = False, files: int = 1) -> Path:
    """An /opt/ml tree as SageMaker lays it out for a training job."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hp))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"train": {"TrainingInputMode": "File", "ContentType": "text/csv" if csv else "application/x-recordio-protobuf"}}))
    (root / "model").mkdir()
    (root / "output").mkdir()
    if X is not None:
        channel = root / "input" / "data" / "train"
        channel.mkdir(parents=True)
        for i, part in enumerate(np.array_split(X, files)):
            if csv:
                np.savetxt(channel / f"part_{i}.csv", part, delimiter=",", fmt="%.9g")
            else:
                with open(channel / f"matrix_{i}.pbr", "wb") as handle:
                    write_numpy_to_dense_tensor(handle, part)
    return root


def embedded_member(algorithm, X, hp, seed, tmp_path) -> bytes:
    backend = create_backend("embedded")
    job = backend.train(algorithm, X, hp, seed=seed, output_dir=tmp_path / "embedded")
    return model_tar.read_model_tar(job.artifact_path)[model_tar.MODEL_MEMBER]


@pytest.fixture()
def contract(monkeypatch, tmp_path):
    monkeypatch.setenv(train.ENV_OPT_ML, str(tmp_path / "opt" / "ml"))
    monkeypatch.delenv(train.ENV_ALGORITHM, raising=False)
    monkeypatch.delenv(train.ENV_SEED, raising=False)
    return tmp_path / "opt" / "ml"


def test_pca_writes_the_embedded_backends_model(contract, planted, tmp_path, monkeypatch):
    hp = to_sagemaker_strings(validate_pca({"feature_dim": 5, "num_components": 3, "mini_batch_size": 50}))
    opt_ml(contract, hp, planted, files=3)
    monkeypatch.setenv(train.ENV_SEED, "4")
    assert train.main(["train"]) == 0
    assert sorted(p.name for p in (contract / "model").iterdir()) == ["model_algo-1"]
    written = (contract / "model" / "model_algo-1").read_bytes()
    assert written == embedded_member("pca", planted, hp, 4, tmp_path)
    assert not (contract / "output" / "failure").exists()


def test_kmeans_writes_the_embedded_backends_model_and_logs_metrics(contract, planted, tmp_path, monkeypatch, capsys):
    hp = to_sagemaker_strings(validate_kmeans({"k": 3, "feature_dim": 5, "eval_metrics": ["msd", "ssd"]}))
    opt_ml(contract, hp, planted)
    monkeypatch.setenv(train.ENV_SEED, "9")
    assert train.main([]) == 0, "no command means train"
    assert (contract / "model" / "model_algo-1").read_bytes() == embedded_member("kmeans", planted, hp, 9, tmp_path)
    out = capsys.readouterr().out
    assert re.search(r"#quality_metric: host=algo-1, train msd <loss>=\d", out)
    assert re.search(r"#quality_metric: host=algo-1, train ssd <loss>=\d", out)


def test_the_real_entry_point_runs_as_a_module(contract, planted, tmp_path):
    hp = to_sagemaker_strings(validate_pca({"feature_dim": 5, "num_components": 2, "mini_batch_size": 10}))
    opt_ml(contract, hp, planted)
    done = subprocess.run([sys.executable, "-m", "backends.container", "train"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", train.ENV_OPT_ML: str(contract),
                                                       "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert "Training pca on 120 rows x 5 features" in done.stdout
    assert (contract / "model" / "model_algo-1").read_bytes() == embedded_member("pca", planted, hp, 0, tmp_path)


def test_csv_input_in_name_order_trains_the_same_model(contract, planted, tmp_path):
    hp = {"feature_dim": "5", "num_components": "3", "mini_batch_size": "40"}
    opt_ml(contract, hp, planted, csv=True, files=4)
    assert train.main(["train"]) == 0
    # %.9g round-trips float32 exactly, so the model is the embedded one byte for byte.
    assert (contract / "model" / "model_algo-1").read_bytes() == embedded_member("pca", planted, hp, 0, tmp_path)


def test_the_algorithm_is_told_by_the_environment_or_the_hyperparameters(monkeypatch):
    monkeypatch.delenv(train.ENV_ALGORITHM, raising=False)
    assert train.choose_algorithm({"k": "3"}) == "kmeans"
    assert train.choose_algorithm({"num_components": "3"}) == "pca"
    with pytest.raises(train.ClientError, match="Cannot tell PCA from K-Means"):
        train.choose_algorithm({"feature_dim": "3"})
    monkeypatch.setenv(train.ENV_ALGORITHM, "kmeans")
    assert train.choose_algorithm({"num_components": "3"}) == "kmeans"
    monkeypatch.setenv(train.ENV_ALGORITHM, "xgboost")
    with pytest.raises(train.ClientError, match="not an algorithm of this image"):
        train.choose_algorithm({})


def test_invalid_hyperparameters_fail_with_the_shared_message(contract, planted, capsys):
    hp = {"feature_dim": "5", "num_components": "3", "mini_batch_size": "10", "algorithm_mode": "fast"}
    opt_ml(contract, hp, planted)
    assert train.main(["train"]) == train.EXIT_CLIENT_ERROR
    failure = (contract / "output" / "failure").read_text()
    with pytest.raises(HyperparameterError) as shared:
        validate_pca(hp)
    assert failure == f"ClientError: {shared.value}"
    assert "algorithm_mode" in capsys.readouterr().err
    assert not list((contract / "model").iterdir())


@pytest.mark.parametrize("layout, fragment", [
    ("no-channel", "No 'train' channel"),
    ("no-hyperparameters", "No hyperparameters"),
    ("garbage", "neither RecordIO-protobuf nor headerless numeric CSV"),
])
def test_missing_or_bad_input_is_a_client_error(contract, planted, layout, fragment):
    hp = {"feature_dim": "5", "num_components": "3", "mini_batch_size": "10"}
    if layout == "no-channel":
        opt_ml(contract, hp)
    elif layout == "no-hyperparameters":
        opt_ml(contract, hp, planted)
        (contract / "input" / "config" / "hyperparameters.json").unlink()
    else:
        opt_ml(contract, hp, csv=True)
        (contract / "input" / "data" / "train").mkdir(parents=True)
        (contract / "input" / "data" / "train" / "bad.csv").write_text("a,b,c\nx,y,z\n")
    assert train.main(["train"]) == train.EXIT_CLIENT_ERROR
    assert fragment in (contract / "output" / "failure").read_text()


@pytest.mark.parametrize("seed, fragment", [("-1", "out of range"), ("2147483648", "out of range"), ("x", "not 'x'")])
def test_a_bad_seed_is_a_client_error_not_an_algorithm_error(contract, planted, monkeypatch, seed, fragment):
    opt_ml(contract, {"feature_dim": "5", "k": "3"}, planted)
    monkeypatch.setenv(train.ENV_SEED, seed)
    assert train.main(["train"]) == train.EXIT_CLIENT_ERROR
    failure = (contract / "output" / "failure").read_text()
    assert failure.startswith(f"ClientError: {train.ENV_SEED}={seed!r}: The seed must be") and fragment in failure
    assert not list((contract / "model").iterdir())


def test_serve_and_unknown_commands_are_refused(contract, capsys):
    assert train.main(["serve"]) == train.EXIT_USAGE
    assert "only trains" in capsys.readouterr().err
    assert train.main(["evaluate"]) == train.EXIT_USAGE


# --- the RecordIO-protobuf reader, cross-checked with the SDK's writer and reader ------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recordio_reader_matches_the_sdk(dtype):
    X = np.random.default_rng(2).normal(size=(25, 7)).astype(dtype)
    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, X)
    data = buffer.getvalue()
    assert recordio.is_recordio(data[:4])
    ours = recordio.read_dense_matrix(data)
    sdk = np.asarray([r.features["values"].__getattribute__(
        "float32_tensor" if dtype == np.float32 else "float64_tensor").values for r in read_records(io.BytesIO(data))])
    np.testing.assert_array_equal(ours, X.astype(np.float32))
    np.testing.assert_array_equal(ours, sdk.astype(np.float32))


def test_recordio_reader_densifies_sparse_rows():
    import scipy.sparse as sp

    dense = np.zeros((4, 6), dtype=np.float32)
    dense[0, 1], dense[2, 5], dense[3, 0] = 1.5, -2.0, 7.0
    buffer = io.BytesIO()
    write_spmatrix_to_sparse_tensor(buffer, sp.csr_matrix(dense))
    np.testing.assert_array_equal(recordio.read_dense_matrix(buffer.getvalue()), dense)


def test_recordio_reader_rejects_damaged_data():
    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, np.ones((3, 2), dtype=np.float32))
    data = buffer.getvalue()
    with pytest.raises(recordio.RecordIOError, match="ends first|runs past"):
        recordio.read_dense_matrix(data[:-6])
    with pytest.raises(recordio.RecordIOError, match="magic"):
        recordio.read_dense_matrix(b"\x00" * 8 + data)


# --- the Dockerfile and the registry-free image ----------------------------------------------
def test_dockerfile_pins_the_libraries_the_embedded_backend_runs():
    dockerfile = (REPO / "backends" / "container" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M), "an official Python image"
    pins = dict(re.findall(r"([A-Za-z][\w.-]*)==([\w.]+)", dockerfile))
    for dist in rootfs.distribution_closure(rootfs.RUNTIME_DISTRIBUTIONS):
        name = dist.metadata["Name"]
        if name == "cloudpickle":
            continue  # joblib's vendored-fallback requirement; pulled in by pip itself
        assert pins.get(name) == dist.version, f"Dockerfile pins {name}=={pins.get(name)}, installed {dist.version}"
    requirements = dict(re.findall(r"^([\w-]+)==([\w.]+)", (REPO / "requirements.txt").read_text(), re.M))
    for name in ("numpy", "scipy", "scikit-learn", "numba"):
        assert pins[name] == requirements[name] == metadata.version(name)
    assert 'ENTRYPOINT ["python", "-m", "backends.container"]' in dockerfile
    assert 'CMD ["train"]' in dockerfile


def test_root_filesystem_holds_the_interpreter_libraries_and_project():
    files = rootfs.collect()
    config = rootfs.image_config()
    assert config["python"] in files
    assert any(name.startswith(f"{rootfs.SITE_PACKAGES}/sklearn/") for name in files)
    assert f"{rootfs.PROGRAM}/backends/container/train.py" in files
    assert f"{rootfs.PROGRAM}/backends/algorithms/kmeans.py" in files
    assert f"{rootfs.PROGRAM}/backends/format/models.py" in files
    assert not any("/test/" in name and "/python3.11/test/" in name for name in files)
    assert any(change.startswith(f"ENV {rootfs.FINGERPRINT_ENV}=") for change in config["changes"])
    assert config["changes"][-2].startswith("ENTRYPOINT") and config["changes"][-1] == 'CMD ["train"]'
