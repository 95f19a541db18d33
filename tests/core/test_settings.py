"""workbench.core.settings: read at call time.
"""
from __future__ import annotations

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
