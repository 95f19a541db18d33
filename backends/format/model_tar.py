"""`model.tar.gz` I/O: read safely against hostile archives, written deterministically.
"""
from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO, Union

from backends.format.errors import ArtifactError
from backends.format.files import FileRefused, open_regular_file, read_regular_file

# --------------------------------------------------------------------------- model.tar.gz
MODEL_MEMBER = "model_algo-1"
# SageMaker's PCA and K-Means artifacts are kilobytes to a few megabytes (v is d x n float32:
# 16 MB at 2,000 features); these limits leave room and bound what a hostile file can cost.
MAX_MEMBER_BYTES = 256 << 20
MAX_TOTAL_BYTES = 512 << 20
MAX_MEMBERS = 64
# Tar headers, pax records and long names beyond the members' declared sizes, and the zero
# padding after the archive's end: real archives need a few KiB.
MAX_TAR_OVERHEAD = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
Source = Union[str, os.PathLike, bytes]


def max_artifact_bytes(max_total_bytes: int = MAX_TOTAL_BYTES) -> int:
    """The largest model.tar.gz file read: gzip never grows its input by more than a little."""
    return max_total_bytes + max_total_bytes // 1000 + MAX_TAR_OVERHEAD


def _refused(path: object, exc: FileRefused) -> ArtifactError:
    if exc.reason == "missing":
        return ArtifactError(f"No artifact at {path}: the file does not exist.")
    if exc.reason == "folder":
        return ArtifactError(f"{path} is a folder; give the path of a model.tar.gz or model_algo-1 file.")
    return ArtifactError(f"Cannot read the artifact: {exc}")


@contextmanager
def open_source(source: Source, max_bytes: int | None = None) -> Iterator[tuple[BinaryIO, str]]:
    """(binary stream, label for messages) of an artifact given as bytes or a local path.

    A path must name a regular file of at most `max_bytes` (default max_artifact_bytes()):
    FIFOs, devices and folders are refused before anything is read.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source), "the artifact"
        return
    path = Path(source)
    limit = max_artifact_bytes() if max_bytes is None else max_bytes
    try:
        with open_regular_file(path, max_bytes=limit, limit_name="the artifact size limit") as (handle, _size):
            yield handle, str(path)
    except FileRefused as exc:
        raise _refused(path, exc) from None
    except OSError as exc:
        raise ArtifactError(f"Cannot read the artifact {path}: {exc.strerror or exc}.") from None


def read_artifact_file(path: str | os.PathLike, max_bytes: int | None = None) -> bytes:
    """The bytes of an artifact file (to copy it byte for byte), bounded like open_source."""
    limit = max_artifact_bytes() if max_bytes is None else max_bytes
    try:
        return read_regular_file(path, max_bytes=limit, limit_name="the artifact size limit")
    except FileRefused as exc:
        raise _refused(Path(path), exc) from None


def _not_a_model_tar(label: str, reason: str) -> ArtifactError:
    return ArtifactError(
        f"Cannot read {label}: it is not a readable gzip-compressed tar archive (model.tar.gz); {reason}. "
        "Re-download or re-create it."
    )


class _Gunzip(io.RawIOBase):
    """The decompressed bytes of every gzip member of a stream, each CRC and length verified
    as it ends, with at most `allowed` bytes produced (raised by allow() as members are read).

    Done here rather than by tarfile's own gzip reader, which stops at the tar end marker and
    so never checks the gzip trailer: a truncated download would pass unnoticed.
    """

    def __init__(self, source: BinaryIO, label: str, allowed: int):
        self.source, self.label, self.allowed = source, label, allowed
        self.produced = 0
        self.inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self.pending = b""
        self.finished = False

    def readable(self) -> bool:
        return True

    def allow(self, more: int) -> None:
        self.allowed += more

    def _fill(self, at_least: int) -> bool:
        while len(self.pending) < at_least:
            chunk = self.source.read(_CHUNK)
            if not chunk:
                return False
            self.pending += chunk
        return True

    def _next_member(self) -> None:
        """After a member's trailer: another member, or only zero padding to the end."""
        self._fill(2)
        if self.pending.startswith(GZIP_MAGIC):
            self.inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            return
        data = self.pending  # gzip tolerates zero padding after the last member, nothing else
        while not data.strip(b"\0"):
            data = self.source.read(_CHUNK)
            if not data:
                self.finished = True
                return
        stray = len(data)
        while chunk := self.source.read(_CHUNK):  # bounded: the source's size was checked before
            stray += len(chunk)
        raise _not_a_model_tar(self.label, f"{stray:,} stray bytes follow the gzip stream")

    def readinto(self, buffer) -> int:
        while not self.finished:
            if self.inflater.eof:
                self._next_member()
                continue
            if not self.pending and not self._fill(1):
                raise _not_a_model_tar(self.label, "the gzip stream is truncated")
            try:
                out = self.inflater.decompress(self.pending, len(buffer))
            except zlib.error as exc:
                raise _not_a_model_tar(self.label, f"the gzip stream is corrupt ({exc})") from None
            self.pending = self.inflater.unused_data if self.inflater.eof else self.inflater.unconsumed_tail
            if out:
                self.produced += len(out)
                if self.produced > self.allowed:
                    raise ArtifactError(
                        f"Refusing to read {self.label}: it unpacks to more bytes than its members declare "
                        f"(over {self.allowed:,}); it is corrupt or hostile."
                    )
                buffer[:len(out)] = out
                return len(out)
        return 0


def _unsafe_name_reason(name: str) -> str | None:
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if not name:
        return "an empty path"
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in posix.parts or ".." in windows.parts:
        return "a path that climbs out with '..'"
    return None


def _check_member(info: tarfile.TarInfo, label: str, max_member_bytes: int) -> str | None:
    """The member's normalised name when it is a regular file to read, None for a folder."""
    reason = _unsafe_name_reason(info.name)
    if reason:
        raise ArtifactError(f"Refusing to read {label}: it contains {info.name!r}, {reason}.")
    if info.isdir():  # including the "./" entry of `tar -C dir .`
        return None
    name = posixpath.normpath(info.name)
    if name == ".":
        raise ArtifactError(f"Refusing to read {label}: it contains a file named {info.name!r}.")
    if info.issparse():  # its declared size is mostly holes that would expand to zeros in memory
        raise ArtifactError(f"Refusing to read {label}: it contains {info.name!r}, a sparse file.")
    if not info.isreg():
        kind = "symbolic link" if info.issym() else "hard link" if info.islnk() else "device or fifo"
        raise ArtifactError(f"Refusing to read {label}: it contains {info.name!r}, a {kind}.")
    if info.size > max_member_bytes:
        raise ArtifactError(
            f"Refusing to read {label}: its member {info.name!r} declares {info.size:,} bytes, "
            f"over the {max_member_bytes:,}-byte limit (max_member_bytes)."
        )
    return name


def _read_payload(archive: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    """A member's bytes, read in chunks: tarfile's stream reader copies each read three times."""
    handle = archive.extractfile(info)
    chunks, got = [], 0
    while handle is not None and got < info.size:
        chunk = handle.read(min(_CHUNK, info.size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_members(
    stream: BinaryIO, label: str, *, max_member_bytes: int, max_members: int, max_total_bytes: int
) -> dict[str, bytes]:
    head = stream.read(2)
    if head != GZIP_MAGIC:
        raise _not_a_model_tar(label, "it does not start with the gzip signature" if head else "it is empty")
    gunzip = _Gunzip(stream, label, MAX_TAR_OVERHEAD)
    gunzip.pending = head
    members: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BufferedReader(gunzip, 64 << 10), mode="r|") as archive:
            for count, info in enumerate(archive, start=1):
                if count > max_members:
                    raise ArtifactError(
                        f"Refusing to read {label}: it holds more than {max_members} entries "
                        "(a SageMaker model.tar.gz holds one or two)."
                    )
                name = _check_member(info, label, max_member_bytes)
                if name is None:
                    continue
                total += info.size
                if total > max_total_bytes:
                    raise ArtifactError(f"Refusing to read {label}: it holds more than {max_total_bytes:,} bytes.")
                if name in members:
                    raise ArtifactError(f"Refusing to read {label}: it contains {name!r} twice; which one counts?")
                gunzip.allow(info.size + 1024)  # the payload, its padding and the next header
                payload = _read_payload(archive, info)
                if len(payload) != info.size:
                    raise _not_a_model_tar(label, f"its member {name!r} is truncated")
                members[name] = payload
        while gunzip.read(_CHUNK):  # to the end, so that every gzip trailer is checked
            pass
    except tarfile.TarError as exc:
        raise _not_a_model_tar(label, f"the gzip stream does not hold a valid tar archive ({exc})") from None
    return members


def read_model_tar(
    source: Source,
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> dict[str, bytes]:
    """The regular-file members of a model.tar.gz by (normalised) name, in archive order.

    Decompressed as a stream, once, with every limit enforced while reading: nothing is
    extracted to disk and nothing in the archive is trusted. Absolute or `..` paths, links,
    devices, sparse files, duplicate names, members over `max_member_bytes` (checked in the
    header before reading), more than `max_members` entries, more than `max_total_bytes`
    declared, or more unpacked bytes than the members declare (plus MAX_TAR_OVERHEAD for
    headers and padding) raise ArtifactError. A path must be a regular file (see
    open_source). Folders are skipped; members the loaders do not know (such as K-Means'
    `state_<uuid>`) are returned like any other.
    """
    with open_source(source, max_artifact_bytes(max_total_bytes)) as (stream, label):
        return _read_members(stream, label, max_member_bytes=max_member_bytes, max_members=max_members,
                             max_total_bytes=max_total_bytes)


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
