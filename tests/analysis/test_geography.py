"""The offline county map: geometry from plotly-geo, the FIPS join, and the choropleth spec.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from workbench.analysis import county_shapes, geography
from workbench.core import sources


@pytest.fixture(scope="module")
def census(census_csv):
    return sources.load_table(census_csv)


@pytest.mark.parametrize("value, expected", [
    (1001, "01001"), ("1001", "01001"), ("01001", "01001"), (1001.0, "01001"), (" 72153 ", "72153"),
    ("1001.0", "01001"), (np.int64(56045), "56045"), (None, None), ("abc", None), (12.5, None),
    (float("nan"), None), (999, None), (100000, None), (True, None),
    ("0500000US27001", "27001"), (" 0500000US01001 ", "01001"),  # the Census API's county GEO_ID
    ("1400000US27053000100", None), ("0400000US27", None), ("8600000US55401", None),  # tract, state, ZCTA
    ("05001.0", "05001"), ("05149", "05149"),  # Arkansas (state 05) written as text: not a GEO_ID
    ("0500000US03001", "03001"), ("0500000US2700", None),  # unknown state kept (join_report says why)
])
def test_fips_code(value, expected):
    assert geography.fips_code(value) == expected


def test_packaged_geometry_is_read_once_and_wound_for_drawing():
    topology = geography.county_geometry()
    assert topology is geography.county_geometry()  # memory cache
    about = topology["workbench"]
    assert about["version"] == geography.GEOMETRY_VERSION and about["source"] == geography.GEOMETRY_SOURCE
    assert "AlbersUsa" in about["frame"]["projection"]
    geometries = topology["objects"]["counties"]["geometries"]
    ids = [g["id"] for g in geometries]
    assert ids[-1] == geography.BORDERS_ID and geometries[-1]["type"] == "MultiLineString"
    counties = geometries[:-1]
    assert len(counties) == 3233 - 13  # every county but the four territories outside albersUsa
    assert all(len(g["id"]) == 5 and g["id"].isdigit() for g in counties)
    assert {g["id"][:2] for g in counties} == set(geography.STATE_FIPS) - geography.OUTSIDE_PROJECTION
    assert sum(g["properties"].get("inset") == "PR" for g in counties) == 78
    # Outer rings one way round, holes the other: with the nonzero fill rule a hole stays a hole.
    shares = county_shapes.ring_shares(topology)
    for g in counties:
        polygons = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        for polygon in polygons:
            areas = [sum(shares[a] if a >= 0 else -shares[~a] for a in ring) for ring in polygon]
            assert areas[0] > 0 and all(a < 0 for a in areas[1:]), g["id"]


def test_packaged_geometry_is_in_screen_pixels_with_the_insets_where_albers_usa_puts_them():
    topology = geography.county_geometry()
    scale, translate = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = topology["arcs"]

    def centre(fips: str) -> tuple[float, float]:
        (geometry,) = [g for g in topology["objects"]["counties"]["geometries"] if g["id"] == fips]
        rings = geometry["arcs"] if geometry["type"] == "Polygon" else [r for p in geometry["arcs"] for r in p]
        points = np.vstack([np.cumsum(np.asarray(arcs[a if a >= 0 else ~a]), axis=0) for a in rings[0]])
        return tuple(points.mean(axis=0) * scale + translate)

    # d3.geoAlbersUsa() at its defaults puts San Francisco near (107, 214), Honolulu near (299, 451).
    x, y = centre("06075")
    assert abs(x - 107) < 15 and abs(y - 214) < 8  # (its rings include the Farallon Islands, to the west)
    x, y = centre("15003")
    assert abs(x - 299) < 25 and abs(y - 451) < 15
    x, y = centre("02020")  # Anchorage, in the Alaska inset at the lower left
    assert 120 < x < 220 and 400 < y < 500
    x, y = centre("72127")  # San Juan, moved south-east of Florida
    assert 780 < x < 880 and 400 < y < 500


def test_albers_usa_matches_vegas(tmp_path):
    vl_convert = pytest.importorskip("vl_convert")
    points = [(-122.42, 37.77, "06"), (-74.0, 40.7, "36"), (-149.9, 61.2, "02"), (-176.6, 51.9, "02"),
              (-157.8, 21.3, "15")]
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "width": 960, "height": 600,
            "autosize": "none", "data": {"values": [{"lon": a, "lat": b} for a, b, _ in points]},
            "projection": {"type": "albersUsa", "scale": 1070, "translate": [480, 250]}, "mark": "circle",
            "encoding": {"longitude": {"field": "lon", "type": "quantitative"},
                         "latitude": {"field": "lat", "type": "quantitative"}}}
    svg = vl_convert.vegalite_to_svg(json.dumps(spec))
    drawn = [(float(x), float(y)) for x, y in re.findall(r'translate\(([-\d.]+),([-\d.]+)\)"', svg)][-len(points):]
    for (lon, lat, state), (x, y) in zip(points, drawn):
        ours = county_shapes.albers_usa(np.array([lon]), np.array([lat]), state)
        assert (float(ours[0][0]), float(ours[1][0])) == pytest.approx((x, y), abs=1e-6)


def test_a_missing_or_stale_geometry_file_says_how_to_rebuild_it(tmp_path):
    with pytest.raises(geography.GeoError, match="build_county_map.py"):
        geography.county_geometry(tmp_path / "nope.json")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"type": "Topology", "arcs": [], "objects": {}, "workbench": {"version": 2}}))
    with pytest.raises(geography.GeoError, match="not version"):
        geography.county_geometry(old)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(geography.GeoError, match="cannot be read"):
        geography.county_geometry(broken)


@pytest.mark.slow
def test_packaged_geometry_is_what_the_build_script_makes():
    # scripts/build_county_map.py --check, in process (about 10 s): the committed file is current.
    assert county_shapes.build() == json.loads(geography.PACKAGED_GEOMETRY.read_text(encoding="utf-8"))


def test_census_table_joins_or_is_reported(census):
    report = geography.join_report(census["CensusId"])
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


def test_join_report_reasons():
    ids = ["01001", 46113, 51515, 72001, "abc", 99001, 1001, 6999, "66010"]
    report = geography.join_report(ids)
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


def test_geo_ids_join_the_map():
    report = geography.join_report(["0500000US27001", "0500000US46113"])
    assert report.joined["fips"].tolist() == ["27001", "46102"] and report.unmatched.empty
    assert report.joined["name"].iloc[0].startswith("Aitkin")


def test_outside_projection_is_the_four_island_territories():
    assert geography.OUTSIDE_PROJECTION == {"60", "66", "69", "78"}
