"""workbench.core.parsing: CSV bytes to a raw table.
"""
from __future__ import annotations

import hypothesis
import hypothesis.strategies as st
import pandas as pd
import pytest

from workbench.core import cleaning, parsing, schema, settings, sources
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


# --------------------------------------------------------------------------- columns cannot shift

HEADER = "CensusId,State,County,TotalPop,Income\n"


def test_a_trailing_delimiter_on_the_first_data_row_is_refused_naming_the_line():
    data = (HEADER + "1001,Alabama,Autauga,55221,51281,\n1003,Alabama,Baldwin,195121,50254\n").encode()
    with pytest.raises(DataError, match=r"line 2 has 6 \(the extra field is empty: a trailing delimiter\?\)") as info:
        sources.load_table(data)
    assert "Autauga" not in str(info.value)


def test_rows_with_more_or_fewer_fields_are_refused_with_their_lines():
    rows = ["1001,Alabama,Autauga,1,2", "1003,Alabama,Baldwin,3", "1005,Alabama,Barbour,5,6,7",
            "1007,Alabama,Bibb,7,8"]
    with pytest.raises(DataError, match=r"2 row\(s\) .* header's 5: line 3 has 4; line 4 has 6\. "):
        sources.load_table((HEADER + "\n".join(rows) + "\n").encode())


def test_ragged_rows_are_counted_beyond_the_examples():
    rows = [f"{i},A,B,1" for i in range(20)]
    with pytest.raises(DataError, match=r"20 row\(s\) .*; and 15 more\."):
        sources.load_table((HEADER + "\n".join(rows) + "\n").encode())


def test_line_numbers_count_quoted_newlines_and_blank_lines():
    data = (HEADER + '1001,Alabama,"Auta\nuga",1,2\n\n1003,Alabama,Baldwin,3\n').encode()
    with pytest.raises(DataError, match=r"line 5 has 4"):
        sources.load_table(data)


def test_a_delimiter_ending_every_line_is_a_nameless_empty_column_that_is_dropped():
    raw = sources.load_table(b"id,a,b,\n1,2,3,\n2,4,5,\n3,6,7\n")
    assert list(raw.columns) == ["id", "a", "b"] and raw["b"].tolist() == [3, 5, 7]
    assert "every line ends with a delimiter" in parsing.parse_report(raw)["notes"][0]


def test_a_nameless_last_column_with_values_is_refused():
    with pytest.raises(DataError, match=r"without a name in the header row: column\(s\) 4 of 4"):
        sources.load_table(b"id,a,b,\n1,2,3,x\n2,4,5,\n")


def test_duplicate_headers_are_an_error_naming_them():
    with pytest.raises(DataError, match=r"'Men' \(columns 3, 5\)"):
        sources.load_table(b"CensusId,State,Men,Women,Men\n1,A,1,2,3\n2,B,4,5,6\n")


def test_a_blank_first_header_is_an_error_not_a_feature():
    with pytest.raises(DataError, match=r"column\(s\) 1 of 4\. .*row numbers"):
        sources.load_table(b",CensusId,State,Pop\n0,1001,Alabama,5\n1,1003,Alabama,6\n")


def test_the_first_column_is_never_taken_as_the_index(census_raw):
    data = census_raw.head(3).to_csv(index=False).encode()
    raw = sources.load_table(data)
    assert list(raw.columns) == list(census_raw.columns)
    assert raw.index.tolist() == [0, 1, 2] and raw["CensusId"].tolist() == census_raw["CensusId"].head(3).tolist()


def test_too_many_columns_are_refused_above_the_setting(monkeypatch):
    header = ",".join(f"c{i}" for i in range(30))
    data = f"{header}\n{','.join('1' * 30)}\n".encode()
    monkeypatch.setenv(settings.ENV_MAX_COLUMNS, "29")
    with pytest.raises(DataError, match=f"30 columns, over the 29-column limit \\({settings.ENV_MAX_COLUMNS}\\)"):
        sources.load_table(data)
    monkeypatch.setenv(settings.ENV_MAX_COLUMNS, "30")
    assert sources.load_table(data).shape == (1, 30)


def test_messages_never_quote_the_file():
    secret = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin\n"
    with pytest.raises(DataError) as info:
        sources.load_table(secret)
    assert "root" not in str(info.value) and "daemon" not in str(info.value)


# --------------------------------------------------------------------------- numbers written for people


def test_thousands_separators_currency_and_percent_are_read_and_reported():
    data = (b'CensusId,State,County,TotalPop,Income,Poverty\n'
            b'1001,Alabama,Autauga,"55,221","$51,281",12.9%\n'
            b'1003,Alabama,Baldwin,"195,121","$50,254.50",13.4%\n'
            b'1005,Alabama,Barbour,26932,"-$1,200",26.7%\n')
    raw = sources.load_table(data)
    assert raw["TotalPop"].tolist() == [55221, 195121, 26932]
    assert raw["Income"].tolist() == [51281, 50254.5, -1200]
    assert raw["Poverty"].tolist() == [12.9, 13.4, 26.7]
    formats = parsing.parse_report(raw)["number_formats"]
    assert formats == {"TotalPop": "thousands separators", "Income": "thousands separators, currency signs",
                       "Poverty": "percent signs, 12.5% read as 12.5"}
    assert "TotalPop (thousands separators)" in parsing.parse_report(raw)["notes"][0]
    assert cleaning.clean_table(raw).features == ["TotalPop", "Income", "Poverty"]


def test_decimal_commas_in_a_semicolon_file_are_read():
    raw = sources.load_table(b"id;County;a;b\n1;X;1,5;1.234,5\n2;Y;3,25;2\n3;Z;5;7 000,25\n")
    assert raw["a"].tolist() == [1.5, 3.25, 5.0]
    assert raw["b"].tolist() == [1234.5, 2.0, 7000.25]
    assert parsing.parse_report(raw)["number_formats"]["a"] == "decimal commas"
    assert cleaning.clean_table(raw).features == ["a", "b"]


def test_tab_files_let_the_values_decide_the_decimal_mark():
    raw = sources.load_table(b"id\tCounty\ta\tb\n1\tX\t1,5\t1,500\n2\tY\t2,25\t2,250\n")
    assert raw["a"].tolist() == [1.5, 2.25]
    assert raw["b"].tolist() == [1500, 2250]  # no comma here can be decimal: thousands


def test_a_typo_among_people_numbers_is_left_for_cleaning_to_report():
    data = b'id,County,Pop\n1,A,"1,000"\n2,B,"2,000"\n3,C,n.a.\n4,D,"4,000"\n'
    raw = sources.load_table(data)
    assert "1 value(s) still not numbers" in parsing.parse_report(raw)["number_formats"]["Pop"]
    result = cleaning.clean_table(raw)
    assert result.features == ["Pop"] and result.report.drop("non_numeric").count == 1


def test_a_column_that_stays_text_is_listed_as_ignored():
    raw = sources.load_table(b"id,County,Pop,Notes\n1,A,5,good\n2,B,6,bad\n3,C,7,ok\n")
    assert schema.detect_schema(raw).ignored_columns == ("Notes",)
    assert parsing.parse_report(raw)["number_formats"] == {}


# --------------------------------------------------------------------------- encodings


def test_utf8_with_a_bom_is_decoded():
    raw = sources.load_table("\ufeffid,County,Pop\n72001,Añasco,1\n72003,Bayamón,2\n".encode())
    assert list(raw.columns) == ["id", "County", "Pop"] and raw.loc[0, "County"] == "Añasco"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_utf8_is_read_from_its_bytes_as_from_its_decoded_text(monkeypatch, bom, newline):
    """UTF-8 tables are parsed from the bytes themselves (no decoded copy): the same table as from
    the text, whatever the byte-order mark, line endings, quoting or leading zeros."""
    lines = [b"GEOID,County,Pop, Share", b'01001,"Autauga, AL",55221, 0.5',
             "72001,\"A\u00f1asco\nPR\",\"1,234\",0.25".encode(), b"02013,Aleutians East,3341,"]
    data = bom + newline.join(lines) + newline
    from_bytes = sources.load_table(data)
    read = parsing._read_frame
    monkeypatch.setattr(parsing, "_read_frame", lambda content, *a: read(
        content.decode("utf-8-sig") if isinstance(content, bytes) else content, *a))
    from_text = sources.load_table(data)
    pd.testing.assert_frame_equal(from_bytes, from_text)
    assert from_bytes.attrs == from_text.attrs
    assert list(from_bytes["GEOID"]) == ["01001", "72001", "02013"]
    assert from_bytes.loc[1, "County"] == "A\u00f1asco\nPR" and from_bytes.columns[3] == "Share"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "utf-16"])
def test_every_encoding_and_a_bytearray_read_the_same_table(encoding):
    text = '"GEOID",County,Pop\n72001,A\u00f1asco,1\n72003,"Bayam\u00f3n, PR",2\n'
    expected = sources.load_table(text.encode("utf-8"))
    for data in (text.encode(encoding), bytearray(text.encode(encoding))):
        raw = sources.load_table(data)
        pd.testing.assert_frame_equal(raw, expected)
        assert list(raw.columns) == ["GEOID", "County", "Pop"] and raw.loc[1, "County"] == "Bayam\u00f3n, PR"


def test_unbalanced_quotes_are_refused_the_same_from_bytes_as_from_text(monkeypatch):
    data = b'id,County,Pop\n1,"Autauga,5\n2,Baldwin,7\n'
    with pytest.raises(DataError) as from_bytes:
        sources.load_table(data)
    read = parsing._read_frame
    monkeypatch.setattr(parsing, "_read_frame", lambda content, *a: read(bytes(content).decode(), *a))
    with pytest.raises(DataError) as from_text:
        sources.load_table(data)
    assert str(from_bytes.value) == str(from_text.value)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_detected(encoding):
    raw = sources.load_table("id,County,Pop\n72001,Añasco,1\n72003,Bayamón,2\n".encode(encoding))
    assert raw.attrs["encoding"] == encoding and raw.loc[1, "County"] == "Bayamón"


def test_one_stray_latin1_byte_in_utf8_is_an_error_naming_its_line():
    data = "id,County,Pop\n72001,Añasco,1\n72003,Bayamón,2\n".encode() + "72005,Peñuelas,3\n".encode("latin-1")
    with pytest.raises(DataError, match=r"mixes text encodings: .*line 4 has a byte \(0xF1\)") as info:
        sources.load_table(data)
    assert "Peñuelas" not in str(info.value) and "Pe" not in str(info.value)


def test_a_nul_byte_past_the_first_block_is_binary():
    data = HEADER.encode() + b"1001,Alabama,Autauga,1,2\n" * 5000 + b"1,A,\x00,1,2\n"
    with pytest.raises(DataError, match=r"binary data \(a NUL byte on line 5,002\)"):
        sources.load_table(data)


# --------------------------------------------------------------------------- values kept as written


def test_ids_wider_than_int64_are_kept_as_text():
    data = b"GEOID,County,Pop\n123456789012345678901234,A,1\n18446744073709551615,B,2\n7,C,3\n"
    raw = sources.load_table(data)
    assert raw["GEOID"].tolist() == ["123456789012345678901234", "18446744073709551615", "7"]
    clean = cleaning.clean_table(raw)
    assert clean.frame["GEOID"].tolist() == ["123456789012345678901234", "18446744073709551615", "7"]
    assert "GEOID" in parsing.parse_report(raw)["notes"][0]
    uint64 = sources.load_table(b"GEOID,County,Pop\n18446744073709551615,A,1\n1,B,2\n")
    assert uint64["GEOID"].tolist() == ["18446744073709551615", "1"]


def test_formula_neutralisers_survive_parsing():
    raw = sources.load_table(b'id,County,Pop\n1,"\t=1+1",1\n2,\'=2+2,2\n3,C,3\n')
    assert raw["County"].tolist() == ["\t=1+1", "'=2+2", "C"]


def test_geography_codes_keep_their_leading_zeros():
    raw = sources.load_table(b"GEOID,State,County,Pop,Income\n01001020100,Alabama,Autauga,10,5\n"
                             b"27053000100,Minnesota,Hennepin,20,6\n")
    assert raw["GEOID"].tolist() == ["01001020100", "27053000100"]
    assert any("GEOID (e.g. 01001020100) as text" in note for note in parsing.parse_report(raw)["notes"])
    assert pd.api.types.is_integer_dtype(raw["Pop"])


def test_codes_without_leading_zeros_are_read_as_numbers_as_before():
    raw = sources.load_table(b"CensusId,State,County,Pop\n1001,Alabama,Autauga,10\n1003,Alabama,Baldwin,20\n")
    assert raw["CensusId"].dtype == "int64" and raw["CensusId"].tolist() == [1001, 1003]
    assert not parsing.parse_report(raw)["notes"]


def _shape_or_error(text: str, sep: str):
    try:
        shape = parsing._check_shape(text, sep, "The file")
    except DataError as exc:
        return "error", str(exc)
    return shape.names, shape.drop_last, shape.notes


@hypothesis.settings(max_examples=500, deadline=None)
@hypothesis.given(st.text(alphabet="ab ,;\n\r\t", max_size=60), st.sampled_from([",", ";", "\t"]))
def test_the_unquoted_row_check_agrees_with_reading_every_record(text, sep):
    """Text without quotes is checked by counting delimiters per line; on any text it gives what
    reading every record with the csv module gives: the same header and notes, or the same message."""
    fast = _shape_or_error(text, sep)
    original = parsing._check_unquoted_shape
    parsing._check_unquoted_shape = lambda *args: None  # the csv module's reading only
    try:
        slow = _shape_or_error(text, sep)
    finally:
        parsing._check_unquoted_shape = original
    assert fast == slow
