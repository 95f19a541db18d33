"""workbench.charts: each builder returns an Altair chart over the right (small) data,
with encodings that carry the analyst's names and the pipeline's component order.
"""
from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert

from tests.support import chart_labels
from workbench.analysis import summaries
from workbench.charts import stages as charts

FEATURES = ["Income", "Poverty", "Walk", "Drive"]


def encodings(spec: dict) -> list[dict]:
    """Every encoding block of a (possibly layered or faceted) Vega-Lite spec."""
    found = []
    if "encoding" in spec:
        found.append(spec["encoding"])
    for part in spec.get("layer", []):
        found += encodings(part)
    if "spec" in spec:
        found += encodings(spec["spec"])
    return found


def dataset(spec: dict) -> list[dict]:
    (values,) = spec["datasets"].values()
    return values


def test_histogram_draws_the_precomputed_bins():
    bins = summaries.histogram_bins(pd.Series(np.arange(50.0)), bins=5)
    chart = charts.histogram(bins, "Income")
    assert isinstance(chart, alt.Chart)
    spec = chart.to_dict()
    pd.testing.assert_frame_equal(pd.DataFrame(dataset(spec)), bins, check_dtype=False)
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["field"] == "bin_start" and spec["encoding"]["x2"]["field"] == "bin_end"
    assert spec["encoding"]["x"]["title"] == "Income"
    assert spec["encoding"]["x"]["axis"]["format"] == ",~r"  # separators, never an exponent
    assert [row["count"] for row in dataset(spec)] == [10] * 5


def test_scaled_range_chart_keeps_feature_order():
    summary = summaries.scaled_summary(np.random.default_rng(0).random((20, 4)), FEATURES)
    spec = charts.scaled_range_chart(summary).to_dict()
    pd.testing.assert_frame_equal(pd.DataFrame(dataset(spec)), summary, check_dtype=False)
    assert all(e["y"]["sort"] == FEATURES for e in encodings(spec))
    assert spec["height"] == {"step": 22}  # a row per feature


def test_explained_variance_chart_bars_and_cumulative_line_largest_first():
    table = summaries.variance_table(np.array([0.5, 0.3, 0.15, 0.05]), 2, ["Wealth"])
    chart = charts.explained_variance_chart(table)
    assert isinstance(chart, alt.LayerChart)
    spec = chart.to_dict()
    assert [r["status"] for r in dataset(spec)] == ["kept", "kept", "not kept", "not kept"]
    assert [r["explained"] for r in dataset(spec)] == [0.5, 0.3, 0.15, 0.05]
    bars, line = spec["layer"]
    assert bars["mark"]["type"] == "bar" and line["mark"]["type"] == "line"
    assert bars["encoding"]["x"]["sort"] == ["Wealth", "pc2", "pc3", "pc4"]
    assert bars["encoding"]["y"]["field"] == "explained" and line["encoding"]["y"]["field"] == "cumulative"


def test_component_makeup_chart_facets_by_named_component():
    v = np.array([[0.9, 0.0], [-0.2, 0.8], [0.1, -0.5], [0.0, 0.1]])
    makeup = summaries.component_makeup(v, FEATURES, ["Wealth", "Walkers"], n=3)
    chart = charts.component_makeup_chart(makeup)
    assert isinstance(chart, alt.FacetChart)
    spec = chart.to_dict()
    assert len(dataset(spec)) == len(makeup)
    assert spec["facet"]["field"] == "component" and spec["facet"]["sort"] == ["Wealth", "Walkers"]
    assert spec["columns"] == 2  # as many panels across as fit 700 px
    assert spec["resolve"]["scale"]["y"] == "independent"
    (encoding,) = encodings(spec)
    assert encoding["x"]["field"] == "weight"
    assert encoding["color"]["scale"]["domain"] == ["positive", "negative"]
    signs = {row["feature"]: row["direction"] for row in dataset(spec) if row["component"] == "Walkers"}
    assert signs == {"Poverty": "positive", "Walk": "negative", "Drive": "positive"}


def test_cluster_sizes_chart():
    sizes = summaries.cluster_sizes(np.array([0, 0, 1, 2, 2, 2]), 3, ["a", "b", "c"])
    spec = charts.cluster_sizes_chart(sizes).to_dict()
    assert [r["counties"] for r in dataset(spec)] == [2, 1, 3]
    assert spec["encoding"]["y"]["sort"] == ["a", "b", "c"]
    assert spec["encoding"]["y"]["axis"]["labelOverlap"] is False


def test_centroid_heatmap_is_labelled_with_names():
    centroids = np.array([[1.0, -2.0], [0.5, 0.1]])
    long = summaries.centroid_long(centroids, ["Wealth", "Rural"], ["Cities", "Farms"])
    chart = charts.centroid_heatmap(long)
    assert isinstance(chart, alt.LayerChart)
    spec = chart.to_dict()
    assert [r["value"] for r in dataset(spec)] == [1.0, -2.0, 0.5, 0.1]
    assert [r["label_color"] for r in dataset(spec)] == ["black", "white", "black", "black"]
    cells, text = spec["layer"]
    assert cells["mark"]["type"] == "rect" and text["mark"]["type"] == "text"
    assert cells["encoding"]["x"]["sort"] == ["Wealth", "Rural"]
    assert cells["encoding"]["y"]["sort"] == ["Cities", "Farms"]
    assert cells["encoding"]["color"]["scale"]["domain"] == [-2.0, 2.0]  # symmetric around 0
    assert cells["encoding"]["color"]["legend"]["values"] == [-2.0, -1.0, 0.0, 1.0, 2.0]  # round ticks
    # More components than clusters: the components run down the chart instead.
    wide = summaries.centroid_long(np.zeros((2, 3)), ["A", "B", "C"], ["Cities", "Farms"])
    assert charts.centroid_heatmap(wide).to_dict()["layer"][0]["encoding"]["y"]["sort"] == ["A", "B", "C"]


@pytest.fixture
def profiles():
    frame = pd.DataFrame({"Income": [10.0, 20.0, 30.0, 40.0], "Walk": [1.0, 1.0, 3.0, 7.0]})
    return summaries.cluster_profiles(frame, ["Income", "Walk"], np.array([0, 0, 1, 1]), ["low", "high"])


def test_profile_chart_shows_one_cluster_in_sds_with_original_units_in_tooltips(profiles):
    profile = summaries.cluster_profile(profiles, 1)
    spec = charts.profile_chart(profile, "high", top=1).to_dict()
    assert [r["feature"] for r in dataset(spec)] == profile["feature"].tolist()[:1]
    assert spec["encoding"]["x"]["field"] == "difference_sd"
    tooltips = {t["field"] for t in spec["encoding"]["tooltip"]}
    assert {"cluster_mean", "overall_mean", "difference"} <= tooltips
    assert spec["title"]["text"][0].startswith("high")


def test_profile_heatmap_covers_every_cluster_and_feature(profiles):
    spec = charts.profile_heatmap(profiles, ["Walk", "Income"]).to_dict()
    assert len(dataset(spec)) == 4
    cells = spec["layer"][0]["encoding"]
    assert cells["y"]["sort"] == ["Walk", "Income"] and cells["x"]["sort"] == ["low", "high"]
    legend = cells["color"]["legend"]
    assert "≤ " in legend["labelExpr"] and "≥ " in legend["labelExpr"]  # the colours stop at ±3 SDs


def test_distance_histogram():
    bins = summaries.histogram_bins(np.array([0.1, 0.2, 0.2, 0.9]), bins=4)
    spec = charts.distance_histogram(bins, "Cities").to_dict()
    assert sum(r["count"] for r in dataset(spec)) == 4
    assert spec["title"]["text"] == ["Cities: distance to the centroid"]


# --- Every label shown, on the census (the measure) --------------------------------
# Each chart is drawn as the app draws it (tests/support/chart_labels.py: Streamlit's theme,
# the container's width) at the share of the page it has there, on pages 700 and 1400 px
# wide, and read back from the SVG: every category it must name is on its axis, whole.

PAGES, KS = chart_labels.PAGES, chart_labels.KS
_shown = chart_labels.assert_shown


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("k", KS)
def test_every_label_shows_on_the_clusters_page(census_run, k, page):
    run = census_run(k)
    names = run.cluster_names
    sizes = summaries.cluster_sizes(run.labels, k, names)
    _shown(charts.cluster_sizes_chart(sizes).to_dict(), int(page * 0.4), axes={"Y-axis": names})
    centroids = summaries.centroid_long(run.kmeans[1].centroids, run.component_names, names)
    _shown(charts.centroid_heatmap(centroids).to_dict(), int(page * 0.6),
           axes={"Y-axis": names, "X-axis": run.component_names})
    profile = summaries.cluster_profile(run.profiles_long, k - 1)
    _shown(charts.profile_chart(profile, names[k - 1]).to_dict(), page // 2, axes={"Y-axis": run.features},
           titles=[names[k - 1]])
    _shown(charts.profile_heatmap(run.profiles_long, tuple(run.features)).to_dict(), page,
           axes={"Y-axis": run.features, "X-axis": names})


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("k", KS)
def test_every_label_shows_on_the_data_features_pca_and_explore_pages(census_run, k, page):
    run = census_run(k)
    for feature, log in (("TotalPop", True), ("Income", False), ("Poverty", False)):
        bins = summaries.histogram_bins(run.frame[feature], 30, log=log)
        _shown(charts.histogram(bins, feature, log=log).to_dict(), int(page * 0.75), titles=[feature])
    summary = summaries.scaled_summary(run.prep.X, run.features)
    _shown(charts.scaled_range_chart(summary).to_dict(), int(page * 0.6), axes={"Y-axis": run.features})
    table = summaries.variance_table(run.explained, 5, run.component_names)
    _shown(charts.explained_variance_chart(table).to_dict(), page, axes={"X-axis": list(table["name"])})
    makeup = summaries.component_makeup(run.pca.v, run.features, run.component_names, n=8)
    _shown(charts.component_makeup_chart(makeup, width=page).to_dict(), page,
           axes={"Y-axis": sorted(set(makeup["feature"]))}, headers=run.component_names)
    distances = run.distances[run.labels == 0]
    _shown(charts.distance_histogram(summaries.histogram_bins(distances, 25), run.cluster_names[0]).to_dict(), page,
           titles=[run.cluster_names[0]])


def test_the_label_test_sees_what_the_old_charts_hid(census_run):
    """The measure itself: the theme's overlap rule and label limit, as the app had them,
    fail it (a chart whose axis leaves out labels is caught)."""
    run = census_run(7)
    centroids = summaries.centroid_long(run.kmeans[1].centroids, run.component_names, run.cluster_names)
    spec = charts.centroid_heatmap(centroids).to_dict()
    for layer in spec["layer"]:
        for channel in ("x", "y"):
            layer["encoding"][channel]["axis"].pop("labelOverlap")
            layer["encoding"][channel]["axis"].pop("labelLimit")
    found = chart_labels.problems(spec, 420, axes={"Y-axis": run.cluster_names, "X-axis": run.component_names})
    assert any("misses" in problem or "cut short" in problem for problem in found), found


def test_no_row_limit_at_any_k(census_run):
    """k × features above 5,000 rows (k ≥ 148 on the census) raised Altair's MaxRowsError;
    the tables travel inline."""
    k = 200
    run = census_run(k)
    names = run.cluster_names
    assert len(run.profiles_long) > 5000
    built = [
        charts.profile_heatmap(run.profiles_long, tuple(run.features)),
        charts.centroid_heatmap(summaries.centroid_long(run.kmeans[1].centroids, run.component_names, names)),
        charts.cluster_sizes_chart(summaries.cluster_sizes(run.labels, k, names)),
        charts.profile_chart(summaries.cluster_profile(run.profiles_long, 0), names[0]),
    ]
    for chart in built[1:]:
        assert vl_convert.vegalite_to_vega(json.dumps(chart.to_dict()))["marks"]
    heatmap = built[0].to_dict()
    assert len(heatmap["datasets"][heatmap["data"]["name"]] if "datasets" in heatmap else heatmap["data"]["values"]) \
        == k * len(run.features)
    # With more clusters than features, the clusters run down the chart, every one labelled.
    shown = chart_labels.labels(chart_labels.render(heatmap, 1400)).texts("Y-axis")
    assert sorted(shown) == sorted(names)
