"""backends.format.files: regular files only, their size checked before reading.
"""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import pytest

from backends.format.files import FileRefused, read_regular_file


@contextmanager
def within(seconds: int):
    """Fail instead of hanging when the code under test blocks (a FIFO read would)."""
    def expired(*_):
        raise TimeoutError(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_reads_a_regular_file_within_its_limit(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, max_bytes=100, limit_name="L") == b"x" * 100


def test_a_file_over_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"secret first line\n" + b"x" * 100)
    with pytest.raises(FileRefused, match=r"118 bytes, over the 100-byte limit \(MY_LIMIT\)") as info:
        read_regular_file(path, max_bytes=100, limit_name="MY_LIMIT")
    assert info.value.reason == "too_big" and "secret" not in str(info.value)


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with within(10), pytest.raises(FileRefused, match="named pipe") as info:
        read_regular_file(fifo, max_bytes=1 << 20, limit_name="L")
    assert info.value.reason == "not_regular"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused(device):
    with within(10), pytest.raises(FileRefused, match="character device"):
        read_regular_file(device, max_bytes=1 << 20, limit_name="L")


def test_a_symbolic_link_to_a_device_is_refused(tmp_path):
    link = tmp_path / "data.csv"
    link.symlink_to("/dev/zero")
    with within(10), pytest.raises(FileRefused, match="character device"):
        read_regular_file(link, max_bytes=1 << 20, limit_name="L")


def test_folders_and_missing_files_say_so(tmp_path):
    with pytest.raises(FileRefused, match="is a folder") as info:
        read_regular_file(tmp_path, max_bytes=10, limit_name="L")
    assert info.value.reason == "folder"
    with pytest.raises(FileRefused, match="File not found") as info:
        read_regular_file(tmp_path / "nope.csv", max_bytes=10, limit_name="L")
    assert info.value.reason == "missing"


def test_a_file_that_reports_size_zero_is_still_bounded():
    # /proc files are regular files of size 0 whose reads return data.
    data = read_regular_file("/proc/self/status", max_bytes=1 << 20, limit_name="L")
    assert data.startswith(b"Name:")
    with pytest.raises(FileRefused, match="more than 10 bytes"):
        read_regular_file("/proc/self/status", max_bytes=10, limit_name="L")
