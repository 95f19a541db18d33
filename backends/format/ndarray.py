"""The MXNet NDArray file codec: the format of `model_algo-1`, read and written byte for byte
as MXNet 1.9.1's `mx.nd.save` writes it (MXNet is retired, so this is hand-written).

mx.nd.save (src/ndarray/ndarray.cc), little-endian throughout:
  uint64 0x112 list magic, uint64 reserved 0,
  uint64 count, then each NDArray,
  uint64 count, then each name as uint64 length + bytes (count 0 for a list).
One dense NDArray, V2/V3: uint32 magic, int32 storage type, shape (int32 ndim, int64 dims),
  context (int32 dev_type, int32 dev_id), int32 type flag, raw C-order data.
V1 lacks the storage type. Pre-V1 files have no magic: the first uint32 is ndim, then
  uint32 dims. V3 marks numpy shape semantics, where ndim 0 is a scalar; under the
  legacy semantics of V2 an ndim of 0 means a "none" (uninitialised) array and nothing
  follows its shape.
"""
from __future__ import annotations

import io
import math
import struct
from typing import Union

import numpy as np

from backends.format.errors import ArtifactError

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
