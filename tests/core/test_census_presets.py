"""workbench.core.census_presets: the walkthrough and recommended presets, on an API response
built from the 2015 walkthrough table (tests/support/census_api.walkthrough_values).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.support.census_api import county_units, walkthrough_values
from workbench.analysis import margins
from workbench.core import census, census_presets, sources
from workbench.core.errors import DataError


@pytest.fixture(scope="module")
def walkthrough_table(census_csv) -> pd.DataFrame:
    return sources.read_csv_path(census_csv)


@pytest.fixture
def minnesota_api(census_api, walkthrough_table):
    counties = walkthrough_table[walkthrough_table["State"].isin(["Minnesota", "Texas"])]
    census_api.units = county_units(counties)
    census_api.values = walkthrough_values(counties)
    census_api.years = {2015, 2022}
    return counties


def fetch(state: str, preset: str, year: int = 2015) -> pd.DataFrame:
    request = census.CensusRequest.create(year, "county", state=state, preset=preset)
    return census.fetch_table(request, client=census.CensusClient(backoff=0.001))


def test_walkthrough_preset_yields_the_walkthrough_columns(minnesota_api, walkthrough_table):
    table = fetch("MN", "walkthrough")
    features = list(walkthrough_table.columns[3:])
    assert list(table.columns) == ["GEOID", "State", "County", *features]
    assert len(features) == 34
    expected = minnesota_api[minnesota_api["State"] == "Minnesota"].reset_index(drop=True)
    assert list(table["GEOID"]) == [f"{i:05d}" for i in expected["CensusId"]]
    assert list(table["County"]) == [f"{c} County" for c in expected["County"]]
    for column in features:
        got, want = table[column].to_numpy(float), expected[column].to_numpy(float)
        # The 2015 table rounds shares to 0.1; counts rebuilt from shares round to whole people.
        tolerance = 0.051 + 100 * 1.0 / np.maximum(expected["TotalPop"].to_numpy(float) / 4, 1)
        assert np.all(np.abs(got - want) <= tolerance), column


def test_walkthrough_preset_marks_the_missing_income_of_loving_county(minnesota_api):
    table = fetch("TX", "walkthrough")
    loving = table.index[table["GEOID"] == "48301"][0]
    assert np.isnan(table.at[loving, "Income"]) and np.isnan(table.at[loving, "IncomeErr"])
    hits = table.attrs[census.ANNOTATIONS_ATTR]
    assert hits["Income"] == {"48301": -666666666} and hits["IncomeErr"] == {"48301": -666666666}
    assert not np.isin(table.select_dtypes("number").to_numpy(), list(census.ANNOTATIONS)).any()


def test_recommended_preset_has_no_counts_and_a_margin_for_every_feature(minnesota_api):
    table = fetch("MN", "recommended", year=2022)
    features = [c for c in table.columns[3:] if not c.endswith("Err")]
    assert {"TotalPop", "Men", "Women", "Citizen", "Employed"}.isdisjoint(table.columns)
    assert set(margins.margin_pairs(list(table.columns))) == set(features)
    shares = table[[f for f in features if f not in ("Income", "IncomePerCap", "MeanCommute")]]
    assert shares.min().min() >= 0 and shares.max().max() <= 100
    # The stand-in's margins are 0 except the incomes': so are the derived margins.
    assert table["PovertyErr"].eq(0).all() and table["IncomeErr"].gt(0).all()


def test_share_margin_follows_the_census_formula():
    raw = pd.DataFrame({"GEOID": ["27001", "27003"], "A": [30.0, 0.0], "AErr": [4.0, 1.0],
                        "T": [100.0, 0.0], "TErr": [-1.0, 2.0]})
    raw.attrs[census_presets.ANNOTATIONS_ATTR] = {"TErr": {"27001": census_presets.CONTROLLED}}
    raw.loc[0, "TErr"] = np.nan  # a controlled total: no sampling error
    preset = census_presets.Preset("t", "", (census_presets.Feature("AShare", "share", ("A",), ("T",)),), 2010, "")
    out = preset.derive(raw)
    assert out.loc[0, "AShare"] == pytest.approx(30.0)
    assert out.loc[0, "AShareErr"] == pytest.approx(100 * 4.0 / 100)  # √(4² − 0.3²·0²)/100
    assert np.isnan(out.loc[1, "AShare"])  # no one to share among: missing, not 0
    assert out.attrs[census_presets.ANNOTATIONS_ATTR] == {}


def test_a_preset_refuses_a_table_without_its_inputs():
    with pytest.raises(DataError, match="lacks"):
        census_presets.get("walkthrough").derive(pd.DataFrame({"GEOID": ["27001"]}))


def test_presets_fit_in_few_requests():
    for preset in census_presets.PRESETS.values():
        request = census.CensusRequest.create(2022, "county", preset=preset.name)
        calls = census.plan(request)
        assert all(len(get) <= census.MAX_VARIABLES for _, get, _ in calls)
        assert len(calls) == -(-len(preset.inputs) // 24)
