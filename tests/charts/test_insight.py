"""The insight charts, checked on their data (chart.to_dict()) and compiled to Vega when possible.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

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
    assert f"recommended k = {selection.recommended}" in spec["title"]["text"]
    assert " ".join(spec["title"]["subtitle"]) == selection.reason
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
    assert "2 of 5 counties" in spec["title"]["subtitle"]
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "symlog"
    _compiles(chart)


def test_separation_chart(profile):
    chart = charts.separation_chart(profile.separation, top=1)
    rows = _rows(chart.to_dict())
    assert len(rows) == 1 and rows[0]["r2"] == profile.separation["r2"].max()
    _compiles(chart)
