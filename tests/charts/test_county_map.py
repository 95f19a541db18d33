"""workbench.charts.county_map: the choropleth's spec.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.analysis import geography
from workbench.charts import county_map
from workbench.core import sources


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The geometry, built once for this module into a fresh cache dir (about 10 s)."""
    path = tmp_path_factory.mktemp("geo-cache")
    geography.county_geometry(cache_dir=path)
    return path


@pytest.fixture(scope="module")
def census(census_csv):
    return sources.load_table(census_csv)


def test_choropleth_spec(cache, census):
    values = pd.DataFrame({"fips": census["CensusId"], "Income": census["Income"], "County": census["County"]})
    chart = county_map.county_choropleth(values, "Income", tooltip=["County"], selected=1001, cache_dir=cache,
                                  title="Median income")
    spec = chart.to_dict()
    text = json.dumps(spec)
    assert len(text) < 3_000_000  # a few MB at most
    assert spec["projection"]["type"] == "albersUsa"
    assert len(spec["datasets"]) == 2  # the topology once (both layers share it) and the values
    counties, outlines = spec["layer"]
    param = spec["params"][0]  # Altair lifts a layer's selection to the top, naming its view
    assert param["name"] == county_map.COUNTY_PARAM and param["views"] == [counties["name"]]
    assert param["select"]["fields"] == ["id"] and param["value"] == [{"id": "01001"}]
    lookup = [t for t in counties["transform"] if "lookup" in t][0]
    assert lookup["lookup"] == "id" and lookup["from"]["fields"] == ["Income", "County"]
    assert counties["encoding"]["color"]["condition"]["type"] == "quantitative"
    assert outlines["mark"]["filled"] is False
    rows = [v for v in spec["datasets"].values() if isinstance(v, list)][0]
    assert len(rows) == 3220 and rows[0]["fips"] == "01001"


def test_choropleth_of_clusters_is_categorical(cache, census):
    clusters = pd.Series(np.arange(len(census)) % 7, index=census["CensusId"])
    spec = county_map.county_choropleth(clusters, "cluster", cache_dir=cache).to_dict()
    color = spec["layer"][0]["encoding"]["color"]["condition"]
    assert color["type"] == "nominal" and color["scale"]["scheme"] == "tableau10"
    rows = [v for v in spec["datasets"].values() if isinstance(v, list)][0]
    assert {r["cluster"] for r in rows} == {str(i) for i in range(7)}
    with pytest.raises(ValueError, match="value_type"):
        county_map.county_choropleth(clusters, "cluster", value_type="sequential", cache_dir=cache)


def test_choropleth_compiles_to_vega(cache):
    vl_convert = pytest.importorskip("vl_convert")
    chart = county_map.county_choropleth({"01001": 1.5, "72001": 2.0}, "score", cache_dir=cache)
    vega = vl_convert.vegalite_to_vega(chart.to_json())  # raises on an invalid spec
    assert "albersUsa" in json.dumps(vega)


def test_selected_fips():
    assert county_map.selected_fips({county_map.COUNTY_PARAM: [{"id": "01001"}]}) == "01001"
    assert county_map.selected_fips([{"id": 1001}]) == "01001"
    assert county_map.selected_fips({county_map.COUNTY_PARAM: []}) is None
    assert county_map.selected_fips({}) is None and county_map.selected_fips(None) is None
