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
def census(census_csv):
    return sources.load_table(census_csv)


def _tabular(spec: dict) -> list[list[dict]]:
    return [v for v in spec.get("datasets", {}).values() if isinstance(v, list)]


def test_choropleth_spec_names_the_geometry_by_url_and_joins_the_values_by_id(census):
    values = pd.DataFrame({"fips": census["CensusId"], "Income": census["Income"], "County": census["County"]})
    spec = county_map.choropleth_spec(values, "Income", tooltip=["County"], selected=1001, title="Median income")
    assert "config" not in spec and spec["width"] == "container"
    assert spec["projection"]["type"] == "identity"  # the geometry is in screen pixels already
    counties, outlines = spec["layer"]
    assert spec["data"] == {"url": county_map.GEOMETRY_URL, "format": {"type": "topojson", "feature": "counties"}}
    assert "data" not in counties and "data" not in outlines  # both layers read that one dataset
    assert len(json.dumps(spec)) < 600_000  # Streamlit sends the values as Arrow, smaller still
    param = spec["params"][0]  # Altair lifts a layer's selection to the top, naming its view
    assert param["name"] == county_map.COUNTY_PARAM and param["views"] == [counties["name"]]
    assert param["select"]["fields"] == ["id"] and param["value"] == [{"id": "01001"}]
    lookups = [t for t in counties["transform"] if "lookup" in t]
    assert [t["lookup"] for t in lookups] == ["state_fips", "id"]
    assert lookups[1]["from"]["fields"] == ["Income", "County"]
    assert counties["encoding"]["color"]["type"] == "quantitative"
    titles = [t["title"] for t in counties["encoding"]["tooltip"]]
    assert titles[:4] == ["county", "state", "FIPS", "Income"] and "County" in titles
    assert outlines["mark"]["filled"] is False
    rows = max(_tabular(spec), key=len)
    assert len(rows) == 3220 and rows[0]["fips"] == "01001"


def test_the_geometry_url_is_the_packaged_file_streamlit_serves():
    # Streamlit's static serving publishes <main script's folder>/static/ at app/static/.
    served = geography.PACKAGED_GEOMETRY.relative_to(geography.PACKAGED_GEOMETRY.parents[1])
    assert county_map.GEOMETRY_URL == f"app/{served.as_posix()}"
    assert (geography.PACKAGED_GEOMETRY.parents[1] / "streamlit_app.py").is_file()


def test_inline_spec_carries_the_parsed_topology(census):
    clusters = pd.Series(np.arange(len(census)) % 7, index=census["CensusId"])
    spec = county_map.choropleth_spec(clusters, "cluster", geometry="inline")
    topology = [v for v in spec["datasets"].values() if isinstance(v, dict)]
    assert topology == [geography.county_geometry()]  # one shared dataset, parsed (not a JSON string)
    color = spec["layer"][0]["encoding"]["color"]  # the field; its condition greys counties without a value
    assert color["type"] == "nominal" and color["scale"]["scheme"] == "tableau10"
    rows = max(_tabular(spec), key=len)
    assert {r["cluster"] for r in rows} == {str(i) for i in range(7)}
    with pytest.raises(ValueError, match="value_type"):
        county_map.county_choropleth(clusters, "cluster", value_type="sequential")


def test_choropleth_draws_every_county_in_vega(census):
    vl_convert = pytest.importorskip("vl_convert")
    values = pd.DataFrame({"fips": census["CensusId"], "cluster": np.arange(len(census)) % 7})
    spec = county_map.choropleth_spec(values, "cluster", geometry="inline", width=900, title="clusters")
    svg = vl_convert.vegalite_to_svg(json.dumps(spec))  # raises on an invalid spec
    drawn = geography.county_geometry()["objects"]["counties"]["geometries"]
    assert svg.count("<path") >= len(drawn)  # a path per county and the borders (and the legend's)
    state = [t for t in spec["layer"][0]["transform"] if t.get("lookup") == "state_fips"][0]
    states = spec["datasets"][state["from"]["data"]["name"]]  # the tooltip's state, from the id's 2 digits
    assert {"state_fips": "72", "state": "Puerto Rico"} in states and len(states) == len(geography.STATE_FIPS)


def test_names_with_dots_and_brackets_are_flat_fields_and_every_county_is_drawn(census):
    # Vega-Lite reads "." and "[…]" in a field name as nested access: unescaped, the lookup
    # finds nothing and the map goes blank (a TypeError in Vega's console).
    vl_convert = pytest.importorskip("vl_convert")
    name, extra = "Income vs. poverty [PC1]", "County [name] a.b"
    values = pd.DataFrame({"fips": census["CensusId"], name: census["Income"], extra: census["County"]})
    spec = county_map.choropleth_spec(values, name, tooltip=[extra], geometry="inline", width=600)
    counties = spec["layer"][0]
    color = counties["encoding"]["color"]
    assert color["field"] == r"Income vs\. poverty \[PC1\]" and color["title"] == name
    assert color["condition"]["test"] == f"!isValid(datum[{json.dumps(name)}])"  # the flat key the lookup writes
    tips = counties["encoding"]["tooltip"]
    assert [t["title"] for t in tips[3:]] == [name, extra]
    assert tips[4]["field"] == r"County \[name\] a\.b"
    lookup = [t for t in counties["transform"] if t.get("lookup") == "id"][0]
    assert lookup["from"]["fields"] == [color["field"], tips[4]["field"]]
    svg = vl_convert.vegalite_to_svg(json.dumps(spec))
    drawn = geography.county_geometry()["objects"]["counties"]["geometries"]
    assert svg.count("<path") >= len(drawn)
    assert "Income vs. poverty [PC1]" in svg  # the legend's title, as typed


@pytest.mark.parametrize("value_type", ["quantitative", "nominal"])
def test_counties_without_a_value_are_drawn_grey_on_a_ramp_and_on_categories(value_type):
    # Vega-Lite filters invalid values out of a colour ramp by default: the counties would vanish.
    vl_convert = pytest.importorskip("vl_convert")
    values = {"01001": 1.0, "01003": 2.0, "01005": None, "06019": 3.0}
    spec = county_map.choropleth_spec(values, "x", geometry="inline", width=600, value_type=value_type)
    svg = vl_convert.vegalite_to_svg(json.dumps(spec))
    counties = [g for g in geography.county_geometry()["objects"]["counties"]["geometries"]
                if g["id"] != geography.BORDERS_ID]
    fills = svg.count(f'fill="{county_map.MISSING_COLOR}"')
    assert fills == len(counties) - 3  # every county but the three with a value, 01005 (None) included


def test_selected_fips():
    assert county_map.selected_fips({county_map.COUNTY_PARAM: [{"id": "01001"}]}) == "01001"
    assert county_map.selected_fips([{"id": 1001}]) == "01001"
    assert county_map.selected_fips({county_map.COUNTY_PARAM: []}) is None
    assert county_map.selected_fips({}) is None and county_map.selected_fips(None) is None
