"""SageMaker's training-data format, read without the SageMaker SDK or protobuf.

The built-in algorithms take `application/x-recordio-protobuf`: MXNet RecordIO framing
(uint32 magic 0xCED7230A, uint32 length, payload padded to 4 bytes) around one protobuf
`aialgs.data.Record` per row (the schema is the SDK's `sagemaker/amazon/record.proto`):

    Record  { map<string, Value> features = 1; map<string, Value> label = 2; ... }
    Value   { oneof { Float32Tensor float32_tensor = 2; Float64Tensor float64_tensor = 3;
                      Int32Tensor int32_tensor = 7; Bytes bytes = 9; } }
    *Tensor { repeated <T> values = 1 [packed]; repeated uint64 keys = 2 [packed];
              repeated uint64 shape = 3 [packed]; }

The training image decodes it here, in pure Python + numpy, so the image needs no SDK.
Rows are the `values` feature of each record; sparse rows (keys + shape) are densified.
The tests cross-check this reader against the SDK's own writer (`record_set` uses
`write_numpy_to_dense_tensor`) and reader (`read_records`).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

RECORDIO_MAGIC = 0xCED7230A

_TENSOR_DTYPES = {2: np.dtype("<f4"), 3: np.dtype("<f8"), 7: np.dtype("<i4")}
_FIXED_WIDTH = {2: 4, 3: 8}  # unpacked float (wire type 5) / double (wire type 1)


class RecordIOError(ValueError):
    """The training data is not valid RecordIO-protobuf."""


def is_recordio(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] == RECORDIO_MAGIC


def iter_recordio(data: bytes) -> Iterator[memoryview]:
    """The payload of every RecordIO record in `data`."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        if len(view) - pos < 8:
            raise RecordIOError(f"RecordIO data ends inside a record header at byte {pos}.")
        magic, length = struct.unpack_from("<II", view, pos)
        if magic != RECORDIO_MAGIC:
            raise RecordIOError(f"Bad RecordIO magic 0x{magic:08x} at byte {pos}; expected 0x{RECORDIO_MAGIC:08x}.")
        # MXNet keeps a continuation flag in the top 3 bits of the length word.
        flag, length = length >> 29, length & ((1 << 29) - 1)
        if flag != 0:
            raise RecordIOError(f"Multi-part RecordIO records are not supported (flag {flag} at byte {pos}).")
        start = pos + 8
        end = start + length
        if end > len(view):
            raise RecordIOError(f"RecordIO record at byte {pos} claims {length} bytes but the data ends first.")
        yield view[start:end]
        pos = start + ((length + 3) & ~3)


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise RecordIOError("A protobuf varint runs past the end of its record.")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise RecordIOError("A protobuf varint is longer than 10 bytes.")


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) for each field of a protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise RecordIOError(f"Unsupported protobuf wire type {wire} (field {number}).")
        if pos > len(buf):
            raise RecordIOError(f"Protobuf field {number} runs past the end of its record.")
        yield number, wire, value


def _packed_varints(data: memoryview) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        out.append(value)
    return out


def _tensor(kind: int, buf: memoryview) -> tuple[np.ndarray, list[int], list[int]]:
    dtype = _TENSOR_DTYPES[kind]
    values: list[np.ndarray] = []
    keys: list[int] = []
    shape: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            if wire == 2:
                if kind == 7:  # int32 values are varints even when packed
                    ints = [v - (1 << 64) if v >= 1 << 63 else v for v in _packed_varints(value)]
                    values.append(np.asarray(ints, dtype=dtype))
                else:
                    values.append(np.frombuffer(value, dtype=dtype))
            elif wire == 0:
                values.append(np.asarray([value - (1 << 64) if value >= 1 << 63 else value], dtype=dtype))
            elif _FIXED_WIDTH.get(kind) and len(value) == _FIXED_WIDTH[kind]:
                values.append(np.frombuffer(value, dtype=dtype))
        elif number in (2, 3):
            ints = _packed_varints(value) if wire == 2 else [value]
            (keys if number == 2 else shape).extend(ints)
    return (np.concatenate(values) if values else np.zeros(0, dtype=dtype)), keys, shape


def _row(payload: memoryview, feature: str = "values") -> np.ndarray:
    for number, _wire, entry in _fields(payload):
        if number != 1:  # only `features`; labels are not training input for PCA/K-Means
            continue
        key, value = None, None
        for n, _w, v in _fields(entry):
            if n == 1:
                key = bytes(v).decode("utf-8")
            elif n == 2:
                value = v
        if key != feature or value is None:
            continue
        for kind, _w, tensor in _fields(value):
            if kind in _TENSOR_DTYPES:
                values, keys, shape = _tensor(kind, tensor)
                width = int(np.prod(shape)) if shape else None
                if not keys and (width is None or values.size == width):
                    return values.astype(np.float64 if kind == 3 else np.float32)
                if width is None:
                    raise RecordIOError("A sparse record has keys but no shape; its width is unknown.")
                if keys and max(keys) >= width:
                    raise RecordIOError(f"A sparse record has key {max(keys)} outside its shape {shape}.")
                dense = np.zeros(width, dtype=np.float64 if kind == 3 else np.float32)
                dense[np.asarray(keys, dtype=np.int64)] = values
                return dense
            raise RecordIOError(f"Record feature {feature!r} holds unsupported Value field {kind}.")
    raise RecordIOError(f"A record has no {feature!r} feature tensor.")


def read_dense_matrix(data: bytes) -> np.ndarray:
    """Decode RecordIO-protobuf rows into a float32 (n, d) matrix (float64 rows are narrowed)."""
    rows = [_row(payload) for payload in iter_recordio(data)]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise RecordIOError(f"Records have different widths ({sorted(widths)}); every row needs the same features.")
    return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)
