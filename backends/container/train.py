"""The training image's entry point: the embedded emulator behind SageMaker's container contract.

SageMaker (and its local mode) starts a training container as `docker run IMAGE train` with

    /opt/ml/input/config/hyperparameters.json   hyperparameters, every value a string
    /opt/ml/input/config/inputdataconfig.json   channels and their content types (optional)
    /opt/ml/input/data/<channel>/               the channel's files ("train" is required)
    /opt/ml/model/                              what ends up in model.tar.gz
    /opt/ml/output/failure                      why the job failed, if it did

This entry point reads those, trains PCA or K-Means with `backends.algorithms` (exactly what
the embedded backend runs, validated by `backends.format.hyperparameters`), and writes the same
`model_algo-1` the embedded backend writes, through `backends.format.models`. It trains when
called with no command or with `train`.

Which algorithm: the WORKBENCH_ALGORITHM environment variable (`pca` or `kmeans`), else the
hyperparameters tell (`num_components` → PCA, `k` → K-Means), as each built-in image knows
its own. The seed comes from WORKBENCH_SEED (default 0): SageMaker's hyperparameters have no
seed, and the emulator must be reproducible. Training data is RecordIO-protobuf (what the
SDK's `record_set` writes) or CSV without a header, in any number of files read in name order.

WORKBENCH_OPT_ML moves /opt/ml elsewhere, so the contract can be tested without Docker.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ENV_OPT_ML = "WORKBENCH_OPT_ML"
ENV_ALGORITHM = "WORKBENCH_ALGORITHM"
ENV_SEED = "WORKBENCH_SEED"
TRAIN_CHANNEL = "train"
EXIT_CLIENT_ERROR = 1  # SageMaker marks the job Failed on any non-zero exit
EXIT_USAGE = 2


class ClientError(Exception):
    """Bad input from the caller (SageMaker's built-ins prefix these failures 'ClientError:')."""


def opt_ml() -> Path:
    return Path(os.environ.get(ENV_OPT_ML) or "/opt/ml")


def log(message: str) -> None:
    print(f"[{time.strftime('%m/%d/%Y %H:%M:%S')} INFO] {message}", flush=True)


def read_hyperparameters(root: Path) -> dict[str, str]:
    path = root / "input" / "config" / "hyperparameters.json"
    if not path.is_file():
        raise ClientError(f"No hyperparameters: {path} does not exist.")
    try:
        hp = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ClientError(f"{path} is not valid JSON ({exc}).") from None
    if not isinstance(hp, dict):
        raise ClientError(f"{path} must hold a JSON object of name → value.")
    return hp


def choose_algorithm(hp: dict) -> str:
    chosen = (os.environ.get(ENV_ALGORITHM) or "").strip().lower()
    if chosen:
        if chosen not in ("pca", "kmeans"):
            raise ClientError(f"{ENV_ALGORITHM}={chosen!r} is not an algorithm of this image; use pca or kmeans.")
        return chosen
    if "k" in hp and "num_components" not in hp:
        return "kmeans"
    if "num_components" in hp and "k" not in hp:
        return "pca"
    raise ClientError(
        f"Cannot tell PCA from K-Means: set {ENV_ALGORITHM}, or pass num_components (PCA) or k (K-Means)."
    )


def _content_type(root: Path, channel: str) -> str:
    path = root / "input" / "config" / "inputdataconfig.json"
    try:
        config = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        config = {}
    return str((config.get(channel) or {}).get("ContentType") or "").lower()


def read_channel(root: Path, channel: str = TRAIN_CHANNEL) -> np.ndarray:
    """Every file of the channel (name order), as one float32 matrix."""
    from backends.container import recordio

    folder = root / "input" / "data" / channel
    if not folder.is_dir():
        raise ClientError(f"No '{channel}' channel: {folder} does not exist.")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ClientError(f"The '{channel}' channel ({folder}) holds no data files.")
    content_type = _content_type(root, channel)
    blocks = []
    for path in files:
        data = path.read_bytes()
        if recordio.is_recordio(data[:4]):
            try:
                block = recordio.read_dense_matrix(data)
            except recordio.RecordIOError as exc:
                raise ClientError(f"{path.name}: {exc}") from None
        elif "csv" in content_type or path.suffix.lower() == ".csv" or not content_type:
            try:
                block = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
            except ValueError as exc:
                raise ClientError(
                    f"{path.name} is neither RecordIO-protobuf nor headerless numeric CSV ({exc})."
                ) from None
        else:
            raise ClientError(f"{path.name}: content type {content_type!r} is not supported.")
        if block.size:
            blocks.append(block)
    if not blocks:
        raise ClientError(f"The '{channel}' channel holds no rows.")
    widths = {b.shape[1] for b in blocks}
    if len(widths) != 1:
        raise ClientError(f"The '{channel}' files have different numbers of columns: {sorted(widths)}.")
    return np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)


def _seed() -> int:
    """WORKBENCH_SEED checked as the embedded backend checks a seed (0..MAX_SEED)."""
    from backends.format.hyperparameters import HyperparameterError, validate_seed

    text = (os.environ.get(ENV_SEED) or "0").strip()
    try:
        return validate_seed(text)
    except HyperparameterError as exc:
        raise ClientError(f"{ENV_SEED}={text!r}: {exc}") from None


def train(root: Path) -> dict:
    """Run one training job against an /opt/ml-shaped folder; returns what it reported."""
    from backends.algorithms import kmeans, pca
    from backends.base import validate_training_input
    from backends.format import model_tar, models
    from backends.format.hyperparameters import HyperparameterError

    hp_strings = read_hyperparameters(root)
    algorithm = choose_algorithm(hp_strings)
    X = read_channel(root)
    seed = _seed()
    log(f"Training {algorithm} on {X.shape[0]} rows x {X.shape[1]} features (seed {seed})")
    log(f"Hyperparameters: {json.dumps(hp_strings, sort_keys=True)}")
    try:
        X, hp = validate_training_input(algorithm, X, hp_strings)
    except HyperparameterError as exc:
        raise ClientError(str(exc)) from None
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    metrics: dict[str, float] = {}
    model_dir = root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    # Write through the shared codec (the one writer), then keep its members: the bytes of
    # model_algo-1 are then exactly the embedded backend's.
    with tempfile.TemporaryDirectory() as scratch:
        tar_path = Path(scratch) / "model.tar.gz"
        if algorithm == "pca":
            models.save_pca(pca.fit_pca(X, hp, seed=seed), tar_path)
        else:
            model, metrics = kmeans.fit_kmeans(X, hp, seed=seed)
            models.save_kmeans(model, tar_path)
        for name, payload in model_tar.read_model_tar(tar_path).items():
            (model_dir / name).write_bytes(payload)
    for name, value in metrics.items():
        # SageMaker's built-ins log metrics in this shape; metric definitions parse it.
        print(f"#quality_metric: host=algo-1, train {name} <loss>={value!r}", flush=True)
    log(f"Wrote {', '.join(sorted(p.name for p in model_dir.iterdir()))} to {model_dir}")
    return {"algorithm": algorithm, "rows": int(X.shape[0]), "features": int(X.shape[1]), "metrics": metrics}


def _write_failure(root: Path, message: str) -> None:
    try:
        out = root / "output"
        out.mkdir(parents=True, exist_ok=True)
        (out / "failure").write_text(message)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "train"
    root = opt_ml()
    if command == "serve":
        print("This image only trains. The workbench computes projections and cluster assignments "
              "from the artifacts in-process; deploy real endpoints with the cloud backend.", file=sys.stderr)
        return EXIT_USAGE
    if command != "train":
        print(f"Unknown command {command!r}: this image runs `train` (the default).", file=sys.stderr)
        return EXIT_USAGE
    try:
        train(root)
    except ClientError as exc:
        message = f"ClientError: {exc}"
        print(message, file=sys.stderr, flush=True)
        _write_failure(root, message)
        return EXIT_CLIENT_ERROR
    except Exception as exc:  # noqa: BLE001 - the contract is to report any failure
        traceback.print_exc()
        message = f"AlgorithmError: {type(exc).__name__}: {exc}"
        _write_failure(root, message)
        return EXIT_CLIENT_ERROR
    return 0
