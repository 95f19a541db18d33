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


# --------------------------------------------------------------------------- MXNet NDArray codec
# Layout of mx.nd.save (MXNet 1.x, little-endian):
#   uint64 0x112 list magic, uint64 reserved,
#   uint64 count, then each NDArray,
#   uint64 count, then each name as uint64 length + bytes (no names for a list).
# One NDArray (V2/V3): uint32 magic, int32 storage type, shape (int32 ndim + int64 dims),
#   context (int32 dev_type, int32 dev_id), int32 type flag, raw data.
#   V1 has no storage type; the pre-V1 legacy layout starts with uint32 ndim and uint32 dims.
#   V3 means numpy shape semantics: ndim 0 is a scalar, not an empty array.
import gzip
import io
import os
import struct
import tarfile
import tempfile
from pathlib import Path
from typing import Union

LIST_MAGIC = 0x112
NDARRAY_V1_MAGIC = 0xF993FAC8
NDARRAY_V2_MAGIC = 0xF993FAC9
NDARRAY_V3_MAGIC = 0xF993FACA
MAX_NDIM = 32
CPU_CONTEXT = (1, 0)

TYPE_FLAGS: dict[int, np.dtype] = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
    4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"),
}
FLAG_OF_DTYPE = {dtype: flag for flag, dtype in TYPE_FLAGS.items()}
STORAGE_TYPES = {0: "dense", 1: "row_sparse", 2: "csr"}

Arrays = Union[list[np.ndarray], dict[str, np.ndarray]]


class _Reader:
    """Bounds-checked little-endian reads: any overrun is an ArtifactError, never struct.error."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or n > self.remaining:
            raise ArtifactError(
                f"The NDArray file is truncated: it ends while reading {what} at byte {self.pos} "
                f"(needs {n} bytes, {self.remaining} left). Re-download or re-create the artifact."
            )
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def peek_u32(self) -> int | None:
        return struct.unpack_from("<I", self.data, self.pos)[0] if self.remaining >= 4 else None


def _read_dims(reader: _Reader, ndim: int, fmt: str, what: str) -> tuple[int, ...]:
    if not 0 <= ndim <= MAX_NDIM:
        raise ArtifactError(f"The NDArray file is corrupt: {what} has {ndim} dimensions (at most {MAX_NDIM}).")
    dims = reader.unpack(fmt * ndim, f"the dimensions of {what}") if ndim else ()
    if any(d < 0 for d in dims):
        raise ArtifactError(f"The NDArray file holds an array of unknown shape {dims} in {what}; it cannot be read.")
    return tuple(int(d) for d in dims)


def _read_payload(reader: _Reader, shape: tuple[int, ...], what: str) -> np.ndarray:
    dev_type, _dev_id = reader.unpack("ii", f"the context of {what}")
    if dev_type not in (1, 2, 3, 5):
        raise ArtifactError(f"The NDArray file is corrupt: {what} names an unknown device type {dev_type}.")
    (flag,) = reader.unpack("i", f"the dtype of {what}")
    dtype = TYPE_FLAGS.get(flag)
    if dtype is None:
        raise ArtifactError(
            f"{what} has MXNet dtype flag {flag}, which the workbench cannot read "
            f"(it reads {', '.join(str(d) for d in TYPE_FLAGS.values())})."
        )
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    nbytes = count * dtype.itemsize
    if nbytes > reader.remaining:
        raise ArtifactError(
            f"The NDArray file is truncated or corrupt: {what} of shape {shape} needs {nbytes:,} bytes "
            f"but only {reader.remaining:,} remain."
        )
    raw = reader.take(nbytes, f"the data of {what}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def _read_ndarray(reader: _Reader, index: int) -> np.ndarray:
    what = f"array {index}"
    (magic,) = reader.unpack("I", f"the header of {what}")
    if magic in (NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        (stype,) = reader.unpack("i", f"the storage type of {what}")
        if stype != 0:
            name = STORAGE_TYPES.get(stype, f"unknown ({stype})")
            raise ArtifactError(
                f"{what} uses MXNet's {name} storage; the workbench reads dense arrays only. "
                "Convert it to dense (`.tostype('default')`) before saving."
            )
        (ndim,) = reader.unpack("i", f"the shape of {what}")
        shape = _read_dims(reader, ndim, "q", what)
        if ndim == 0 and magic == NDARRAY_V2_MAGIC and not _payload_follows(reader):
            return np.zeros((0,), dtype=np.float32)  # MXNet's "none" array: nothing follows its shape
        return _read_payload(reader, shape, what)
    if magic == NDARRAY_V1_MAGIC:
        (ndim,) = reader.unpack("i", f"the shape of {what}")
        return _read_payload(reader, _read_dims(reader, ndim, "q", what), what)
    # Pre-V1 files have no magic: the first word is the number of dimensions.
    if magic > MAX_NDIM:
        raise ArtifactError(
            f"This is not an MXNet NDArray file: {what} starts with 0x{magic:08x}, not an NDArray magic number."
        )
    return _read_payload(reader, _read_dims(reader, magic, "I", what), what)


def _payload_follows(reader: _Reader) -> bool:
    """After a V2 0-d shape, MXNet writes a payload only for a real (legacy-mode) scalar."""
    if reader.remaining < 12:
        return False
    dev_type, dev_id, flag = struct.unpack_from("<iii", reader.data, reader.pos)
    return dev_type in (1, 2, 3, 5) and 0 <= dev_id < 1024 and flag in TYPE_FLAGS


def load_ndarrays(data: bytes) -> Arrays:
    """Read an `mx.nd.save` file: a list, or a dict when the arrays are named."""
    reader = _Reader(bytes(data))
    if reader.remaining < 16:
        raise ArtifactError(f"This is not an MXNet NDArray file: it is only {reader.remaining} bytes long.")
    magic, _reserved = reader.unpack("QQ", "the file header")
    if magic != LIST_MAGIC:
        raise ArtifactError(f"This is not an MXNet NDArray file: its header is 0x{magic:x}, not 0x{LIST_MAGIC:x}.")
    (count,) = reader.unpack("Q", "the number of arrays")
    if count > reader.remaining // 4:
        raise ArtifactError(f"The NDArray file is corrupt: it claims {count:,} arrays in {len(data):,} bytes.")
    arrays = [_read_ndarray(reader, i) for i in range(count)]
    (n_names,) = reader.unpack("Q", "the number of names")
    if n_names not in (0, count):
        raise ArtifactError(f"The NDArray file is corrupt: {count} arrays but {n_names} names.")
    names = []
    for i in range(n_names):
        (length,) = reader.unpack("Q", f"the length of name {i}")
        raw = reader.take(length, f"name {i}")
        try:
            names.append(bytes(raw).decode("utf-8"))
        except UnicodeDecodeError:
            raise ArtifactError(f"The NDArray file is corrupt: name {i} is not valid UTF-8.") from None
    if reader.remaining:
        raise ArtifactError(f"The NDArray file has {reader.remaining} unexpected bytes after its last name.")
    if not names:
        return arrays
    if len(set(names)) != len(names):
        raise ArtifactError("The NDArray file is corrupt: two arrays share a name.")
    return dict(zip(names, arrays))


def _needs_numpy_shape(array: np.ndarray) -> bool:
    # Legacy (non-numpy) MXNet cannot express a scalar or a zero inside a multi-dim shape.
    return array.ndim == 0 or (array.ndim > 1 and 0 in array.shape)


def save_ndarrays(arrays: Arrays, *, numpy_shape: bool | None = None) -> bytes:
    """Write arrays exactly as MXNet 1.9's `mx.nd.save` does (dense, cpu(0)).

    numpy_shape: use the V3 magic (numpy shape semantics). By default it is used only when an
    array needs it (a 0-d array, or a zero-length axis in a multi-dimensional array).
    """
    if isinstance(arrays, dict):
        names = [str(name) for name in arrays]
        values = list(arrays.values())
    else:
        names, values = [], list(arrays)
    values = [np.asarray(v) for v in values]
    for i, value in enumerate(values):
        if value.dtype.newbyteorder("<") not in FLAG_OF_DTYPE and value.dtype not in FLAG_OF_DTYPE:
            raise ArtifactError(f"Array {i} has dtype {value.dtype}, which MXNet NDArray files cannot hold.")
    if numpy_shape is None:
        numpy_shape = any(_needs_numpy_shape(v) for v in values)
    magic = NDARRAY_V3_MAGIC if numpy_shape else NDARRAY_V2_MAGIC
    out = io.BytesIO()
    out.write(struct.pack("<QQQ", LIST_MAGIC, 0, len(values)))
    for value in values:
        dtype = value.dtype.newbyteorder("<") if value.dtype.itemsize > 1 else value.dtype
        out.write(struct.pack("<Iii", magic, 0, value.ndim))
        out.write(struct.pack(f"<{value.ndim}q", *value.shape))
        out.write(struct.pack("<iii", *CPU_CONTEXT, FLAG_OF_DTYPE[np.dtype(dtype)]))
        out.write(np.ascontiguousarray(value, dtype=dtype).tobytes())
    out.write(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        out.write(struct.pack("<Q", len(encoded)) + encoded)
    return out.getvalue()


# --------------------------------------------------------------------------- model.tar.gz
MODEL_MEMBER = "model_algo-1"
MAX_MEMBER_BYTES = 1 << 30
MAX_MEMBERS = 64
GZIP_MAGIC = b"\x1f\x8b"
Source = Union[str, os.PathLike, bytes]


def _read_source(source: Source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "the artifact"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise ArtifactError(f"No artifact at {path}: the file does not exist.") from None
    except IsADirectoryError:
        raise ArtifactError(f"{path} is a folder; give the path of a model.tar.gz or model_algo-1 file.") from None
    except OSError as exc:
        raise ArtifactError(f"Cannot read the artifact {path}: {exc.strerror or exc}.") from None


def _safe_member_name(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and not name.startswith(("/", "\\"))


def read_model_tar(
    source: Source, *, max_member_bytes: int = MAX_MEMBER_BYTES, max_members: int = MAX_MEMBERS
) -> dict[str, bytes]:
    """The regular-file members of a model.tar.gz, read without trusting the archive."""
    data, label = _read_source(source)
    if not data.startswith(GZIP_MAGIC):
        raise ArtifactError(f"{label} is not a gzip-compressed tar archive (model.tar.gz).")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for count, info in enumerate(archive, start=1):
                if count > max_members:
                    raise ArtifactError(f"{label} holds more than {max_members} members; it is not a SageMaker model.")
                if info.isdir():
                    continue
                if not info.isreg():
                    raise ArtifactError(f"{label} contains {info.name!r}, a link or device; refusing to read it.")
                if not _safe_member_name(info.name):
                    raise ArtifactError(f"{label} contains the unsafe path {info.name!r}; refusing to read it.")
                if info.size > max_member_bytes:
                    raise ArtifactError(
                        f"{label} member {info.name!r} is {info.size:,} bytes, over the {max_member_bytes:,}-byte limit."
                    )
                handle = archive.extractfile(info)
                members[os.path.normpath(info.name)] = handle.read() if handle else b""
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, zlib_error()) as exc:
        raise ArtifactError(f"{label} is a damaged or truncated model.tar.gz ({exc}). Re-download it.") from None
    return members


def zlib_error():
    import zlib

    return zlib.error


def write_model_tar(path: Union[str, os.PathLike], members: dict[str, bytes]) -> Path:
    """Write a deterministic model.tar.gz atomically: same members, same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for name, payload in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(payload), 0o644, 0
                archive.addfile(info, io.BytesIO(payload))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- typed models
Model = Union[PCAModel, KMeansModel]


def _model_arrays(source: Source) -> tuple[Arrays, list[str]]:
    data, label = _read_source(source)
    if data.startswith(GZIP_MAGIC):
        members = read_model_tar(data)
        if MODEL_MEMBER not in members:
            raise ArtifactError(f"{label} has no {MODEL_MEMBER} member (it holds {sorted(members) or 'nothing'}).")
        return load_ndarrays(members[MODEL_MEMBER]), sorted(members)
    return load_ndarrays(data), [MODEL_MEMBER]


def _kind(arrays: Arrays) -> str:
    if isinstance(arrays, dict) and {"mean", "v", "s"} <= set(arrays):
        return "pca"
    if isinstance(arrays, list) and arrays and arrays[0].ndim == 2:
        return "kmeans"
    return "unknown"


def load_model(source: Source) -> Model:
    """A PCA or K-Means model from a model.tar.gz or a bare model_algo-1."""
    arrays, _ = _model_arrays(source)
    kind = _kind(arrays)
    if kind == "pca":
        return PCAModel.from_sagemaker_arrays(arrays)
    if kind == "kmeans":
        return KMeansModel(arrays[0])
    raise ArtifactError("This artifact is neither a SageMaker PCA model (mean, v, s) nor a K-Means model (k × d).")


def load_pca(source: Source) -> PCAModel:
    model = load_model(source)
    if not isinstance(model, PCAModel):
        raise ArtifactError("Expected a PCA model, but this artifact holds a K-Means model.")
    return model


def load_kmeans(source: Source) -> KMeansModel:
    model = load_model(source)
    if not isinstance(model, KMeansModel):
        raise ArtifactError("Expected a K-Means model, but this artifact holds a PCA model.")
    return model


def save_pca(model: PCAModel, path: Union[str, os.PathLike]) -> Path:
    return write_model_tar(path, {MODEL_MEMBER: save_ndarrays(model.to_sagemaker_arrays())})


def save_kmeans(model: KMeansModel, path: Union[str, os.PathLike]) -> Path:
    return write_model_tar(path, {MODEL_MEMBER: save_ndarrays([model.centroids.astype(np.float32)])})


def inspect_artifact(source: Source) -> dict:
    """What an artifact holds: kind, members and the arrays' names, shapes and dtypes."""
    arrays, members = _model_arrays(source)
    items = arrays.items() if isinstance(arrays, dict) else ((str(i), a) for i, a in enumerate(arrays))
    return {
        "kind": _kind(arrays),
        "path": str(source) if not isinstance(source, (bytes, bytearray, memoryview)) else None,
        "members": members,
        "arrays": [{"name": name, "shape": list(a.shape), "dtype": str(a.dtype)} for name, a in items],
    }
