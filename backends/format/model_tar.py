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
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Union

from backends.format.errors import ArtifactError

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
