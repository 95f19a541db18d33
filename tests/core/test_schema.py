"""workbench.core.schema: id, name and feature columns.
"""
from __future__ import annotations

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
