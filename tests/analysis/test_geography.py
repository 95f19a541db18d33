"""The offline county map: geometry from plotly-geo, the FIPS join, and the choropleth spec.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.analysis import geography
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


@pytest.mark.parametrize("value, expected", [
    (1001, "01001"), ("1001", "01001"), ("01001", "01001"), (1001.0, "01001"), (" 72153 ", "72153"),
    ("1001.0", "01001"), (np.int64(56045), "56045"), (None, None), ("abc", None), (12.5, None),
    (float("nan"), None), (999, None), (100000, None), (True, None),
])
def test_fips_code(value, expected):
    assert geography.fips_code(value) == expected


def test_geometry_is_built_cached_and_wound_for_d3(cache):
    path = geography.geometry_cache_path(cache_dir=cache)
    assert path.is_file() and path.parent.name == "geo"
    payload = json.loads(path.read_text())
    assert payload["source"] == geography.GEOMETRY_SOURCE
    topology = geography.county_geometry(cache_dir=cache)
    assert topology is geography.county_geometry(cache_dir=cache)  # memory cache
    geometries = topology["objects"]["counties"]["geometries"]
    ids = [g["id"] for g in geometries]
    assert ids[-1] == geography.BORDERS_ID and geometries[-1]["type"] == "MultiLineString"
    counties = geometries[:-1]
    assert len(counties) == 3233 - 13  # every county but the four territories outside albersUsa
    assert all(len(g["id"]) == 5 and g["id"].isdigit() for g in counties)
    assert {g["id"][:2] for g in counties} == set(geography.STATE_FIPS) - geography.OUTSIDE_PROJECTION
    assert sum(g["properties"].get("inset") == "PR" for g in counties) == 78
    # Outer rings clockwise, holes counter-clockwise (d3's convention): else a county fills the globe.
    shares = geography._ring_areas(topology)
    for g in counties:
        polygons = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        for polygon in polygons:
            areas = [sum(shares[a] if a >= 0 else -shares[~a] for a in ring) for ring in polygon]
            assert areas[0] < 0 and all(a > 0 for a in areas[1:]), g["id"]
    # Reading the disk cache gives the same geometry.
    geography._memory.clear()
    assert geography.county_geometry(cache_dir=cache) == topology


def test_census_table_joins_or_is_reported(cache, census):
    report = geography.join_report(census["CensusId"], cache_dir=cache)
    assert len(report.joined) + len(report.unmatched) == len(census) == 3220
    assert report.unmatched["reason"].str.len().gt(0).all()  # anything unjoined says why
    assert report.all_joined  # in fact every row of the 2015 table joins
    assert report.joined["fips"].is_unique
    pr = report.joined[report.joined["inset"] == "PR"]
    assert len(pr) == 78 and pr["fips"].str.startswith("72").all()
    assert (census["State"] == "Puerto Rico").sum() == 78
    # The reverse: the boundary file's units without a row are the 13 of AS, GU, MP and VI, not drawn.
    assert len(report.geometry_only) == 13
    assert not report.geometry_only["drawn"].any()
    assert set(report.geometry_only["fips"].str[:2]) == {"60", "66", "69", "78"}
    text = report.summary()
    assert "3220 of 3220 rows join" in text and "Puerto Rico" in text and "not drawn" in text


def test_join_report_reasons(cache):
    ids = ["01001", 46113, 51515, 72001, "abc", 99001, 1001, 6999, "66010"]
    report = geography.join_report(ids, cache_dir=cache)
    assert report.joined["fips"].tolist() == ["01001", "46102", "72001"]
    assert report.renamed["fips"].tolist() == ["46102"] and "Oglala Lakota" in report.renamed["reason"][0]
    reasons = dict(zip(report.unmatched["position"], report.unmatched["reason"]))
    assert "merged into Bedford County" in reasons[2]
    assert "not a county FIPS code" in reasons[4]
    assert "no US state or territory" in reasons[5]
    assert "repeats the FIPS code of row 0" in reasons[6]
    assert "no county 06999 in California" in reasons[7]
    assert "outside the albersUsa projection" in reasons[8]
    drawn_without_row = report.geometry_only[report.geometry_only["drawn"]]
    assert len(drawn_without_row) == 3220 - 3 and "drawn grey" in drawn_without_row["reason"].iloc[0]
