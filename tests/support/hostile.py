"""Hostile inputs built in memory: sparse-tar and gzip bombs, tars with oversized headers, and a
subprocess runner with a memory cap and a timeout, for the regression and fuzz tests.
"""
from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import textwrap
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def _header(name: str, typeflag: bytes, size: int, *, sparse: tuple[tuple[int, int], ...] = (),
            realsize: int = 0) -> bytes:
    """A 512-byte old-GNU tar header, with the sparse map fields when given."""
    block = bytearray(512)
    block[0:len(name)] = name.encode()
    block[100:108] = _octal(0o644, 8)
    block[108:116] = _octal(0, 8)
    block[116:124] = _octal(0, 8)
    block[124:136] = _octal(size, 12)
    block[136:148] = _octal(0, 12)
    block[156:157] = typeflag
    block[257:265] = b"ustar  \0"
    for i, (offset, numbytes) in enumerate(sparse):
        block[386 + 24 * i:398 + 24 * i] = _octal(offset, 12)
        block[398 + 24 * i:410 + 24 * i] = _octal(numbytes, 12)
    if sparse:
        block[483:495] = _octal(realsize, 12)
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


def sparse_tar_gz(realsize: int = (2 << 30) - 1, name: str = "model_algo-1") -> bytes:
    """A GNU sparse member declaring `realsize` bytes of which one is stored: ~150 bytes gzipped."""
    tar = _header(name, tarfile.GNUTYPE_SPARSE, 512, sparse=((realsize - 1, 1),), realsize=realsize)
    tar += b"x" + bytes(511) + bytes(1024)
    return _gzip(tar)


def oversized_pax_header_tar_gz(declared: int = 64 << 20) -> bytes:
    """A pax extended header declaring `declared` bytes of (zero) records before any member."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [compressor.compress(_header("././@PaxHeader", tarfile.XHDTYPE, declared))]
    chunk, left = bytes(1 << 20), declared + 1024
    while left > 0:
        out.append(compressor.compress(chunk[:min(left, len(chunk))]))
        left -= len(chunk)
    return b"".join(out) + compressor.flush()


def zeros_gzip(total: int, member: int = 16 << 20) -> bytes:
    """A multi-member gzip stream of `total` zero bytes (about 1,000:1)."""
    one = _gzip(bytes(member))
    count, rest = divmod(total, member)
    return one * count + (_gzip(bytes(rest)) if rest else b"")


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def tar_gz(*entries: tuple[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, payload in entries:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return _gzip(raw.getvalue())


def run_capped(code: str, *, memory_bytes: int = 3 << 30, timeout: float = 60.0, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> dict:
    """Run `code` in a fresh interpreter under RLIMIT_AS = memory_bytes and a timeout.

    The code sees `emit(obj)`, which prints one JSON line the caller gets back in the
    result's "emitted" list, and `peak_rss()`, the child's peak resident set size in bytes.
    """
    prelude = textwrap.dedent("""
        import json as _json, resource as _resource
        def emit(obj):
            print("@@" + _json.dumps(obj), flush=True)
        def peak_rss():
            # VmHWM: this program's own peak; ru_maxrss would include the parent's RSS at fork.
            for _line in open("/proc/self/status"):
                if _line.startswith("VmHWM:"):
                    return int(_line.split()[1]) * 1024
            return _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024
    """)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    environment = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   **(env or {})}
    completed = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, check=False,
                               text=True, timeout=timeout, cwd=cwd or REPO, env=environment, preexec_fn=cap)
    emitted = [json.loads(line[2:]) for line in completed.stdout.splitlines() if line.startswith("@@")]
    return {"returncode": completed.returncode, "stdout": completed.stdout, "stderr": completed.stderr,
            "emitted": emitted}
