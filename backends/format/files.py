"""Bounded reads of local files: regular files only, their size checked before reading.

A FIFO would block the reader forever, /dev/zero or /dev/urandom would grow it without end
and a folder is no file: all are refused at once. The file is opened non-blocking (so a
FIFO cannot hang the open) and inspected with fstat on the open descriptor (so a swap of
the path after the check changes nothing). Messages name the path and the problem, never
the file's contents.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PathLike = str | os.PathLike
_CHUNK = 1 << 20


class FileRefused(ValueError):
    """A local file that cannot be read as asked; the message says why in one line.

    reason: "missing", "folder", "not_regular", "too_big", "permission" or "unreadable",
    for callers that word their own message.
    """

    def __init__(self, message: str, reason: str = "unreadable"):
        super().__init__(message)
        self.reason = reason


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_error(path: Path, exc: OSError) -> FileRefused:
    if isinstance(exc, FileNotFoundError):
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        return FileRefused(f"File not found: {path}{where}.", "missing")
    if isinstance(exc, IsADirectoryError):
        return FileRefused(f"{path} is a folder, not a regular file; only regular files are read.", "folder")
    if isinstance(exc, PermissionError):
        return FileRefused(f"No permission to read {path}.", "permission")
    if exc.errno == errno.ELOOP:
        return FileRefused(f"{path} is a loop of symbolic links.")
    if exc.errno == errno.ENXIO:  # a FIFO with no writer, or a socket, opened non-blocking
        return FileRefused(f"{path} is not a regular file; only regular files are read.", "not_regular")
    return FileRefused(f"Cannot open {path}: {exc.strerror or exc}.")


@contextmanager
def open_regular_file(path: PathLike, *, max_bytes: int, limit_name: str) -> Iterator[tuple[BinaryIO, int]]:
    """(binary file object, size) of a regular file no bigger than `max_bytes`, else FileRefused.

    limit_name: what sets the limit (a setting or parameter name), quoted in the message.
    """
    path = Path(path).expanduser()
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_error(path, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            reason = "folder" if stat.S_ISDIR(info.st_mode) else "not_regular"
            raise FileRefused(f"{path} is {_kind(info.st_mode)}, not a regular file; only regular files are read.", reason)
        if info.st_size > max_bytes:
            raise FileRefused(_too_big(path, info.st_size, max_bytes, limit_name), "too_big")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle, info.st_size


def _too_big(path: Path, size: int | None, max_bytes: int, limit_name: str) -> str:
    size_text = f"{size:,} bytes" if size is not None else f"more than {max_bytes:,} bytes"
    return (f"{path} is {size_text}, over the {max_bytes:,}-byte limit ({limit_name}); "
            "raise the limit if the file is genuine.")


def read_bounded(handle: BinaryIO, expected: int, max_bytes: int) -> bytes | None:
    """Up to `max_bytes` bytes of a file believed to hold `expected`; None when it holds more.

    One allocation of `expected` bytes in the usual case; a file that grows while being read
    (or reports size 0, as /proc files do) is read on in chunks, never past the limit.
    """
    data = handle.read(min(expected, max_bytes))
    extra = handle.read(1)
    if not extra:
        return data
    parts = bytearray(data) + extra
    while len(parts) <= max_bytes:
        chunk = handle.read(min(_CHUNK, max_bytes + 1 - len(parts)))
        if not chunk:
            return bytes(parts)
        parts += chunk
    return None


def read_regular_file(path: PathLike, *, max_bytes: int, limit_name: str) -> bytes:
    """The bytes of a regular file no bigger than `max_bytes`, else FileRefused (one line)."""
    with open_regular_file(path, max_bytes=max_bytes, limit_name=limit_name) as (handle, size):
        try:
            data = read_bounded(handle, size, max_bytes)
        except OSError as exc:
            raise FileRefused(f"Cannot read {Path(path).expanduser()}: {exc.strerror or exc}.") from None
    if data is None:
        raise FileRefused(_too_big(Path(path).expanduser(), None, max_bytes, limit_name), "too_big")
    return data
