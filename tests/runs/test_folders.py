"""Run folders: the library versions a run records."""
from __future__ import annotations

from importlib import metadata

from workbench.runs import folders


def test_library_versions_are_the_installed_distributions():
    """Read off the dist-info folders (importlib.metadata costs ~15 ms a CLI run), yet the same
    versions importlib.metadata reports, for every tracked library that is installed."""
    versions = folders.library_versions()
    for name in folders.TRACKED_LIBRARIES:
        try:
            expected = metadata.version(name)
        except metadata.PackageNotFoundError:
            assert name not in versions
            continue
        assert versions[name] == expected, name
    assert versions["python"].count(".") == 2


def test_an_unlisted_distribution_falls_back_to_importlib_metadata(monkeypatch):
    monkeypatch.setattr(folders, "_installed_versions", lambda: {})
    folders._library_versions.cache_clear()
    try:
        assert folders.library_versions()["numpy"] == metadata.version("numpy")
    finally:
        folders._library_versions.cache_clear()
