"""The county run as whole processes, pair by pair: `python -m workbench segment` against the
plain pandas + scikit-learn script (`benchmarks/plain_county.py`) an analyst would write.

    python -m benchmarks --only processes

Each round runs, in turn, the workbench's CLI (`segment --data CENSUS --json`, into one
workspace whose run registry the warm-up run created, as an analyst's second run of the day
records into the registry of the first) and the plain script twice: with scikit-learn's and numpy's default threads, and on one thread
(OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1). The faster of the two plain runs of the round is
its baseline. Per round:

* compute: the workbench's `timings.total` from its JSON (prepare, PCA, K-Means, labels,
  artifacts, manifest and registry: every stage to the written files) ÷ the plain script's own
  compute time (from after its imports to its labeled table, which it does not write);
* whole process: the wall time of `python -m workbench segment …` ÷ the plain script's, both
  from the spawn to the exit (imports included).

The report gives the median of the rounds' ratios with their range, and both SSEs.
Targets (issue 15): compute ≤ 1.0×, whole process ≤ 0.6×.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness

COMPUTE_TARGET = 1.0
PROCESS_TARGET = 0.6
PLAIN_SCRIPT = Path(__file__).with_name("plain_county.py")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, dict]:
    """(wall seconds from spawn to exit, the JSON the command printed last)."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=harness.REPO, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise RuntimeError(f"{' '.join(cmd[:4])} … exited {proc.returncode}: {tail}")
    return wall, json.loads(proc.stdout)


def _workbench(csv: str, workspace: str, env: dict[str, str]) -> dict:
    wall, summary = _timed([sys.executable, "-m", "workbench", "segment", "--data", csv, "--json",
                            "--workspace", workspace], env)
    return {"wall": wall, "compute": summary["timings"]["total"], "timings": summary["timings"], "sse": summary["sse"]}


def _plain(csv: str, env: dict[str, str]) -> dict:
    wall, result = _timed([sys.executable, str(PLAIN_SCRIPT), csv], env)
    return {"wall": wall, **result}


def run(*, env: dict, rounds: int = 7, log=print) -> dict:
    csv = str(harness.census_path())
    one_thread = {**env, **ONE_THREAD}
    out = {"load_before": harness.load_average(), "rounds": []}
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as workspace:
        try:
            _workbench(csv, workspace, env), _plain(csv, env)  # warm-up: registry, page and bytecode caches
            for index in range(rounds):
                log(f"[processes] round {index + 1}/{rounds} …")
                out["rounds"].append({"workbench": _workbench(csv, workspace, env), "plain_default": _plain(csv, env),
                                      "plain_one_thread": _plain(csv, one_thread)})
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            return {**out, "error": str(exc)}
    for entry in out["rounds"]:
        compute_base = min(entry["plain_default"]["compute"], entry["plain_one_thread"]["compute"])
        wall_base = min(entry["plain_default"]["wall"], entry["plain_one_thread"]["wall"])
        entry["compute_ratio"] = entry["workbench"]["compute"] / compute_base
        entry["process_ratio"] = entry["workbench"]["wall"] / wall_base
    out["load_after"] = harness.load_average()
    for key in ("compute_ratio", "process_ratio"):
        values = [entry[key] for entry in out["rounds"]]
        out[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return out


def _median(rounds: list[dict], *path: str) -> float:
    def get(entry: dict):
        for key in path:
            entry = entry[key]
        return entry

    return statistics.median(get(entry) for entry in rounds)


def report(out: dict) -> list[str]:
    if "error" in out:
        return [f"FAILED: {out['error']}"]
    rounds = out["rounds"]
    c, p = out["compute_ratio"], out["process_ratio"]
    stages = {name: _median(rounds, "workbench", "timings", name) for name in rounds[0]["workbench"]["timings"]}
    lines = [
        "| run (median of the rounds) | compute | whole process | imports | SSE |", "|---|---|---|---|---|",
        f"| `python -m workbench segment --json` | {_median(rounds, 'workbench', 'compute') * 1000:.0f} ms "
        f"(timings.total) | {_median(rounds, 'workbench', 'wall') * 1000:.0f} ms | | "
        f"{rounds[0]['workbench']['sse']:.3f} |",
    ]
    for name, label in (("plain_default", "plain script, default threads"),
                        ("plain_one_thread", "plain script, one thread")):
        lines.append(f"| {label} | {_median(rounds, name, 'compute') * 1000:.0f} ms | "
                     f"{_median(rounds, name, 'wall') * 1000:.0f} ms | {_median(rounds, name, 'imports') * 1000:.0f} ms | "
                     f"{rounds[0][name]['sse']:.3f} |")
    lines += [
        "",
        f"Per round against the faster plain run of that round ({len(rounds)} rounds): compute "
        f"{c['median']:.2f}× (range {c['min']:.2f}-{c['max']:.2f}; target ≤ {COMPUTE_TARGET}×: "
        f"{'met' if c['median'] <= COMPUTE_TARGET else 'NOT met'}), whole process {p['median']:.2f}× (range "
        f"{p['min']:.2f}-{p['max']:.2f}; target ≤ {PROCESS_TARGET}×: "
        f"{'met' if p['median'] <= PROCESS_TARGET else 'NOT met'}).",
        "Workbench stages (medians): " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in stages.items())
        + f". Load average {out['load_before']} → {out['load_after']}.",
    ]
    return lines


if __name__ == "__main__":
    env = harness.child_env()
    try:
        rounds = harness.positive_int(os.environ.get("BENCH_ROUNDS", "7"))
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"BENCH_ROUNDS: {exc}.") from None
    result = run(env=env, rounds=rounds,
                 log=lambda message: print(message, file=sys.stderr, flush=True))
    print("\n".join(report(result)))
