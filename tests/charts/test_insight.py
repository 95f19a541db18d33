"""The insight charts, checked on their data (chart.to_dict()) and compiled to Vega when possible.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import vl_convert
from sklearn.datasets import make_blobs

from tests.support import chart_labels
from workbench.analysis import choosing_k, profiles, stability
from workbench.charts import insight as charts


def _compiles(chart):
    vl_convert = pytest.importorskip("vl_convert")
    vl_convert.vegalite_to_vega(json.dumps(chart.to_dict()))


def _rows(spec):
    return [row for rows in spec["datasets"].values() for row in rows]


@pytest.fixture(scope="module")
def selection():
    X, _ = make_blobs(120, centers=3, n_features=2, cluster_std=0.4, center_box=(-8, 8), random_state=2)
    return choosing_k.evaluate_k(X, range(2, 6), stability_reps=2)


@pytest.fixture()
def profile():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    frame = pd.DataFrame({"Income": 40_000 + 10_000 * labels + rng.normal(0, 1000, 60),
                          "Poverty": 20 - 5 * labels + rng.normal(0, 1, 60)})
    return profiles.build_profile(frame, labels, names=["poor", "middle", "rich"])


def test_k_selection_chart(selection):
    chart = charts.k_selection_chart(selection)
    spec = chart.to_dict()
    rows = _rows(spec)
    assert {r["metric"] for r in rows} == {"sse", "silhouette", "calinski_harabasz", "davies_bouldin", "stability"}
    assert len(rows) == 5 * 4
    assert [r["k"] for r in rows if r["is_recommended"]] == [selection.recommended] * 5
    assert spec["resolve"]["scale"]["y"] == "independent"
    filters = [t["filter"] for layer in spec["spec"]["layer"] for t in layer.get("transform", [])]
    assert "datum.is_recommended" in filters and "datum.is_knee && datum.metric === 'sse'" in filters
    assert f"recommended k = {selection.recommended}" in " ".join(spec["title"]["text"])
    assert " ".join(spec["title"]["subtitle"]) == selection.reason  # 120 rows: not a small sample
    assert spec["spec"]["layer"][0]["encoding"]["x"]["axis"]["values"] == [2, 3, 4, 5]  # every k labelled
    _compiles(chart)


def test_index_heatmap(profile):
    chart = charts.index_heatmap(profile.index)
    rows = _rows(chart.to_dict())
    assert len(rows) == 6
    by = {(r["cluster_name"], r["feature"]): r for r in rows}
    assert by[("poor", "Poverty")]["flag"] == "high" and by[("poor", "Poverty")]["band"] == "120–200: above"
    assert by[("rich", "Poverty")]["band"] == "50–80: below"  # 10 / 15
    # The bands agree with the flags: 80 is low, 120 high.
    assert [charts._index_band(v) for v in (50, 50.1, 80, 80.1, 119.9, 120, 199.9, 200, np.nan)] == [
        "≤ 50: far below", "50–80: below", "50–80: below", "80–120: about average", "80–120: about average",
        "120–200: above", "120–200: above", "≥ 200: far above", "n/a"]
    assert by[("middle", "Income")]["band"] == "80–120: about average" and by[("middle", "Income")]["label"] == "100"
    only = charts.index_heatmap(profile.index, features=["Income"])
    assert {r["feature"] for r in _rows(only.to_dict())} == {"Income"}
    _compiles(chart)


def test_box_plot_chart(profile):
    chart = charts.box_plot_chart(profile.boxes, "Income")
    rows = _rows(chart.to_dict())
    assert [r["cluster_name"] for r in rows] == ["poor", "middle", "rich"]
    assert all(r["lower_whisker"] <= r["q1"] <= r["median"] <= r["q3"] <= r["upper_whisker"] for r in rows)
    with pytest.raises(ValueError, match="No box-plot"):
        charts.box_plot_chart(profile.boxes, "Nope")
    _compiles(chart)


def test_stability_chart():
    X, _ = make_blobs(90, centers=3, n_features=2, cluster_std=0.3, center_box=(-8, 8), random_state=0)
    result = stability.bootstrap_stability(X, 3, reps=2)
    chart = charts.stability_chart(result.with_names(["a", "b", "c"]))
    spec = chart.to_dict()
    rows = _rows(spec)
    bands = {r["band"]: (r["low"], r["high"]) for r in rows if "low" in r}
    assert bands == {"unstable": (0.0, 0.6), "doubtful": (0.6, 0.75), "stable": (0.75, 1.0)}
    assert sorted(r["at"] for r in rows if "at" in r) == [0.6, 0.75]
    assert {r["cluster_name"] for r in rows if "mean_jaccard" in r} == {"a", "b", "c"}
    charts.stability_chart(result.per_cluster).to_dict()  # without names
    _compiles(chart)


def test_confidence_histogram():
    table = pd.DataFrame({"cluster": [0, 0, 1, 1, 1], "confidence": [1.0, 0.5, 0.95, 0.02, 1.0]})
    bins = charts.confidence_bins(table, ["x"], bins=10)
    assert bins["counties"].sum() == 5
    assert bins[bins["bin_start"] == 0.9]["counties"].sum() == 3  # 0.95 and the two 1.0 share the last bin
    assert set(bins["cluster_name"]) == {"x", "cluster 1"}
    chart = charts.confidence_histogram(table, ["x"], threshold=0.8, log=True)
    spec = chart.to_dict()
    assert "2 of 5 counties" in " ".join(spec["title"]["subtitle"])
    bars = spec["spec"]["layer"][0]
    # Small multiples, one per cluster, on a log count axis: no stacking, no symlog.
    assert spec["facet"]["row"]["field"] == "panel" and "stack" not in bars["encoding"]["y"]
    assert bars["encoding"]["y"]["scale"]["type"] == "log" and bars["encoding"]["y"]["axis"]["values"] == [1]
    assert bars["encoding"]["y2"] == {"datum": 0.5}  # a bar of one county starts below 1
    assert {r["kept"] for r in _rows(spec) if r["bin_end"] <= 0.8} == {"uncertain"}
    linear = charts.confidence_histogram(table, ["x"], log=False).to_dict()
    assert "type" not in linear["spec"]["layer"][0]["encoding"]["y"].get("scale", {})
    _compiles(chart)


def test_separation_chart(profile):
    chart = charts.separation_chart(profile.separation, top=1)
    rows = _rows(chart.to_dict())
    assert len(rows) == 1 and rows[0]["r2"] == profile.separation["r2"].max()
    _compiles(chart)


def test_a_small_sample_says_so_under_the_title():
    X, _ = make_blobs(24, centers=3, n_features=2, cluster_std=0.4, center_box=(-8, 8), random_state=0)
    small = choosing_k.evaluate_k(X, range(2, 5), stability_reps=0)
    subtitle = " ".join(charts.k_selection_chart(small).to_dict()["title"]["subtitle"])
    assert small.weak_recommendation in subtitle


# --- Every label shown, on the census (the measure) --------------------------------
# As in test_stages: drawn as the app draws them, at their share of a 700 or 1400 px page.

PAGES, KS = chart_labels.PAGES, chart_labels.KS
_shown = chart_labels.assert_shown


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("k", KS)
def test_every_label_shows_on_the_profiles_page(census_run, k, page):
    run = census_run(k)
    profile, names = run.named_profile, run.cluster_names
    _shown(charts.index_heatmap(profile.index).to_dict(), page, axes={"Y-axis": run.features, "X-axis": names})
    _shown(charts.separation_chart(profile.separation).to_dict(), page // 2,
           axes={"Y-axis": list(profile.separation["feature"].head(15))})
    _shown(charts.separation_chart(profile.separation, top=None).to_dict(), page // 2, axes={"Y-axis": run.features})
    for feature in ("Income", "Poverty", "TotalPop"):
        _shown(charts.box_plot_chart(profile.boxes, feature).to_dict(), page // 2, axes={"Y-axis": names},
               titles=[feature])
    _shown(charts.stability_chart(run.stability.with_names(names)).to_dict(), page, axes={"Y-axis": names})
    spec = charts.confidence_histogram(run.confidence.table, names, threshold=0.8).to_dict()
    _shown(spec, page, headers=names)
    counts = chart_labels.labels(chart_labels.render(spec, page)).axis("Y-axis")
    assert {label.text for label in counts} >= {"1", "10", "100"}  # a log axis with readable ticks


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("k", KS)
def test_every_label_shows_on_the_choose_k_page(census_run, k, page):
    selection = census_run(k).selection
    spec = charts.k_selection_chart(selection).to_dict()
    metrics = list(dict.fromkeys(selection.long()["label"]))
    _shown(spec, page, headers=metrics, titles=[f"recommended k = {selection.recommended}"])
    shown = chart_labels.labels(chart_labels.render(spec, page)).texts("X-axis")
    assert sorted(set(shown), key=int) == [str(k) for k in range(2, k + 1)]  # every evaluated k


def test_no_row_limit_at_any_k(census_run):
    """k × features above 5,000 rows (k ≥ 148 on the census) raised Altair's MaxRowsError."""
    k = 200
    run = census_run(k)
    profile, names = run.named_profile, run.cluster_names
    assert len(profile.index) > 5000
    built = [
        charts.index_heatmap(profile.index),
        charts.separation_chart(profile.separation),
        charts.box_plot_chart(profile.boxes, "Income"),
        charts.stability_chart(run.stability.with_names(names)),
        charts.confidence_histogram(run.confidence.table, names),
    ]
    for chart in built:
        assert vl_convert.vegalite_to_vega(json.dumps(chart.to_dict()))["marks"]
    # Beyond SMALL_MULTIPLES clusters, membership confidence is one histogram of every county.
    spec = built[-1].to_dict()
    assert {row["panel"] for row in _rows(spec)} == {"all clusters"}
    assert sum(row["counties"] for row in _rows(spec)) == len(run.confidence.table)
    box = chart_labels.labels(chart_labels.render(built[2].to_dict(), 1400))
    assert sorted(box.texts("Y-axis")) == sorted(names)  # 200 rows, every one labelled


HOSTILE = ['=HYPERLINK("http://x","y")', "![x](http://host/p.png)", "<!--", "**bold**", "</script>&amp;"]


def test_names_reach_the_drawing_as_plain_text(profile):
    """Vega draws titles, axis labels and legends as text: a name shows exactly as typed
    (the SVG parses, and its text is the name), nothing is interpreted."""
    boxes = profile.boxes.assign(cluster_name=profile.boxes["cluster"].map(dict(enumerate(HOSTILE))))
    spec = charts.box_plot_chart(boxes, "Income").to_dict()
    drawn = chart_labels.labels(chart_labels.render(spec, 700))
    assert sorted(drawn.texts("Y-axis")) == sorted(HOSTILE[:3])
    per_cluster = pd.DataFrame({"cluster": range(5), "cluster_name": HOSTILE, "mean_jaccard": [0.9] * 5,
                                "band": ["stable"] * 5})
    stability_spec = charts.stability_chart(per_cluster).to_dict()
    assert sorted(chart_labels.labels(chart_labels.render(stability_spec, 700)).texts("Y-axis")) == sorted(HOSTILE)
    table = pd.DataFrame({"cluster": [0, 1, 2, 3, 4], "confidence": [1.0, 0.5, 0.9, 0.2, 1.0]})
    confidence = charts.confidence_histogram(table, HOSTILE).to_dict()
    headers = " | ".join(label.text for label in chart_labels.labels(chart_labels.render(confidence, 700)).titles)
    assert all(name in headers for name in HOSTILE)
    # Tooltips carry the name as data; Vega's tooltip handler escapes HTML (vega-tooltip's default).
    tooltips = stability_spec["layer"][2]["encoding"]["tooltip"]
    assert {"field": "cluster_name", "type": "nominal", "title": "cluster"} in tooltips
