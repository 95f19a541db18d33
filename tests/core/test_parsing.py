"""workbench.core.parsing: CSV bytes to a raw table.
"""
from __future__ import annotations

import pytest

from workbench.core import cleaning, parsing, sources
from workbench.core.errors import DataError

# --------------------------------------------------------------------------- the census table


def test_census_csv_loads_raw_table(census_raw, census_csv):
    assert census_raw.shape == (3220, 37)
    assert census_raw.attrs[parsing.SOURCE_ATTR] == f"local file {census_csv}"


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="is empty"):
        sources.load_table(path)


def test_header_without_rows():
    with pytest.raises(DataError, match="no data rows"):
        sources.load_table(b"CensusId,State,County,TotalPop\n")


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(census_raw, tmp_path, sep):
    path = tmp_path / "counties.csv"
    census_raw.head(50).to_csv(path, sep=sep, index=False)
    raw = sources.load_table(path)
    assert raw.attrs["delimiter"] == sep
    assert list(raw.columns) == list(census_raw.columns)
    assert cleaning.clean_table(raw).report.rows_clean == 50


def test_semicolon_file_with_decimal_commas_is_split_on_semicolons():
    raw = sources.load_table(b"id;a;b\n1;1,5;2\n2;3,25;4\n3;5;6\n")
    assert list(raw.columns) == ["id", "a", "b"]


def test_single_column_file_names_the_delimiter_problem():
    with pytest.raises(DataError, match="single column .*delimiter"):
        sources.load_table(b"CensusId State County\n1001 Alabama Autauga\n")


def test_ragged_rows_are_a_parse_error():
    with pytest.raises(DataError, match="comma-separated .*as many fields"):
        sources.load_table(b"a,b,c\n1,2,3\n4,5,6,7,8\n")


def test_excel_workbook_is_refused_with_advice():
    with pytest.raises(DataError, match="Excel .*export it as CSV"):
        sources.load_table(b"PK\x03\x04rest-of-a-zip")


def test_binary_bytes_are_refused():
    with pytest.raises(DataError, match="binary data"):
        sources.load_table(b"CensusId,State\n\x00\x01\x02\x03\n")


def test_windows_1252_file_is_decoded():
    raw = sources.load_table("id,County,Pop\n35013,Doña Ana,1\n35001,Bernalillo,2\n".encode("cp1252"))
    assert raw.attrs["encoding"] == "cp1252"
    assert raw.loc[0, "County"] == "Doña Ana"


def test_utf16_file_is_decoded():
    raw = sources.load_table("id\tCounty\tPop\n1\tA\t1\n2\tB\t2\n".encode("utf-16"))
    assert raw.attrs["delimiter"] == "\t"
    assert list(raw["County"]) == ["A", "B"]
