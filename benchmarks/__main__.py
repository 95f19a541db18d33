"""The workbench's benchmarks in one run: `python -m benchmarks` (or `./run bench`).

    python -m benchmarks                       # everything: sizes 100k,1m,10m (several minutes)
    python -m benchmarks --quick               # a CI-sized smoke run (tiny sizes, one repeat)
    python -m benchmarks --sizes 100k,1m --streaming-sizes 1m --only scale,streaming
    python -m benchmarks --json out.json       # also keep every number (default: benchmarks/results/)

Sections (each phase in a fresh process; every result is a ratio against a baseline measured
in the same run):
  pipeline   the county pipeline via the workbench library ÷ a plain pandas + scikit-learn script
  processes  the same as whole processes, pair by pair: `python -m workbench segment --json`'s
             timings.total ÷ the plain script's own compute time, and wall time ÷ wall time
  choosek    Choose k on the census (k = 2…12, 5 resamples) ÷ the same evaluation in scikit-learn
  scale      PCA + K-Means on synthetic census-shaped data ÷ the floor (one X.T @ X); K-Means ÷
             scikit-learn's KMeans (lloyd), MiniBatchKMeans and faiss's Kmeans on the same scores
  streaming  the same from a Parquet file in chunks: peak RSS ÷ file size, ÷ the in-memory run
  app        each app page's rerun time (benchmarks/bench_app.py, AppTest; every sidebar page but
             Endpoints, which asks AWS for live endpoints) ÷ a trivial page
  browser    the County map's first and later draws in chromium (benchmarks/bench_browser.py) ÷ a
             trivial page's, from the click to the drawn chart

OpenBLAS's core overrides (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE), when set, are unset for the
benchmark's own processes (`--keep-openblas-env` keeps them); the BLAS kernel the phases then
run is reported. Exit status: 0 when every phase ran (targets missed or not), 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import bench_app, bench_browser, bench_pipeline, bench_processes, bench_scale, bench_streaming, harness

SECTIONS = ("pipeline", "processes", "choosek", "scale", "streaming", "app", "browser")
DEFAULT_SIZES = "100k,1m,10m"
DEFAULT_STREAMING_SIZES = "1m,10m"
QUICK_SIZES = "20k"
APP_TARGET_MS = bench_app.TARGET_MS


def _sizes(text: str) -> list[int]:
    return [bench_scale.parse_size(part) for part in text.split(",") if part.strip()]


def run_app(*, env: dict, reruns: int, log) -> dict:
    log(f"[app] AppTest page reruns (benchmarks/bench_app.py, {reruns} reruns) …")
    env = dict(env)
    env.setdefault("WORKBENCH_DEFAULT_DATA", str(harness.census_path()))
    result = harness.run_json_module("benchmarks.bench_app", ["--reruns", str(reruns)], env=env, timeout=1800)
    if "error" in result:
        return result
    base = result["baseline"]["warm_ms"]
    result["ratios"] = {title: page["warm_ms"] / base for title, page in result["pages"].items()}
    result["slowest_warm_ms"] = max(page["warm_ms"] for page in result["pages"].values())
    return result


def report_app(app: dict) -> list[str]:
    if "error" in app:
        return [f"FAILED: {app['error']}"]
    base = app["baseline"]["warm_ms"]
    lines = [
        f"Baseline: a trivial page under the same AppTest harness, warm rerun {base:.1f} ms = 1.0×; "
        f"app start (imports, load and clean) {app['app_start_ms']:.0f} ms.",
        "",
        f"| page | first run | warm rerun (median) | ÷ trivial page | ≤ {APP_TARGET_MS:.0f} ms |",
        "|---|---|---|---|---|",
    ]
    for title, page in app["pages"].items():
        lines.append(
            f"| {title} | {page['first_ms']:.0f} ms | {page['warm_ms']:.1f} ms (max {page['warm_max_ms']:.0f}) | "
            f"{page['warm_ms'] / base:.1f}× | {'yes' if page['warm_ms'] <= APP_TARGET_MS else 'NO'} |"
        )
    for title, why in app.get("skipped_pages", {}).items():
        lines.append(f"| {title} | not measured: {why} | | | |")
    return lines


def targets(results: dict) -> list[str]:
    f = harness.fmt_ratio
    rows = ["| target | measured | met |", "|---|---|---|"]

    def add(name: str, value: float | None, limit: float, shown: str | None = None) -> None:
        met = "?" if value is None else ("yes" if value <= limit else "NO")
        rows.append(f"| {name} | {shown or f(value)} | {met} |")

    pipe = results.get("pipeline")
    if pipe:
        add("county pipeline: workbench library ≤ 1.0× plain pandas + scikit-learn", pipe["ratios"]["workbench_vs_plain"],
            bench_pipeline.TARGET)
        sse = pipe["ratios"]["sse_workbench_vs_plain"]
        add("county pipeline: SSE ≤ the plain script's KMeans(n_init=10)", sse, 1.0,
            None if sse is None else f"{sse:.6f}×")
    procs = results.get("processes")
    if procs and "error" not in procs:
        c, p = procs["compute_ratio"], procs["process_ratio"]
        add("county run, CLI: segment --json timings.total ≤ 1.0× the plain script's compute (median of pairs)",
            c["median"], bench_processes.COMPUTE_TARGET)
        add("county run, CLI: whole process ≤ 0.6× the plain script's (median of pairs)", p["median"],
            bench_processes.PROCESS_TARGET)
    choose = results.get("choosek")
    if choose and "median" in choose.get("choose-k", {}):
        add("Choose k (k = 2…12, 5 resamples) ≤ 3 s", choose["choose-k"]["median"], bench_pipeline.CHOOSE_K_TARGET_S,
            f"{choose['choose-k']['median']:.2f} s ({f(choose['ratio'])} the scikit-learn loop; "
            f"recommended k = {choose['choose-k']['recommended']})")
    scale = results.get("scale")
    if scale:
        big = max(scale, key=lambda e: e["rows"])
        r, t = big["ratios"], bench_scale.TARGETS
        add(f"{big['label']} rows: PCA + K-Means ≤ {t['time_vs_floor']:g}× the floor (X.T @ X)",
            r["workbench_time_vs_floor"], t["time_vs_floor"])
        add(f"{big['label']} rows: peak memory ≤ {t['peak_vs_data']:g}× the float32 data", r["workbench_peak_vs_data"],
            t["peak_vs_data"])
        add(f"{big['label']} rows: K-Means ≤ {t['kmeans_vs_faiss']:g}× faiss's default Kmeans",
            r["kmeans_time_vs_faiss"], t["kmeans_vs_faiss"])
        sse = r["kmeans_sse_vs_lloyd"]
        add(f"{big['label']} rows: K-Means SSE ≤ scikit-learn KMeans(n_init=1, lloyd)'s", sse, t["sse_vs_lloyd"],
            None if sse is None else f"{sse:.4f}×")
    stream = results.get("streaming")
    if stream:
        for e in stream:
            value = e["ratios"]["stream_peak_vs_file"]
            rows.append(f"| streaming {e['label']} rows: peak RSS ÷ file size (report; in-memory: "
                        f"{f(e['ratios']['in_memory_peak_vs_file'])}) | {f(value)} | — |")
    app = results.get("app")
    if app and "error" not in app:
        slow = app["slowest_warm_ms"]
        add(f"app: every measured page's warm rerun ≤ {APP_TARGET_MS:.0f} ms under AppTest ({len(app['pages'])} pages; slowest)",
            slow, APP_TARGET_MS, f"{slow:.1f} ms")
    browser = results.get("browser")
    if browser and "map_first_draw_s" in browser:
        add("browser: County map first draw after clustering ≤ 2 s", browser["map_first_draw_s"],
            bench_browser.FIRST_DRAW_TARGET_S, f"{browser['map_first_draw_s']:.2f} s")
        add("browser: County map later draws ≤ 1 s (median)", browser["map_later_draw_median_s"],
            bench_browser.LATER_DRAW_TARGET_S, f"{browser['map_later_draw_median_s']:.2f} s")
        sent = browser.get("sent")
        if sent:
            per_draw = sent["spec_json_bytes"] + sent["arrow_bytes"]
            add("browser: the map's spec sent per draw ≤ 600 KB", per_draw, 600_000, f"{per_draw / 1000:.0f} KB")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"CI-sized smoke run: sizes {QUICK_SIZES}, one repeat")
    parser.add_argument("--sizes", help=f"synthetic sizes for the scale section (default {DEFAULT_SIZES})")
    parser.add_argument("--streaming-sizes", help=f"Parquet sizes for the streaming section (default {DEFAULT_STREAMING_SIZES})")
    parser.add_argument("--repeat", type=harness.positive_int, help="timed repeats per phase, best kept (default 3; 1 with --quick; the in-process county pipeline takes at least 5 and Choose k at least 3 without --quick; the process pairs always make 7 rounds)")
    parser.add_argument("--app-reruns", type=harness.positive_int, help="warm reruns per app page (default 15; 3 with --quick)")
    parser.add_argument("--only", help=f"comma-separated sections to run: {','.join(SECTIONS)}")
    parser.add_argument("--skip", help="comma-separated sections to skip")
    parser.add_argument("--json", type=Path, help="write every number here (default benchmarks/results/latest.json)")
    parser.add_argument("--workdir", type=Path, help="where the synthetic files go (default: a temporary folder)")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the benchmark's processes")
    args = parser.parse_args(argv)

    sizes = _sizes(args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES))
    streaming_sizes = _sizes(args.streaming_sizes or (QUICK_SIZES if args.quick else DEFAULT_STREAMING_SIZES))
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    app_reruns = args.app_reruns if args.app_reruns is not None else (3 if args.quick else 15)
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    skipped = {s.strip() for s in args.skip.split(",")} if args.skip else set()
    unknown = [s for s in [*chosen, *skipped] if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    chosen = [s for s in chosen if s not in skipped]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    env = harness.child_env(args.keep_openblas_env)
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    results: dict = {"command": command.strip(), "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                     "machine": harness.machine_info(env), "load_start": harness.load_average()}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if "pipeline" in chosen:
            results["pipeline"] = bench_pipeline.run(env=env, repeat=repeat if args.quick else max(repeat, 5), log=log)
        if "processes" in chosen:
            results["processes"] = bench_processes.run(env=env, rounds=2 if args.quick else 7, log=log)
        if "choosek" in chosen:
            results["choosek"] = bench_pipeline.run_choose_k(env=env, repeat=repeat if args.quick else max(repeat, 3),
                                                             log=log)
        if "scale" in chosen:
            results["scale"] = bench_scale.run(sizes, workdir=workdir, env=env, repeat=repeat, quick=args.quick, log=log)
        if "streaming" in chosen:
            results["streaming"] = bench_streaming.run(streaming_sizes, workdir=workdir, env=env, log=log)
        if "app" in chosen:
            results["app"] = run_app(env=env, reruns=app_reruns, log=log)
        if "browser" in chosen:
            log("[browser] the County map in chromium (benchmarks/bench_browser.py) …")
            results["browser"] = bench_browser.run(env=env, repeats=1 if args.quick else 3, log=log)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    results["load_end"] = harness.load_average()
    results["seconds"] = time.perf_counter() - started

    print("\n".join(render(results)))
    out = args.json or harness.REPO / "benchmarks" / "results" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    log(f"Numbers written to {out}")
    return 1 if _errors(results) else 0


def _errors(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["error"]] if isinstance(value.get("error"), str) else []
        return found + [e for v in value.values() for e in _errors(v)]
    if isinstance(value, list):
        return [e for v in value for e in _errors(v)]
    return []


def render(results: dict) -> list[str]:
    m = results["machine"]
    blas = [f"{p['internal_api']} {p['version']} ({p['architecture']}, {p['num_threads']} threads)"
            for p in m.get("threadpools", []) if p.get("user_api") == "blas"]
    versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items() if v)
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{results['command']}` — {results['started']}, {results['seconds']:.0f} s in all.",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {harness.gib(m['memory_bytes'])} memory, "
        f"Python {m['python']}, {m['platform']}.",
        f"Libraries: {versions}.",
        f"BLAS in the phases: {'; '.join(blas) or 'unknown'}; OpenBLAS overrides in the shell "
        f"{m['openblas_env_in_shell']}, in the phases {m['openblas_env_in_phases']}.",
        f"Load average (1, 5, 15 min): {results['load_start']} at the start, {results['load_end']} at the end.",
    ]
    if "pipeline" in results:
        lines += ["", "## County pipeline (census, 3,218 counties)", "", *bench_pipeline.report(results["pipeline"])]
    if "processes" in results:
        lines += ["", "## County run as whole processes (census)", "", *bench_processes.report(results["processes"])]
    if "choosek" in results:
        lines += ["", "## Choose k (census)", "", *bench_pipeline.report_choose_k(results["choosek"])]
    if "scale" in results:
        lines += ["", "## PCA + K-Means at scale (synthetic, 34 features)", "", *bench_scale.report(results["scale"])]
    if "streaming" in results:
        lines += ["", "## Streaming from Parquet", "", *bench_streaming.report(results["streaming"])]
    if "app" in results:
        lines += ["", "## App pages (AppTest, census data)", "", *report_app(results["app"])]
    if "browser" in results:
        lines += ["", "## The County map in a real browser (chromium)", "", *bench_browser.report(results["browser"])]
    lines += ["", "## Targets", "", *targets(results)]
    errors = _errors(results)
    if errors:
        lines += ["", f"{len(errors)} phase(s) failed:", *[f"- {e}" for e in errors]]
    return lines


if __name__ == "__main__":
    sys.exit(main())
