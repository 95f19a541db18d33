"""The typed models of SageMaker's artifacts, and the one component-order flip.

Component order convention (stated once, here): SageMaker's PCA stores `s` and the
columns of `v` smallest component first. Every object this module hands out holds them
largest first; only the on-disk arrays are smallest first.

`PCAModel` and `KMeansModel` with their loaders (`load_pca`, `load_kmeans`, `load_model`),
savers (`save_pca`, `save_kmeans`) and `inspect_artifact`, over a model.tar.gz or a bare
model_algo-1 (path or bytes).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from backends.format.errors import ArtifactError
from backends.format.model_tar import GZIP_MAGIC, MODEL_MEMBER, Source, _read_source, read_model_tar, write_model_tar
from backends.format.ndarray import Arrays, load_ndarrays, save_ndarrays


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


# --------------------------------------------------------------------------- typed models
Model = Union[PCAModel, KMeansModel]


@dataclass(frozen=True)
class _Artifact:
    label: str
    members: list[str]
    arrays: Arrays | None  # None when a model.tar.gz has no model_algo-1


def _open_artifact(source: Source) -> _Artifact:
    """A model.tar.gz (recognised by the gzip signature) or a bare model_algo-1 NDArray file."""
    data, label = _read_source(source)
    if not data.startswith(GZIP_MAGIC):
        return _Artifact(label, [MODEL_MEMBER], _load_member(data, label))
    members = read_model_tar(data)
    payload = members.get(MODEL_MEMBER)
    arrays = None if payload is None else _load_member(payload, f"{MODEL_MEMBER} in {label}")
    return _Artifact(label, list(members), arrays)


def _load_member(data: bytes, label: str) -> Arrays:
    try:
        return load_ndarrays(data)
    except ArtifactError as exc:
        raise ArtifactError(f"Cannot read {label}: {exc}") from None


def _kind(arrays: Arrays | None) -> str:
    if isinstance(arrays, dict) and {"mean", "v", "s"} <= set(arrays):
        return "pca"
    if isinstance(arrays, list) and arrays and arrays[0].ndim == 2:
        return "kmeans"
    return "unknown"


def _describe(arrays: Arrays) -> str:
    items = arrays.items() if isinstance(arrays, dict) else enumerate(arrays)
    return ", ".join(f"{name}{tuple(a.shape)}" for name, a in items) or "no arrays"


def _model(artifact: _Artifact) -> Model:
    arrays = artifact.arrays
    if arrays is None:
        raise ArtifactError(
            f"Cannot load a model from {artifact.label}: it has no {MODEL_MEMBER} member "
            f"(it holds {', '.join(artifact.members) or 'nothing'}), so it is not a SageMaker PCA or K-Means model."
        )
    kind = _kind(arrays)
    try:
        if kind == "pca":
            return PCAModel.from_sagemaker_arrays(arrays)
        if kind == "kmeans":
            return KMeansModel(arrays[0])
    except ArtifactError as exc:
        raise ArtifactError(f"Cannot load a model from {artifact.label}: {exc}") from None
    form = "named arrays" if isinstance(arrays, dict) else "unnamed arrays"
    raise ArtifactError(
        f"Cannot load a model from {artifact.label}: it is neither a SageMaker PCA model (named arrays "
        f"mean, v, s) nor a K-Means model (an unnamed (k, d) array); its {MODEL_MEMBER} holds {form}: "
        f"{_describe(arrays)}."
    )


def _describe_model(model: Model) -> str:
    if isinstance(model, PCAModel):
        return f"a PCA model ({model.n_components} components of {model.feature_dim} features)"
    return f"a K-Means model (k={model.k}, {model.feature_dim} features)"


def load_model(source: Source) -> Model:
    """A PCA or K-Means model from a model.tar.gz or a bare model_algo-1 (path or bytes)."""
    return _model(_open_artifact(source))


def load_pca(source: Source) -> PCAModel:
    artifact = _open_artifact(source)
    model = _model(artifact)
    if not isinstance(model, PCAModel):
        raise ArtifactError(
            f"Expected a PCA model, but {artifact.label} holds {_describe_model(model)}; "
            "use load_kmeans or load_model for it."
        )
    return model


def load_kmeans(source: Source) -> KMeansModel:
    artifact = _open_artifact(source)
    model = _model(artifact)
    if not isinstance(model, KMeansModel):
        raise ArtifactError(
            f"Expected a K-Means model, but {artifact.label} holds {_describe_model(model)}; "
            "use load_pca or load_model for it."
        )
    return model


def save_pca(model: PCAModel, path: Union[str, os.PathLike]) -> Path:
    """model.tar.gz holding model_algo-1 exactly as SageMaker's PCA writes it."""
    return write_model_tar(path, {MODEL_MEMBER: save_ndarrays(model.to_sagemaker_arrays())})


def save_kmeans(model: KMeansModel, path: Union[str, os.PathLike]) -> Path:
    """model.tar.gz holding model_algo-1 exactly as SageMaker's K-Means writes it (no state member)."""
    centroids = np.ascontiguousarray(model.centroids, dtype=np.float32)
    return write_model_tar(path, {MODEL_MEMBER: save_ndarrays([centroids])})


def inspect_artifact(source: Source) -> dict:
    """What an artifact holds, for `python -m workbench inspect PATH`.

    {"kind": "pca" | "kmeans" | "unknown", "path": str (None for bytes), "members": [names],
     "arrays": [{"name", "shape", "dtype"}, ...]} describing model_algo-1; unnamed arrays are
    named "0", "1", ...; a bare NDArray file is listed as the one member model_algo-1, and a
    tar without model_algo-1 is "unknown" with no arrays.
    """
    artifact = _open_artifact(source)
    arrays = artifact.arrays if artifact.arrays is not None else []
    items = arrays.items() if isinstance(arrays, dict) else ((str(i), a) for i, a in enumerate(arrays))
    return {
        "kind": _kind(artifact.arrays),
        "path": None if isinstance(source, (bytes, bytearray, memoryview)) else str(source),
        "members": artifact.members,
        "arrays": [{"name": name, "shape": list(a.shape), "dtype": str(a.dtype)} for name, a in items],
    }
