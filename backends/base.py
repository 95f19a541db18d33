"""The one interface every compute backend implements.

A backend trains SageMaker's built-in PCA or K-Means on a float32 matrix and leaves a
SageMaker `model.tar.gz` on local disk. Validation of hyperparameters happens here, once,
so every backend accepts and rejects exactly the same settings.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from backends.algorithms.parallel import all_finite
from backends.format import hyperparameters as hpmod

ALGORITHMS = ("pca", "kmeans")

Progress = Callable[[str], None]
# Called with a job's record (name, algorithm, region…; never the role or bucket) just before a
# job is submitted to a service that outlives this process, so it can be re-attached later.
OnSubmit = Callable[[dict[str, Any]], None]


# A PCA job's optional detail: the training rows' sum of squares about the model's mean
# (algorithms.pca.total_variance), when the backend measured it on its way.
TRAINING_TOTAL_VARIANCE = "training_total_variance"


@dataclass
class TrainingJob:
    """What a finished training run left behind."""

    algorithm: str
    backend: str
    job_name: str
    hyperparameters: dict[str, Any]
    artifact_path: Path
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


class BackendError(RuntimeError):
    """A backend could not run a job; the message says what to do."""


def validate_training_input(algorithm: str, X: np.ndarray, hyperparameters: Mapping[str, Any]) -> tuple[np.ndarray, dict]:
    """Check the matrix and the hyperparameters together, as SageMaker would before training."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}.")
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Training data must be a 2-d table of rows × features, got shape {X.shape}.")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError("Training data must be numeric.")
    if not all_finite(X):
        raise ValueError("Training data contains NaN or infinite values; clean or impute them before training.")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if algorithm == "pca":
        hp = hpmod.validate_pca(hyperparameters)
        hpmod.check_pca_against_data(hp, *X.shape)
    else:
        hp = hpmod.validate_kmeans(hyperparameters)
        hpmod.check_kmeans_against_data(hp, *X.shape)
    return X, hp


class Backend(ABC):
    """Train SageMaker's built-in algorithms somewhere and bring the artifact home.

    A backend is configured when it is made (its settings are its constructor's arguments;
    see backends.registry.create_backend) and holds no other state between calls.
    """

    name: ClassVar[str]

    def train(
        self,
        algorithm: str,
        X: np.ndarray,
        hyperparameters: Mapping[str, Any],
        *,
        seed: int = 0,
        output_dir: Path,
        progress: Progress | None = None,
        on_submit: OnSubmit | None = None,
    ) -> TrainingJob:
        X, hp = validate_training_input(algorithm, X, hyperparameters)
        seed = hpmod.validate_seed(seed)
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        job = self._train(algorithm, X, hp, seed=seed, output_dir=output_dir, progress=progress or (lambda _m: None),
                          on_submit=on_submit or (lambda _record: None))
        job.seconds = time.perf_counter() - started
        return job

    def train_pca(self, X, hyperparameters, **kwargs) -> TrainingJob:
        return self.train("pca", X, hyperparameters, **kwargs)

    def train_kmeans(self, X, hyperparameters, **kwargs) -> TrainingJob:
        return self.train("kmeans", X, hyperparameters, **kwargs)

    @abstractmethod
    def _train(
        self, algorithm: str, X: np.ndarray, hp: dict[str, Any], *, seed: int, output_dir: Path, progress: Progress,
        on_submit: OnSubmit,
    ) -> TrainingJob:
        """Run one validated job and return it with `artifact_path` pointing at a local model.tar.gz.
        A backend that submits the job elsewhere calls on_submit(record) just before submitting."""
