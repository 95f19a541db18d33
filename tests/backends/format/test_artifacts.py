"""The artifact module: MXNet NDArray codec, model.tar.gz I/O and the typed PCA/K-Means models.

Ground truth is in /work/shared/fixtures (read through conftest's fixtures): files written by
MXNet 1.9.1 itself, and real model.tar.gz files from SageMaker training jobs.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import struct
import tarfile

import numpy as np
import pytest

from backends.format import model_tar
from backends.format.errors import ArtifactError
from backends.format.model_tar import read_model_tar, write_model_tar
from backends.format.models import (
    KMeansModel,
    PCAModel,
    inspect_artifact,
    load_kmeans,
    load_model,
    load_pca,
    save_kmeans,
    save_pca,
)
from backends.format.ndarray import load_ndarrays, save_ndarrays

V1, V2, V3 = 0xF993FAC8, 0xF993FAC9, 0xF993FACA

# ----------------------------------------------------------------------------- fixture expectations
# What each MXNet fixture holds, from make_samples.py / make_0d.py (values rebuilt independently
# of the reader, so the writer is checked against MXNet rather than against our own reader).
LOADABLE = {
    "empty_list.params": [],
    "float16_2.params": [np.array([1.0, -2.0], np.float16)],
    "float64_2x3.params": [np.arange(6, dtype=np.float64).reshape(2, 3) + 0.5],
    "int32_2.params": [np.array([7, -1], np.int32)],
    "int64_3.params": [np.array([1, -2, 3], np.int64)],
    "tiny_list_float32_2.params": [np.array([1.0, 2.0], np.float32)],
    "tiny_dict_float32.params": {"a": np.array([1.0], np.float32)},
    "tiny_float32_1x2.params": [np.array([[1.0, 2.0]], np.float32)],
    "uint8_3.params": [np.array([1, 2, 255], np.uint8)],
    "two_arrays_list.params": [np.array([1.0], np.float32), np.array([[2.0, 3.0]], np.float32)],
    "zero_size_0.params": [np.zeros((0,), np.float32)],
    "scalar_0d_nd_save_npshape.params": [np.array(3.5, np.float32)],
    "scalar_0d_npx_save.params": [np.array(3.5, np.float32)],
    "zero_size_2x0_nd_save_npshape.params": [np.zeros((2, 0), np.float32)],
    "zero_size_2x0_npx_save.params": [np.zeros((2, 0), np.float32)],
    # Random values: compared with the .expected files in their own tests.
    "pca_dict_mean_v_s.params": None,
    "kmeans_list_centroids_7x5.params": None,
}
UNLOADABLE_BY_MXNET = {"scalar_0d_nd_legacy.params": [np.array(3.5, np.float32)]}
ALL_PARAMS = sorted({**LOADABLE, **UNLOADABLE_BY_MXNET})

PCA_CENSUS_MD5 = "521ec05502efa1ea9b7ae22d4766813c"
KMEANS_FIXTURES = ["kmeans-census-k8", "kmeans-census-k8-with-state", "kmeans-10x2-with-state"]
PCA_FIXTURES = ["pca-census-33", "pca-19x18"]


@pytest.fixture(scope="module")
def manifest(mxnet_fixtures):
    return json.loads((mxnet_fixtures / "MANIFEST.json").read_text())


@pytest.fixture(scope="module")
def expected_arrays(mxnet_fixtures):
    """Every loadable fixture's arrays, the random ones from their .expected files."""
    npz = np.load(mxnet_fixtures / "pca_dict_mean_v_s.expected.npz")
    return {
        **LOADABLE,
        **UNLOADABLE_BY_MXNET,
        "pca_dict_mean_v_s.params": {"mean": npz["mean"], "v": npz["v"], "s": npz["s"]},
        "kmeans_list_centroids_7x5.params": [np.load(mxnet_fixtures / "kmeans_list_centroids_7x5.expected.npy")],
    }


def assert_same_arrays(got, want):
    assert type(got) is type(want)
    if isinstance(want, dict):
        assert list(got) == list(want)
        got, want = list(got.values()), list(want.values())
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def sagemaker_member(sagemaker_fixtures, folder: str) -> bytes:
    return read_model_tar(sagemaker_fixtures / folder / "model.tar.gz")[model_tar.MODEL_MEMBER]


# ----------------------------------------------------------------------------- hand-built NDArray files
def nd_file(blobs: list[bytes], names: list[str] = ()) -> bytes:
    out = struct.pack("<QQQ", 0x112, 0, len(blobs)) + b"".join(blobs) + struct.pack("<Q", len(names))
    return out + b"".join(struct.pack("<Q", len(n.encode())) + n.encode() for n in names)


def nd_v2(shape, flag=0, data=b"", *, magic=V2, stype=0, ctx=(1, 0)) -> bytes:
    head = struct.pack(f"<Iii{len(shape)}q", magic, stype, len(shape), *shape)
    return head + struct.pack("<iii", *ctx, flag) + data


def f32(*values) -> bytes:
    return np.array(values, "<f4").tobytes()


# ============================================================================= NDArray codec: fixtures
def test_every_fixture_file_is_covered(mxnet_fixtures):
    assert sorted(p.name for p in mxnet_fixtures.glob("*.params")) == ALL_PARAMS


@pytest.mark.parametrize("name", ALL_PARAMS)
def test_reads_every_mxnet_fixture_exactly(mxnet_fixtures, manifest, expected_arrays, name):
    data = (mxnet_fixtures / name).read_bytes()
    entry = manifest[name]
    assert len(data) == entry["bytes"]
    got = load_ndarrays(data)
    assert_same_arrays(got, expected_arrays[name])
    if "loaded_back" in entry:  # what MXNet read back: [shape, dtype] by position or by name
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        seen = entry["loaded_back"]
        if isinstance(seen, list):
            seen = {str(i): item for i, item in enumerate(seen)}
        ours = got.items() if isinstance(got, dict) else enumerate(got)
        assert {str(key): [list(a.shape), a.dtype.name] for key, a in ours} == seen


@pytest.mark.parametrize("name", sorted(LOADABLE))
def test_writer_is_byte_identical_to_mxnet(mxnet_fixtures, expected_arrays, name):
    assert save_ndarrays(expected_arrays[name]) == (mxnet_fixtures / name).read_bytes()


@pytest.mark.parametrize("name", sorted(LOADABLE))
def test_fixture_round_trips_through_reader_and_writer(mxnet_fixtures, name):
    data = (mxnet_fixtures / name).read_bytes()
    assert save_ndarrays(load_ndarrays(data)) == data


def test_numpy_shape_files_use_v3_and_can_be_requested_explicitly(mxnet_fixtures):
    scalar = (mxnet_fixtures / "scalar_0d_npx_save.params").read_bytes()
    assert struct.unpack_from("<I", scalar, 24)[0] == V3
    assert save_ndarrays([np.array(3.5, np.float32)], numpy_shape=True) == scalar
    # A plain 1-d array under numpy shape semantics: same layout, V3 magic.
    v3 = save_ndarrays([np.array([1.0, 2.0], np.float32)], numpy_shape=True)
    v2 = (mxnet_fixtures / "tiny_list_float32_2.params").read_bytes()
    assert v3 == v2.replace(struct.pack("<I", V2), struct.pack("<I", V3))
    assert_same_arrays(load_ndarrays(v3), [np.array([1.0, 2.0], np.float32)])


def test_legacy_mode_scalar_that_mxnet_cannot_load_is_still_read(mxnet_fixtures):
    # MXNet 1.9.1 wrote V2, ndim 0, then the value: its own reader takes ndim 0 as "none".
    data = (mxnet_fixtures / "scalar_0d_nd_legacy.params").read_bytes()
    assert struct.unpack_from("<Ii", data, 24) == (V2, 0)
    (value,) = load_ndarrays(data)
    assert value.shape == () and value.dtype == np.float32 and value == 3.5
    # We never write that unloadable form: 0-d arrays go out as V3, as MXNet's np_shape mode does.
    assert save_ndarrays([value]) == (mxnet_fixtures / "scalar_0d_npx_save.params").read_bytes()
    with pytest.raises(ArtifactError, match="numpy_shape=True"):
        save_ndarrays([value], numpy_shape=False)


def test_pca_fixture_values_and_file_order(mxnet_fixtures):
    arrays = load_ndarrays((mxnet_fixtures / "pca_dict_mean_v_s.params").read_bytes())
    npz = np.load(mxnet_fixtures / "pca_dict_mean_v_s.expected.npz")
    assert list(arrays) == ["mean", "v", "s"]  # the order mx.nd.save was given
    for key in ("mean", "v", "s"):
        np.testing.assert_array_equal(arrays[key], npz[key])


def test_kmeans_fixture_values(mxnet_fixtures):
    (centroids,) = load_ndarrays((mxnet_fixtures / "kmeans_list_centroids_7x5.params").read_bytes())
    np.testing.assert_array_equal(centroids, np.load(mxnet_fixtures / "kmeans_list_centroids_7x5.expected.npy"))
    assert load_model((mxnet_fixtures / "kmeans_list_centroids_7x5.params").read_bytes()).k == 7


# ============================================================================= NDArray codec: other layouts
def test_reads_v1_arrays():
    blob = struct.pack("<Ii2q", V1, 2, 2, 2) + struct.pack("<iii", 1, 0, 0) + f32(1, 2, 3, 4)
    (array,) = load_ndarrays(nd_file([blob]))
    np.testing.assert_array_equal(array, np.array([[1, 2], [3, 4]], np.float32))


def test_reads_pre_v1_legacy_arrays_without_magic():
    # First word is ndim; dims are uint32.
    blob = struct.pack("<I2I", 2, 1, 3) + struct.pack("<iii", 1, 0, 6) + np.array([5, -6, 7], "<i8").tobytes()
    arrays = load_ndarrays(nd_file([blob, blob], ["x", "y"]))
    assert list(arrays) == ["x", "y"]
    np.testing.assert_array_equal(arrays["y"], np.array([[5, -6, 7]], np.int64))


def test_reads_arrays_saved_from_a_gpu_context():
    (array,) = load_ndarrays(nd_file([nd_v2((2,), 0, f32(1, 2), ctx=(2, 3))]))
    np.testing.assert_array_equal(array, [1, 2])


def test_none_arrays_read_as_empty_float32():
    # MXNet's uninitialised array: a V2 shape of ndim 0, or a V3 shape of ndim -1, then nothing.
    v2_none = struct.pack("<Iii", V2, 0, 0)
    v3_none = struct.pack("<Iii", V3, 0, -1)
    arrays = load_ndarrays(nd_file([v2_none, nd_v2((1,), 0, f32(9)), v3_none]))
    assert [a.shape for a in arrays] == [(0,), (1,), (0,)]
    assert arrays[1][0] == 9


@pytest.mark.parametrize("stype, kind", [(1, "row_sparse"), (2, "csr")])
def test_sparse_ndarrays_are_rejected_with_advice(stype, kind):
    with pytest.raises(ArtifactError, match="sparse NDArrays are not supported") as caught:
        load_ndarrays(nd_file([nd_v2((2,), 0, f32(1, 2), stype=stype)]))
    assert kind in str(caught.value) and "tostype('default')" in str(caught.value)


@pytest.mark.parametrize("flag", [8, 12, -1, 99])
def test_unknown_dtype_flag_is_rejected(flag):
    with pytest.raises(ArtifactError, match=f"dtype flag {flag}"):
        load_ndarrays(nd_file([nd_v2((1,), flag, b"\0" * 8)]))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "only 0 bytes"),
        (b"hello, this is certainly not an NDArray file", "not an MXNet NDArray file"),
        (struct.pack("<QQQ", 0x113, 0, 0) + struct.pack("<Q", 0), "header is 0x113"),
        (nd_file([struct.pack("<I", 0xDEADBEEF) + b"\0" * 40]), "not an NDArray magic"),
        (nd_file([struct.pack("<Iii", V2, 0, 33) + b"\0" * 400]), "33 dimensions"),
        (nd_file([struct.pack("<Iii", V2, 0, -7) + b"\0" * 40]), "-7 dimensions"),
        (nd_file([nd_v2((-5,), 0)]), "impossible shape"),
        (nd_file([nd_v2((1 << 40,), 0, f32(1))]), "needs 4,398,046,511,104 bytes"),
        # An int64 product of these dims wraps to 0; the reader must not be fooled.
        (nd_file([nd_v2((1 << 32, 1 << 32), 0)]), "needs"),
        (nd_file([nd_v2((0, 1 << 62, 1 << 62), 0)]), "unusable shape"),
        (nd_file([nd_v2((1,), 0, f32(1), ctx=(77, 0))]), "unknown device type 77"),
        (struct.pack("<QQQ", 0x112, 0, 1 << 60) + b"\0" * 64, "claims 1,152,921,504,606,846,976 arrays"),
        (nd_file([nd_v2((1,), 0, f32(1))], ["a", "b"]), "1 arrays but 2 names"),
        (nd_file([nd_v2((1,), 0, f32(1))] * 2, ["a", "a"]), "share a name"),
        (nd_file([nd_v2((1,), 0, f32(1))])[:-8] + struct.pack("<QQ", 1, 1 << 50), "truncated"),
        (nd_file([nd_v2((1,), 0, f32(1))])[:-8] + struct.pack("<QQ", 1, 1) + b"\xff", "not valid UTF-8"),
        (nd_file([nd_v2((1,), 0, f32(1))]) + b"junk", "4 unexpected bytes"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_ndarray_files_raise_artifact_error(data, message):
    with pytest.raises(ArtifactError, match=message):
        load_ndarrays(data)


@pytest.mark.parametrize("name", ALL_PARAMS)
def test_truncation_at_every_byte_offset_raises_artifact_error(mxnet_fixtures, name):
    data = (mxnet_fixtures / name).read_bytes()
    for cut in range(len(data)):
        with pytest.raises(ArtifactError):
            load_ndarrays(data[:cut])


def test_corrupted_bytes_raise_only_artifact_error(mxnet_fixtures):
    # A seeded fuzz over every fixture: any outcome but ArtifactError or a clean read is a bug.
    rng = np.random.default_rng(7)
    for name in ALL_PARAMS:
        data = (mxnet_fixtures / name).read_bytes()
        for _ in range(300):
            damaged = bytearray(data)
            for pos in rng.integers(0, len(data), size=rng.integers(1, 4)):
                damaged[pos] = rng.integers(0, 256)
            try:
                load_ndarrays(bytes(damaged))
            except ArtifactError:
                pass


# ============================================================================= NDArray codec: writing
ALL_DTYPES = [np.float32, np.float64, np.float16, np.uint8, np.int32, np.int8, np.int64, np.bool_]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0), (0, 4, 1), (1, 2, 1, 2)])
def test_round_trip_of_every_supported_dtype_and_shape(dtype, shape):
    rng = np.random.default_rng(0)
    values = (rng.normal(size=shape) * 50).astype(dtype) if dtype is not np.bool_ else rng.random(shape) > 0.5
    arrays = {"x": values, "y": np.ones(3, dtype)}
    data = save_ndarrays(arrays)
    assert_same_arrays(load_ndarrays(data), arrays)
    assert_same_arrays(load_ndarrays(save_ndarrays([values])), [values])


def test_type_flags_match_mxnet():
    flags = {np.dtype(d).name: struct.unpack_from("<i", save_ndarrays([np.zeros(1, d)]), 52)[0] for d in ALL_DTYPES}
    assert flags == {"float32": 0, "float64": 1, "float16": 2, "uint8": 3, "int32": 4, "int8": 5, "int64": 6,
                     "bool": 7}


def test_bool_bytes_other_than_one_read_as_true():
    (array,) = load_ndarrays(nd_file([nd_v2((3,), 7, bytes([0, 1, 2]))]))
    assert array.dtype == np.bool_ and array.tolist() == [False, True, True]


def test_writer_normalises_byte_order_and_memory_layout():
    values = np.arange(6, dtype=np.float64).reshape(2, 3)
    big_endian_fortran = np.asfortranarray(values.astype(">f8"))
    strided = np.arange(12, dtype=np.float64).reshape(2, 6)[:, ::2] // 2 + np.array([0, 0.5, 1])
    assert save_ndarrays([big_endian_fortran]) == save_ndarrays([values])
    assert_same_arrays(load_ndarrays(save_ndarrays([strided])), [np.ascontiguousarray(strided)])
    (back,) = load_ndarrays(save_ndarrays([big_endian_fortran]))
    assert back.dtype == np.dtype("float64") and back.flags.c_contiguous and back.flags.writeable


def test_dict_insertion_order_and_unicode_names_are_kept():
    arrays = {"s": np.ones(2, np.float32), "v": np.ones((3, 2), np.float32), "mëan": np.zeros((1, 3), np.float32)}
    assert list(load_ndarrays(save_ndarrays(arrays))) == ["s", "v", "mëan"]


def test_empty_dict_saves_as_an_empty_list():
    # The file format cannot tell an empty dict from an empty list; MXNet reads it as a list too.
    assert load_ndarrays(save_ndarrays({})) == []


@pytest.mark.parametrize(
    "arrays, error, message",
    [
        ([np.zeros(2, np.complex64)], ArtifactError, "complex64"),
        ([np.zeros(2, np.uint16)], ArtifactError, "uint16"),
        ([np.array(["a"])], ArtifactError, "no MXNet type flag"),
        ({"a": np.zeros((1,) * 33, np.float32)}, ArtifactError, "33 dimensions"),
        ({1: np.zeros(1, np.float32)}, TypeError, "names must be strings"),
        (np.zeros(3, np.float32), TypeError, "list or a dict"),
    ],
)
def test_writer_rejects_what_mxnet_files_cannot_hold(arrays, error, message):
    with pytest.raises(error, match=message):
        save_ndarrays(arrays)


def test_writer_refuses_legacy_shapes_it_cannot_express():
    with pytest.raises(ArtifactError, match="array 0"):
        save_ndarrays([np.zeros((2, 0), np.float32)], numpy_shape=False)
    # (0,) is expressible in legacy shapes: MXNet wrote it as V2 (zero_size_0.params).
    assert struct.unpack_from("<I", save_ndarrays([np.zeros(0, np.float32)], numpy_shape=False), 24)[0] == V2


# ============================================================================= model.tar.gz: reading
def tar_gz(*entries: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    """A gzip-compressed tar built from (name, payload) pairs or prepared TarInfo headers."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                name, payload = entry
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
    return gzip.compress(raw.getvalue(), mtime=0)


def tar_entry(name: str, kind: bytes, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


@pytest.mark.parametrize("folder", PCA_FIXTURES + KMEANS_FIXTURES)
def test_reads_real_sagemaker_archives(sagemaker_fixtures, folder):
    members = read_model_tar(sagemaker_fixtures / folder / "model.tar.gz")
    assert model_tar.MODEL_MEMBER in members
    unknown = [name for name in members if name != model_tar.MODEL_MEMBER]
    assert all(name.startswith("state_") for name in unknown)
    assert bool(unknown) == folder.endswith("with-state")


def test_kmeans_state_member_is_returned_but_ignored(sagemaker_fixtures):
    path = sagemaker_fixtures / "kmeans-census-k8-with-state" / "model.tar.gz"
    members = read_model_tar(path)
    (state_name,) = [n for n in members if n.startswith("state_")]
    state = load_ndarrays(members[state_name])
    assert {k: v.shape for k, v in state.items()} == {"0": (80, 7), "1": (80, 1)}
    model = load_kmeans(path)
    assert (model.k, model.feature_dim) == (8, 7)
    assert inspect_artifact(path)["arrays"] == [{"name": "0", "shape": [8, 7], "dtype": "float32"}]


def test_member_names_are_normalised_and_folders_skipped():
    # `tar -czf x.tar.gz -C dir .` starts with a "./" folder entry, as SageMaker's output.tar.gz does.
    root, folder = tar_entry("./", tarfile.DIRTYPE, mode=0o755), tar_entry("./sub", tarfile.DIRTYPE, mode=0o755)
    members = read_model_tar(tar_gz(root, folder, ("./model_algo-1", b"abc"), ("./sub/x", b"x")))
    assert members == {"model_algo-1": b"abc", "sub/x": b"x"}


@pytest.mark.parametrize(
    "entries, message",
    [
        ([("../evil", b"x")], "climbs out"),
        ([("model/../../evil", b"x")], "climbs out"),
        ([("..\\evil", b"x")], "climbs out"),
        ([("/etc/passwd", b"x")], "absolute path"),
        ([("C:\\evil", b"x")], "absolute path"),
        ([tar_entry("link", tarfile.SYMTYPE, linkname="/etc/passwd")], "symbolic link"),
        ([tar_entry("model_algo-1", tarfile.SYMTYPE, linkname="../../x")], "symbolic link"),
        ([("a", b"x"), tar_entry("hard", tarfile.LNKTYPE, linkname="a")], "hard link"),
        ([tar_entry("dev", tarfile.CHRTYPE, devmajor=1, devminor=3)], "device"),
        ([tar_entry("pipe", tarfile.FIFOTYPE)], "device or fifo"),
        ([("model_algo-1", b"1"), ("model_algo-1", b"2")], "twice"),
        ([("./", b"x")], "a file named './'"),
        ([tar_entry("model_algo-1", tarfile.REGTYPE, size=(3 << 30))], "declares 3,221,225,472 bytes"),
    ],
)
def test_hostile_archives_are_refused(entries, message):
    with pytest.raises(ArtifactError, match=message):
        read_model_tar(tar_gz(*entries))


def test_oversized_member_is_refused_before_reading():
    # The header declares more than the limit: refused on the header, whatever follows.
    with pytest.raises(ArtifactError, match="max_member_bytes"):
        read_model_tar(tar_gz(("model_algo-1", b"x" * 2000)), max_member_bytes=1000)
    assert read_model_tar(tar_gz(("model_algo-1", b"x" * 1000)), max_member_bytes=1000)


def test_too_many_members_are_refused():
    entries = [(f"m{i}", b"") for i in range(6)]
    assert len(read_model_tar(tar_gz(*entries), max_members=6)) == 6
    with pytest.raises(ArtifactError, match="more than 5 entries"):
        read_model_tar(tar_gz(*entries), max_members=5)
    with pytest.raises(ArtifactError, match="more than 64 entries"):
        read_model_tar(tar_gz(*[(f"m{i}", b"") for i in range(65)]))


def test_decompression_bombs_are_refused():
    bomb = tar_gz(("a", bytes(3 << 20)), ("b", bytes(3 << 20)))
    assert len(bomb) < 30_000
    with pytest.raises(ArtifactError, match="Refusing"):
        read_model_tar(bomb, max_total_bytes=4 << 20)


@pytest.mark.parametrize(
    "data",
    [b"", b"plain text, not an archive\n", b"\x1f", gzip.compress(b"gzip, but no tar inside" * 40)],
    ids=["empty", "text", "half-magic", "gzip-not-tar"],
)
def test_non_archives_are_not_gzip_compressed_tar_archives(data):
    with pytest.raises(ArtifactError, match="is not a readable gzip-compressed tar archive"):
        read_model_tar(data)


def test_truncated_gzip_at_every_offset_is_refused(sagemaker_fixtures):
    # tarfile alone stops at the tar end marker and never checks the gzip trailer.
    data = (sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz").read_bytes()
    for cut in range(len(data)):
        with pytest.raises(ArtifactError, match="gzip"):
            read_model_tar(data[:cut])


def test_corrupt_gzip_checksum_and_trailing_garbage_are_refused(sagemaker_fixtures):
    data = bytearray((sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz").read_bytes())
    data[-6] ^= 0xFF  # inside the CRC32
    with pytest.raises(ArtifactError, match="corrupt"):
        read_model_tar(bytes(data))
    good = (sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz").read_bytes()
    with pytest.raises(ArtifactError, match="stray bytes"):
        read_model_tar(good + b"garbage")
    assert read_model_tar(good + bytes(512)) == read_model_tar(good)  # zero padding is fine


def test_concatenated_gzip_members_are_read_as_one_stream():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("model_algo-1")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    tar = raw.getvalue()
    data = gzip.compress(tar[:700], mtime=0) + gzip.compress(tar[700:], mtime=0)
    assert read_model_tar(data) == {"model_algo-1": b"abc"}


def test_missing_paths_and_folders_get_clear_errors(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        read_model_tar(tmp_path / "nope" / "model.tar.gz")
    with pytest.raises(ArtifactError, match="is a folder"):
        load_model(tmp_path)


# ============================================================================= model.tar.gz: writing
def test_written_archive_is_deterministic_and_round_trips(tmp_path):
    members = {"model_algo-1": b"model", "notes/readme": b"hello"}
    first = write_model_tar(tmp_path / "a" / "model.tar.gz", members)
    os.utime(tmp_path, (1, 1))
    second = write_model_tar(tmp_path / "b" / "model.tar.gz", dict(members))
    assert first.read_bytes() == second.read_bytes()
    assert read_model_tar(first) == members
    with tarfile.open(first) as archive:
        for info in archive.getmembers():
            assert (info.mtime, info.uid, info.gid, info.mode, info.uname, info.gname) == (0, 0, 0, 0o644, "", "")
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime
    assert (first.stat().st_mode & 0o777) == 0o644


def test_write_replaces_atomically_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = write_model_tar(tmp_path / "model.tar.gz", {"model_algo-1": b"old"})
    write_model_tar(path, {"model_algo-1": b"new"})
    assert read_model_tar(path) == {"model_algo-1": b"new"}

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(model_tar.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_model_tar(path, {"model_algo-1": b"newer"})
    assert read_model_tar(path) == {"model_algo-1": b"new"}
    assert [p.name for p in tmp_path.iterdir()] == ["model.tar.gz"]


@pytest.mark.parametrize("name", ["../x", "/abs", "", "."])
def test_writer_refuses_unsafe_member_names(tmp_path, name):
    with pytest.raises(ArtifactError, match="Cannot write"):
        write_model_tar(tmp_path / "model.tar.gz", {name: b"x"})
    assert not any(tmp_path.iterdir())


# ============================================================================= typed models: PCA
def test_census_pca_model_algo_1_is_the_published_one(sagemaker_fixtures):
    payload = sagemaker_member(sagemaker_fixtures, "pca-census-33")
    assert len(payload) == 4930 and hashlib.md5(payload).hexdigest() == PCA_CENSUS_MD5
    arrays = load_ndarrays(payload)
    assert list(arrays) == ["s", "v", "mean"]
    assert {k: (v.shape, v.dtype.name) for k, v in arrays.items()} == {
        "s": ((33,), "float32"), "v": ((34, 33), "float32"), "mean": ((1, 34), "float32")}


def test_census_pca_loads_largest_component_first(sagemaker_fixtures):
    path = sagemaker_fixtures / "pca-census-33" / "model.tar.gz"
    raw = load_ndarrays(sagemaker_member(sagemaker_fixtures, "pca-census-33"))
    model = load_pca(path)
    assert (model.feature_dim, model.n_components) == (34, 33)
    assert np.all(np.diff(model.s) <= 0) and model.s[0] > model.s[-1]
    assert np.all(np.diff(raw["s"]) >= 0)  # on disk, smallest first
    np.testing.assert_array_equal(model.s, raw["s"][::-1])
    np.testing.assert_array_equal(model.v, raw["v"][:, ::-1])
    np.testing.assert_array_equal(model.mean, raw["mean"][0])
    top = model.top(3)
    np.testing.assert_array_equal(top.s, model.s[:3])
    np.testing.assert_array_equal(top.v, model.v[:, :3])


def test_resaving_census_pca_reproduces_model_algo_1_exactly(sagemaker_fixtures, tmp_path):
    model = load_pca(sagemaker_fixtures / "pca-census-33" / "model.tar.gz")
    saved = save_pca(model, tmp_path / "model.tar.gz")
    assert read_model_tar(saved) == {"model_algo-1": sagemaker_member(sagemaker_fixtures, "pca-census-33")}
    assert hashlib.md5(save_ndarrays(model.to_sagemaker_arrays())).hexdigest() == PCA_CENSUS_MD5


@pytest.mark.parametrize("folder", PCA_FIXTURES)
def test_pca_transform_is_mean_centred_projection(sagemaker_fixtures, folder):
    model = load_pca(sagemaker_fixtures / folder / "model.tar.gz")
    raw = load_ndarrays(sagemaker_member(sagemaker_fixtures, folder))
    X = np.random.default_rng(1).random((5, model.feature_dim), dtype=np.float32)
    expected = (X - raw["mean"]) @ raw["v"][:, ::-1]
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ArtifactError, match="Cannot project"):
        model.transform(X[:, :-1])


def test_pca_round_trips_through_save_and_load(tmp_path):
    rng = np.random.default_rng(3)
    model = PCAModel(mean=rng.random(4), v=rng.random((4, 2)), s=np.array([5.0, 2.0]))
    path = save_pca(model, tmp_path / "model.tar.gz")
    back = load_pca(path)
    for field in ("mean", "v", "s"):
        np.testing.assert_array_equal(getattr(back, field), getattr(model, field))
    arrays = load_ndarrays(read_model_tar(path)["model_algo-1"])
    assert list(arrays) == ["s", "v", "mean"] and arrays["s"].tolist() == [2.0, 5.0]
    assert arrays["mean"].shape == (1, 4)
    assert save_pca(model, tmp_path / "again.tar.gz").read_bytes() == path.read_bytes()


def test_pca_arrays_that_do_not_fit_are_refused():
    arrays = {"s": np.ones(3, np.float32), "v": np.ones((4, 2), np.float32), "mean": np.ones((1, 4), np.float32)}
    with pytest.raises(ArtifactError, match="do not fit together"):
        load_model(save_ndarrays(arrays))


# ============================================================================= typed models: K-Means
@pytest.mark.parametrize("folder, k, d", [("kmeans-census-k8", 8, 7), ("kmeans-census-k8-with-state", 8, 7),
                                          ("kmeans-10x2-with-state", 10, 2)])
def test_kmeans_fixtures_load_and_resave_byte_identically(sagemaker_fixtures, tmp_path, folder, k, d):
    path = sagemaker_fixtures / folder / "model.tar.gz"
    model = load_kmeans(path)
    assert isinstance(load_model(path), KMeansModel)
    assert (model.k, model.feature_dim) == (k, d)
    saved = save_kmeans(model, tmp_path / "model.tar.gz")
    assert read_model_tar(saved) == {"model_algo-1": sagemaker_member(sagemaker_fixtures, folder)}


def test_kmeans_assign_picks_the_nearest_centroid():
    model = KMeansModel(np.array([[0.0, 0.0], [10.0, 0.0]]))
    labels, distances = model.assign(np.array([[1.0, 0.0], [9.0, 3.0]]))
    assert labels.tolist() == [0, 1]
    np.testing.assert_allclose(distances, [1.0, np.hypot(1, 3)])


# ============================================================================= loaders: sources and kinds
def test_loaders_accept_paths_bytes_and_bare_model_algo_1(sagemaker_fixtures, tmp_path):
    tar_path = sagemaker_fixtures / "pca-census-33" / "model.tar.gz"
    bare = tmp_path / "model_algo-1"
    bare.write_bytes(sagemaker_member(sagemaker_fixtures, "pca-census-33"))
    expected = load_pca(tar_path).s
    for source in (tar_path, str(tar_path), tar_path.read_bytes(), bare, bare.read_bytes()):
        np.testing.assert_array_equal(load_pca(source).s, expected)
        assert isinstance(load_model(source), PCAModel)


def test_wrong_kind_is_named_in_the_error(sagemaker_fixtures):
    pca = sagemaker_fixtures / "pca-census-33" / "model.tar.gz"
    kmeans = sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz"
    with pytest.raises(ArtifactError, match="Expected a PCA model, but .* holds a K-Means model"):
        load_pca(kmeans)
    with pytest.raises(ArtifactError, match="Expected a K-Means model, but .* holds a PCA model"):
        load_kmeans(pca)


def test_unknown_artifacts_are_refused_by_loaders_and_described_by_inspect(tmp_path):
    other = save_ndarrays({"weight": np.ones((2, 2), np.float32)})
    with pytest.raises(ArtifactError, match=r"neither a SageMaker PCA model .* weight\(2, 2\)"):
        load_model(other)
    assert inspect_artifact(other)["kind"] == "unknown"
    no_model = write_model_tar(tmp_path / "model.tar.gz", {"something_else": b"x"})
    with pytest.raises(ArtifactError, match="no model_algo-1 member"):
        load_kmeans(no_model)
    report = inspect_artifact(no_model)
    assert "no model_algo-1 member" in report.pop("problem")
    assert report == {"kind": "unknown", "path": str(no_model), "members": ["something_else"], "arrays": []}


def test_damaged_model_algo_1_names_its_archive(tmp_path):
    path = write_model_tar(tmp_path / "model.tar.gz", {"model_algo-1": b"\x12\x01" + bytes(27)})
    with pytest.raises(ArtifactError, match=f"model_algo-1 in {path}"):
        load_pca(path)


def test_inspect_describes_pca_and_kmeans(sagemaker_fixtures):
    pca_path = sagemaker_fixtures / "pca-census-33" / "model.tar.gz"
    assert inspect_artifact(pca_path) == {
        "kind": "pca",
        "path": str(pca_path),
        "members": ["model_algo-1"],
        "arrays": [
            {"name": "s", "shape": [33], "dtype": "float32"},
            {"name": "v", "shape": [34, 33], "dtype": "float32"},
            {"name": "mean", "shape": [1, 34], "dtype": "float32"},
        ],
    }
    kmeans_path = sagemaker_fixtures / "kmeans-10x2-with-state" / "model.tar.gz"
    report = inspect_artifact(kmeans_path)
    assert report["kind"] == "kmeans" and len(report["members"]) == 2
    assert report["arrays"] == [{"name": "0", "shape": [10, 2], "dtype": "float32"}]
    from_bytes = inspect_artifact(kmeans_path.read_bytes())
    assert from_bytes["path"] is None and from_bytes["arrays"] == report["arrays"]
    json.dumps(report)  # the CLI prints it as JSON
