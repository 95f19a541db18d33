"""workbench.core.settings: read at call time.
"""
from __future__ import annotations

import pytest

from workbench.core import settings

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


# --------------------------------------------------------------------------- bounds and roots
@pytest.mark.parametrize("value, expected", [("", 512 << 20), ("1000", 1000), ("64M", 64 << 20), ("2g", 2 << 30),
                                             (" 10 KiB ", 10 << 10), ("7B", 7)])
def test_max_data_bytes_reads_sizes(monkeypatch, value, expected):
    monkeypatch.setenv(settings.ENV_MAX_DATA_BYTES, value)
    assert settings.max_data_bytes() == expected


@pytest.mark.parametrize("value", ["-1", "0", "lots", "1.5G", "12 parsecs"])
def test_unusable_limits_name_the_variable(monkeypatch, value):
    monkeypatch.setenv(settings.ENV_MAX_DATA_BYTES, value)
    with pytest.raises(settings.SettingsError, match=f"{settings.ENV_MAX_DATA_BYTES} must be"):
        settings.max_data_bytes()
    monkeypatch.setenv(settings.ENV_MAX_COLUMNS, value)
    with pytest.raises(settings.SettingsError, match=f"{settings.ENV_MAX_COLUMNS} must be a positive whole"):
        settings.max_columns()


def test_max_columns_default_and_override(monkeypatch):
    monkeypatch.delenv(settings.ENV_MAX_COLUMNS, raising=False)
    assert settings.max_columns() == settings.DEFAULT_MAX_COLUMNS
    monkeypatch.setenv(settings.ENV_MAX_COLUMNS, "50")
    assert settings.max_columns() == 50


def test_allowed_roots_default_to_working_directory_and_workspace(monkeypatch, tmp_path):
    monkeypatch.delenv(settings.ENV_ALLOWED_ROOTS, raising=False)
    monkeypatch.setenv(settings.ENV_WORKSPACE, str(tmp_path / "ws"))
    monkeypatch.chdir(tmp_path)
    assert settings.allowed_roots() == [tmp_path, tmp_path / "ws"]
    monkeypatch.setenv(settings.ENV_ALLOWED_ROOTS, f"{tmp_path / 'a'}:  :{tmp_path / 'b'}")
    assert settings.allowed_roots() == [tmp_path / "a", tmp_path / "b"]


def test_aws_region_prefers_aws_region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert settings.aws_region() == "us-west-2"
    monkeypatch.setenv("AWS_REGION", " ")
    assert settings.aws_region() == "eu-west-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert settings.aws_region() is None
