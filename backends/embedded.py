"""The default backend: SageMaker's built-in algorithms emulated in-process, no AWS needed.

It writes the same `model.tar.gz` SageMaker writes, through the shared codec, so everything
downstream reads its output exactly as it reads a cloud job's.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np

from backends.algorithms import kmeans, pca
from backends.base import TRAINING_TOTAL_VARIANCE, Backend, OnSubmit, Progress, TrainingJob
from backends.format import models


class EmbeddedBackend(Backend):
    """Takes no settings: it runs here, now, and submits nothing anywhere."""

    name = "embedded"

    def _train(
        self, algorithm: str, X: np.ndarray, hp: dict[str, Any], *, seed: int, output_dir: Path, progress: Progress,
        on_submit: OnSubmit,
    ) -> TrainingJob:
        job_name = f"embedded-{algorithm}-{uuid.uuid4().hex[:12]}"
        artifact_path = output_dir / "model.tar.gz"
        details: dict[str, Any] = {}
        progress(f"Training {algorithm} on {X.shape[0]:,} rows × {X.shape[1]} features")
        if algorithm == "pca":
            model, total = pca.fit_pca_and_variance(X, hp, seed=seed)
            models.save_pca(model, artifact_path)
            if total is not None:  # so the pipeline needs no second pass over the rows for it
                details[TRAINING_TOTAL_VARIANCE] = total
        else:
            model, metrics = kmeans.fit_kmeans(X, hp, seed=seed)
            models.save_kmeans(model, artifact_path)
            details["metrics"] = metrics
        progress(f"Wrote {artifact_path}")
        return TrainingJob(algorithm, self.name, job_name, hp, artifact_path, 0.0, details)
