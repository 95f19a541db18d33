"""workbench.core.cleaning: what is kept, what is dropped and why.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.support.tables import SMALL, table
from workbench.core import cleaning, sources
from workbench.core import schema as schema_mod
from workbench.core.errors import DataError
from workbench.core.scaling import fit_scaler


def test_census_cleaning_drops_the_two_incomplete_rows(census_raw):
    result = cleaning.clean_table(census_raw, schema_mod.detect_schema(census_raw))
    report = result.report
    assert (report.rows_raw, report.rows_clean, report.rows_dropped) == (3220, 3218, 2)
    [incomplete] = report.drops
    assert incomplete.reason == "incomplete" and incomplete.count == 2
    assert any("Hawaii-Kalawao" in e and "ChildPoverty" in e for e in incomplete.examples)
    assert any("Texas-Loving" in e and "Income" in e for e in incomplete.examples)
    assert set(incomplete.columns) == {"ChildPoverty", "Income", "IncomeErr"}
    json.dumps(report.to_dict())  # fit for a run manifest


def test_census_clean_frame_has_unique_state_county_index(census_raw):
    result = cleaning.clean_table(census_raw)
    frame = result.frame
    assert len(result.features) == 34
    assert frame.index.is_unique
    assert frame.index[0] == "Alabama-Autauga"
    assert "Hawaii-Kalawao" not in frame.index and "Texas-Loving" not in frame.index
    assert list(frame.columns) == ["CensusId", "State", "County", *result.features]
    assert (frame[result.features].dtypes == "float64").all()
    assert frame["CensusId"].dtype == "int64"
    assert frame.loc["Alabama-Autauga", "TotalPop"] == 55221.0
    assert result.feature_frame.shape == (3218, 34)


def test_census_fingerprint_is_stable_and_sensitive(census_csv, census_bytes):
    a = cleaning.clean_table(sources.read_csv_path(census_csv)).frame
    b = cleaning.clean_table(sources.read_csv_bytes(census_bytes, name="census.csv")).frame
    assert cleaning.fingerprint(a) == cleaning.fingerprint(b) == cleaning.fingerprint(a.copy())
    # Pinned: a change here means every stored run's fingerprint changes (cleaning or encoding changed).
    assert cleaning.fingerprint(a) == "b3f79776c7a2f2f46658ade2e3cd009b9a7aa065dce55be70a55fe2129c316a7"
    changed = a.copy()
    changed.iloc[0, 5] += 1e-9
    assert cleaning.fingerprint(changed) != cleaning.fingerprint(a)
    assert cleaning.fingerprint(a[a.columns[::-1]]) != cleaning.fingerprint(a)


def test_census_scales_to_the_unit_range(census_csv):
    result = cleaning.clean_table(sources.load_table(census_csv))
    X = fit_scaler("minmax", result.frame, result.features).transform(result.frame)
    assert X.min() == 0.0 and X.max() == 1.0 and X.shape == (3218, 34)


def test_missing_values_drop_rows():
    raw = table(SMALL + "1009,Alabama,Blount,57710,,14.4\n1011,Alabama,,10764,31938,21.4\n")
    report = cleaning.clean_table(raw).report
    assert (report.rows_raw, report.rows_clean) == (6, 4)
    record = report.drop("incomplete")
    assert record.count == 2 and set(record.columns) == {"Income", "County"}
    assert "Alabama-Blount (missing Income)" in record.examples
    assert "Alabama-? (missing County)" in record.examples


def test_infinite_values_drop_rows():
    raw = table(SMALL + "1009,Alabama,Blount,57710,inf,14.4\n1011,Alabama,Bullock,-inf,31938,21.4\n")
    result = cleaning.clean_table(raw)
    record = result.report.drop("infinite")
    assert record.count == 2 and set(record.columns) == {"Income", "TotalPop"}
    assert np.isfinite(result.feature_frame.to_numpy()).all()


def test_non_numeric_cells_drop_rows():
    raw = table(SMALL + "1009,Alabama,Blount,57710,abc,14.4\n")
    result = cleaning.clean_table(raw)
    assert "Income" in result.features
    record = result.report.drop("non_numeric")
    assert (record.count, record.columns) == (1, ["Income"])
    assert record.examples == ["Alabama-Blount (Income='abc')"]
    assert result.frame["Income"].dtype == "float64"


def test_duplicate_ids_keep_the_first_row():
    raw = table(SMALL + "1001,Alabama,Autauga again,1,2,3\n")
    result = cleaning.clean_table(raw)
    record = result.report.drop("duplicate_id")
    assert record.count == 1 and record.examples == ["Alabama-Autauga again (CensusId=1001)"]
    assert result.frame.loc["Alabama-Autauga", "TotalPop"] == 55221


def test_constant_column_is_dropped_and_reported():
    raw = table("""\
        CensusId,State,County,TotalPop,Pacific
        1001,Alabama,Autauga,55221,0.0
        1003,Alabama,Baldwin,195121,0.0
        1005,Alabama,Barbour,26932,0
    """)
    result = cleaning.clean_table(raw)
    assert result.features == ["TotalPop"] and "Pacific" not in result.frame
    record = result.report.drop("constant_column")
    assert (record.count, record.columns, record.examples) == (1, ["Pacific"], ["Pacific (always 0)"])


def test_only_constant_features_is_an_error():
    raw = table("id,a\n1,5\n2,5\n")
    with pytest.raises(DataError, match="Every chosen feature is constant"):
        cleaning.clean_table(raw)


def test_blank_feature_column_is_dropped_not_every_row():
    raw = table("id,a,blank\n1,5,\n2,6,\n3,7,\n")
    result = cleaning.clean_table(raw)
    assert result.report.rows_clean == 3 and result.features == ["a"]
    assert result.report.drop("empty_column").columns == ["blank"]


def test_single_row_table():
    raw = table("CensusId,State,County,TotalPop\n1001,Alabama,Autauga,55221\n")
    with pytest.raises(DataError, match="1 row.*at least 2"):
        cleaning.clean_table(raw)


def test_one_row_left_after_cleaning():
    raw = table("id,a,b\n1,1,2\n2,,3\n3,x,4\n")
    with pytest.raises(DataError, match="(?s)Only 1 row is left.*missing values"):
        cleaning.clean_table(raw)


def test_all_rows_dropped_names_the_column_to_exclude():
    raw = table("id,a,b\n1,1,\n2,2,\n3,3,x\n4,,5\n")
    with pytest.raises(DataError, match=r"(?s)All 4 rows were dropped.*exclude .*\(mainly b \(3 rows\), a \(1 rows\)\)"):
        cleaning.clean_table(raw)
    assert cleaning.clean_table(raw, features=["a"]).report.rows_clean == 3  # ...and excluding b helps


def test_feature_selection_keeps_table_order():
    raw = table(SMALL)
    result = cleaning.clean_table(raw, features=["Poverty", "TotalPop"])
    assert result.features == ["TotalPop", "Poverty"]
    assert list(result.frame.columns) == ["CensusId", "State", "County", "TotalPop", "Poverty"]


def test_feature_selection_only_checks_chosen_columns():
    raw = table(SMALL + "1009,Alabama,Blount,57710,,14.4\n")
    assert cleaning.clean_table(raw, features=["TotalPop", "Poverty"]).report.rows_clean == 5


def test_unknown_feature_names_list_the_valid_ones():
    with pytest.raises(DataError, match=r"Unknown feature\(s\): 'Incom' \(did you mean 'Income'\?\), 'State'\. "
                                        r"Valid features: TotalPop, Income, Poverty\."):
        cleaning.clean_table(table(SMALL), features=["Incom", "State"])


def test_empty_feature_selection():
    with pytest.raises(DataError, match="No features selected"):
        cleaning.clean_table(table(SMALL), features=[])


def test_repeated_labels_get_the_id():
    raw = table(SMALL + "1099,Alabama,Autauga,1,2,3\n")
    index = list(cleaning.clean_table(raw).frame.index)
    assert "Alabama-Autauga (1001)" in index and "Alabama-Autauga (1099)" in index


def test_repeated_labels_without_ids_are_numbered():
    raw = table("State,County,a\nX,Y,1\nX,Y,2\nX,Z,3\n")
    assert list(cleaning.clean_table(raw).frame.index) == ["X-Y", "X-Y #2", "X-Z"]


def test_schema_from_another_table_is_refused():
    with pytest.raises(DataError, match="lacks"):
        cleaning.clean_table(table("id,a\n1,2\n3,4\n"), schema_mod.detect_schema(table(SMALL)))


def test_census_with_injected_problems(census_raw):
    raw = census_raw.copy()
    raw["Income"] = raw["Income"].astype(object)
    raw.loc[0, "Income"] = "abc"  # Alabama-Autauga
    raw.loc[1, "Poverty"] = np.inf  # Alabama-Baldwin
    raw = pd.concat([raw, raw.iloc[[2]]], ignore_index=True)  # Alabama-Barbour twice
    raw["Constant"] = 1.0
    result = cleaning.clean_table(raw)
    report = result.report
    assert (report.rows_raw, report.rows_clean) == (3221, 3216)
    counts = {d.reason: d.count for d in report.drops}
    assert counts == {"incomplete": 2, "non_numeric": 1, "infinite": 1, "duplicate_id": 1, "constant_column": 1}
    assert len(result.features) == 34 and "Constant" not in result.features
    assert result.frame.index.is_unique


# --------------------------------------------------------------------------- column screening


def test_an_exact_duplicate_column_is_dropped_and_named():
    raw = table("""\
        CensusId,State,County,TotalPop,Income,Income copy,Poverty
        1001,Alabama,Autauga,55221,51281,51281,12.9
        1003,Alabama,Baldwin,195121,50254,50254,13.4
        1005,Alabama,Barbour,26932,32964,32964,26.7
        1007,Alabama,Bibb,22604,38678,38678,16.8
    """)
    result = cleaning.clean_table(raw)
    assert result.features == ["TotalPop", "Income", "Poverty"]
    record = result.report.drop("duplicate_column")
    assert (record.count, record.columns, record.examples) == (1, ["Income copy"], ["Income copy (= Income)"])
    assert "Income copy (= Income)" in result.report.summary()
    assert result.report.to_dict()["drops"][-1]["reason"] == "duplicate_column"


def test_near_duplicates_are_warned_of_not_dropped():
    raw = table("""\
        id,a,b,c
        1,1.0,2.01,5
        2,2.0,3.99,1
        3,3.0,6.02,4
        4,4.0,7.98,2
    """)
    result = cleaning.clean_table(raw)
    assert result.features == ["a", "b", "c"]
    (warning,) = result.report.warnings
    assert (warning.kind, warning.columns) == ("near_duplicate", ["a", "b"]) and warning.value > 0.99
    as_json = result.report.to_dict()["warnings"]
    assert as_json[0]["columns"] == ["a", "b"] and "near-duplicates" in as_json[0]["detail"]
    assert "Warning: a and b are near-duplicates" in result.report.summary()


def test_the_walkthrough_counts_are_near_duplicates(census_raw):
    pairs = {tuple(w.columns) for w in cleaning.clean_table(census_raw).report.warnings}
    assert {("TotalPop", "Men"), ("TotalPop", "Women"), ("TotalPop", "Employed")} <= pairs


def test_census_annotations_are_reported_by_row_and_column(census_api):
    from tests.support.census_api import minnesota_counties
    from workbench.core import census

    census_api.units = minnesota_counties(5)
    census_api.values = {"B19013_001E": {"27003": "-666666666"}, "B01003_001M": {"27007": "-222222222"}}
    request = census.CensusRequest.create(2022, "county", state="MN", variables=["B01003_001", "B19013_001"])
    raw = census.fetch_table(request, client=census.CensusClient(backoff=0.001))
    result = cleaning.clean_table(raw.iloc[::-1])  # a reordered copy still matches by GEOID
    record = result.report.drop("annotation")
    assert record.count == 2 and set(record.columns) == {"B19013_001", "B01003_001Err"}
    assert any("Minnesota-County 3 County (B19013_001: -666666666, the estimate cannot be computed" in e
               for e in record.examples)
    assert result.report.drop("incomplete") is None and result.report.rows_clean == 3
def test_cleaning_keeps_the_tab_or_quote_that_neutralises_a_formula():
    raw = sources.load_table(b'CensusId,State,County,Pop,Income\n1,A,"\t=1+1",1,5\n2,B,\'=2+2,2,6\n'
                             b'3,C,"  Bibb  ",3,7\n4,D,"\t ",4,8\n')
    result = cleaning.clean_table(raw)
    assert result.frame["County"].tolist() == ["\t=1+1", "'=2+2", "Bibb"]
    assert result.report.drop("incomplete").count == 1  # a cell of only whitespace is blank


def test_numeric_columns_parse_as_the_general_path_does():
    """Columns pandas already read as numbers skip the text path; their numbers and masks are the
    ones the text path gives for the same values written as text."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"f": [1.5, np.nan, -0.0, 1e300], "i": [1, -2, 3, 2**62], "u": np.array([1, 2, 3, 4], np.uint64)})
    fast = cleaning._Parsed.of(frame, [], list(frame.columns))
    general = cleaning._Parsed.of(frame.astype(object), [], list(frame.columns))
    for column in frame.columns:
        np.testing.assert_array_equal(fast.numbers[column], general.numbers[column])
        np.testing.assert_array_equal(fast.missing[column], general.missing[column])
        np.testing.assert_array_equal(fast.non_numeric[column], general.non_numeric[column])
