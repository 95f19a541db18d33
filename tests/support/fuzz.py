"""The fuzz suites: property-based cases (hypothesis) for the CSV reader, the tar reader and
the NDArray codec, run in a child process under a memory cap and a timeout (see run_suite).

Every case must end in DataError / ArtifactError or in a correct result: for generated valid
inputs the result is compared with what was generated; for mutated or hostile inputs it must
satisfy the reader's promises (unique named columns; safe member names within the limits;
arrays). Anything else — another exception, a hang past the deadline, memory past the cap —
fails the suite. An audit hook refuses any write outside the child's temporary folder.

    python -c "from tests.support.fuzz import main; main('csv', 200)"   # prints one JSON line
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import sys
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backends.format import ndarray
from backends.format.errors import ArtifactError
from backends.format.model_tar import read_model_tar
from backends.format.models import load_model
from workbench.core import sources
from workbench.core.errors import DataError

OUTCOMES: dict[str, Counter] = {}
_WRITE_EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.symlink", "os.link", "os.chmod",
                 "os.chown", "os.truncate", "os.utime", "os.mkfifo", "os.mknod", "shutil.rmtree",
                 "shutil.copyfile", "shutil.copytree", "shutil.move"}


def _count(suite: str, outcome: str) -> None:
    OUTCOMES.setdefault(suite, Counter())[outcome] += 1


def _fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=5000, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], print_blob=False)


# --------------------------------------------------------------------------- the CSV reader

_NOT_TEXT = {"na", "n/a", "nan", "null", "none", "true", "false", "inf", "infinity", "nat"}
_words = st.from_regex(r"[A-Za-zñéü][A-Za-zñéü ]{0,8}[A-Za-zñéü]", fullmatch=True).filter(
    lambda w: w.strip().lower() not in _NOT_TEXT and not w.strip().lower().lstrip("+-").startswith(("inf", "nan")))
_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True).filter(
    lambda w: w.lower() not in _NOT_TEXT)


@st.composite
def csv_tables(draw):
    """(file bytes, column names, {column: values}) of a valid table in some dialect."""
    names = draw(st.lists(_names, min_size=2, max_size=6, unique_by=str.lower))
    rows = draw(st.integers(1, 12))
    kinds = draw(st.lists(st.sampled_from(["int", "float", "text"]), min_size=len(names), max_size=len(names)))
    values = {}
    for name, kind in zip(names, kinds):
        element = {"int": st.integers(-10**6, 10**6), "float": st.floats(-1e6, 1e6, allow_nan=False).map(
            lambda x: round(x, 4)), "text": _words}[kind]
        values[name] = draw(st.lists(element, min_size=rows, max_size=rows))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    trailing = draw(st.booleans())  # a delimiter ending every line, the header's too
    lines = [sep.join(names)] + [sep.join(str(values[n][i]) for n in names) for i in range(rows)]
    text = newline.join(line + (sep if trailing else "") for line in lines) + newline
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]))
    return text.encode(encoding), names, values


def _same_table(frame, names, values) -> bool:
    if list(frame.columns) != names or len(frame) != len(values[names[0]]):
        return False
    for name in names:
        got, want = frame[name].tolist(), values[name]
        if all(isinstance(v, str) for v in want):
            if got != want:
                return False
        elif not np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-12, atol=0):
            return False
    return True


def _mutate(data: bytes, draw) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["insert", "delete", "replace", "repeat", "special"]))
        if how == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif how == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 16)):]
        elif how == "replace" and at < len(data):
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        elif how == "repeat":
            data = data[:at] + data[at:at + 64] * draw(st.integers(2, 5)) + data[at:]
        else:
            data = data[:at] + draw(st.sampled_from([b",", b";", b"\t", b'"', b"\r", b"\n", b"\x00", b"\xf1",
                                                     b"\xef\xbb\xbf", b"=1+1", b'"1,5"'])) + data[at:]
    return data


def _check_frame(frame) -> None:
    columns = list(frame.columns)
    assert len(columns) >= 2 and len(set(columns)) == len(columns), columns
    assert all(isinstance(c, str) and c for c in columns), columns
    assert not frame.empty


def csv_suite(examples: int) -> None:
    @_fuzz_settings(examples)
    @given(csv_tables())
    def valid(table):
        data, names, values = table
        frame = sources.load_table(data)
        assert _same_table(frame, names, values), (data, frame)
        _count("csv valid tables", "correct table")

    @_fuzz_settings(examples * 2)
    @given(st.data())
    def mutated(data):
        original, _names, _values = data.draw(csv_tables())
        try:
            frame = sources.load_table(_mutate(original, data.draw))
        except DataError:
            _count("csv mutated tables", "DataError")
            return
        _check_frame(frame)
        _count("csv mutated tables", "table")

    @_fuzz_settings(examples)
    @given(st.binary(max_size=4096))
    def garbage(blob):
        try:
            frame = sources.load_table(blob)
        except DataError:
            _count("csv random bytes", "DataError")
            return
        _check_frame(frame)
        _count("csv random bytes", "table")

    valid()
    mutated()
    garbage()


# --------------------------------------------------------------------------- the tar reader

_component = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
_member_names = st.one_of(
    st.lists(_component, min_size=1, max_size=3).map("/".join),
    st.lists(st.one_of(_component, st.just(".."), st.just("."), st.just("")), min_size=1, max_size=4).map("/".join),
    st.tuples(st.sampled_from(["/", "\\", "C:\\", "./", "../", "a\\..\\"]), _component).map("".join),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=120),
)
_KINDS = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
          "chardev": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}


def _hostile_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts)


def _expected_members(entries) -> dict[str, bytes] | None:
    """What read_model_tar must return for these entries, or None when it must refuse them."""
    members: dict[str, bytes] = {}
    for kind, name, payload in entries:
        if _hostile_name(name):
            return None
        if kind == "dir":
            continue
        normal = posixpath.normpath(name)
        if kind != "file" or normal == "." or normal in members:
            return None
        members[normal] = payload
    return members


def _tar(entries) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for kind, name, payload in entries:
            info = tarfile.TarInfo(name)
            info.type = _KINDS[kind]
            if kind == "file":
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = "target" if kind in ("symlink", "hardlink") else ""
                archive.addfile(info)
    return raw.getvalue()


def _gzip(data: bytes) -> bytes:
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


_entries = st.lists(st.tuples(st.sampled_from(list(_KINDS)), _member_names, st.binary(max_size=600)), max_size=6)


def _check_members(members) -> None:
    for name, payload in members.items():
        assert not _hostile_name(name) and name == posixpath.normpath(name), name
        assert isinstance(payload, bytes)


def tar_suite(examples: int) -> None:
    @_fuzz_settings(examples)
    @given(st.lists(st.tuples(st.sampled_from(["file", "dir"]), st.lists(_component, min_size=1, max_size=3).map(
        "/".join), st.binary(max_size=2000)), max_size=6))
    def valid(entries):
        expected = _expected_members(entries)
        try:
            got = read_model_tar(_gzip(_tar(entries)))
        except ArtifactError:
            assert expected is None, entries
            _count("tar valid archives", "ArtifactError (duplicate names)")
            return
        assert got == expected
        _count("tar valid archives", "correct members")

    @_fuzz_settings(examples * 2)
    @given(_entries)
    def hostile(entries):
        expected = _expected_members(entries)
        try:
            got = read_model_tar(_gzip(_tar(entries)))
        except ArtifactError:
            assert expected is None, entries
            _count("tar hostile entries", "ArtifactError")
            return
        assert got == expected, entries
        _count("tar hostile entries", "correct members")

    @_fuzz_settings(examples * 2)
    @given(st.data())
    def mutated(data):
        entries = data.draw(_entries)
        tar = _tar(entries)
        compressed = data.draw(st.booleans())
        blob = _mutate(_gzip(tar) if compressed else tar, data.draw)
        blob = blob if compressed else _gzip(blob)  # corrupt the gzip stream, or the tar inside it
        try:
            members = read_model_tar(blob)
        except ArtifactError:
            _count("tar mutated archives", "ArtifactError")
            return
        _check_members(members)
        _count("tar mutated archives", "members")

    valid()
    hostile()
    mutated()


# --------------------------------------------------------------------------- the NDArray codec

_dtypes = st.sampled_from([np.dtype(d) for d in ("<f4", "<f8", "<f2", "u1", "<i4", "i1", "<i8", "?")])
_arrays = _dtypes.flatmap(lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)))
_array_sets = st.one_of(st.lists(_arrays, max_size=4),
                        st.dictionaries(st.text(min_size=1, max_size=10), _arrays, max_size=4))


def _same_arrays(got, want) -> bool:
    if isinstance(want, dict) and not want:
        return got == []  # an empty dict saves as MXNet's empty list
    if isinstance(want, dict):
        return isinstance(got, dict) and list(got) == list(want) and all(
            np.array_equal(got[k], want[k], equal_nan=want[k].dtype.kind == "f") and got[k].dtype == want[k].dtype
            for k in want)
    return isinstance(got, list) and len(got) == len(want) and all(
        np.array_equal(g, w, equal_nan=w.dtype.kind == "f") and g.dtype == w.dtype for g, w in zip(got, want))


def ndarray_suite(examples: int) -> None:
    @_fuzz_settings(examples)
    @given(_array_sets)
    def valid(arrays):
        assert _same_arrays(ndarray.load_ndarrays(ndarray.save_ndarrays(arrays)), arrays)
        _count("ndarray valid files", "correct arrays")

    @_fuzz_settings(examples * 2)
    @given(st.data())
    def mutated(data):
        blob = _mutate(ndarray.save_ndarrays(data.draw(_array_sets)), data.draw)
        try:
            arrays = ndarray.load_ndarrays(blob)
        except ArtifactError:
            _count("ndarray mutated files", "ArtifactError")
            return
        assert all(isinstance(a, np.ndarray) for a in (arrays.values() if isinstance(arrays, dict) else arrays))
        _count("ndarray mutated files", "arrays")
        try:
            load_model(blob)
        except ArtifactError:
            _count("ndarray mutated files, as a model", "ArtifactError")
        else:
            _count("ndarray mutated files, as a model", "model")

    @_fuzz_settings(examples)
    @given(st.binary(max_size=512), st.integers(0, 2**64 - 1))
    def headers(tail, number):
        # A plausible header with an arbitrary count or dimension, then random bytes.
        import struct

        blob = struct.pack("<QQQ", ndarray.LIST_MAGIC, 0, 1) + struct.pack(
            "<Iii", ndarray.NDARRAY_V2_MAGIC, 0, 2) + struct.pack("<Q", number) + tail
        try:
            ndarray.load_ndarrays(blob)
        except ArtifactError:
            _count("ndarray hostile headers", "ArtifactError")
            return
        _count("ndarray hostile headers", "arrays")

    valid()
    mutated()
    headers()


SUITES = {"csv": csv_suite, "tar": tar_suite, "ndarray": ndarray_suite}


def _refuse_writes_outside(root: Path) -> None:
    """An audit hook: any write, creation or removal of a path outside `root` is refused."""
    top = str(root.resolve())

    def inside(path) -> bool:
        if isinstance(path, int):
            return True
        text = os.path.realpath(os.fsdecode(path))
        return text in (top, "/dev/null") or text.startswith(top + os.sep)

    def hook(event: str, args) -> None:
        if event == "open" and len(args) >= 2:
            path, mode, flags = args[0], args[1] or "", args[2] if len(args) > 2 else 0
            writing = any(c in str(mode) for c in "wax+") or (flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if path is not None and writing and not inside(path):
                raise PermissionError(f"fuzz case wrote outside its folder: {path}")
        elif event in _WRITE_EVENTS:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
                    raise PermissionError(f"fuzz case changed a path outside its folder ({event}): {path}")

    sys.addaudithook(hook)


def run_suite(suite: str, examples: int, folder: Path, *, memory_bytes: int = 2 << 30, timeout: float = 300) -> dict:
    """Run one suite in a child process confined to `folder`, under RLIMIT_AS = memory_bytes and
    a timeout; its outcome counts by case family, or AssertionError with the child's traceback."""
    from tests.support.hostile import run_capped

    env = {"PYTHONDONTWRITEBYTECODE": "1", "HOME": str(folder), "TMPDIR": str(folder)}
    result = run_capped(f"from tests.support.fuzz import main; main({suite!r}, {examples})",
                        memory_bytes=memory_bytes, timeout=timeout, cwd=folder, env=env)
    if result["returncode"] != 0 or not result["emitted"]:
        raise AssertionError(f"the {suite} fuzz suite failed:\n{result['stderr'][-6000:]}")
    return result["emitted"][-1]


def main(suite: str, examples: int) -> None:
    """Run one suite in this (child) process, confined to the working directory; print the counts."""
    _refuse_writes_outside(Path.cwd())
    SUITES[suite](examples)
    print("@@" + json.dumps({name: dict(counts) for name, counts in OUTCOMES.items()}), flush=True)
