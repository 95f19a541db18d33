"""Loading, schema detection and cleaning of county tables."""
from __future__ import annotations

import hashlib
import io
import json
import textwrap
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from workbench import data, settings
from workbench.data import DataError
from workbench.scaling import fit_scaler


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Never read the developer's WORKBENCH_* settings or touch their real cache."""
    monkeypatch.delenv(settings.ENV_DEFAULT_DATA, raising=False)
    monkeypatch.delenv(settings.ENV_WORKSPACE, raising=False)
    monkeypatch.setenv(settings.ENV_CACHE_DIR, str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def census_bytes(census_csv) -> bytes:
    return census_csv.read_bytes()


@pytest.fixture(scope="session")
def census_raw(census_csv) -> pd.DataFrame:
    return data.read_csv_path(census_csv)


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 with the walkthrough's (empty) public bucket; yields a client to fill it."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=data.DEFAULT_BUCKET)
        yield client


def put_default(client, body: bytes, **kwargs) -> None:
    client.put_object(Bucket=data.DEFAULT_BUCKET, Key=data.DEFAULT_KEY, Body=body, **kwargs)


def cached_default(tmp_path) -> Path:
    return tmp_path / "cache" / data.DEFAULT_BUCKET / data.DEFAULT_KEY


def table(text: str) -> pd.DataFrame:
    """A raw table from CSV text, as an upload would give it."""
    return data.read_csv_bytes(textwrap.dedent(text).lstrip().encode())


SMALL = """\
    CensusId,State,County,TotalPop,Income,Poverty
    1001,Alabama,Autauga,55221,51281,12.9
    1003,Alabama,Baldwin,195121,50254,13.4
    1005,Alabama,Barbour,26932,32964,26.7
    1007,Alabama,Bibb,22604,38678,16.8
"""


# --------------------------------------------------------------------------- settings


def test_settings_read_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.ENV_DEFAULT_DATA, str(tmp_path / "census.csv"))
    monkeypatch.setenv(settings.ENV_WORKSPACE, str(tmp_path / "ws"))
    monkeypatch.setenv(settings.ENV_CACHE_DIR, str(tmp_path / "c"))
    assert settings.default_data_path() == tmp_path / "census.csv"
    assert settings.workspace_dir() == tmp_path / "ws"
    assert settings.cache_dir() == tmp_path / "c"


def test_settings_defaults_when_unset_or_blank(monkeypatch):
    monkeypatch.setenv(settings.ENV_DEFAULT_DATA, "  ")
    monkeypatch.delenv(settings.ENV_CACHE_DIR)
    assert settings.default_data_path() is None
    assert settings.workspace_dir().parts[-2:] == ("county-workbench", "workspace")
    assert "county-workbench" in settings.cache_dir().parts


# --------------------------------------------------------------------------- the census table


def test_census_csv_loads_raw_table(census_raw, census_csv):
    assert census_raw.shape == (3220, 37)
    assert census_raw.attrs[data.SOURCE_ATTR] == f"local file {census_csv}"


def test_census_schema_detected(census_raw):
    schema = data.detect_schema(census_raw)
    assert schema.id_column == "CensusId"
    assert schema.name_columns == ("State", "County")
    assert len(schema.feature_columns) == 34
    assert schema.feature_columns[0] == "TotalPop" and schema.feature_columns[-1] == "Unemployment"
    assert schema.ignored_columns == ()


def test_census_cleaning_drops_the_two_incomplete_rows(census_raw):
    result = data.clean_table(census_raw, data.detect_schema(census_raw))
    report = result.report
    assert (report.rows_raw, report.rows_clean, report.rows_dropped) == (3220, 3218, 2)
    [incomplete] = report.drops
    assert incomplete.reason == "incomplete" and incomplete.count == 2
    assert any("Hawaii-Kalawao" in e and "ChildPoverty" in e for e in incomplete.examples)
    assert any("Texas-Loving" in e and "Income" in e for e in incomplete.examples)
    assert set(incomplete.columns) == {"ChildPoverty", "Income", "IncomeErr"}
    json.dumps(report.to_dict())  # fit for a run manifest


def test_census_clean_frame_has_unique_state_county_index(census_raw):
    result = data.clean_table(census_raw)
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
    a = data.clean_table(data.read_csv_path(census_csv)).frame
    b = data.clean_table(data.read_csv_bytes(census_bytes, name="census.csv")).frame
    assert data.fingerprint(a) == data.fingerprint(b) == data.fingerprint(a.copy())
    # Pinned: a change here means every stored run's fingerprint changes (cleaning or encoding changed).
    assert data.fingerprint(a) == "b3f79776c7a2f2f46658ade2e3cd009b9a7aa065dce55be70a55fe2129c316a7"
    changed = a.copy()
    changed.iloc[0, 5] += 1e-9
    assert data.fingerprint(changed) != data.fingerprint(a)
    assert data.fingerprint(a[a.columns[::-1]]) != data.fingerprint(a)


def test_census_scales_to_the_unit_range(census_csv):
    result = data.clean_table(data.load_table(census_csv))
    X = fit_scaler("minmax", result.frame, result.features).transform(result.frame)
    assert X.min() == 0.0 and X.max() == 1.0 and X.shape == (3218, 34)


# --------------------------------------------------------------------------- sources


def test_path_source_accepts_str_and_path(census_csv):
    assert data.load_table(str(census_csv)).shape == data.load_table(census_csv).shape == (3220, 37)


def test_uploaded_bytes(census_bytes):
    raw = data.load_table(census_bytes)
    assert raw.shape == (3220, 37)
    assert raw.attrs[data.SOURCE_ATTR] == "uploaded data"


def test_uploaded_file_object_with_name(census_bytes):
    upload = io.BytesIO(census_bytes)
    upload.name = "/somewhere/counties.csv"
    upload.read()  # an upload read once before (a Streamlit rerun) must still load whole
    raw = data.load_table(upload)
    assert raw.shape == (3220, 37)
    assert raw.attrs[data.SOURCE_ATTR] == "uploaded file 'counties.csv'"


def test_uploaded_text_file_object():
    raw = data.load_table(io.StringIO(textwrap.dedent(SMALL)))
    assert raw.shape == (4, 6)


def test_unsupported_source_type():
    with pytest.raises(DataError, match="Cannot load data from a int"):
        data.load_table(42)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="File not found: .*nope.csv"):
        data.load_table(tmp_path / "nope.csv")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        data.load_table(tmp_path)


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="is empty"):
        data.load_table(path)


def test_header_without_rows():
    with pytest.raises(DataError, match="no data rows"):
        data.load_table(b"CensusId,State,County,TotalPop\n")


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(census_raw, tmp_path, sep):
    path = tmp_path / "counties.csv"
    census_raw.head(50).to_csv(path, sep=sep, index=False)
    raw = data.load_table(path)
    assert raw.attrs["delimiter"] == sep
    assert list(raw.columns) == list(census_raw.columns)
    assert data.clean_table(raw).report.rows_clean == 50


def test_semicolon_file_with_decimal_commas_is_split_on_semicolons():
    raw = data.load_table(b"id;a;b\n1;1,5;2\n2;3,25;4\n3;5;6\n")
    assert list(raw.columns) == ["id", "a", "b"]


def test_single_column_file_names_the_delimiter_problem():
    with pytest.raises(DataError, match="single column .*delimiter"):
        data.load_table(b"CensusId State County\n1001 Alabama Autauga\n")


def test_ragged_rows_are_a_parse_error():
    with pytest.raises(DataError, match="comma-separated .*as many fields"):
        data.load_table(b"a,b,c\n1,2,3\n4,5,6,7,8\n")


def test_excel_workbook_is_refused_with_advice():
    with pytest.raises(DataError, match="Excel .*export it as CSV"):
        data.load_table(b"PK\x03\x04rest-of-a-zip")


def test_binary_bytes_are_refused():
    with pytest.raises(DataError, match="binary data"):
        data.load_table(b"CensusId,State\n\x00\x01\x02\x03\n")


def test_windows_1252_file_is_decoded():
    raw = data.load_table("id,County,Pop\n35013,Doña Ana,1\n35001,Bernalillo,2\n".encode("cp1252"))
    assert raw.attrs["encoding"] == "cp1252"
    assert raw.loc[0, "County"] == "Doña Ana"


def test_utf16_file_is_decoded():
    raw = data.load_table("id\tCounty\tPop\n1\tA\t1\n2\tB\t2\n".encode("utf-16"))
    assert raw.attrs["delimiter"] == "\t"
    assert list(raw["County"]) == ["A", "B"]


# --------------------------------------------------------------------------- the default source


def test_default_source_reads_local_copy_when_env_set(monkeypatch, census_csv):
    monkeypatch.setenv(settings.ENV_DEFAULT_DATA, str(census_csv))
    monkeypatch.setattr(data, "s3_client", lambda **_: pytest.fail("must not touch S3"))
    raw = data.load_table(None)
    assert raw.shape == (3220, 37)
    description = raw.attrs[data.SOURCE_ATTR]
    assert str(census_csv) in description and settings.ENV_DEFAULT_DATA in description
    assert "the walkthrough's file" in description
    assert data.clean_table(raw).report.rows_clean == 3218


def test_default_source_env_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.ENV_DEFAULT_DATA, str(tmp_path / "missing.csv"))
    with pytest.raises(DataError, match=f"File not found.*{settings.ENV_DEFAULT_DATA}"):
        data.load_table(None)


def test_default_source_fetches_public_object_anonymously(s3, census_bytes, tmp_path):
    put_default(s3, census_bytes, ACL="public-read")
    raw = data.load_table(None)
    assert raw.shape == (3220, 37)
    assert data.DEFAULT_URI in raw.attrs[data.SOURCE_ATTR]
    cached = cached_default(tmp_path)
    assert hashlib.md5(cached.read_bytes()).hexdigest() == data.DEFAULT_MD5
    assert [p.name for p in cached.parent.iterdir()] == [data.DEFAULT_KEY]  # no temp files left


def test_default_source_reuses_the_cache(s3, census_bytes):
    put_default(s3, census_bytes, ACL="public-read")
    data.load_default()
    s3.delete_object(Bucket=data.DEFAULT_BUCKET, Key=data.DEFAULT_KEY)
    assert data.load_default().shape == (3220, 37)


def test_default_source_refetches_a_corrupt_cache(s3, census_bytes, tmp_path):
    put_default(s3, census_bytes, ACL="public-read")
    cached = cached_default(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"CensusId,State\n1,truncated")
    assert data.load_default().shape == (3220, 37)
    assert cached.read_bytes() == census_bytes


def test_default_source_rejects_wrong_md5(s3, census_bytes, tmp_path):
    put_default(s3, census_bytes.replace(b"Autauga", b"Autauka"), ACL="public-read")
    with pytest.raises(DataError, match=f"md5 .*expected {data.DEFAULT_MD5}.*{settings.ENV_DEFAULT_DATA}"):
        data.load_default()
    cache = cached_default(tmp_path).parent
    assert not cache.exists() or list(cache.iterdir()) == []  # nothing half-written is left


def test_default_source_md5_is_injectable(s3, tmp_path):
    body = textwrap.dedent(SMALL).encode()
    put_default(s3, body, ACL="public-read")
    raw = data.load_default(expected_md5=hashlib.md5(body).hexdigest(), cache_dir=tmp_path / "other")
    assert raw.shape == (4, 6)
    assert (tmp_path / "other" / data.DEFAULT_BUCKET / data.DEFAULT_KEY).read_bytes() == body


def test_default_source_private_object_is_access_denied(s3, census_bytes):
    put_default(s3, census_bytes)  # no public-read ACL: anonymous reads are refused
    with pytest.raises(DataError, match="Access to .* was denied"):
        data.load_default()


def test_default_source_without_network():
    class Offline:
        def get_object(self, **_):
            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")

    with pytest.raises(DataError, match=f"no network.*{settings.ENV_DEFAULT_DATA}"):
        data.load_default(client=Offline())


# --------------------------------------------------------------------------- s3:// URIs


def test_s3_uri_source(s3, census_bytes):
    s3.create_bucket(Bucket="analyst-bucket")
    s3.put_object(Bucket="analyst-bucket", Key="in/counties.csv", Body=census_bytes)
    raw = data.load_table("s3://analyst-bucket/in/counties.csv")  # private: signed with moto's credentials
    assert raw.shape == (3220, 37)
    assert raw.attrs[data.SOURCE_ATTR] == "s3://analyst-bucket/in/counties.csv"


def test_s3_public_object_reads_unsigned(s3, census_bytes):
    put_default(s3, census_bytes, ACL="public-read")
    raw = data.read_s3_uri(data.DEFAULT_URI, client=data.s3_client(anonymous=True))
    assert raw.shape == (3220, 37)


def test_s3_client_is_unsigned_without_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from botocore import UNSIGNED

    assert data.s3_client().meta.config.signature_version is UNSIGNED
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert data.s3_client().meta.config.signature_version is not UNSIGNED


def test_s3_missing_object(s3):
    with pytest.raises(DataError, match="There is no object s3://.*/nope.csv"):
        data.load_table(f"s3://{data.DEFAULT_BUCKET}/nope.csv")


def test_s3_missing_bucket(s3):
    with pytest.raises(DataError, match="bucket of s3://no-such-bucket/x.csv does not exist"):
        data.load_table("s3://no-such-bucket/x.csv")


def test_s3_access_denied(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = data.s3_client(anonymous=True)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(DataError, match="denied.*credentials"):
            data.read_s3_uri("s3://private-bucket/counties.csv", client=client)


@pytest.mark.parametrize("uri", ["s3://bucket-only", "s3:///key.csv"])
def test_malformed_s3_uri(uri):
    with pytest.raises(DataError, match="s3://bucket/path"):
        data.load_table(uri)


# --------------------------------------------------------------------------- schema detection


def test_schema_of_the_2017_vintage():
    raw = table("""\
        CountyId,State,County,TotalPop,Men,Women,VotingAgeCitizen,Income,Poverty
        1001,Alabama,Autauga County,55036,26899,28137,41016,55317,13.7
        1003,Alabama,Baldwin County,203360,99527,103833,155376,52562,11.8
        1005,Alabama,Barbour County,26201,13976,12225,20269,33368,27.2
    """)
    schema = data.detect_schema(raw)
    assert schema.id_column == "CountyId"
    assert schema.name_columns == ("State", "County")
    assert schema.feature_columns == ("TotalPop", "Men", "Women", "VotingAgeCitizen", "Income", "Poverty")
    result = data.clean_table(raw, schema)
    assert list(result.frame.index) == ["Alabama-Autauga County", "Alabama-Baldwin County", "Alabama-Barbour County"]


def test_schema_of_an_id_and_numbers_only_table():
    raw = table("""\
        FIPS,pop,income
        1001,55221,51281
        1003,195121,50254
        1005,26932,32964
    """)
    schema = data.detect_schema(raw)
    assert (schema.id_column, schema.name_columns, schema.feature_columns) == ("FIPS", (), ("pop", "income"))
    assert list(data.clean_table(raw, schema).frame.index) == ["1001", "1003", "1005"]


def test_schema_with_other_spellings_and_text_ids():
    raw = table("""\
        GEO_ID,state_name,county_name,Region,TotalPop,Income
        0500000US01001,Alabama,Autauga,South,55221,51281
        0500000US01003,Alabama,Baldwin,South,195121,50254
    """)
    schema = data.detect_schema(raw)
    assert schema.id_column == "GEO_ID"
    assert schema.name_columns == ("state_name", "county_name")
    assert schema.feature_columns == ("TotalPop", "Income")
    assert schema.ignored_columns == ("Region",)
    frame = data.clean_table(raw, schema).frame
    assert frame.index[0] == "Alabama-Autauga" and frame["GEO_ID"].iloc[0] == "0500000US01001"


def test_schema_without_id_or_names_labels_rows_by_number():
    raw = table("a,b\n1,2\n3,4\n5,7\n")
    schema = data.detect_schema(raw)
    assert (schema.id_column, schema.name_columns) == (None, ())
    assert list(data.clean_table(raw, schema).frame.index) == ["row 1", "row 2", "row 3"]


# --------------------------------------------------------------------------- cleaning


def test_no_numeric_columns():
    raw = table("State,County,Region\nAlabama,Autauga,South\nAlabama,Baldwin,South\n")
    with pytest.raises(DataError, match="No numeric columns found .*State, County, Region"):
        data.clean_table(raw)


def test_missing_values_drop_rows():
    raw = table(SMALL + "1009,Alabama,Blount,57710,,14.4\n1011,Alabama,,10764,31938,21.4\n")
    report = data.clean_table(raw).report
    assert (report.rows_raw, report.rows_clean) == (6, 4)
    record = report.drop("incomplete")
    assert record.count == 2 and set(record.columns) == {"Income", "County"}
    assert "Alabama-Blount (missing Income)" in record.examples
    assert "Alabama-? (missing County)" in record.examples


def test_infinite_values_drop_rows():
    raw = table(SMALL + "1009,Alabama,Blount,57710,inf,14.4\n1011,Alabama,Bullock,-inf,31938,21.4\n")
    result = data.clean_table(raw)
    record = result.report.drop("infinite")
    assert record.count == 2 and set(record.columns) == {"Income", "TotalPop"}
    assert np.isfinite(result.feature_frame.to_numpy()).all()


def test_non_numeric_cells_drop_rows():
    raw = table(SMALL + "1009,Alabama,Blount,57710,abc,14.4\n")
    result = data.clean_table(raw)
    assert "Income" in result.features
    record = result.report.drop("non_numeric")
    assert (record.count, record.columns) == (1, ["Income"])
    assert record.examples == ["Alabama-Blount (Income='abc')"]
    assert result.frame["Income"].dtype == "float64"


def test_duplicate_ids_keep_the_first_row():
    raw = table(SMALL + "1001,Alabama,Autauga again,1,2,3\n")
    result = data.clean_table(raw)
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
    result = data.clean_table(raw)
    assert result.features == ["TotalPop"] and "Pacific" not in result.frame
    record = result.report.drop("constant_column")
    assert (record.count, record.columns, record.examples) == (1, ["Pacific"], ["Pacific (always 0)"])


def test_only_constant_features_is_an_error():
    raw = table("id,a\n1,5\n2,5\n")
    with pytest.raises(DataError, match="Every chosen feature is constant"):
        data.clean_table(raw)


def test_blank_feature_column_is_dropped_not_every_row():
    raw = table("id,a,blank\n1,5,\n2,6,\n3,7,\n")
    result = data.clean_table(raw)
    assert result.report.rows_clean == 3 and result.features == ["a"]
    assert result.report.drop("empty_column").columns == ["blank"]


def test_single_row_table():
    raw = table("CensusId,State,County,TotalPop\n1001,Alabama,Autauga,55221\n")
    with pytest.raises(DataError, match="1 row.*at least 2"):
        data.clean_table(raw)


def test_one_row_left_after_cleaning():
    raw = table("id,a,b\n1,1,2\n2,,3\n3,x,4\n")
    with pytest.raises(DataError, match="(?s)Only 1 row is left.*missing values"):
        data.clean_table(raw)


def test_all_rows_dropped_names_the_column_to_exclude():
    raw = table("id,a,b\n1,1,\n2,2,\n3,3,x\n4,,5\n")
    with pytest.raises(DataError, match=r"(?s)All 4 rows were dropped.*exclude .*\(mainly b \(3 rows\), a \(1 rows\)\)"):
        data.clean_table(raw)
    assert data.clean_table(raw, features=["a"]).report.rows_clean == 3  # ...and excluding b helps


def test_feature_selection_keeps_table_order():
    raw = table(SMALL)
    result = data.clean_table(raw, features=["Poverty", "TotalPop"])
    assert result.features == ["TotalPop", "Poverty"]
    assert list(result.frame.columns) == ["CensusId", "State", "County", "TotalPop", "Poverty"]


def test_feature_selection_only_checks_chosen_columns():
    raw = table(SMALL + "1009,Alabama,Blount,57710,,14.4\n")
    assert data.clean_table(raw, features=["TotalPop", "Poverty"]).report.rows_clean == 5


def test_unknown_feature_names_list_the_valid_ones():
    with pytest.raises(DataError, match=r"Unknown feature\(s\): 'Incom' \(did you mean 'Income'\?\), 'State'\. "
                                        r"Valid features: TotalPop, Income, Poverty\."):
        data.clean_table(table(SMALL), features=["Incom", "State"])


def test_empty_feature_selection():
    with pytest.raises(DataError, match="No features selected"):
        data.clean_table(table(SMALL), features=[])


def test_repeated_labels_get_the_id():
    raw = table(SMALL + "1099,Alabama,Autauga,1,2,3\n")
    index = list(data.clean_table(raw).frame.index)
    assert "Alabama-Autauga (1001)" in index and "Alabama-Autauga (1099)" in index


def test_repeated_labels_without_ids_are_numbered():
    raw = table("State,County,a\nX,Y,1\nX,Y,2\nX,Z,3\n")
    assert list(data.clean_table(raw).frame.index) == ["X-Y", "X-Y #2", "X-Z"]


def test_schema_from_another_table_is_refused():
    with pytest.raises(DataError, match="lacks"):
        data.clean_table(table("id,a\n1,2\n3,4\n"), data.detect_schema(table(SMALL)))


def test_census_with_injected_problems(census_raw):
    raw = census_raw.copy()
    raw["Income"] = raw["Income"].astype(object)
    raw.loc[0, "Income"] = "abc"  # Alabama-Autauga
    raw.loc[1, "Poverty"] = np.inf  # Alabama-Baldwin
    raw = pd.concat([raw, raw.iloc[[2]]], ignore_index=True)  # Alabama-Barbour twice
    raw["Constant"] = 1.0
    result = data.clean_table(raw)
    report = result.report
    assert (report.rows_raw, report.rows_clean) == (3221, 3216)
    counts = {d.reason: d.count for d in report.drops}
    assert counts == {"incomplete": 2, "non_numeric": 1, "infinite": 1, "duplicate_id": 1, "constant_column": 1}
    assert len(result.features) == 34 and "Constant" not in result.features
    assert result.frame.index.is_unique
