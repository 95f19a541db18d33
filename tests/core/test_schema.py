"""workbench.core.schema: id, name and feature columns.
"""
from __future__ import annotations

import pandas as pd
import pytest

from tests.support.tables import table
from workbench.core import cleaning
from workbench.core import schema as schema_mod
from workbench.core.errors import DataError


def test_census_schema_detected(census_raw):
    schema = schema_mod.detect_schema(census_raw)
    assert schema.id_column == "CensusId"
    assert schema.name_columns == ("State", "County")
    assert len(schema.feature_columns) == 34
    assert schema.feature_columns[0] == "TotalPop" and schema.feature_columns[-1] == "Unemployment"
    assert schema.ignored_columns == ()


# --------------------------------------------------------------------------- schema detection


def test_schema_of_the_2017_vintage():
    raw = table("""\
        CountyId,State,County,TotalPop,Men,Women,VotingAgeCitizen,Income,Poverty
        1001,Alabama,Autauga County,55036,26899,28137,41016,55317,13.7
        1003,Alabama,Baldwin County,203360,99527,103833,155376,52562,11.8
        1005,Alabama,Barbour County,26201,13976,12225,20269,33368,27.2
    """)
    schema = schema_mod.detect_schema(raw)
    assert schema.id_column == "CountyId"
    assert schema.name_columns == ("State", "County")
    assert schema.feature_columns == ("TotalPop", "Men", "Women", "VotingAgeCitizen", "Income", "Poverty")
    result = cleaning.clean_table(raw, schema)
    assert list(result.frame.index) == ["Alabama-Autauga County", "Alabama-Baldwin County", "Alabama-Barbour County"]


def test_schema_of_an_id_and_numbers_only_table():
    raw = table("""\
        FIPS,pop,income
        1001,55221,51281
        1003,195121,50254
        1005,26932,32964
    """)
    schema = schema_mod.detect_schema(raw)
    assert (schema.id_column, schema.name_columns, schema.feature_columns) == ("FIPS", (), ("pop", "income"))
    assert list(cleaning.clean_table(raw, schema).frame.index) == ["1001", "1003", "1005"]


def test_schema_with_other_spellings_and_text_ids():
    raw = table("""\
        GEO_ID,state_name,county_name,Region,TotalPop,Income
        0500000US01001,Alabama,Autauga,South,55221,51281
        0500000US01003,Alabama,Baldwin,South,195121,50254
    """)
    schema = schema_mod.detect_schema(raw)
    assert schema.id_column == "GEO_ID"
    assert schema.name_columns == ("state_name", "county_name")
    assert schema.feature_columns == ("TotalPop", "Income")
    assert schema.ignored_columns == ("Region",)
    frame = cleaning.clean_table(raw, schema).frame
    assert frame.index[0] == "Alabama-Autauga" and frame["GEO_ID"].iloc[0] == "0500000US01001"


def test_schema_without_id_or_names_labels_rows_by_number():
    raw = table("a,b\n1,2\n3,4\n5,7\n")
    schema = schema_mod.detect_schema(raw)
    assert (schema.id_column, schema.name_columns) == (None, ())
    assert list(cleaning.clean_table(raw, schema).frame.index) == ["row 1", "row 2", "row 3"]


# --------------------------------------------------------------------------- cleaning


def test_no_numeric_columns():
    raw = table("State,County,Region\nAlabama,Autauga,South\nAlabama,Baldwin,South\n")
    with pytest.raises(DataError, match="No numeric columns found .*State, County, Region"):
        cleaning.clean_table(raw)


# --------------------------------------------------------------------------- geography ids


def test_the_2015_table_is_at_county_level(census_raw):
    schema = schema_mod.detect_schema(census_raw)
    assert schema.geography == "county" and schema.code_columns == ()
    assert "CensusId" in schema.id_evidence


def test_an_integer_tract_id_under_its_common_name_is_never_a_feature():
    raw = table("""\
        CensusTract,State,County,TotalPop,Income
        1001020100,Alabama,Autauga,1948,61838
        1001020200,Alabama,Autauga,2156,32303
        27053000100,Minnesota,Hennepin,3000,45000
    """)
    schema = schema_mod.detect_schema(raw)
    assert schema.id_column == "CensusTract" and schema.geography == "tract"
    assert schema.feature_columns == ("TotalPop", "Income")


@pytest.mark.parametrize("name", ["TractId", "GEOID", "GEO_ID", "tract_geoid"])
def test_tract_ids_by_name(name):
    raw = table(f"""\
        {name},TotalPop,Income
        01001020100,1948,61838
        01001020200,2156,32303
    """)
    schema = schema_mod.detect_schema(raw)
    assert schema.id_column == name and schema.feature_columns == ("TotalPop", "Income")


def test_a_tract_id_under_any_name_is_found_by_content():
    raw = table("""\
        TotalPop,Geo,Income
        1948,1001020100,61838
        2156,1001020200,32303
        2000,1001020300,40000
    """)
    schema = schema_mod.detect_schema(raw)
    assert schema.id_column == "Geo" and schema.geography == "tract"
    assert "11-digit" in schema.id_evidence
    assert schema.feature_columns == ("TotalPop", "Income")


def test_text_codes_keep_their_width_and_give_the_level():
    raw = pd.DataFrame({"unit": ["010010201001", "010010201002", "270530001001"], "pop": [1, 2, 3], "x": [4, 5, 7]})
    schema = schema_mod.detect_schema(raw)
    assert (schema.id_column, schema.geography) == ("unit", "block group")
    api_ids = pd.DataFrame({"GEO_ID": ["1400000US01001020100", "1400000US01001020200"], "pop": [1, 2]})
    assert schema_mod.detect_schema(api_ids).geography == "tract"
    states = pd.DataFrame({"code": ["01", "02", "27"], "pop": [1, 2, 3]})
    assert schema_mod.detect_schema(states).geography == "state"


def test_the_api_s_code_parts_and_a_second_id_are_not_features():
    raw = pd.DataFrame({
        "GEOID": ["27053000100", "27053000200"], "TractId": [27053000100, 27053000200],
        "tract": ["000100", "000200"], "STATEFP": [27, 27], "B01003_001": [3000.0, 2500.0],
        "Tract": ["Census Tract 1", "Census Tract 2"],
    })
    schema = schema_mod.detect_schema(raw)
    assert schema.id_column == "GEOID"  # the first id name in order of preference
    assert set(schema.code_columns) == {"TractId", "tract", "STATEFP"}
    assert schema.name_columns == ("Tract",)
    assert schema.feature_columns == ("B01003_001",)


def test_incomes_that_look_like_fips_codes_stay_features():
    raw = table("""\
        State,County,Income,Poverty
        Alabama,Autauga,51281,12.9
        Alabama,Baldwin,50254,13.4
        Alabama,Barbour,32964,26.7
    """)
    schema = schema_mod.detect_schema(raw)
    assert schema.id_column is None and schema.feature_columns == ("Income", "Poverty")


def test_an_id_that_is_no_geography_code_has_no_level():
    raw = table("id,pop,income\n1,10,20\n2,11,21\n3,12,25\n")
    schema = schema_mod.detect_schema(raw)
    assert (schema.id_column, schema.geography) == ("id", None)


def test_a_county_id_under_any_name_is_found_as_the_sorted_first_column():
    raw = table("""\
        Geo,TotalPop,Income
        1001,55221,51281
        1003,195121,50254
        27053,1200000,65000
    """)
    schema = schema_mod.detect_schema(raw)
    assert (schema.id_column, schema.geography) == ("Geo", "county")
    assert schema.feature_columns == ("TotalPop", "Income")
