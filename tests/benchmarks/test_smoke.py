"""`python -m benchmarks` runs end to end at a tiny size and reports its ratios (no timing is asserted).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, census_csv):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    env = dict(os.environ, WORKBENCH_DEFAULT_DATA=str(census_csv), PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--sizes", "2k", "--streaming-sizes", "2k",
           "--repeat", "1", "--app-reruns", "1", "--keep-openblas-env", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    return proc, json.loads(out.read_text()) if out.is_file() else None


def test_benchmark_script_runs_every_section(smoke):
    proc, results = smoke
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for heading in ("## County pipeline", "## County run as whole processes", "## Choose k", "## PCA + K-Means at scale", "## Streaming from Parquet",
                    "## App pages", "## The County map in a real browser", "## Targets"):
        assert heading in proc.stdout
    assert results is not None
    assert {"pipeline", "processes", "choosek", "scale", "streaming", "app", "browser", "machine"} <= set(results)
    assert results["machine"]["nproc"] >= 1 and results["machine"]["versions"]["numpy"]


def test_benchmark_reports_ratios_against_baselines_of_the_same_run(smoke):
    proc, results = smoke
    pipeline = results["pipeline"]["ratios"]
    assert pipeline["workbench_vs_plain"] > 0 and pipeline["sse_workbench_vs_plain"] > 0
    (scale,) = results["scale"]
    assert scale["rows"] == 2000
    for name in ("workbench_time_vs_floor", "workbench_peak_vs_data", "kmeans_time_vs_lloyd", "kmeans_sse_vs_lloyd",
                 "kmeans_time_vs_minibatch", "kmeans_sse_vs_minibatch", "sklearn_captured_variance_vs_workbench"):
        assert scale["ratios"][name] > 0, name
    faiss = scale["kmeans-faiss"]
    assert faiss.get("sse", 0) > 0 or faiss["skipped"].startswith("faiss not installed")
    choose = results["choosek"]
    assert choose["ratio"] > 0 and 2 <= choose["choose-k"]["recommended"] <= 12
    assert max(choose["choose-k"]["sse_vs_full_fit"].values()) == pytest.approx(1.0, rel=0.005)
    (stream,) = results["streaming"]
    assert stream["ratios"]["stream_peak_vs_file"] > 0
    assert stream["stream"]["rows"] == stream["in-memory"]["rows"] == 2000
    assert stream["ratios"]["stream_sse_vs_in_memory"] == pytest.approx(1.0, rel=0.05)
    assert set(results["app"]["ratios"]) >= {"Data", "Clusters", "Choose k", "County map"}
    browser = results["browser"]
    # Skipped only where no browser is required (CI requires one: WORKBENCH_REQUIRE_BROWSER=1).
    if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
        assert "skipped" not in browser, browser
    assert "skipped" in browser or browser["map_first_draw_s"] > 0 < browser["trivial_page_s"]
    assert "×" in proc.stdout and "÷" in proc.stdout
