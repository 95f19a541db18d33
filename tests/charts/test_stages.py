"""workbench.charts: each builder returns an Altair chart over the right (small) data,
with encodings that carry the analyst's names and the pipeline's component order.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest

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
    pd.testing.assert_frame_equal(chart.data, bins)
    spec = chart.to_dict()
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["field"] == "bin_start" and spec["encoding"]["x2"]["field"] == "bin_end"
    assert spec["encoding"]["x"]["title"] == "Income"
    assert [row["count"] for row in dataset(spec)] == [10] * 5


def test_scaled_range_chart_keeps_feature_order():
    summary = summaries.scaled_summary(np.random.default_rng(0).random((20, 4)), FEATURES)
    chart = charts.scaled_range_chart(summary)
    pd.testing.assert_frame_equal(chart.data, summary)
    spec = chart.to_dict()
    assert all(e["y"]["sort"] == FEATURES for e in encodings(spec))


def test_explained_variance_chart_bars_and_cumulative_line_largest_first():
    table = summaries.variance_table(np.array([0.5, 0.3, 0.15, 0.05]), 2, ["Wealth"])
    chart = charts.explained_variance_chart(table)
    assert isinstance(chart, alt.LayerChart)
    assert chart.data["status"].tolist() == ["kept", "kept", "not kept", "not kept"]
    assert chart.data["explained"].tolist() == [0.5, 0.3, 0.15, 0.05]
    spec = chart.to_dict()
    bars, line = spec["layer"]
    assert bars["mark"]["type"] == "bar" and line["mark"]["type"] == "line"
    assert bars["encoding"]["x"]["sort"] == ["Wealth", "pc2", "pc3", "pc4"]
    assert bars["encoding"]["y"]["field"] == "explained" and line["encoding"]["y"]["field"] == "cumulative"


def test_component_makeup_chart_facets_by_named_component():
    v = np.array([[0.9, 0.0], [-0.2, 0.8], [0.1, -0.5], [0.0, 0.1]])
    makeup = summaries.component_makeup(v, FEATURES, ["Wealth", "Walkers"], n=3)
    chart = charts.component_makeup_chart(makeup)
    assert isinstance(chart, alt.FacetChart)
    pd.testing.assert_frame_equal(chart.data, makeup)
    spec = chart.to_dict()
    assert spec["facet"]["field"] == "component" and spec["facet"]["sort"] == ["Wealth", "Walkers"]
    assert spec["resolve"]["scale"]["y"] == "independent"
    (encoding,) = encodings(spec)
    assert encoding["x"]["field"] == "weight"
    assert encoding["color"]["scale"]["domain"] == ["positive", "negative"]
    signs = {row["feature"]: row["direction"] for row in dataset(spec) if row["component"] == "Walkers"}
    assert signs == {"Poverty": "positive", "Walk": "negative", "Drive": "positive"}


def test_cluster_sizes_chart():
    sizes = summaries.cluster_sizes(np.array([0, 0, 1, 2, 2, 2]), 3, ["a", "b", "c"])
    chart = charts.cluster_sizes_chart(sizes)
    assert chart.data["counties"].tolist() == [2, 1, 3]
    spec = chart.to_dict()
    assert spec["encoding"]["y"]["sort"] == ["a", "b", "c"]


def test_centroid_heatmap_is_labelled_with_names():
    centroids = np.array([[1.0, -2.0], [0.5, 0.1]])
    long = summaries.centroid_long(centroids, ["Wealth", "Rural"], ["Cities", "Farms"])
    chart = charts.centroid_heatmap(long)
    assert isinstance(chart, alt.LayerChart)
    assert chart.data["value"].tolist() == [1.0, -2.0, 0.5, 0.1]
    assert chart.data["label_color"].tolist() == ["black", "white", "black", "black"]
    spec = chart.to_dict()
    cells, text = spec["layer"]
    assert cells["mark"]["type"] == "rect" and text["mark"]["type"] == "text"
    assert cells["encoding"]["x"]["sort"] == ["Wealth", "Rural"]
    assert cells["encoding"]["y"]["sort"] == ["Cities", "Farms"]
    assert cells["encoding"]["color"]["scale"]["domain"] == [-2.0, 2.0]  # symmetric around 0


@pytest.fixture
def profiles():
    frame = pd.DataFrame({"Income": [10.0, 20.0, 30.0, 40.0], "Walk": [1.0, 1.0, 3.0, 7.0]})
    return summaries.cluster_profiles(frame, ["Income", "Walk"], np.array([0, 0, 1, 1]), ["low", "high"])


def test_profile_chart_shows_one_cluster_in_sds_with_original_units_in_tooltips(profiles):
    profile = summaries.cluster_profile(profiles, 1)
    chart = charts.profile_chart(profile, "high", top=1)
    assert len(chart.data) == 1 and chart.data["feature"].tolist() == profile["feature"].tolist()[:1]
    spec = chart.to_dict()
    assert spec["encoding"]["x"]["field"] == "difference_sd"
    tooltips = {t["field"] for t in spec["encoding"]["tooltip"]}
    assert {"cluster_mean", "overall_mean", "difference"} <= tooltips
    assert spec["title"].startswith("high")


def test_profile_heatmap_covers_every_cluster_and_feature(profiles):
    chart = charts.profile_heatmap(profiles, ["Walk", "Income"])
    assert len(chart.data) == 4
    spec = chart.to_dict()
    assert spec["encoding"]["x"]["sort"] == ["Walk", "Income"]
    assert spec["encoding"]["y"]["sort"] == ["low", "high"]


def test_distance_histogram():
    bins = summaries.histogram_bins(np.array([0.1, 0.2, 0.2, 0.9]), bins=4)
    chart = charts.distance_histogram(bins, "Cities")
    assert chart.data["count"].sum() == 4
    assert chart.to_dict()["title"] == "Cities: distance to the centroid"
