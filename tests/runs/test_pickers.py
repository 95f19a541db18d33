"""Run pickers say what a run is; Compare starts from the two latest completed segmentations;
SageMaker attempts that never submitted a job are found so they can be hidden or cleared."""
from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from workbench.runs import pickers
from workbench.runs.store import RunStore

NOW = datetime(2026, 5, 14, 16, 0, tzinfo=UTC)


def _listed(tmp_path) -> pd.DataFrame:
    store = RunStore(workspace=tmp_path)
    rows = [  # oldest first; list_runs gives newest first
        ("20260514-100000-aaaaaa", "segmentation", "Completed", "embedded", "Fresno group", None),
        ("20260514-110000-bbbbbb", "pca", "Completed", "embedded", "", None),
        ("20260514-120000-cccccc", "segmentation", "Failed", "sagemaker", "", "no credentials"),
        ("20260514-130000-dddddd", "segmentation", "Completed", "sagemaker-local", "", None),
        ("20260514-140000-eeeeee", "segmentation", "Failed", "embedded", "", "bad data"),
    ]
    for run_id, kind, status, backend, name, error in rows:
        created = f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:00:00+00:00"
        store.begin_run(run_id, kind=kind, backend=backend, name=name, features=["a"] * 34, created_at=created,
                        settings={"n_components": 33, "top": 5, **({"k": 7} if kind == "segmentation" else {})})
        store.end_run(run_id, status, error)
    return store.list_runs()


def test_a_run_is_described_by_name_kind_k_components_features_backend_and_age(tmp_path):
    listed = _listed(tmp_path)
    labels = pickers.labels(listed, now=NOW)
    assert list(labels) == listed["run_id"].tolist() and list(labels)[0].startswith("20260514-14")  # newest first
    assert labels["20260514-100000-aaaaaa"] == ("Fresno group · segmentation · k = 7 · 5 of 33 components · "
                                                 "34 features · embedded · 6 h ago · 20260514-100000-aaaaaa")
    assert labels["20260514-110000-bbbbbb"] == "20260514-110000-bbbbbb · pca · 5 of 33 components · 34 features · " \
                                                "embedded · 5 h ago"
    assert labels["20260514-120000-cccccc"].startswith("20260514-120000-cccccc · Failed · segmentation")


def test_a_pca_run_that_recorded_no_kept_components_shows_none_not_all_of_them(tmp_path):
    store = RunStore(workspace=tmp_path)
    store.begin_run("20260514-150000-ffffff", kind="pca", backend="embedded", features=["a"] * 34,
                    created_at="2026-05-14T15:00:00+00:00", settings={"n_components": 33})
    store.end_run("20260514-150000-ffffff", "Completed")
    listed = store.list_runs()
    row = pickers.shown_table(listed, now=NOW).iloc[0]
    assert (row["k"], row["kept"], row["components"]) == ("—", "—", "33")
    assert pickers.labels(listed, now=NOW)["20260514-150000-ffffff"] == (
        "20260514-150000-ffffff · pca · 33 components · 34 features · embedded · 1 h ago")


def test_compare_defaults_to_the_two_latest_completed_segmentations(tmp_path):
    listed = _listed(tmp_path)
    assert pickers.compare_defaults(listed) == ("20260514-100000-aaaaaa", "20260514-130000-dddddd")
    only_failed = listed[listed["status"].eq("Failed")]
    assert pickers.compare_defaults(only_failed) == ("20260514-120000-cccccc", "20260514-140000-eeeeee")
    assert pickers.compare_defaults(listed.iloc[:0]) is None


def test_failed_runs_are_hidden_unless_asked(tmp_path):
    listed = _listed(tmp_path)
    assert set(pickers.visible(listed, show_failed=False)["status"]) == {"Completed"}
    assert len(pickers.visible(listed)) == 5


def test_sagemaker_attempts_that_never_submitted_a_job_are_found(tmp_path):
    listed = _listed(tmp_path)
    # The Failed SageMaker run had no job; the Failed embedded run is a real failure, kept.
    assert pickers.unsubmitted_attempts(listed) == ["20260514-120000-cccccc"]
    assert "20260514-120000-cccccc" not in pickers.visible(listed, show_unsubmitted=False)["run_id"].tolist()


def test_the_latest_run_a_page_needs(tmp_path):
    listed = _listed(tmp_path)
    assert pickers.latest_matching(listed, "kmeans") == "20260514-130000-dddddd"
    assert pickers.latest_matching(listed, "pca") == "20260514-130000-dddddd"
    assert pickers.latest_matching(listed[listed["kind"].eq("pca")], "pca") == "20260514-110000-bbbbbb"
    assert pickers.latest_matching(listed[listed["kind"].eq("pca")], "kmeans") is None


def test_the_runs_table_reads_as_words_and_numbers_for_people(tmp_path):
    listed = _listed(tmp_path)
    table = pickers.shown_table(listed, now=NOW)
    first = table[table["run id"].eq("20260514-100000-aaaaaa")].iloc[0]
    assert (first["name"], first["k"], first["kept"], first["features"]) == ("Fresno group", "7", "5", "34")
    assert first["created"].endswith("(6 h ago)") and first["took"] == "—" and first["cost"] == "—"
    assert table["run id"].tolist() == listed["run_id"].tolist()
