"""The typed models of SageMaker's artifacts, and the one component-order flip.

Component order convention (stated once, here): SageMaker's PCA stores `s` and the
columns of `v` smallest component first. Every object this module hands out holds them
largest first; only the on-disk arrays are smallest first.

`PCAModel` and `KMeansModel` with their loaders (`load_pca`, `load_kmeans`, `load_model`),
savers (`save_pca`, `save_kmeans`) and `inspect_artifact`, over a model.tar.gz or a bare
model_algo-1 (path or bytes).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np

from backends.format.errors import ArtifactError
from backends.format.model_tar import (
    GZIP_MAGIC,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    MODEL_MEMBER,
    Source,
    _read_members,
    open_source,
    write_model_tar,
)
from backends.format.ndarray import Arrays, load_ndarrays, save_ndarrays

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _where(array: np.ndarray, flat: int) -> str:
    index = np.unravel_index(flat, array.shape)
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def finite_float32(values, name: str) -> np.ndarray:
    """`values` as float32, refused (ArtifactError naming the array and the index) when any is
    NaN or infinite, or a float64 beyond float32's range that would silently become Inf."""
    array = np.asarray(values)
    if array.dtype.kind not in "fiub":
        raise ArtifactError(f"Array {name} holds {array.dtype} values, not numbers.")
    if array.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise ArtifactError(
                f"Array {name} holds {float(array.flat[bad[0]])} at index {_where(array, bad[0])} "
                f"({bad.size:,} non-finite value(s) in all); a model must hold finite numbers only. "
                "Re-train it on data without missing or infinite values."
            )
        if array.dtype.itemsize > 4:
            over = np.flatnonzero(np.abs(array) > _FLOAT32_MAX)
            if over.size:
                raise ArtifactError(
                    f"Array {name} holds {float(array.flat[over[0]]):.7g} at index {_where(array, over[0])}, "
                    f"outside float32's range (±{_FLOAT32_MAX:.4g}); SageMaker models are float32."
                )
    out = array.astype(np.float32)
    return out


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
    feature_dim: int = field(init=False)  # d
    n_components: int = field(init=False)  # n

    def __post_init__(self):
        mean = finite_float32(self.mean, "mean").reshape(-1)
        v = finite_float32(self.v, "v")
        s = finite_float32(self.s, "s").reshape(-1)
        if v.ndim != 2 or v.shape[0] != mean.shape[0] or v.shape[1] != s.shape[0]:
            raise ArtifactError(
                f"PCA arrays do not fit together: mean {mean.shape}, v {v.shape}, s {s.shape}; "
                "expected mean (d,), v (d, n) and s (n,)."
            )
        for name, value in (("mean", mean), ("v", v), ("s", s), ("feature_dim", v.shape[0]),
                            ("n_components", v.shape[1])):
            object.__setattr__(self, name, value)

    def top(self, n: int) -> "PCAModel":
        """The n largest components."""
        return PCAModel(self.mean, self.v[:, :n], self.s[:n])

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project rows as SageMaker's PCA endpoint does: (x - mean) @ v."""
        X = _rows_of(X, self.feature_dim, "project", "with a PCA model")
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
        # Checked as stored (smallest component first), so that the index points into the file.
        finite = {name: finite_float32(arrays[name], name) for name in ("s", "v", "mean")}
        s, v = finite["s"].reshape(-1), finite["v"]
        if v.ndim != 2:
            raise ArtifactError(f"PCA array v must be 2-d, got shape {v.shape}.")
        return cls(mean=finite["mean"].reshape(-1), v=v[:, ::-1], s=s[::-1])


def _rows_of(X: np.ndarray, feature_dim: int, action: str, what: str) -> np.ndarray:
    """X as float32 rows of feature_dim columns, else an ArtifactError saying what does not fit."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != feature_dim:
        raise ArtifactError(f"Cannot {action} rows of shape {X.shape} {what} of {feature_dim} features.")
    return X


@dataclass(frozen=True, eq=False)
class KMeansModel:
    """K-Means centroids, (k, d)."""

    centroids: np.ndarray
    k: int = field(init=False)
    feature_dim: int = field(init=False)  # d

    def __post_init__(self):
        c = finite_float32(self.centroids, "centroids")
        if c.ndim != 2 or c.shape[0] < 1:
            raise ArtifactError(f"K-Means centroids must be a (k, d) array, got shape {c.shape}.")
        object.__setattr__(self, "centroids", c)
        object.__setattr__(self, "k", c.shape[0])
        object.__setattr__(self, "feature_dim", c.shape[1])

    def assign(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest centroid per row and the Euclidean distance to it, as the endpoint returns."""
        X = _rows_of(X, self.feature_dim, "assign", "to centroids")
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
class ArtifactContents:
    """An artifact read once: its label for messages, member names and model_algo-1's arrays."""

    label: str
    members: list[str]
    arrays: Arrays | None  # None when a model.tar.gz has no model_algo-1

    def model(self) -> Model:
        """The typed model, or the ArtifactError load_model raises."""
        return _model(self)


def read_artifact(source: Source) -> ArtifactContents:
    """A model.tar.gz (recognised by the gzip signature) or a bare model_algo-1 NDArray file,
    from a path (a regular file, bounded) or bytes, decompressed once."""
    with open_source(source) as (stream, label):
        head = stream.read(2)
        stream.seek(0)
        if head != GZIP_MAGIC:
            size = stream.seek(0, io.SEEK_END)
            stream.seek(0)
            if size > MAX_MEMBER_BYTES:
                raise ArtifactError(f"Refusing to read {label}: it is {size:,} bytes, over the "
                                    f"{MAX_MEMBER_BYTES:,}-byte limit of an NDArray file (max_member_bytes).")
            return ArtifactContents(label, [MODEL_MEMBER], _load_member(stream.read(), label))
        members = _read_members(stream, label, max_member_bytes=MAX_MEMBER_BYTES, max_members=MAX_MEMBERS,
                                max_total_bytes=MAX_TOTAL_BYTES)
    payload = members.get(MODEL_MEMBER)
    arrays = None if payload is None else _load_member(payload, f"{MODEL_MEMBER} in {label}")
    return ArtifactContents(label, list(members), arrays)


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


def _model(artifact: ArtifactContents) -> Model:
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
    return _model(read_artifact(source))


def _load_kind(source: Source, kind: type, what: str, other: str):
    artifact = read_artifact(source)
    model = _model(artifact)
    if not isinstance(model, kind):
        raise ArtifactError(f"Expected {what} model, but {artifact.label} holds {_describe_model(model)}; "
                            f"use {other} or load_model for it.")
    return model


def load_pca(source: Source) -> PCAModel:
    """A PCA model (path or bytes); an ArtifactError naming what the artifact holds otherwise."""
    return _load_kind(source, PCAModel, "a PCA", "load_kmeans")


def load_kmeans(source: Source) -> KMeansModel:
    """A K-Means model (path or bytes); an ArtifactError naming what the artifact holds otherwise."""
    return _load_kind(source, KMeansModel, "a K-Means", "load_pca")


def save_pca(model: PCAModel, path: Union[str, os.PathLike]) -> Path:
    """model.tar.gz holding model_algo-1 exactly as SageMaker's PCA writes it."""
    return write_model_tar(path, {MODEL_MEMBER: save_ndarrays(model.to_sagemaker_arrays())})


def save_kmeans(model: KMeansModel, path: Union[str, os.PathLike]) -> Path:
    """model.tar.gz holding model_algo-1 exactly as SageMaker's K-Means writes it (no state member)."""
    centroids = np.ascontiguousarray(model.centroids, dtype=np.float32)
    return write_model_tar(path, {MODEL_MEMBER: save_ndarrays([centroids])})


def inspect_artifact(source: Source) -> dict:
    """What an artifact holds, for `python -m workbench inspect PATH`, as the loader sees it.

    {"kind": "pca" | "kmeans" | "unknown", "path": str (None for bytes), "members": [names],
     "arrays": [{"name", "shape", "dtype"}, ...]} describing model_algo-1; unnamed arrays are
    named "0", "1", ...; a bare NDArray file is listed as the one member model_algo-1.
    The kind is what load_model would return; when it would refuse the artifact (no
    model_algo-1, arrays of another model, NaN or Inf, shapes that do not fit) the kind is
    "unknown" and "problem" holds the loader's message. An unreadable file raises ArtifactError.
    """
    artifact = read_artifact(source)
    arrays = artifact.arrays if artifact.arrays is not None else []
    items = arrays.items() if isinstance(arrays, dict) else ((str(i), a) for i, a in enumerate(arrays))
    report = {
        "kind": "unknown",
        "path": None if isinstance(source, (bytes, bytearray, memoryview)) else str(source),
        "members": artifact.members,
        "arrays": [{"name": name, "shape": list(a.shape), "dtype": str(a.dtype)} for name, a in items],
    }
    try:
        report["kind"] = "pca" if isinstance(artifact.model(), PCAModel) else "kmeans"
    except ArtifactError as exc:
        report["problem"] = str(exc)
    return report
