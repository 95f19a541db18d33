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


def _old_write_labels(table, path):
    """write_labels before its speed-up: protect every frame, Table.from_pandas."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from workbench.core import csv_out

    key = "county" if "county" not in table.columns else "county key"
    frame = csv_out.protect_frame(table.rename_axis(key).reset_index())
    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))


def _labeled(names, states):
    import numpy as np
    import pandas as pd

    index = pd.Index([f"{s}-{n}" for s, n in zip(states, names)], name="label")
    return pd.DataFrame({"CensusId": np.arange(len(names)), "State": pd.Series(states, index=index, dtype="str"),
                         "County": pd.Series(names, index=index, dtype=object),
                         "pc1": np.array([0.5, np.nan, -1.25], np.float32), "cluster": np.array([0, 1, 1]),
                         "distance_to_cluster": [0.1, np.nan, 2.0]}, index=index)


def test_labels_are_written_as_before_with_and_without_formula_like_text(tmp_path):
    import pandas as pd

    for names, states in ((["Autauga", "Baldwin", "Doña Ana"], ["Alabama", "Alabama", "New Mexico"]),
                          (["=cmd|' /C calc'!A0", "+1", "Plain"], ["Alabama", "@home", "'-x"])):
        table = _labeled(names, states)
        folders.write_labels(table, tmp_path / "new.csv")
        _old_write_labels(table, tmp_path / "old.csv")
        assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()
        back = folders.read_labels(tmp_path / "new.csv")
        assert back["County"].tolist() == names and back["State"].tolist() == states
        assert pd.isna(back["pc1"].iloc[1]) and back.index.tolist() == table.index.tolist()
    table = _labeled(["a", "b", "c"], ["x", "y", "z"]).rename(columns={"pc1": "=pc1"})
    folders.write_labels(table, tmp_path / "new.csv")
    _old_write_labels(table, tmp_path / "old.csv")
    assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()
