"""Rerun time of each page of the Streamlit app but Endpoints on the census data (AppTest, in-process).

    python -m benchmarks.bench_app [--reruns N] [--json PATH]

For every page the sidebar lists but Endpoints (which asks AWS for live SageMaker endpoints):
the first run (the page's first render in a session whose PCA and K-Means are trained, so
its tables and charts are built; Runs and Compare list the runs that training recorded) and the warm rerun (median of N reruns
with nothing changed: what an analyst waits for after a click that changes nothing
upstream). Times are also given as ratios against a baseline measured in the same run: a
trivial one-line page under the same AppTest harness, so the numbers compare across machines.
Target: a warm rerun of at most 150 ms per page.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CENSUS = REPO.parent / "shared" / "data" / "acs2015_county_data.csv"
TARGET_MS = 150.0
# Every page the sidebar lists (workbench.app.navigation.PAGE_FILES), in its order, except
# Endpoints: it lists the live SageMaker endpoints of an AWS account, so its time is a round
# trip to AWS (or an "SDK not available" notice), not the app's own rerun.
SKIPPED = {"Endpoints": "lists live SageMaker endpoints through AWS: a network round trip, not the app's rerun"}


def page_paths() -> dict[str, str]:
    """{title: page file} for every measured page (imported here, once main() has set the workspace and sys.path)."""
    from workbench.app.navigation import PAGE_FILES

    return {title: path for path, title, _icon in PAGE_FILES.values() if title not in SKIPPED}


TRIVIAL_PAGE = "import streamlit as st\nst.title('Baseline')\nst.write('A trivial page.')\n"


def _timed_run(at, timeout: float = 120) -> float:
    started = time.perf_counter()
    at.run(timeout=timeout)
    return (time.perf_counter() - started) * 1000


def _check(at, where: str) -> None:
    if at.exception:
        raise RuntimeError(f"{where} raised: {at.exception[0].value}")
    if at.error:
        raise RuntimeError(f"{where} shows an error: {at.error[0].value}")


def measure(reruns: int = 15) -> dict:
    from streamlit.testing.v1 import AppTest

    # Baseline: the harness itself, on a trivial page.
    baseline = AppTest.from_string(TRIVIAL_PAGE, default_timeout=60)
    baseline_first = _timed_run(baseline)
    baseline_warm = statistics.median(_timed_run(baseline) for _ in range(reruns))

    PAGES = page_paths()
    at = AppTest.from_file(str(REPO / "workbench" / "streamlit_app.py"), default_timeout=120)
    app_start = _timed_run(at)  # imports, loading and cleaning the data: once per process
    _check(at, "Data")
    at.switch_page(PAGES["PCA"]).run()
    at.button(key="pca_train").click().run()
    _check(at, "PCA training")
    at.switch_page(PAGES["Name components"]).run()
    at.session_state["component_names"] = ["Diversity", "Work", "", "", "Trades"]
    at.run()
    at.switch_page(PAGES["Clusters"]).run()
    at.button(key="kmeans_train").click().run()
    _check(at, "K-Means training")

    pages = {}
    for title, path in PAGES.items():
        at.switch_page(path)
        first = _timed_run(at)
        _check(at, title)
        warm = [_timed_run(at) for _ in range(reruns)]
        pages[title] = {"first_ms": first, "warm_ms": statistics.median(warm), "warm_max_ms": max(warm)}
    return {
        "baseline": {"first_ms": baseline_first, "warm_ms": baseline_warm},
        "app_start_ms": app_start,
        "pages": pages,
        "skipped_pages": SKIPPED,
        "reruns": reruns,
        "target_warm_ms": TARGET_MS,
    }


def report(result: dict) -> str:
    base = result["baseline"]["warm_ms"]
    lines = [
        f"Baseline (trivial page, same harness): first {result['baseline']['first_ms']:.0f} ms, "
        f"warm rerun {base:.1f} ms = 1.0×",
        f"App start (imports, load and clean the census table): {result['app_start_ms']:.0f} ms",
        "",
        f"{'page':<17} {'first run':>15} {'warm rerun':>17} {'≤ ' + format(TARGET_MS, '.0f') + ' ms':>9}",
    ]
    for title, page in result["pages"].items():
        ok = "yes" if page["warm_ms"] <= TARGET_MS else "NO"
        lines.append(
            f"{title:<17} {page['first_ms']:7.0f} ms {page['first_ms'] / base:5.1f}× "
            f"{page['warm_ms']:7.1f} ms {page['warm_ms'] / base:5.1f}× {ok:>9}"
        )
    for title, why in SKIPPED.items():
        lines.append(f"{title:<17} not measured: {why}")
    lines.append(f"\nWarm rerun = median of {result['reruns']} reruns; ratios are against the baseline's warm rerun.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from workbench.cli.parser import positive_int

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_app", description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=positive_int, default=15, help="warm reruns per page (default 15)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    if not os.environ.get("WORKBENCH_DEFAULT_DATA"):
        if not CENSUS.is_file():
            print(f"Set WORKBENCH_DEFAULT_DATA to the census CSV (not found at {CENSUS}).", file=sys.stderr)
            return 2
        os.environ["WORKBENCH_DEFAULT_DATA"] = str(CENSUS)
    with tempfile.TemporaryDirectory(prefix="bench-app-") as workspace:
        os.environ["WORKBENCH_WORKSPACE"] = workspace
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        result = measure(args.reruns)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    slow = [title for title, page in result["pages"].items() if page["warm_ms"] > TARGET_MS]
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
