"""The SageMaker artifact format, owned in one place.

Component order convention (stated once, here): SageMaker's PCA stores `s` and the
columns of `v` smallest component first. Every object this module hands out holds them
largest first; only the on-disk arrays are smallest first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ArtifactError(ValueError):
    """An artifact is unreadable, malformed, hostile or of the wrong kind."""


@dataclass(frozen=True, eq=False)
class PCAModel:
    """A PCA model, components largest first.

    mean: (d,) column means of the training rows (zeros when subtract_mean was false).
    v: (d, n) component directions as columns, largest first.
    s: (n,) singular values of the mean-centred training matrix, largest first.
    """

    mean: np.ndarray
    v: np.ndarray
    s: np.ndarray

    def __post_init__(self):
        mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        v = np.asarray(self.v, dtype=np.float32)
        s = np.asarray(self.s, dtype=np.float32).reshape(-1)
        if v.ndim != 2 or v.shape[0] != mean.shape[0] or v.shape[1] != s.shape[0]:
            raise ArtifactError(
                f"PCA arrays do not fit together: mean {mean.shape}, v {v.shape}, s {s.shape}; "
                "expected mean (d,), v (d, n) and s (n,)."
            )
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "s", s)

    @property
    def feature_dim(self) -> int:
        return self.v.shape[0]

    @property
    def n_components(self) -> int:
        return self.v.shape[1]

    def top(self, n: int) -> "PCAModel":
        """The n largest components."""
        return PCAModel(self.mean, self.v[:, :n], self.s[:n])

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project rows as SageMaker's PCA endpoint does: (x - mean) @ v."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.feature_dim:
            raise ArtifactError(
                f"Cannot project rows of shape {X.shape} with a PCA model of {self.feature_dim} features."
            )
        return (X - self.mean) @ self.v

    def to_sagemaker_arrays(self) -> dict[str, np.ndarray]:
        """The arrays as SageMaker writes them: order s, v, mean; smallest first; mean (1, d)."""
        return {
            "s": np.ascontiguousarray(self.s[::-1], dtype=np.float32),
            "v": np.ascontiguousarray(self.v[:, ::-1], dtype=np.float32),
            "mean": np.ascontiguousarray(self.mean.reshape(1, -1), dtype=np.float32),
        }

    @classmethod
    def from_sagemaker_arrays(cls, arrays: dict[str, np.ndarray]) -> "PCAModel":
        missing = {"mean", "v", "s"} - set(arrays)
        if missing:
            raise ArtifactError(f"PCA artifact lacks the array(s) {sorted(missing)}; it holds {sorted(arrays)}.")
        s = np.asarray(arrays["s"]).reshape(-1)
        v = np.asarray(arrays["v"])
        if v.ndim != 2:
            raise ArtifactError(f"PCA array v must be 2-d, got shape {v.shape}.")
        return cls(mean=np.asarray(arrays["mean"]).reshape(-1), v=v[:, ::-1], s=s[::-1])


@dataclass(frozen=True, eq=False)
class KMeansModel:
    """K-Means centroids, (k, d)."""

    centroids: np.ndarray

    def __post_init__(self):
        c = np.asarray(self.centroids, dtype=np.float32)
        if c.ndim != 2 or c.shape[0] < 1:
            raise ArtifactError(f"K-Means centroids must be a (k, d) array, got shape {c.shape}.")
        object.__setattr__(self, "centroids", c)

    @property
    def k(self) -> int:
        return self.centroids.shape[0]

    @property
    def feature_dim(self) -> int:
        return self.centroids.shape[1]

    def assign(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest centroid per row and the Euclidean distance to it, as the endpoint returns."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.feature_dim:
            raise ArtifactError(
                f"Cannot assign rows of shape {X.shape} to centroids of {self.feature_dim} features."
            )
        # |x|^2 - 2 x.c + |c|^2 in float64 so that ties and tiny distances stay exact enough.
        Xd = X.astype(np.float64)
        C = self.centroids.astype(np.float64)
        d2 = (Xd * Xd).sum(1)[:, None] - 2.0 * Xd @ C.T + (C * C).sum(1)[None, :]
        labels = d2.argmin(axis=1)
        dist = np.sqrt(np.maximum(d2[np.arange(len(X)), labels], 0.0))
        return labels.astype(np.int64), dist
