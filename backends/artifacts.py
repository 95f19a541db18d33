"""The SageMaker artifact format, owned in one place.

Component order convention (stated once, here): SageMaker's PCA stores `s` and the
columns of `v` smallest component first. Every object this module hands out holds them
largest first; only the on-disk arrays are smallest first.

Layers, bottom up:
- the MXNet NDArray file codec (`load_ndarrays`, `save_ndarrays`), the format of
  `model_algo-1`, written byte for byte as MXNet 1.9.1's `mx.nd.save` writes it;
- `model.tar.gz` I/O (`read_model_tar`, `write_model_tar`), safe against hostile archives
  and deterministic when writing;
- typed models (`PCAModel`, `KMeansModel`) with their loaders, savers and `inspect_artifact`.
"""
from __future__ import annotations

import gzip
import io
import math
import os
import posixpath
import struct
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Union

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
# mx.nd.save (MXNet 1.9.1, src/ndarray/ndarray.cc), little-endian throughout:
#   uint64 0x112 list magic, uint64 reserved 0,
#   uint64 count, then each NDArray,
#   uint64 count, then each name as uint64 length + bytes (count 0 for a list).
# One dense NDArray, V2/V3: uint32 magic, int32 storage type, shape (int32 ndim, int64 dims),
#   context (int32 dev_type, int32 dev_id), int32 type flag, raw C-order data.
# V1 lacks the storage type. Pre-V1 files have no magic: the first uint32 is ndim, then
#   uint32 dims. V3 marks numpy shape semantics, where ndim 0 is a scalar; under the
#   legacy semantics of V2 an ndim of 0 means a "none" (uninitialised) array and nothing
#   follows its shape.

LIST_MAGIC = 0x112  # kMXAPINDArrayListMagic
NDARRAY_V1_MAGIC = 0xF993FAC8
NDARRAY_V2_MAGIC = 0xF993FAC9
NDARRAY_V3_MAGIC = 0xF993FACA
MAX_NDIM = 32
CPU_CONTEXT = (1, 0)  # (kCPU, device 0): what mx.nd.save writes for CPU arrays
DEVICE_TYPES = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}

TYPE_FLAGS: dict[int, np.dtype] = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
    4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"),
}
_FLAG_OF_KIND = {(dtype.kind, dtype.itemsize): flag for flag, dtype in TYPE_FLAGS.items()}
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
        if n > self.remaining:
            raise ArtifactError(
                f"The NDArray file is truncated: it ends while reading {what} at byte {self.pos} "
                f"(needs {n:,} bytes, {self.remaining:,} left). Re-download or re-create the artifact."
            )
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        fmt = "<" + fmt
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def _check_ndim(ndim: int, what: str) -> None:
    if not 0 <= ndim <= MAX_NDIM:
        raise ArtifactError(
            f"The NDArray file is corrupt: {what} claims {ndim} dimensions (MXNet allows 0 to {MAX_NDIM})."
        )


def _read_shape(reader: _Reader, what: str) -> tuple[int, ...] | None:
    """An int32 ndim + int64 dims shape; None when MXNet calls it unknown (ndim or a dim of -1)."""
    (ndim,) = reader.unpack("i", f"the shape of {what}")
    if ndim == -1:
        return None
    _check_ndim(ndim, what)
    dims = reader.unpack("q" * ndim, f"the dimensions of {what}")
    if -1 in dims:
        return None
    if any(d < 0 for d in dims):
        raise ArtifactError(f"The NDArray file is corrupt: {what} has the impossible shape {dims}.")
    return dims


def _read_payload(reader: _Reader, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Context, type flag and data, which follow the shape in every version."""
    dev_type, _dev_id = reader.unpack("ii", f"the context of {what}")
    if dev_type not in DEVICE_TYPES:
        raise ArtifactError(f"The NDArray file is corrupt: {what} names an unknown device type {dev_type}.")
    (flag,) = reader.unpack("i", f"the dtype of {what}")
    dtype = TYPE_FLAGS.get(flag)
    if dtype is None:
        known = ", ".join(f"{f} {d.name}" for f, d in TYPE_FLAGS.items())
        raise ArtifactError(
            f"The NDArray file holds {what} with MXNet dtype flag {flag}, which the workbench does not read "
            f"(it reads {known}). Cast the array to one of those dtypes in MXNet and save it again."
        )
    # Python ints: a hostile shape must not wrap around as an int64 product would.
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > reader.remaining:
        raise ArtifactError(
            f"The NDArray file is truncated or corrupt: {what} of shape {shape} and dtype {dtype.name} "
            f"needs {nbytes:,} bytes but only {reader.remaining:,} remain."
        )
    raw = reader.take(nbytes, f"the data of {what}")
    try:
        array = np.frombuffer(raw, dtype=np.uint8 if dtype.kind == "b" else dtype).reshape(shape)
    except ValueError as exc:  # e.g. a zero-size shape whose other dims overflow numpy's limits
        raise ArtifactError(f"The NDArray file is corrupt: {what} has the unusable shape {shape} ({exc}).") from None
    if dtype.kind == "b":
        return array != 0  # any non-zero byte is True, as in MXNet
    return array.astype(dtype.newbyteorder("="))  # a native-order copy that owns its memory


class _Parser:
    """One pass over an NDArray file.

    v2_scalars: read a V2 header with ndim 0 as a 0-d array followed by its value, rather
    than as MXNet's "none" array with nothing after it (see load_ndarrays).
    """

    def __init__(self, data: bytes, *, v2_scalars: bool):
        self.reader = _Reader(data)
        self.v2_scalars = v2_scalars
        self.saw_v2_ndim0 = False

    def ndarray(self, what: str) -> np.ndarray | None:
        """One NDArray; None for MXNet's uninitialised "none" array."""
        reader = self.reader
        (magic,) = reader.unpack("I", f"the header of {what}")
        if magic in (NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
            (stype,) = reader.unpack("i", f"the storage type of {what}")
            if stype != 0:
                kind = STORAGE_TYPES.get(stype, f"unknown storage type {stype}")
                raise ArtifactError(
                    f"The NDArray file holds {what} as a sparse NDArray ({kind}); sparse NDArrays are not "
                    "supported, only dense ones. Convert it with `.tostype('default')` in MXNet and save it again."
                )
            shape = _read_shape(reader, what)
            if magic == NDARRAY_V3_MAGIC:
                return None if shape is None else _read_payload(reader, shape, what)
            if shape is None:
                raise ArtifactError(f"The NDArray file is corrupt: {what} has an unknown shape in a V2 header.")
            if shape == ():
                self.saw_v2_ndim0 = True
                if not self.v2_scalars:
                    return None
            return _read_payload(reader, shape, what)
        if magic == NDARRAY_V1_MAGIC:
            shape = _read_shape(reader, what)
            return None if shape is None else _read_payload(reader, shape, what)
        if magic <= MAX_NDIM:  # pre-V1: no magic, this word is ndim and the dims are uint32
            dims = reader.unpack("I" * magic, f"the dimensions of {what}")
            return _read_payload(reader, dims, what)
        raise ArtifactError(
            f"This is not an MXNet NDArray file: {what} starts with 0x{magic:08x}, "
            "which is not an NDArray magic number."
        )

    def file(self) -> Arrays:
        reader = self.reader
        size = len(reader.data)
        if size < 24:
            raise ArtifactError(f"This is not an MXNet NDArray file: it is only {size} bytes long.")
        magic, _reserved = reader.unpack("QQ", "the file header")
        if magic != LIST_MAGIC:
            raise ArtifactError(
                f"This is not an MXNet NDArray file: its header is 0x{magic:x}, not 0x{LIST_MAGIC:x}."
            )
        (count,) = reader.unpack("Q", "the number of arrays")
        if count > reader.remaining // 8:  # no NDArray takes fewer than 8 bytes
            raise ArtifactError(f"The NDArray file is corrupt: it claims {count:,} arrays in {size:,} bytes.")
        arrays = [self.ndarray(f"array {i}") for i in range(count)]
        # MXNet's none array has no data; an empty float32 array stands in for it.
        arrays = [np.zeros((0,), np.float32) if a is None else a for a in arrays]
        (n_names,) = reader.unpack("Q", "the number of names")
        if n_names not in (0, count):
            raise ArtifactError(f"The NDArray file is corrupt: it holds {count:,} arrays but {n_names:,} names.")
        names = []
        for i in range(n_names):
            (length,) = reader.unpack("Q", f"the length of name {i}")
            raw = reader.take(length, f"name {i}")
            try:
                names.append(bytes(raw).decode("utf-8"))
            except UnicodeDecodeError:
                raise ArtifactError(f"The NDArray file is corrupt: name {i} is not valid UTF-8.") from None
        if reader.remaining:
            raise ArtifactError(
                f"The NDArray file is corrupt: {reader.remaining:,} unexpected bytes follow its last name."
            )
        if not names:
            return arrays
        if len(set(names)) != len(names):
            raise ArtifactError("The NDArray file is corrupt: two arrays share a name.")
        return dict(zip(names, arrays))


def load_ndarrays(data: bytes) -> Arrays:
    """Read an `mx.nd.save` file: a list of arrays, or a dict (file order) when they are named.

    Reads dense NDArrays of the V1, V2 and V3 (numpy shape) formats and the pre-V1 layout.
    An uninitialised ("none") MXNet array reads as an empty float32 array of shape (0,).
    MXNet 1.9.1 saves a 0-d array outside numpy-shape mode as a V2 header with ndim 0
    followed by its value, a file MXNet itself cannot load back; when MXNet's reading
    fails on such a file it is read again with those headers taken as 0-d arrays.
    """
    data = bytes(data)
    strict = _Parser(data, v2_scalars=False)
    try:
        return strict.file()
    except ArtifactError as error:
        if not strict.saw_v2_ndim0:
            raise
        strict_error = error
    try:
        return _Parser(data, v2_scalars=True).file()
    except ArtifactError:
        raise strict_error from None


def _needs_numpy_shape(array: np.ndarray) -> bool:
    # MXNet's legacy shapes cannot say "scalar" (ndim 0 is "none") nor a zero inside a
    # multi-dimensional shape (0 is "unknown"); a 1-d (0,) array is fine.
    return array.ndim == 0 or (array.ndim > 1 and 0 in array.shape)


def _type_flag(array: np.ndarray, label: str) -> int:
    flag = _FLAG_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if flag is None:
        known = ", ".join(d.name for d in TYPE_FLAGS.values())
        raise ArtifactError(f"Cannot save {label}: its dtype {array.dtype} has no MXNet type flag (use {known}).")
    return flag


def save_ndarrays(arrays: Arrays, *, numpy_shape: bool | None = None) -> bytes:
    """Write arrays exactly as MXNet 1.9.1's `mx.nd.save` does (dense, cpu(0), dtype kept).

    A dict keeps its insertion order and becomes a named file; a list or tuple an unnamed one.
    numpy_shape: write V3 headers (numpy shape semantics, as under `mx.util.np_shape(True)` or
    `mx.npx.save`) instead of V2 ones. The default, None, uses V3 only when some array
    needs it (a 0-d array, or a zero-length axis of a multi-dimensional array), which
    reproduces the files MXNet writes for those arrays; False refuses such arrays, since
    MXNet's legacy mode writes them as files it cannot load back.
    """
    if isinstance(arrays, dict):
        names = list(arrays)
        if not all(isinstance(name, str) for name in names):
            raise TypeError(f"NDArray names must be strings, got {names!r}.")
        values = [np.asarray(v) for v in arrays.values()]
    elif isinstance(arrays, (list, tuple)):
        names, values = [], [np.asarray(v) for v in arrays]
    else:
        raise TypeError(f"save_ndarrays takes a list or a dict of arrays, not {type(arrays).__name__}.")
    labels = [f"array {name!r}" for name in names] or [f"array {i}" for i in range(len(values))]
    flags = [_type_flag(value, label) for value, label in zip(values, labels)]
    for value, label in zip(values, labels):
        if value.ndim > MAX_NDIM:
            raise ArtifactError(f"Cannot save {label}: it has {value.ndim} dimensions; MXNet allows {MAX_NDIM}.")
    needs_v3 = [label for value, label in zip(values, labels) if _needs_numpy_shape(value)]
    if numpy_shape is None:
        numpy_shape = bool(needs_v3)
    elif not numpy_shape and needs_v3:
        raise ArtifactError(
            f"Cannot save {', '.join(needs_v3)} without numpy shape semantics: MXNet's legacy shapes "
            "have no 0-d arrays or zero-length axes in multi-dimensional arrays. Use numpy_shape=True."
        )
    magic = NDARRAY_V3_MAGIC if numpy_shape else NDARRAY_V2_MAGIC

    out = io.BytesIO()
    out.write(struct.pack("<QQQ", LIST_MAGIC, 0, len(values)))
    for value, flag in zip(values, flags):
        out.write(struct.pack(f"<Iii{value.ndim}q", magic, 0, value.ndim, *value.shape))
        out.write(struct.pack("<iii", *CPU_CONTEXT, flag))
        out.write(np.ascontiguousarray(value, dtype=TYPE_FLAGS[flag]).tobytes())  # little-endian C order
    out.write(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        out.write(struct.pack("<Q", len(encoded)) + encoded)
    return out.getvalue()


# --------------------------------------------------------------------------- model.tar.gz
MODEL_MEMBER = "model_algo-1"
MAX_MEMBER_BYTES = 2 << 30
MAX_TOTAL_BYTES = 4 << 30
MAX_MEMBERS = 64
GZIP_MAGIC = b"\x1f\x8b"
Source = Union[str, os.PathLike, bytes]


def _read_source(source: Source) -> tuple[bytes, str]:
    """The bytes of an artifact and a label for messages (its path, or "the artifact")."""
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


def _not_a_model_tar(label: str, reason: str) -> ArtifactError:
    return ArtifactError(
        f"Cannot read {label}: it is not a readable gzip-compressed tar archive (model.tar.gz); {reason}. "
        "Re-download or re-create it."
    )


def _gunzip(data: bytes, limit: int, label: str) -> bytes:
    """Decompress every gzip member, verifying each CRC and length, stopping past `limit` bytes.

    Done here rather than by tarfile's streaming reader, which stops at the tar end marker
    and so never checks the gzip trailer: a truncated download would pass unnoticed.
    """
    if not data.startswith(GZIP_MAGIC):
        raise _not_a_model_tar(label, "it does not start with the gzip signature" if data else "it is empty")
    out = bytearray()
    rest = data
    try:
        while rest.startswith(GZIP_MAGIC):
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            pending = rest
            while pending and not inflater.eof:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise ArtifactError(
                        f"Refusing to read {label}: it unpacks to more than {limit:,} bytes "
                        "(raise max_total_bytes if it is genuine)."
                    )
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise _not_a_model_tar(label, "the gzip stream is truncated")
            rest = inflater.unused_data
    except zlib.error as exc:
        raise _not_a_model_tar(label, f"the gzip stream is corrupt ({exc})") from None
    if rest.strip(b"\0"):  # gzip tolerates zero padding after the last member, nothing else
        raise _not_a_model_tar(label, f"{len(rest):,} stray bytes follow the gzip stream")
    return bytes(out)


def _unsafe_name_reason(name: str) -> str | None:
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if not name:
        return "an empty path"
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in posix.parts or ".." in windows.parts:
        return "a path that climbs out with '..'"
    return None


def read_model_tar(
    source: Source,
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> dict[str, bytes]:
    """The regular-file members of a model.tar.gz by (normalised) name, in archive order.

    Nothing is extracted to disk and nothing in the archive is trusted: absolute or `..`
    paths, links, devices, duplicate names, members over `max_member_bytes` (checked in the
    header before reading), more than `max_members` entries or more than `max_total_bytes`
    unpacked raise ArtifactError. Folders are skipped; members the loaders do not know
    (such as K-Means' `state_<uuid>`) are returned like any other.
    """
    data, label = _read_source(source)
    # Tar headers and padding take up to ~1 KiB per member on top of the payloads.
    tar_bytes = _gunzip(data, max_total_bytes + (max_members + 20) * 1024, label)
    members: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as archive:
            for count, info in enumerate(archive, start=1):
                if count > max_members:
                    raise ArtifactError(
                        f"Refusing to read {label}: it holds more than {max_members} entries "
                        "(a SageMaker model.tar.gz holds one or two)."
                    )
                reason = _unsafe_name_reason(info.name)
                if reason:
                    raise ArtifactError(f"Refusing to read {label}: it contains {info.name!r}, {reason}.")
                if info.isdir():  # including the "./" entry of `tar -C dir .`
                    continue
                name = posixpath.normpath(info.name)
                if name == ".":
                    raise ArtifactError(f"Refusing to read {label}: it contains a file named {info.name!r}.")
                if not info.isreg():
                    kind = "symbolic link" if info.issym() else "hard link" if info.islnk() else "device or fifo"
                    raise ArtifactError(f"Refusing to read {label}: it contains {info.name!r}, a {kind}.")
                if info.size > max_member_bytes:
                    raise ArtifactError(
                        f"Refusing to read {label}: its member {info.name!r} declares {info.size:,} bytes, "
                        f"over the {max_member_bytes:,}-byte limit (max_member_bytes)."
                    )
                total += info.size
                if total > max_total_bytes:
                    raise ArtifactError(f"Refusing to read {label}: it holds more than {max_total_bytes:,} bytes.")
                if name in members:
                    raise ArtifactError(f"Refusing to read {label}: it contains {name!r} twice; which one counts?")
                handle = archive.extractfile(info)
                payload = handle.read() if handle else b""
                if len(payload) != info.size:
                    raise _not_a_model_tar(label, f"its member {name!r} is truncated")
                members[name] = payload
    except tarfile.TarError as exc:
        raise _not_a_model_tar(label, f"the gzip stream does not hold a valid tar archive ({exc})") from None
    return members


def write_model_tar(path: Union[str, os.PathLike], members: dict[str, bytes]) -> Path:
    """Write a model.tar.gz atomically and deterministically: equal members, equal bytes.

    Members keep the dict's order; every entry has mtime 0, uid/gid 0 and mode 0o644, and the
    gzip header carries no name or time. The file appears complete or not at all.
    """
    path = Path(path)
    for name, payload in members.items():
        reason = "not a string" if not isinstance(name, str) else _unsafe_name_reason(name)
        if not reason and posixpath.normpath(name) == ".":
            reason = "not a file name"
        if reason or not isinstance(payload, (bytes, bytearray, memoryview)):
            raise ArtifactError(f"Cannot write the member {name!r} to {path}: {reason or 'its payload is not bytes'}.")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(payload), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(bytes(payload)))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as zipped:
        zipped.write(raw.getvalue())

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(compressed.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0o600; an artifact is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
