"""workbench.core.census: the Census Data API client, over real HTTP to the stand-in server
(tests/support/census_api.py, the `census_api` fixture).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.support.census_api import (
    Unit,
    alabama_counties,
    minnesota_counties,
    tract_units,
)
from workbench.core import census
from workbench.core.errors import DataError

KEY = "stand-in-key-0123456789"


def sixty_variables() -> list[str]:
    return [f"B01001_{i:03d}E" for i in range(1, 50)] + [f"B19001_{i:03d}E" for i in range(1, 12)]


def fast_client(**kwargs) -> census.CensusClient:
    return census.CensusClient(backoff=0.001, **kwargs)


def test_sixty_variables_for_one_states_counties(census_api):
    census_api.units = alabama_counties(12) + minnesota_counties(5)
    request = census.CensusRequest.create(2022, "county", state="AL", variables=sixty_variables())
    table = census.fetch_table(request, client=fast_client())

    sent = census_api.api_requests()
    assert len(sent) == 3  # 60 estimates + 60 margins, 24 pairs and NAME per request (49 ≤ 50)
    assert all(n <= census.MAX_VARIABLES for n in census_api.variables_per_request())
    assert all(r["key"] == KEY for r in sent)
    fetched = {v for r in sent for v in dict(r["params"])["get"].split(",")}
    assert {f"{v[:-1]}M" for v in sixty_variables()} <= fetched
    assert len(table) == 12 and table["GEOID"].is_unique
    assert all(isinstance(g, str) and len(g) == 5 and g.startswith("01") for g in table["GEOID"])
    assert list(table["State"].unique()) == ["Alabama"]
    assert table["County"].iloc[0] == "County 1 County"
    assert "B01001_001" in table and "B01001_001Err" in table and "B19001_011Err" in table
    assert len(table.columns) == 3 + 120


def test_without_a_key_no_key_is_sent(census_api, monkeypatch):
    monkeypatch.delenv("CENSUS_API_KEY")
    census_api.units = minnesota_counties(3)
    census.fetch_table(census.CensusRequest.create(2022, "county", state="27", variables="B01003_001E"),
                       client=fast_client())
    assert [r["key"] for r in census_api.api_requests()] == [None]


@pytest.mark.parametrize("code", sorted(census.ANNOTATIONS))
def test_annotation_values_become_missing_and_are_listed(census_api, code):
    census_api.units = minnesota_counties(4)
    census_api.values = {"B19013_001E": {"27003": str(code)}, "B19013_001M": {"27005": str(code)}}
    table = census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B19013_001"]),
                               client=fast_client())
    assert math.isnan(table.loc[table["GEOID"] == "27003", "B19013_001"].iloc[0])
    assert math.isnan(table.loc[table["GEOID"] == "27005", "B19013_001Err"].iloc[0])
    numbers = table[["B19013_001", "B19013_001Err"]].to_numpy()
    assert not np.isin(numbers, list(census.ANNOTATIONS)).any()
    assert table.attrs[census.ANNOTATIONS_ATTR] == {"B19013_001": {"27003": code}, "B19013_001Err": {"27005": code}}
    summary = census.annotation_summary(table)
    assert summary[0]["codes"][str(code)]["meaning"] == census.ANNOTATIONS[code]


def test_tracts_have_eleven_character_ids_and_names_split(census_api):
    census_api.units = (tract_units("27001", "Aitkin County", "Minnesota", 4)
                        + tract_units("01001", "Autauga County", "Alabama", 3, separator=", "))
    table = census.fetch_table(census.CensusRequest.create(2022, "tract", state="AL", variables=["B01003_001E"]),
                               client=fast_client())
    assert list(table.columns[:4]) == ["GEOID", "State", "County", "Tract"]
    assert table["GEOID"].str.len().eq(11).all() and table["GEOID"].str.startswith("01001").all()
    assert table["County"].eq("Autauga County").all()
    assert table["Tract"].iloc[0] == "Census Tract 1"
    assert dict(census_api.api_requests()[0]["params"])["in"] == "state:01"


def test_block_groups_have_twelve_character_ids(census_api):
    census_api.units = tract_units("27001", "Aitkin County", "Minnesota", 3, block_groups=2)
    request = census.CensusRequest.create(2023, "block-group", state="MN", county="001", variables=["B01003_001"])
    census_api.years = {2023}
    table = census.fetch_table(request, client=fast_client())
    assert len(table) == 6 and table["GEOID"].str.len().eq(12).all()
    assert table["BlockGroupName"].iloc[0] == "Block Group 1" and table["Tract"].iloc[0] == "Census Tract 1"
    assert dict(census_api.api_requests()[0]["params"])["in"] == "state:27 county:001 tract:*"


def test_tracts_without_a_state_are_fetched_state_by_state(census_api):
    census_api.units = (tract_units("27001", "Aitkin County", "Minnesota", 2)
                        + tract_units("01001", "Autauga County", "Alabama", 2))
    seen = []
    table = census.fetch_table(census.CensusRequest.create(2022, "tract", variables=["B01003_001"]),
                               client=fast_client(), progress=lambda done, total, what: seen.append((done, total)))
    assert len(census_api.api_requests()) == len(census.fips.ACS_STATES) == 52
    assert seen[-1] == (52, 52) and len(seen) == 52
    assert sorted(table["GEOID"].str[:5].unique()) == ["01001", "27001"]


def test_each_kind_of_variable_goes_to_its_endpoint(census_api):
    census_api.units = minnesota_counties(2)
    variables = ["B01003_001E", "DP03_0062E", "DP05_0002PE", "S1901_C01_012E"]
    table = census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=variables),
                               client=fast_client())
    paths = sorted(r["path"] for r in census_api.api_requests())
    assert paths == ["/data/2022/acs/acs5", "/data/2022/acs/acs5/profile", "/data/2022/acs/acs5/subject"]
    assert {"DP05_0002P", "DP05_0002PErr", "S1901_C01_012", "S1901_C01_012Err"} <= set(table.columns)
    assert len(table) == 2


def test_parts_are_joined_on_the_geography(census_api):
    census_api.units = minnesota_counties(3)
    census_api.values = {"B01001_001E": {"27003": "111"}, "B19001_011E": {"27003": "222"}}
    table = census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=sixty_variables()),
                               client=fast_client())
    row = table.set_index("GEOID").loc["27003"]
    assert (row["B01001_001"], row["B19001_011"]) == (111.0, 222.0)


# --------------------------------------------------------------------------- errors


def one_line(message: str) -> bool:
    return "\n" not in message and KEY not in message and "Traceback" not in message


def test_unknown_year_is_one_line(census_api):
    census_api.units = minnesota_counties(2)
    with pytest.raises(DataError, match="HTTP 404") as caught:
        census.fetch_table(census.CensusRequest.create(2031, "county", state="MN", variables=["B01003_001"]),
                           client=fast_client())
    assert one_line(str(caught.value)) and "2031" in str(caught.value)


def test_unknown_variable_is_one_line(census_api):
    census_api.units = minnesota_counties(2)
    census_api.unknown = {"B99999_001E"}
    with pytest.raises(DataError, match="unknown variable 'B99999_001E'") as caught:
        census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B99999_001"]),
                           client=fast_client())
    assert one_line(str(caught.value)) and "HTTP 400" in str(caught.value)


def test_no_data_is_one_line(census_api):
    census_api.units = minnesota_counties(2)
    with pytest.raises(DataError, match="HTTP 204") as caught:
        census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", county="999",
                                                       variables=["B01003_001"]), client=fast_client())
    assert one_line(str(caught.value))


@pytest.mark.parametrize("status", [429, 500, 503])
def test_busy_then_success_is_retried(census_api, status):
    census_api.units = minnesota_counties(2)
    census_api.statuses = [status, status]
    waits = []
    client = census.CensusClient(backoff=0.5, sleep=waits.append)
    table = census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001"]),
                               client=client)
    assert len(table) == 2 and len(census_api.api_requests()) == 3
    assert waits == ([0.0, 0.0] if status == 429 else [0.5, 1.0])  # Retry-After: 0, else backoff doubling


def test_server_errors_forever_end_in_one_line(census_api):
    census_api.units = minnesota_counties(2)
    census_api.statuses = [503] * 10
    client = census.CensusClient(backoff=0.001, retries=3)
    with pytest.raises(DataError, match="after 4 attempts") as caught:
        census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001"]),
                           client=client)
    assert one_line(str(caught.value)) and len(census_api.api_requests()) == 4


def test_unreachable_server_is_one_line(monkeypatch):
    monkeypatch.setenv("WORKBENCH_CENSUS_API_URL", "http://127.0.0.1:9/data")
    monkeypatch.setenv("CENSUS_API_KEY", KEY)
    with pytest.raises(DataError, match="network error") as caught:
        census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001"]),
                           client=census.CensusClient(backoff=0.001, retries=1))
    assert one_line(str(caught.value))


def test_a_non_json_answer_naming_the_key_is_one_line(census_api, monkeypatch):
    census_api.units = minnesota_counties(2)
    census_api.answer = lambda path, query: (200, {"Content-Type": "text/html"},
                                             b"<html><body>Invalid Key. A valid key must be included.</body></html>")
    with pytest.raises(DataError, match="rejected the key") as caught:
        census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001"]),
                           client=fast_client())
    assert one_line(str(caught.value))


@pytest.mark.parametrize("kwargs, message", [
    ({"year": 2008, "geography": "county", "variables": "B01003_001E"}, "start with 2009"),
    ({"year": "twenty", "geography": "county", "variables": "B01003_001E"}, "whole number"),
    ({"year": 2022, "geography": "zip", "variables": "B01003_001E"}, "Unknown geography"),
    ({"year": 2022, "geography": "county", "state": "XX", "variables": "B01003_001E"}, "not a US state"),
    ({"year": 2022, "geography": "county", "county": "053", "variables": "B01003_001E"}, "needs its state"),
    ({"year": 2022, "geography": "county", "state": "MN", "county": "01053", "variables": "B1"}, "not in state 27"),
    ({"year": 2022, "geography": "county", "variables": "B01003_001M"}, "come with their estimate"),
    ({"year": 2022, "geography": "county", "variables": "Income"}, "not an ACS estimate"),
    ({"year": 2022, "geography": "county"}, "either a preset"),
    ({"year": 2022, "geography": "county", "preset": "walkthrough", "variables": "B01003_001E"}, "not both"),
    ({"year": 2022, "geography": "county", "preset": "everything"}, "Unknown census preset"),
    ({"year": 2009, "geography": "county", "preset": "walkthrough"}, "2010 or later"),
])
def test_bad_requests_are_refused_before_any_call(kwargs, message):
    year, geography = kwargs.pop("year"), kwargs.pop("geography")
    with pytest.raises(DataError, match=message):
        census.CensusRequest.create(year, geography, **kwargs)


# --------------------------------------------------------------------------- cache


def test_cache_serves_the_second_call_and_refresh_bypasses_it(census_api, tmp_path):
    census_api.units = minnesota_counties(3)
    request = census.CensusRequest.create(2022, "county", state="MN", variables=sixty_variables())
    first = census.fetch_table(request, client=fast_client())
    assert len(census_api.api_requests()) == 3
    client = fast_client()
    second = census.fetch_table(request, client=client)
    assert len(census_api.api_requests()) == 3 and client.cache_hits == 3
    assert second.equals(first)
    census.fetch_table(request, client=fast_client(), refresh=True)
    assert len(census_api.api_requests()) == 6
    cached = list((tmp_path / "cache" / "census").glob("*.json"))
    assert len(cached) == 3
    assert all(KEY not in path.read_text() for path in cached)


@pytest.mark.parametrize("payload", [{"rows": []}, {"rows": [["NAME"], ["a", "b"]]}, {"rows": ["x"]}, [1, 2]])
def test_a_cache_file_that_is_not_a_table_is_a_cache_miss(census_api, tmp_path, payload):
    census_api.units = minnesota_counties(3)
    request = census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001"])
    first = census.fetch_table(request, client=fast_client())
    (cached,) = (tmp_path / "cache" / "census").glob("*.json")
    cached.write_text(json.dumps(payload))
    again = census.fetch_table(request, client=fast_client())
    assert again.equals(first) and len(census_api.api_requests()) == 2  # fetched again, no traceback


def test_a_failed_cache_write_leaves_no_part_file(tmp_path, monkeypatch):
    import os

    def refuse(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(DataError, match="Cannot write the census cache"):
        census._write_cache(tmp_path / "c.json", "https://example/", [["NAME"], ["a"]])
    assert list(tmp_path.iterdir()) == []


def test_a_key_echoed_in_a_rejection_is_redacted(census_api):
    census_api.units = minnesota_counties(2)
    census_api.answer = lambda path, query: (200, {"Content-Type": "text/html"},
                                             f"<html>Invalid Key {KEY}. A valid key must be included.</html>".encode())
    with pytest.raises(DataError, match="rejected the key") as caught:
        census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001"]),
                           client=fast_client())
    assert KEY not in str(caught.value) and "***" in str(caught.value)


# --------------------------------------------------------------------------- the request as a source


def test_uri_round_trip_and_manifest_dict():
    request = census.parse_uri("census:year=2022&geography=block-group&state=mn&county=053&variables=B19013_001E,b01003_001")
    assert request == census.CensusRequest(2022, "block group", ("B19013_001", "B01003_001"), "27", "053")
    assert census.parse_uri(request.to_uri()) == request
    assert request.to_dict() == {"dataset": "acs/acs5", "year": 2022, "geography": "block group", "state": "27",
                                 "county": "053", "preset": None, "variables": ["B19013_001", "B01003_001"]}
    preset = census.parse_uri("census:year=2021&geography=county&preset=recommended")
    assert preset.preset == "recommended" and "B19013_001" in preset.variables


@pytest.mark.parametrize("uri, message", [
    ("census:geography=county&preset=walkthrough", "lacks year"),
    ("census:year=2022&preset=walkthrough", "lacks geography"),
    ("census:year=2022&geography=county&preset=walkthrough&colour=red", "Unknown key 'colour'"),
    ("census:year=2022&year=2021&geography=county&preset=walkthrough", "appears twice"),
])
def test_bad_uris_are_refused(uri, message):
    with pytest.raises(DataError, match=message):
        census.parse_uri(uri)


def test_a_repeated_unit_is_refused(census_api):
    census_api.units = [Unit("27001", "A County, Minnesota"), Unit("27001", "A County, Minnesota")]
    with pytest.raises(DataError, match="returned unit 27001 twice"):
        census.fetch_table(census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001"]),
                           client=fast_client())


def test_load_table_reads_a_census_uri(census_api):
    from workbench.core import pipeline, sources

    census_api.units = alabama_counties(6)
    raw = sources.load_table("census:year=2022&geography=county&state=AL&variables=B01003_001E,B19013_001E")
    assert raw.attrs["source_description"].startswith("ACS 5-year 2022 counties in Alabama")
    assert raw.attrs[census.REQUEST_ATTR]["variables"] == ["B01003_001", "B19013_001"]
    prepared = pipeline.prepare_table(raw)
    schema = prepared.clean.schema
    assert (schema.id_column, schema.geography) == ("GEOID", "county")
    assert prepared.features == ["B01003_001", "B01003_001Err", "B19013_001", "B19013_001Err"]
    assert prepared.clean.frame["GEOID"].iloc[0] == "01001"
    assert prepared.source_request == census.parse_uri(raw.attrs["source_description"].rsplit("(", 1)[1][:-1]).to_dict()
    assert KEY not in json.dumps(raw.attrs)


def test_settings_name_the_api_and_the_key(monkeypatch):
    from workbench.core import settings

    monkeypatch.delenv("WORKBENCH_CENSUS_API_URL", raising=False)
    monkeypatch.delenv("CENSUS_API_KEY", raising=False)
    assert settings.census_api_url() == "https://api.census.gov/data" and settings.census_api_key() is None
    monkeypatch.setenv("WORKBENCH_CENSUS_API_URL", " http://127.0.0.1:8000/data/ ")
    monkeypatch.setenv("CENSUS_API_KEY", " abc ")
    assert settings.census_api_url() == "http://127.0.0.1:8000/data" and settings.census_api_key() == "abc"
    assert "abc" not in repr(census.CensusClient())
