"""The County map in a real browser: from the click on its page link to the drawn map, beside a
trivial page's time in the same run.

    python -m benchmarks.bench_browser [--json out.json] [--repeats 3]

Starts `streamlit run workbench/streamlit_app.py` on a free port (WORKBENCH_DEFAULT_DATA: the
census CSV; a fresh workspace), drives Debian's chromium (found on PATH) with playwright:
trains PCA and K-Means (k = 7) as an analyst would, then times, each from the click to the
drawn result:

* trivial page — the Features page link → its heading shown and the script run finished
  (the cost of any page switch: the baseline);
* map, first draw — the County map link, first visit after clustering → the map painted
  (the chart's canvas holds more than MIN_PAINTED coloured pixels, or its SVG the county paths);
* map, later draws — the same after visiting another page (`--repeats` times), and after
  switching the layer to a feature (the canvas changes and settles).

Targets: first draw ≤ 2 s, later draws ≤ 1 s. Without chromium or playwright it reports why
and skips (exit 0).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness

CHROMIUM, IDLE = harness.CHROMIUM, harness.IDLE
VIEWPORT = {"width": 1440, "height": 1600}
FIRST_DRAW_TARGET_S, LATER_DRAW_TARGET_S = 2.0, 1.0
MIN_PAINTED = 20_000
# The map's state: how many pixels its canvas has painted (or county paths its SVG holds) and a
# checksum of what it shows, so a redraw can be told from the previous picture.
MAP_STATE = """() => {
  const chart = document.querySelector('[data-testid="stVegaLiteChart"]');
  if (!chart) return null;
  const svg = chart.querySelector('svg.marks');
  if (svg) { const n = svg.querySelectorAll('path').length; return {painted: n > 3000 ? 1e9 : n, sum: n}; }
  const canvas = chart.querySelector('canvas');
  if (!canvas || !canvas.width) return null;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, sum = 0;
  for (let i = 0; i < data.length; i += 16) {
    if (data[i + 3] > 0) { painted += 4; sum = (sum + data[i] * 3 + data[i + 1] * 5 + data[i + 2] * 7) % 1000000007; }
  }
  return {painted, sum};
}"""


def _idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE, timeout=120_000)


def _link(page, title: str):
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title)
    if not link.count():  # beyond the first pages the sidebar folds the rest behind "View more"
        page.locator('[data-testid="stSidebarNavViewButton"]').click()
    return link.first


def _open(page, title: str) -> None:
    _link(page, title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    _idle(page)


def _timed_page(page, title: str) -> float:
    link = _link(page, title)
    started = time.perf_counter()
    link.click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    page.wait_for_function(IDLE, timeout=120_000, polling=20)
    return time.perf_counter() - started


def _timed_map(page, action, previous: int | None = None) -> float:
    """Seconds from action() to a painted map (different from `previous` when given)."""
    started = time.perf_counter()
    action()
    page.wait_for_function(
        f"(prev) => {{ const s = ({MAP_STATE})(); return s && s.painted > {MIN_PAINTED} && s.sum !== prev; }}",
        arg=previous, timeout=120_000, polling="raf")
    return time.perf_counter() - started


def _map_sum(page) -> int | None:
    state = page.evaluate(MAP_STATE)
    return None if state is None else state["sum"]


def _train(page, url: str) -> None:
    page.goto(url)
    page.get_by_text("Cleaning report").wait_for()
    _idle(page)
    _open(page, "PCA")
    page.get_by_role("button", name="Train PCA").click()
    page.get_by_role("heading", name="Explained variance").wait_for()
    _idle(page)
    _open(page, "Clusters")
    page.get_by_role("button", name="Train K-Means").click()
    page.get_by_role("heading", name="Name the clusters").wait_for()
    _idle(page)


def measure(repeats: int = 3, log=print, screenshot: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    csv = harness.census_path()
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        process, url = harness.start_streamlit(Path(tmp), csv, log_tail=2000)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=harness.CHROMIUM_ARGS)
                page = browser.new_context(viewport=VIEWPORT).new_page()
                page.set_default_timeout(120_000)
                log("[browser] training PCA and K-Means in the app …")
                _train(page, url)
                trivial = [_timed_page(page, "Features")]
                log("[browser] County map, first draw …")
                first = _timed_map(page, lambda: _link(page, "County map").click())
                _idle(page)
                later = []
                for _ in range(repeats):
                    trivial.append(_timed_page(page, "Features"))
                    later.append(_timed_map(page, lambda: _link(page, "County map").click()))
                    _idle(page)
                before = _map_sum(page)
                layer = _timed_map(page, lambda: page.get_by_text("A feature (original units)").click(), before)
                _idle(page)
                if screenshot is not None:
                    page.screenshot(path=str(screenshot))
                browser.close()
        finally:
            harness.stop(process)
    return {"trivial_page_s": statistics.median(trivial), "trivial_page_runs_s": trivial,
            "map_first_draw_s": first, "map_later_draws_s": later, "map_later_draw_median_s": statistics.median(later),
            "map_layer_switch_s": layer, "repeats": repeats,
            "targets": {"first_draw_s": FIRST_DRAW_TARGET_S, "later_draw_s": LATER_DRAW_TARGET_S}}


def spec_bytes() -> dict:
    """What one draw of the cluster layer sends on the census, as Streamlit sends it: the spec's
    JSON, and its tabular datasets as Arrow; and the geometry file the browser fetches once."""
    import pandas as pd
    from streamlit import dataframe_util

    from workbench.analysis import geography
    from workbench.charts import county_map
    from workbench.core import sources

    census = sources.load_table(harness.census_path())
    values = pd.DataFrame({"fips": census["CensusId"], "cluster": [f"cluster {i % 7}" for i in range(len(census))],
                           "State": census["State"], "County": census["County"]})
    spec = county_map.choropleth_spec(values, "cluster", value_type="nominal", tooltip=("State", "County"))
    tables = {k: v for k, v in spec.get("datasets", {}).items() if isinstance(v, list)}
    rest = {**spec, "datasets": {k: v for k, v in spec.get("datasets", {}).items() if k not in tables}}
    return {"spec_json_bytes": len(json.dumps(rest)),
            "arrow_bytes": sum(len(dataframe_util.convert_anything_to_arrow_bytes(v)) for v in tables.values()),
            "geometry_file_bytes": geography.PACKAGED_GEOMETRY.stat().st_size}


def report(result: dict) -> list[str]:
    if "skipped" in result:
        return [f"Skipped: {result['skipped']}."]
    if "error" in result:
        return [f"FAILED: {result['error']}"]
    base = result["trivial_page_s"]
    rows = [("trivial page (Features), click → drawn", base, None),
            ("County map, first draw after clustering", result["map_first_draw_s"], FIRST_DRAW_TARGET_S),
            (f"County map, later draws (median of {result['repeats']})", result["map_later_draw_median_s"],
             LATER_DRAW_TARGET_S),
            ("County map, switching the layer to a feature", result["map_layer_switch_s"], LATER_DRAW_TARGET_S)]
    lines = ["| from the click to … | seconds | ÷ trivial page | target | met |", "|---|---|---|---|---|"]
    for name, value, target in rows:
        met = "—" if target is None else ("yes" if value <= target else "NO")
        lines.append(f"| {name} | {value:.2f} s | {value / base:.1f}× | {'—' if target is None else f'≤ {target:g} s'} "
                     f"| {met} |")
    lines.append(f"Runs: trivial page {[round(t, 2) for t in result['trivial_page_runs_s']]} s, later map draws "
                 f"{[round(t, 2) for t in result['map_later_draws_s']]} s.")
    sent = result.get("sent")
    if sent:
        per_draw = sent["spec_json_bytes"] + sent["arrow_bytes"]
        lines.append(f"Sent per draw (the cluster layer): {per_draw / 1024:.0f} KiB (spec JSON {sent['spec_json_bytes'] / 1024:.1f}"
                     f" KiB + values as Arrow {sent['arrow_bytes'] / 1024:.0f} KiB; target ≤ 600 KB: "
                     f"{'met' if per_draw <= 600_000 else 'NOT met'}); the geometry file, fetched once and "
                     f"HTTP-cached: {sent['geometry_file_bytes'] / 1024:.0f} KiB.")
    return lines


def run(*, env: dict, repeats: int = 3, log=print) -> dict:
    """In a fresh process (its own imports), like every other phase."""
    why = harness.browser_missing()
    if why:
        return {"skipped": why}
    return harness.run_json_module("benchmarks.bench_browser", ["--repeats", str(repeats)], env=env, timeout=900)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_browser", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=harness.positive_int, default=3, help="later draws to time (default 3)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--screenshot", type=Path, help="save the map page here at the end (PNG)")
    args = parser.parse_args(argv)
    why = harness.browser_missing()
    result = {"skipped": why} if why else measure(args.repeats, log=lambda m: print(m, file=sys.stderr, flush=True),
                                                  screenshot=args.screenshot)
    if not why:
        result["sent"] = spec_bytes()
    print("\n".join(report(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
