"""What every benchmark shares: phases in fresh subprocesses, peak memory, best-of-N timing, machine facts.

A phase is one measured piece of work (say "scikit-learn's PCA + MiniBatchKMeans on 1M rows").
Each runs in its own `python -m benchmarks.<module> --phase NAME --params JSON` process, so
its peak memory (the resident set's high-water mark, VmHWM, reset just before it loads its
data, minus the resident size at that moment) is its own and no phase warms another's caches or heap. The child prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.cli.parser import positive_int  # noqa: F401  the benchmarks' counts: at least 1, refused otherwise

REPO = Path(__file__).resolve().parents[1]
CENSUS = REPO.parent / "shared" / "data" / "acs2015_county_data.csv"
# Set on some machines of this workplace for older OpenBLAS builds; they slow a current numpy.
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
RESULT_PREFIX = "BENCH-RESULT "


def census_path() -> Path:
    """The census CSV: WORKBENCH_DEFAULT_DATA, else ../shared/data beside the repository."""
    configured = os.environ.get("WORKBENCH_DEFAULT_DATA")
    path = Path(configured) if configured else CENSUS
    if not path.is_file():
        raise FileNotFoundError(f"The census CSV is not at {path}; set WORKBENCH_DEFAULT_DATA to a copy.")
    return path


# --- the app in a real browser (bench_browser.py and tests/app/test_browser.py) -----------
# Debian's chromium, found as ./run's ensure_chromium finds it (`command -v chromium`).
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_missing() -> str | None:
    """None when a real browser can be driven here, else what is missing and how to install it."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements.txt)"
    return None
# Streamlit has finished a rerun: no stop button, no stale element, no skeleton.
IDLE = """() => !document.querySelector('[data-testid="stStatusWidget"] button')
              && !document.querySelector('[data-stale="true"]')
              && !document.querySelector('[data-testid="stSkeleton"]')"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def start_streamlit(workspace: Path, csv: Path, *, timeout: float = 90,
                    log_tail: int | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run workbench/streamlit_app.py` on a free port, the census as its default data and
    `workspace` as its workspace; returns once /_stcore/health answers ok, else stops it and raises
    RuntimeError with its log (the last `log_tail` characters, or all of it)."""
    port = free_port()
    log_path = workspace / "streamlit.log"
    env = {**os.environ, "WORKBENCH_DEFAULT_DATA": str(csv), "WORKBENCH_WORKSPACE": str(workspace)}
    command = [sys.executable, "-m", "streamlit", "run", "workbench/streamlit_app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "localhost", "--browser.gatherUsageStats", "false"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"

    def logged() -> str:
        text = log_path.read_text(errors="replace")
        return text[-log_tail:] if log_tail else text

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{logged()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"streamlit did not come up on {url} within {timeout:g} s:\n{logged()}")
        time.sleep(0.3)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a process we started, killing it if it does not exit within `timeout` s."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


# --- memory ---------------------------------------------------------------------------------
def rss_bytes() -> int:
    """The current resident set size of this process."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """The high-water mark of this process's resident set since the last reset_peak().

    /proc/self/status's VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across
    fork + exec, so a child's value is never below its parent's resident set at the spawn.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak() -> None:
    """Reset VmHWM to the current resident set (Linux ≥ 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


class Memory:
    """Peak memory of a phase, from here on: made (or mark()ed) after the imports, before the data."""

    def __init__(self) -> None:
        self.mark()

    def mark(self) -> None:
        reset_peak()
        self.start = rss_bytes()

    def result(self) -> dict[str, int]:
        peak = peak_rss_bytes()
        return {"rss_start_bytes": self.start, "peak_rss_bytes": peak, "peak_over_start_bytes": peak - self.start}


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """Run fn `repeat` times; (wall seconds of each run, the result of the fastest)."""
    times, best, best_result = [], float("inf"), None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
        times.append(elapsed)
        if elapsed < best:
            best, best_result = elapsed, result
    return times, best_result


# --- phases in subprocesses ------------------------------------------------------------------
def child_env(keep_openblas_env: bool = False) -> dict[str, str]:
    """The phases' environment: the repository importable, and OpenBLAS's core overrides unset
    (both together, in the benchmark's processes alone) unless asked to keep them."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    if not keep_openblas_env:
        for name in OPENBLAS_VARS:
            env.pop(name, None)
    return env


def run_phase(module: str, phase: str, params: dict[str, Any], *, env: dict[str, str], timeout: float = 3600) -> dict:
    """Run one phase in a fresh interpreter; its JSON result, or {"error": ...}."""
    cmd = [sys.executable, "-m", module, "--phase", phase, "--params", json.dumps(params)]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{module} {phase} timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
    return {"error": f"{module} {phase} exited {proc.returncode}: {tail}"}


def run_json_module(module: str, args: list[str], *, env: dict[str, str], timeout: float) -> dict:
    """`python -m module ARGS --json FILE` in a fresh process; its JSON, or {"error": why} (the
    tail of its output when it wrote none, or the timeout)."""
    import tempfile

    name = module.rpartition(".")[2]
    with tempfile.TemporaryDirectory(prefix=f"{name}-json-") as tmp:
        out = Path(tmp) / f"{name}.json"
        cmd = [sys.executable, "-m", module, *args, "--json", str(out)]
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"{name} timed out"}
        if not out.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
            return {"error": f"{name} exited {proc.returncode}: {tail}"}
        return json.loads(out.read_text())


def phase_main(phases: dict[str, Callable[[dict], dict]], argv: list[str] | None = None) -> int:
    """The child side: run the named phase and print its result as one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", required=True, choices=sorted(phases))
    parser.add_argument("--params", default="{}")
    args = parser.parse_args(argv)
    result = phases[args.phase](json.loads(args.params))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


# --- the machine -----------------------------------------------------------------------------
def _blas_and_versions() -> dict[str, Any]:
    import importlib.metadata as md

    import numpy  # noqa: F401  (loads its BLAS so threadpoolctl sees it)
    import scipy.linalg  # noqa: F401
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_info

    versions = {}
    for name in ("numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "threadpoolctl", "numba", "streamlit"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    pools = [
        {key: info.get(key) for key in ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads")}
        for info in threadpool_info()
    ]
    return {"versions": versions, "threadpools": pools}


def machine_info(env: dict[str, str]) -> dict[str, Any]:
    """nproc, memory, CPU model, Python and library versions, and the BLAS kernels the phases run."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
    except OSError:
        pass
    child = run_phase("benchmarks.harness", "machine", {}, env=env, timeout=300)
    return {
        "nproc": os.cpu_count(),
        "memory_bytes": mem_total,
        "cpu_model": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "openblas_env_in_shell": {name: os.environ.get(name) for name in OPENBLAS_VARS},
        "openblas_env_in_phases": {name: env.get(name) for name in OPENBLAS_VARS},
        **child,
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def gib(n_bytes: float | None) -> str:
    return "?" if n_bytes is None else f"{n_bytes / 2**30:.2f} GiB"


def mib(n_bytes: float | None) -> str:
    return "?" if n_bytes is None else f"{n_bytes / 2**20:.0f} MiB"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def fmt_ratio(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}×"


if __name__ == "__main__":
    sys.exit(phase_main({"machine": lambda params: _blas_and_versions()}))
