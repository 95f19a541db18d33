"""workbench.core.sources: paths, uploads, s3:// and the default object.
"""
from __future__ import annotations

import builtins
import hashlib
import io
import os
import textwrap
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from tests.support.tables import SMALL, cached_default, put_default
from workbench.core import cleaning, parsing, settings, sources
from workbench.core.errors import DataError

# --------------------------------------------------------------------------- sources


def test_path_source_accepts_str_and_path(census_csv):
    assert sources.load_table(str(census_csv)).shape == sources.load_table(census_csv).shape == (3220, 37)


def test_uploaded_bytes(census_bytes):
    raw = sources.load_table(census_bytes)
    assert raw.shape == (3220, 37)
    assert raw.attrs[parsing.SOURCE_ATTR] == "uploaded data"


def test_uploaded_file_object_with_name(census_bytes):
    upload = io.BytesIO(census_bytes)
    upload.name = "/somewhere/counties.csv"
    upload.read()  # an upload read once before (a Streamlit rerun) must still load whole
    raw = sources.load_table(upload)
    assert raw.shape == (3220, 37)
    assert raw.attrs[parsing.SOURCE_ATTR] == "uploaded file 'counties.csv'"


def test_uploaded_text_file_object():
    raw = sources.load_table(io.StringIO(textwrap.dedent(SMALL)))
    assert raw.shape == (4, 6)


def test_unsupported_source_type():
    with pytest.raises(DataError, match="Cannot load data from a int"):
        sources.load_table(42)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="File not found: .*nope.csv"):
        sources.load_table(tmp_path / "nope.csv")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        sources.load_table(tmp_path)


# --------------------------------------------------------------------------- the default source


def test_default_source_reads_local_copy_when_env_set(monkeypatch, census_csv):
    monkeypatch.setenv(settings.ENV_DEFAULT_DATA, str(census_csv))
    monkeypatch.setattr(sources, "s3_client", lambda **_: pytest.fail("must not touch S3"))
    raw = sources.load_table(None)
    assert raw.shape == (3220, 37)
    description = raw.attrs[parsing.SOURCE_ATTR]
    assert str(census_csv) in description and settings.ENV_DEFAULT_DATA in description
    assert "the walkthrough's file" in description
    assert cleaning.clean_table(raw).report.rows_clean == 3218


def test_default_source_env_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.ENV_DEFAULT_DATA, str(tmp_path / "missing.csv"))
    with pytest.raises(DataError, match=f"File not found.*{settings.ENV_DEFAULT_DATA}"):
        sources.load_table(None)


def test_default_source_fetches_public_object_anonymously(s3, census_bytes, tmp_path):
    put_default(s3, census_bytes, ACL="public-read")
    raw = sources.load_table(None)
    assert raw.shape == (3220, 37)
    assert sources.DEFAULT_URI in raw.attrs[parsing.SOURCE_ATTR]
    cached = cached_default(tmp_path)
    assert hashlib.md5(cached.read_bytes()).hexdigest() == sources.DEFAULT_MD5
    assert [p.name for p in cached.parent.iterdir()] == [sources.DEFAULT_KEY]  # no temp files left


def test_default_source_reuses_the_cache(s3, census_bytes):
    put_default(s3, census_bytes, ACL="public-read")
    sources.load_default()
    s3.delete_object(Bucket=sources.DEFAULT_BUCKET, Key=sources.DEFAULT_KEY)
    assert sources.load_default().shape == (3220, 37)


def test_default_source_refetches_a_corrupt_cache(s3, census_bytes, tmp_path):
    put_default(s3, census_bytes, ACL="public-read")
    cached = cached_default(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"CensusId,State\n1,truncated")
    assert sources.load_default().shape == (3220, 37)
    assert cached.read_bytes() == census_bytes


def test_default_source_over_the_size_limit_is_refused_cached_or_downloaded(s3, census_bytes, tmp_path,
                                                                             monkeypatch):
    put_default(s3, census_bytes, ACL="public-read")
    sources.load_default()  # cached
    monkeypatch.setenv(settings.ENV_MAX_DATA_BYTES, "1000")
    with pytest.raises(DataError, match="cached copy .* over the 1,000-byte limit"):
        sources.load_default()  # not taken for a cache miss and downloaded again, unchecked
    cached_default(tmp_path).unlink()
    with pytest.raises(DataError, match="download .* over the 1,000-byte limit"):
        sources.load_default()
    assert list(cached_default(tmp_path).parent.iterdir()) == []  # nothing half-written is left


def test_default_source_rejects_wrong_md5(s3, census_bytes, tmp_path):
    put_default(s3, census_bytes.replace(b"Autauga", b"Autauka"), ACL="public-read")
    with pytest.raises(DataError, match=f"md5 .*expected {sources.DEFAULT_MD5}.*{settings.ENV_DEFAULT_DATA}"):
        sources.load_default()
    cache = cached_default(tmp_path).parent
    assert not cache.exists() or list(cache.iterdir()) == []  # nothing half-written is left


def test_default_source_md5_is_injectable(s3, tmp_path):
    body = textwrap.dedent(SMALL).encode()
    put_default(s3, body, ACL="public-read")
    raw = sources.load_default(expected_md5=hashlib.md5(body).hexdigest(), cache_dir=tmp_path / "other")
    assert raw.shape == (4, 6)
    assert (tmp_path / "other" / sources.DEFAULT_BUCKET / sources.DEFAULT_KEY).read_bytes() == body


def test_default_source_private_object_is_access_denied(s3, census_bytes):
    put_default(s3, census_bytes)  # no public-read ACL: anonymous reads are refused
    with pytest.raises(DataError, match="Access to .* was denied"):
        sources.load_default()


def test_default_source_without_network():
    class Offline:
        def get_object(self, **_):
            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")

    with pytest.raises(DataError, match=f"no network.*{settings.ENV_DEFAULT_DATA}"):
        sources.load_default(client=Offline())


# --------------------------------------------------------------------------- s3:// URIs


def test_s3_uri_source(s3, census_bytes):
    s3.create_bucket(Bucket="analyst-bucket")
    s3.put_object(Bucket="analyst-bucket", Key="in/counties.csv", Body=census_bytes)
    raw = sources.load_table("s3://analyst-bucket/in/counties.csv")  # private: signed with moto's credentials
    assert raw.shape == (3220, 37)
    assert raw.attrs[parsing.SOURCE_ATTR] == "s3://analyst-bucket/in/counties.csv"


def test_s3_public_object_reads_unsigned(s3, census_bytes):
    put_default(s3, census_bytes, ACL="public-read")
    raw = sources.read_s3_uri(sources.DEFAULT_URI, client=sources.s3_client(anonymous=True))
    assert raw.shape == (3220, 37)


def test_s3_client_is_unsigned_without_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from botocore import UNSIGNED

    assert sources.s3_client().meta.config.signature_version is UNSIGNED
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert sources.s3_client().meta.config.signature_version is not UNSIGNED


def test_s3_missing_object(s3):
    with pytest.raises(DataError, match="There is no object s3://.*/nope.csv"):
        sources.load_table(f"s3://{sources.DEFAULT_BUCKET}/nope.csv")


def test_s3_missing_bucket(s3):
    with pytest.raises(DataError, match="bucket of s3://no-such-bucket/x.csv does not exist"):
        sources.load_table("s3://no-such-bucket/x.csv")


def test_s3_access_denied(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = sources.s3_client(anonymous=True)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(DataError, match="denied.*credentials"):
            sources.read_s3_uri("s3://private-bucket/counties.csv", client=client)


@pytest.mark.parametrize("uri", ["s3://bucket-only", "s3:///key.csv"])
def test_malformed_s3_uri(uri):
    with pytest.raises(DataError, match="s3://bucket/path"):
        sources.load_table(uri)


# --------------------------------------------------------------------------- bounded reads


def test_a_fifo_as_data_is_refused_at_once(tmp_path):
    import os

    fifo = tmp_path / "counties.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="named pipe .*not a regular file"):
        sources.load_table(fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_as_data_are_refused_at_once(device):
    with pytest.raises(DataError, match="character device"):
        sources.load_table(device)


def test_files_over_the_data_cap_are_refused_before_reading(monkeypatch, tmp_path):
    path = tmp_path / "counties.csv"
    path.write_bytes(textwrap.dedent(SMALL).encode())
    monkeypatch.setenv(settings.ENV_MAX_DATA_BYTES, "100")
    with pytest.raises(DataError, match=f"over the 100-byte limit \\({settings.ENV_MAX_DATA_BYTES}\\)") as info:
        sources.load_table(path)
    assert "Autauga" not in str(info.value)  # never the file's contents
    with pytest.raises(DataError, match="The uploaded data is .* over the 100-byte limit"):
        sources.load_table(textwrap.dedent(SMALL).encode())
    upload = io.BytesIO(textwrap.dedent(SMALL).encode())
    with pytest.raises(DataError, match="over the 100-byte limit"):
        sources.load_table(upload)


def test_s3_objects_over_the_data_cap_are_refused_before_reading(s3, monkeypatch):
    s3.create_bucket(Bucket="analyst-bucket")
    s3.put_object(Bucket="analyst-bucket", Key="big.csv", Body=textwrap.dedent(SMALL).encode())
    monkeypatch.setenv(settings.ENV_MAX_DATA_BYTES, "100")
    with pytest.raises(DataError, match="S3 object s3://analyst-bucket/big.csv is .* over the 100-byte limit"):
        sources.load_table("s3://analyst-bucket/big.csv")


def test_the_s3_client_honours_aws_region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert sources.s3_client(anonymous=True).meta.region_name == "eu-central-1"


# --------------------------------------------------------------------------- paths users type


def test_allowed_path_keeps_paths_inside_the_roots(tmp_path):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    assert sources.allowed_path(root / "sub" / "x.csv", [root]) == (root / "sub" / "x.csv").resolve()
    assert sources.allowed_path(root / "sub" / ".." / "x.csv", [root]) == (root / "x.csv").resolve()


@pytest.mark.parametrize("escape", ["/etc/passwd", "../outside.csv", "link/passwd"])
def test_allowed_path_refuses_escapes_without_reading(tmp_path, monkeypatch, escape):
    root = tmp_path / "data"
    root.mkdir()
    (root / "link").symlink_to("/etc")
    monkeypatch.chdir(root)
    with pytest.raises(DataError, match=f"outside the folders this app reads .*{settings.ENV_ALLOWED_ROOTS}") as info:
        sources.allowed_path(escape, [root])
    assert "root:" not in str(info.value)


def test_check_user_source_defaults_to_working_directory_and_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(settings.ENV_WORKSPACE, str(tmp_path / "ws"))
    monkeypatch.delenv(settings.ENV_ALLOWED_ROOTS, raising=False)
    assert sources.check_user_source(" counties.csv ") == str(tmp_path.resolve() / "counties.csv")
    assert sources.check_user_source("s3://bucket/key.csv") == "s3://bucket/key.csv"
    with pytest.raises(DataError, match="outside"):
        sources.check_user_source("/dev/zero")
    with pytest.raises(DataError, match="Type the path"):
        sources.check_user_source("  ")


def test_refusals_advise_by_their_reason(monkeypatch, tmp_path):
    path = tmp_path / "counties.csv"
    path.write_bytes(textwrap.dedent(SMALL).encode())
    monkeypatch.setenv(settings.ENV_MAX_DATA_BYTES, "100")
    with pytest.raises(DataError) as info:
        sources.load_table(path)
    assert "Check the path" not in str(info.value) and "python -m workbench stream FILE.parquet" in str(info.value)
    with pytest.raises(DataError, match="python -m workbench stream FILE.parquet"):
        sources.load_table(textwrap.dedent(SMALL).encode())
    with pytest.raises(DataError, match="Check the path"):
        sources.load_table(tmp_path / "missing.csv")
    assert "segment --parquet" not in settings.max_data_bytes.__doc__


def test_the_cached_default_is_read_once(monkeypatch, tmp_path):
    data = textwrap.dedent(SMALL).encode()
    target = tmp_path / sources.DEFAULT_BUCKET / sources.DEFAULT_KEY
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    monkeypatch.delenv(settings.ENV_DEFAULT_DATA, raising=False)
    opened = []  # every open of the cached file, by any route (builtins.open or os.open)
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *a, **k):
        if isinstance(file, (str, bytes, os.PathLike)) and Path(os.fsdecode(file)) == target:
            opened.append("open")
        return real_open(file, *a, **k)

    def spy_os_open(file, *a, **k):
        if Path(os.fsdecode(file)) == target:
            opened.append("os.open")
        return real_os_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    found = sources.read_default(expected_md5=hashlib.md5(data).hexdigest(), cache_dir=tmp_path)
    assert found.data == data and opened == ["os.open"]
