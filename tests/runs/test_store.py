"""The run registry: round trips, names history, migrations, crash safety, restart and re-attach.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# --- the cloud backend, played by moto ----------------------------------------------------------------------
from backends import sagemaker_common
from backends.base import TrainingJob
from tests.support.sagemaker_harness import BUCKET, ROLE
from workbench.cli import main as cli
from workbench.core import pipeline
from workbench.runs import folders, migrations, records, segment
from workbench.runs import folders as runs
from workbench.runs import manifest as manifest_mod
from workbench.runs.reattach import reattach
from workbench.runs.records import RegistryError
from workbench.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]
SMALL = {"n_components": 6, "top": 3, "k": 4}


@pytest.fixture(scope="module")
def walkthrough(census_csv, tmp_path_factory):
    """One small embedded run in its own workspace (read-only for the tests that use it)."""
    workspace = tmp_path_factory.mktemp("ws")
    return segment.run_segmentation(census_csv, workspace=workspace, seed=2, **SMALL), workspace


def _run(reg: RunStore, run_id: str, *, backend="embedded", status="Completed", kind="segmentation", **fields):
    """A run recorded through the registry API alone (no folder)."""
    reg.begin_run(run_id, kind=kind, backend=backend, **fields)
    if status != "InProgress":
        reg.end_run(run_id, status)
    return run_id


# --- schema ----------------------------------------------------------------------------------------
def test_schema_is_versioned_and_the_database_is_in_wal_mode(tmp_path):
    reg = RunStore(workspace=tmp_path)
    assert reg.path == tmp_path / "registry.sqlite3"
    assert reg.schema_version() == len(migrations.MIGRATIONS)
    with sqlite3.connect(reg.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "jobs", "names"} <= tables


def test_the_registry_path_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(migrations.ENV_REGISTRY, str(tmp_path / "elsewhere" / "runs.db"))
    reg = RunStore(workspace=tmp_path / "ws")
    assert reg.path == tmp_path / "elsewhere" / "runs.db" and reg.path.is_file()


def test_migrations_upgrade_an_older_registry_in_place(tmp_path, monkeypatch):
    reg = RunStore(workspace=tmp_path)
    _run(reg, "r1", name="kept")
    upgraded = migrations.MIGRATIONS + (("ALTER TABLE runs ADD COLUMN note TEXT",
                                       "UPDATE runs SET note = 'migrated'"),)
    monkeypatch.setattr(migrations, "MIGRATIONS", upgraded)
    again = RunStore(workspace=tmp_path)
    assert again.schema_version() == len(upgraded)
    assert again.get("r1").name == "kept"
    with sqlite3.connect(again.path) as conn:
        assert conn.execute("SELECT note FROM runs").fetchone()[0] == "migrated"
    RunStore(workspace=tmp_path)  # applied once: a second open changes nothing (ALTER would fail)


def test_a_registry_from_a_newer_workbench_is_refused(tmp_path):
    reg = RunStore(workspace=tmp_path)
    with sqlite3.connect(reg.path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RegistryError, match="newer"):
        RunStore(workspace=tmp_path)


def test_a_damaged_registry_file_is_a_clear_error(tmp_path):
    (tmp_path / "registry.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegistryError, match="registry"):
        RunStore(workspace=tmp_path)


def test_a_failed_commit_rolls_back_and_the_session_goes_on(tmp_path):
    reg = RunStore(workspace=tmp_path)
    with reg.session():
        with pytest.raises(RegistryError, match="FOREIGN KEY"):
            with reg._transaction() as conn:  # a deferred foreign key fails only at COMMIT
                conn.execute("PRAGMA defer_foreign_keys = ON")
                conn.execute("INSERT INTO jobs (run_id, algorithm, backend, status) "
                             "VALUES ('no-such-run', 'pca', 'embedded', 'Completed')")
        _run(reg, "after-the-failure")  # the shared connection is not left inside a transaction
        assert reg.exists("after-the-failure")
    with sqlite3.connect(reg.path) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


# --- round trips -----------------------------------------------------------------------------------
def test_a_pipeline_run_is_recorded_with_everything_it_used(walkthrough):
    result, workspace = walkthrough
    run = RunStore(workspace=workspace).get(result.run_id)
    manifest = manifest_mod.read(result.run_dir)
    assert (run.kind, run.status, run.backend, run.origin) == ("segmentation", "Completed", "embedded", "pipeline")
    assert run.run_dir == result.run_dir
    assert run.data_fingerprint == result.prepared.fingerprint == manifest["data_fingerprint"]
    assert run.features == result.prepared.features and len(run.features) == 34
    assert run.scaler == result.prepared.scaler.to_dict()
    assert run.seed == 2 and (run.n_components, run.top, run.k) == (6, 3, 4)
    assert run.library_versions["numpy"] == np.__version__
    assert set(run.timings) == {"prepare", "pca", "project", "kmeans", "labels", "record"}
    assert run.seconds > 0 and run.cost_usd == 0.0 and run.n_counties == 3218
    assert run.source_ref == str(Path(result.prepared.source_description.split(" ", 2)[-1]).resolve())
    pca, kmeans = run.jobs["pca"], run.jobs["kmeans"]
    assert pca.job_name == result.pca.job.job_name and kmeans.job_name == result.kmeans.job.job_name
    assert pca.hyperparameters == manifest["pca"]["hyperparameters"]  # as JSON keeps them (tuples → lists)
    assert kmeans.hyperparameters == manifest["kmeans"]["hyperparameters"]
    assert kmeans.hyperparameters["k"] == 4 and pca.hyperparameters["num_components"] == 6
    assert pca.status == kmeans.status == "Completed"
    np.testing.assert_array_equal(run.pca_model().v, result.pca.model.v)
    np.testing.assert_array_equal(run.kmeans_model().centroids, result.kmeans.model.centroids)
    saved, fresh = run.labels(), result.labeled()
    assert list(saved.index) == list(fresh.index)
    np.testing.assert_array_equal(saved["cluster"], fresh["cluster"])
    np.testing.assert_allclose(saved["pc1"], fresh["pc1"], rtol=1e-6)


def test_every_field_survives_a_round_trip(tmp_path):
    reg = RunStore(workspace=tmp_path)
    scaler = {"recipe": "zscore", "features": ["a", "b"], "n_samples": 3, "params": {"mean": [0.5, 1.0]}}
    reg.begin_run("r1", kind="segmentation", backend="sagemaker", name="  First  ", source="s3://b/k.csv",
                  source_ref="s3://b/k.csv", data_fingerprint="f" * 64, features=["a", "b"], scaler=scaler, seed=7,
                  settings={"n_components": 2, "top": 1, "k": 3}, library_versions={"numpy": "1"})
    record = {"job_name": "county-wb-pca-1", "algorithm": "pca", "backend": "sagemaker", "region": "eu-west-1",
              "seed": 7, "submitted": "2024-01-02T03:04:05Z", "instance_type": "ml.m5.large", "instance_count": 1}
    reg.job_submitted("r1", record)
    in_flight = reg.get("r1").jobs["pca"]
    assert (in_flight.status, in_flight.submitted_at, in_flight.region) == ("InProgress", "2024-01-02T03:04:05Z",
                                                                          "eu-west-1")
    folder = tmp_path / "runs" / "r1"
    (folder / "pca").mkdir(parents=True)
    (folder / "pca" / "model.tar.gz").write_bytes(b"x")
    (folder / runs.MANIFEST).write_text("{}")
    job = TrainingJob("pca", "sagemaker", "county-wb-pca-1", {"num_components": 2, "feature_dim": 2},
                      folder / "pca" / "model.tar.gz", 12.5,
                      {"status": "Completed", "billable_seconds": 42, "estimated_cost_usd": 0.0013,
                       "job_arn": "arn:aws:sagemaker:eu-west-1:1:training-job/county-wb-pca-1",
                       "instance_type": "ml.m5.large", "instance_count": 1, "region": "eu-west-1"})
    reg.job_finished("r1", job, "pca/model.tar.gz")
    reg.published("r1", folder, timings={"pca": 12.5}, n_counties=3)

    run = RunStore(workspace=tmp_path).get("r1")  # a fresh object: nothing cached
    assert (run.name, run.display_name, run.kind, run.backend) == ("First", "First", "segmentation", "sagemaker")
    assert run.status == "Incomplete"  # no K-Means job, though a segmentation expects one
    assert (run.source, run.source_ref, run.data_fingerprint) == ("s3://b/k.csv", "s3://b/k.csv", "f" * 64)
    assert (run.features, run.scaler, run.seed) == (["a", "b"], scaler, 7)
    assert (run.settings, run.library_versions, run.timings) == ({"n_components": 2, "top": 1, "k": 3},
                                                                {"numpy": "1"}, {"pca": 12.5})
    assert (run.n_counties, run.cost_usd, run.run_dir) == (3, 0.0013, folder)
    pca = run.jobs["pca"]
    assert (pca.status, pca.job_name, pca.job_arn) == ("Completed", "county-wb-pca-1",
                                                       "arn:aws:sagemaker:eu-west-1:1:training-job/county-wb-pca-1")
    assert (pca.seconds, pca.billable_seconds, pca.cost_usd) == (12.5, 42, 0.0013)
    assert (pca.submitted_at, pca.instance_type, pca.instance_count) == ("2024-01-02T03:04:05Z", "ml.m5.large", 1)
    assert pca.hyperparameters == {"num_components": 2, "feature_dim": 2}
    assert run.artifact_path("pca") == folder / "pca" / "model.tar.gz"
    json.dumps(run.to_dict(), default=str)  # JSON-able for the CLI and the pages


def test_a_failed_run_is_recorded_without_a_folder(census_csv, tmp_path, monkeypatch):
    # segment refuses a k larger than the rows up front; without that check the K-Means job fails mid-run.
    monkeypatch.setattr(segment, "check_kmeans_against_data", lambda *args: None)
    with pytest.raises(ValueError, match="k"):
        segment.run_segmentation(census_csv, workspace=tmp_path, n_components=4, top=2, k=5000)
    runs_list = RunStore(workspace=tmp_path).list_runs()
    assert list(runs_list["status"]) == ["Failed"] and runs_list["run_dir"].isna().all()
    failed = RunStore(workspace=tmp_path).get(runs_list["run_id"][0])
    assert "k" in failed.error and failed.jobs["pca"].status == "Completed"
    assert list((tmp_path / "runs").iterdir()) == []


def test_an_unknown_backend_is_refused_before_anything_is_recorded(census_csv, tmp_path):
    with pytest.raises(ValueError, match="Unknown backend"):
        segment.run_segmentation(census_csv, workspace=tmp_path, backend="mainframe")
    assert RunStore(workspace=tmp_path).list_runs().empty


# --- listing, names, rename, delete ----------------------------------------------------------------------
def test_runs_are_listed_newest_first_and_filtered(tmp_path):
    reg = RunStore(workspace=tmp_path)
    _run(reg, "r1", backend="embedded", status="Completed")
    _run(reg, "r2", backend="sagemaker", status="Completed", name="cloud")
    _run(reg, "r3", backend="sagemaker", status="Failed")
    _run(reg, "r4", backend="local", status="InProgress", kind="pca")
    table = reg.list_runs()
    assert list(table.columns) == records.LIST_COLUMNS
    assert list(table["run_id"]) == ["r4", "r3", "r2", "r1"]
    assert list(table["display_name"]) == ["r4", "r3", "cloud", "r1"]
    assert list(reg.list_runs(backend="sagemaker")["run_id"]) == ["r3", "r2"]
    assert list(reg.list_runs(backend="local")["run_id"]) == ["r4", "r1"]  # the alias of embedded
    assert list(reg.list_runs(status=["Failed", "InProgress"])["run_id"]) == ["r4", "r3"]
    assert list(reg.list_runs({"backend": "sagemaker", "status": "Completed"})["run_id"]) == ["r2"]
    assert list(reg.list_runs(kind="pca")["run_id"]) == ["r4"]
    assert list(reg.list_runs(search="CLO")["run_id"]) == ["r2"]
    assert list(reg.list_runs(limit=1)["run_id"]) == ["r4"]
    with pytest.raises(ValueError, match="Unknown run filter"):
        reg.list_runs({"colour": "red"})


def test_runs_resolve_by_id_prefix_or_name(tmp_path):
    reg = RunStore(workspace=tmp_path)
    _run(reg, "20240101-000000-aaaaaa", name="Seven clusters")
    _run(reg, "20240101-000000-bbbbbb")
    assert reg.resolve("20240101-000000-a") == "20240101-000000-aaaaaa"
    assert reg.resolve("seven clusters") == "20240101-000000-aaaaaa"
    assert reg.resolve("Seven") == "20240101-000000-aaaaaa"
    with pytest.raises(RegistryError, match="matches 2 runs"):
        reg.resolve("20240101")
    with pytest.raises(RegistryError, match="No run"):
        reg.get("nope")


def test_an_exact_name_wins_over_an_id_prefix_and_names_cannot_shadow_ids(tmp_path):
    reg = RunStore(workspace=tmp_path)
    _run(reg, "20240101-000000-aaaaaa")
    _run(reg, "20240101-000000-bbbbbb", name="cafe")
    _run(reg, "20240101-000000-cccccc")
    assert reg.resolve("cafe") == "20240101-000000-bbbbbb"
    with pytest.raises(ValueError, match="starts the id of run 20240101-000000-aaaaaa"):
        reg.rename("20240101-000000-cccccc", "20240101-000000-a")
    with pytest.raises(ValueError, match="looks like the start of a run id"):
        reg.rename("20240101-000000-cccccc", "2025")
    assert reg.get("20240101-000000-cccccc").name == ""
    with pytest.raises(ValueError, match="control"):
        reg.rename("20240101-000000-cccccc", "evil\x1b[2J")


def test_names_that_would_overwrite_a_key_column_are_refused(walkthrough):
    result, workspace = walkthrough
    reg = RunStore(workspace=workspace)
    with pytest.raises(ValueError, match="the table's column 'County'"):
        reg.set_names(result.run_id, components={0: "county"})
    with pytest.raises(ValueError, match="the workbench's column 'cluster_name'"):
        reg.set_names(result.run_id, clusters={1: "Cluster_Name"})
    with pytest.raises(ValueError, match="unique"):
        reg.set_names(result.run_id, clusters={1: "cluster 2"})  # another cluster's default name
    assert reg.names_history(result.run_id).empty


def test_labels_are_saved_safe_for_spreadsheets_and_read_back_as_typed(tmp_path):
    table = pd.DataFrame({"County": ["=HYPERLINK(\"http://x\",\"y\")", "-Bibb", "Baldwin"], "cluster": [0, 1, 0],
                          "pc1": [-1.5, 0.25, 2.0]}, index=pd.Index(["a", "@b", "c"]))
    path = tmp_path / folders.LABELS
    folders.write_labels(table, path)
    text = path.read_text()
    assert "'=HYPERLINK" in text and "'-Bibb" in text and "'@b" in text and ",-1.5" in text
    back = folders.read_labels(path)
    assert back["County"].tolist() == table["County"].tolist() and back.index.tolist() == ["a", "@b", "c"]
    assert back["pc1"].tolist() == [-1.5, 0.25, 2.0]


def test_names_keep_every_edit_with_its_timestamp(walkthrough, tmp_path):
    result, workspace = walkthrough
    reg = RunStore(workspace=workspace)
    run_id = result.run_id
    try:
        reg.set_names(run_id, components=["Poverty", None, "Commute"], clusters={2: "Rural"})
        reg.set_names(run_id, components={0: "Deprivation"}, clusters=["Urban", None, "Rural"])  # Rural: no change
        reg.rename(run_id, "Small k")
        run = reg.get(run_id)
        assert run.component_names == ["Deprivation", "", "Commute"]
        assert run.cluster_names == ["Urban", "", "Rural", ""]
        assert run.name == "Small k"
        history = reg.names_history(run_id)
        assert list(zip(history["target"], history["position"], history["name"])) == [
            ("component", 0, "Poverty"), ("component", 2, "Commute"), ("cluster", 2, "Rural"),
            ("component", 0, "Deprivation"), ("cluster", 0, "Urban"), ("run", 0, "Small k")]
        stamps = list(history["edited_at"])
        assert stamps == sorted(stamps) and all(s.endswith("+00:00") for s in stamps)
        saved = json.loads((result.run_dir / folders.NAMES).read_text())
        assert saved["components"] == run.component_names and len(saved["history"]) == 6
        labeled = run.labeled()
        assert list(labeled.columns[3:6]) == ["Deprivation", "pc2", "Commute"]
        assert set(labeled.loc[labeled["cluster"] == 0, "cluster_name"]) == {"Urban"}
        assert set(labeled.loc[labeled["cluster"] == 1, "cluster_name"]) == {"cluster 1"}
        with pytest.raises(ValueError, match="unique"):
            reg.set_names(run_id, components={1: "Commute"})
        with pytest.raises(ValueError, match="no component 3"):
            reg.set_names(run_id, components={3: "Extra"})
        with pytest.raises(ValueError, match="no cluster 4"):
            reg.set_names(run_id, clusters={4: "Extra"})
        assert len(reg.names_history(run_id)) == 6  # refused edits leave no trace
    finally:  # leave the shared run unnamed
        reg.set_names(run_id, components=["", "", ""], clusters=["", "", "", ""])
        reg.rename(run_id, "")


def test_delete_removes_the_folder_the_jobs_and_the_names(census_csv, tmp_path):
    result = segment.run_segmentation(census_csv, workspace=tmp_path, **SMALL)
    reg = RunStore(workspace=tmp_path)
    reg.set_names(result.run_id, clusters=["A"])
    reg.delete(result.run_id)
    assert not result.run_dir.exists() and list((tmp_path / "runs").iterdir()) == []
    assert reg.list_runs().empty and reg.names_history().empty
    with sqlite3.connect(reg.path) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_concurrent_writers_from_many_threads_all_land(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    reg = RunStore(workspace=tmp_path)

    def write(i):
        run_id = _run(RunStore(workspace=tmp_path), f"r{i:02d}", backend="embedded", settings={"k": 3})
        for edit in range(3):
            reg.set_names(run_id, clusters={edit: f"cluster {i}.{edit}"})
        reg.rename(run_id, f"run {i}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(16)))
    assert len(reg.list_runs()) == 16
    assert len(reg.names_history()) == 16 * 4
    assert reg.get("r07").cluster_names == ["cluster 7.0", "cluster 7.1", "cluster 7.2"]


def test_a_session_shares_one_connection_and_other_connections_see_its_commits(tmp_path, monkeypatch):
    reg = RunStore(workspace=tmp_path)
    opened = []
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(a) or real_connect(*a, **k))
    with reg.session():
        _run(reg, "r01", settings={"k": 3})
        reg.rename("r01", "first")
        reg.get("r01")
        assert len(opened) == 1  # begin, end, rename and get: one connection
        assert RunStore(workspace=tmp_path).get("r01").name == "first"  # committed, seen by a second store
    with reg.session():
        with pytest.raises(ValueError, match="Unknown status"):
            reg.end_run("r01", "Sideways")
        with pytest.raises(RegistryError, match="failed"):  # SQLite's errors are reported inside a session too
            with reg._transaction() as conn:
                conn.execute("SELECT * FROM no_such_table")
        assert reg.get("r01").status == "Completed"  # the session's connection still works after both
    opened.clear()
    reg.get("r01")
    assert len(opened) == 2  # outside a session: a connection per call again (resolve, then read)


def test_a_run_still_being_written_is_not_deleted(tmp_path):
    reg = RunStore(workspace=tmp_path)
    _run(reg, "live", status="InProgress")  # owned by this (living) process
    with pytest.raises(RegistryError, match="still being written"):
        reg.delete("live")
    reg.delete("live", force=True)
    assert reg.list_runs().empty


def test_rerun_settings_repeat_a_run_on_another_backend(walkthrough):
    result, workspace = walkthrough
    settings = segment.rerun_settings(RunStore(workspace=workspace), result.run_id)
    assert settings == {"source": settings["source"], "features": result.prepared.features, "scaler": "minmax",
                        "recipe": None, "n_components": 6, "top": 3, "k": 4, "seed": 2}
    assert Path(settings["source"]).is_file()


# --- crash safety ----------------------------------------------------------------------------------------
def _spawn(script: str, env_extra: dict, *args) -> subprocess.Popen:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when_paused(proc: subprocess.Popen, marker: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended before pausing: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the process never reached its pause point")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()  # reaped: its pid is no longer alive


SEGMENT = """
    import sys
    from workbench.runs import segment as pipeline
    pipeline.run_segmentation(sys.argv[1], workspace=sys.argv[2], n_components=5, top=2, k=3)
"""
DELETE = """
    import sys
    from workbench.runs.store import RunStore
    RunStore(workspace=sys.argv[1]).delete(sys.argv[2])
"""


def test_a_process_killed_mid_write_leaves_no_half_written_run(census_csv, tmp_path):
    """SIGKILL at each step of a write: while the manifest is half written, with the run complete but
    not yet in place, in place but not yet marked Completed, and halfway through a deletion."""
    doomed = segment.run_segmentation(census_csv, workspace=tmp_path / "run-trashed", n_components=5, top=2, k=3)
    procs = {}
    for point in ("json-written", "run-staged", "run-published", "run-trashed"):
        workspace = tmp_path / point
        env = {runs.ENV_PAUSE_AT: point, "WORKBENCH_TEST_PAUSE_MARKER": str(tmp_path / f"{point}.paused")}
        args = (workspace, doomed.run_id) if point == "run-trashed" else (census_csv, workspace)
        procs[point] = _spawn(DELETE if point == "run-trashed" else SEGMENT, env, *args)
    for point, proc in procs.items():
        _kill_when_paused(proc, tmp_path / f"{point}.paused")

    for point in ("json-written", "run-staged"):
        workspace = tmp_path / point
        visible = [p for p in (workspace / "runs").iterdir() if not p.name.startswith(".")]
        assert visible == [], f"{point}: a run folder is visible"
        assert [p.name for p in (workspace / "runs").iterdir()][0].startswith(runs.STAGING_PREFIX)
        reg = RunStore(workspace=workspace)
        (run_id,) = reg.list_runs()["run_id"]
        assert reg.get(run_id).status == "InProgress"  # the dead process never finished it
        report = reg.reconcile()
        assert report["interrupted"] == [run_id]
        assert reg.get(run_id).status == "Interrupted" and "stopped" in reg.get(run_id).error
        assert list((workspace / "runs").iterdir()) == []  # staging cleaned up
        assert reg.list_runs(status="Completed").empty

    workspace = tmp_path / "run-published"
    reg = RunStore(workspace=workspace)
    (run_id,) = reg.list_runs()["run_id"]
    assert reg.get(run_id).status == "InProgress"
    assert reg.reconcile()["completed"] == [run_id]
    run = reg.get(run_id)
    assert run.status == "Completed" and run.pca_model().n_components == 5 and run.kmeans_model().k == 3
    assert len(run.labels()) == 3218

    workspace = tmp_path / "run-trashed"
    reg = RunStore(workspace=workspace)
    assert not doomed.run_dir.exists() and reg.exists(doomed.run_id)  # moved aside, not yet unrecorded
    assert reg.reconcile()["deleted"] == [doomed.run_id]
    assert reg.list_runs().empty and list((workspace / "runs").iterdir()) == []


def test_a_lost_registry_is_rebuilt_from_the_run_folders(walkthrough, tmp_path):
    import shutil

    result, _ = walkthrough
    shutil.copytree(result.run_dir, tmp_path / "runs" / result.run_id)
    (tmp_path / "runs" / result.run_id / folders.NAMES).write_text(json.dumps({
        "run": "Restored", "components": ["Poverty"], "clusters": [],
        "history": [{"target": "component", "position": 0, "name": "Poverty", "edited_at": records.now()},
                    {"target": "run", "position": 0, "name": "Restored", "edited_at": records.now()}]}))
    reg = RunStore(workspace=tmp_path)
    assert reg.reconcile()["registered"] == [result.run_id]
    run = reg.get(result.run_id)
    assert (run.status, run.kind, run.backend, run.origin) == ("Completed", "segmentation", "embedded", "pipeline")
    assert (run.name, run.component_names[0], run.k, run.top) == ("Restored", "Poverty", 4, 3)
    assert run.data_fingerprint == result.prepared.fingerprint and run.n_counties == 3218
    assert run.jobs["kmeans"].job_name == result.kmeans.job.job_name
    assert reg.reconcile()["registered"] == []  # only once


def test_a_folder_another_process_registered_meanwhile_is_not_unregistered(walkthrough, tmp_path):
    """Two stores rebuild at once: the slower one's begin_run fails on the row the other made, and
    its clean-up must not delete that row (it deleted the registered run, jobs and names)."""
    result, _ = walkthrough
    shutil.copytree(result.run_dir, tmp_path / "runs" / result.run_id)
    first, second = RunStore(workspace=tmp_path), RunStore(workspace=tmp_path)
    listed = second._rows
    # the second store's list of known runs was read before the first registered the folder
    second._rows = lambda sql, params=(): [] if sql.startswith("SELECT run_id, status") else listed(sql, params)
    assert first.reconcile()["registered"] == [result.run_id]
    assert second.reconcile()["skipped"]
    assert first.exists(result.run_id) and first.get(result.run_id).status == "Completed"


def test_the_manifest_keeps_the_timings_so_a_rebuilt_registry_keeps_the_seconds(walkthrough, tmp_path):
    result, workspace = walkthrough
    recorded = RunStore(workspace=workspace).get(result.run_id)
    written = manifest_mod.read(result.run_dir)["timings"]
    assert {"prepare", "pca", "project", "kmeans", "labels"} <= set(written)
    assert all(written[k] == pytest.approx(recorded.timings[k]) for k in written)
    shutil.copytree(result.run_dir, tmp_path / "runs" / result.run_id)
    reg = RunStore(workspace=tmp_path)
    assert reg.reconcile()["registered"] == [result.run_id]
    rebuilt = reg.get(result.run_id)
    assert rebuilt.timings == written
    assert rebuilt.seconds == pytest.approx(sum(written.values()))
    assert rebuilt.seconds == pytest.approx(recorded.seconds, abs=1.0)  # not creation → rebuild time


@pytest.mark.parametrize("saved", [[], {"history": [{"target": "component", "position": "x", "name": "P",
                                                      "edited_at": "2024-01-01T00:00:00+00:00"}]},
                                   {"history": "none"}, {"run": 3}])
def test_a_folder_with_a_damaged_names_file_is_skipped_and_not_half_registered(walkthrough, tmp_path, saved, capsys):
    result, _ = walkthrough
    folder = tmp_path / "runs" / result.run_id
    shutil.copytree(result.run_dir, folder)
    (folder / folders.NAMES).write_text(json.dumps(saved))
    reg = RunStore(workspace=tmp_path)
    report = reg.reconcile()
    assert report["registered"] == [] and report["skipped"][0].startswith(f"{result.run_id}: its names.json")
    assert not reg.exists(result.run_id)
    assert cli.main(["runs", "list", "--workspace", str(tmp_path)]) == 0
    said = capsys.readouterr()
    assert "No runs recorded" in said.out
    assert f"Not registered: run folder {result.run_id}: its names.json" in said.err  # not silently left out


def test_a_folder_with_an_older_manifest_is_registered_too(walkthrough, tmp_path):
    """Schema 1 (before the run writer): no schema, kind, origin or settings; they are derived."""
    import shutil

    result, _ = walkthrough
    folder = tmp_path / "runs" / result.run_id
    shutil.copytree(result.run_dir, folder)
    (folder / folders.NAMES).unlink(missing_ok=True)
    old = json.loads((folder / folders.MANIFEST).read_text())
    for key in ("schema", "kind", "origin", "settings", "source_ref", "parent_run_id"):
        old.pop(key, None)
    (folder / folders.MANIFEST).write_text(json.dumps(old))
    reg = RunStore(workspace=tmp_path)
    assert reg.reconcile()["registered"] == [result.run_id]
    run = reg.get(result.run_id)
    assert (run.kind, run.origin, run.n_components, run.top, run.k) == ("segmentation", "folder", 6, 3, 4)


def test_a_manifest_naming_an_artifact_outside_its_folder_is_not_read(walkthrough, tmp_path):
    import shutil

    result, _ = walkthrough
    folder = tmp_path / "runs" / result.run_id
    shutil.copytree(result.run_dir, folder)
    hostile = json.loads((folder / folders.MANIFEST).read_text())
    hostile["pca"]["artifact"] = "../../../../etc/passwd"
    (folder / folders.MANIFEST).write_text(json.dumps(hostile))
    report = RunStore(workspace=tmp_path).reconcile()
    assert report["registered"] == [] and "outside its own folder" in report["skipped"][0]


# --- restart and re-attach --------------------------------------------------------------------------------
IN_FLIGHT = """
    import os, signal, sys
    from workbench.runs.store import RunStore
    reg = RunStore(workspace=sys.argv[1])
    reg.begin_run("cloud-run", backend="sagemaker", settings={"k": 7})
    reg.job_submitted("cloud-run", {"job_name": "county-wb-pca-20240101-abc", "algorithm": "pca",
                                    "backend": "sagemaker", "region": "us-east-1", "seed": 0,
                                    "submitted": "2024-01-01T00:00:00Z"})
    reg.begin_run("local-run", backend="embedded")
    os.kill(os.getpid(), signal.SIGKILL)  # the app dies while the cloud job runs on
"""


def test_in_flight_jobs_are_listed_after_a_restart(tmp_path):
    proc = _spawn(IN_FLIGHT, {}, tmp_path)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    reg = RunStore(workspace=tmp_path)  # "the app restarts"
    report = reg.reconcile()
    assert report["in_flight"] == ["cloud-run"] and report["interrupted"] == ["local-run"]
    assert reg.get("cloud-run").status == "InProgress"  # still re-attachable
    jobs = reg.in_flight_jobs()
    assert list(jobs.columns) == records.IN_FLIGHT_COLUMNS
    assert len(jobs) == 1
    job = jobs.iloc[0]
    assert (job["run_id"], job["algorithm"], job["backend"], job["job_name"]) == (
        "cloud-run", "pca", "sagemaker", "county-wb-pca-20240101-abc")
    assert job["orphaned"] and not job["owner_alive"]
    assert reg.job("county-wb-pca-20240101-abc").job_id == job["job_id"]
    with pytest.raises(RegistryError, match="still in flight"):
        reg.delete("cloud-run")


def test_a_run_still_followed_by_a_living_process_is_not_orphaned(tmp_path):
    reg = RunStore(workspace=tmp_path)
    reg.begin_run("live", backend="sagemaker")
    reg.job_submitted("live", {"job_name": "county-wb-kmeans-x", "algorithm": "kmeans", "region": None})
    jobs = reg.in_flight_jobs()
    assert bool(jobs["owner_alive"].iloc[0]) and not bool(jobs["orphaned"].iloc[0])
    assert reg.reconcile()["in_flight"] == []  # its owner (this process) is alive: left alone
    with pytest.raises(RegistryError, match="still followed"):
        reattach(reg, jobs["job_id"].iloc[0])


# --- the CLI ----------------------------------------------------------------------------------------------
def test_cli_runs_list_show_export_rename_delete(walkthrough, tmp_path, capsys):
    import shutil

    result, _ = walkthrough
    shutil.copytree(result.run_dir, tmp_path / "runs" / result.run_id)
    (tmp_path / "runs" / result.run_id / folders.NAMES).unlink(missing_ok=True)  # another test's names
    ws = ["--workspace", str(tmp_path)]
    assert cli.main(["runs", "list", *ws]) == 0  # registers the folder, then lists it
    assert result.run_id in capsys.readouterr().out
    assert cli.main(["runs", "list", "--json", "--backend", "sagemaker", *ws]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli.main(["runs", "list", "--json", "--status", "Completed", *ws]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["run_id"] == result.run_id and listed["k"] == 4

    assert cli.main(["runs", "rename", result.run_id[:17], "Small k", *ws]) == 0
    assert cli.main(["runs", "show", "small k", "--json", *ws]) == 0
    capsys.readouterr()
    assert cli.main(["runs", "show", "Small", *ws]) == 0
    shown = capsys.readouterr().out
    assert "Small k" in shown and result.pca.job.job_name in shown
    RunStore(workspace=tmp_path).set_names(result.run_id, components=["Poverty"], clusters=["Rural"])
    out = tmp_path / "export" / "labeled.csv"
    assert cli.main(["runs", "export", "Small", "--out", str(out), *ws]) == 0
    exported = pd.read_csv(out)
    assert list(exported.columns) == ["CensusId", "State", "County", "Poverty", "pc2", "pc3", "cluster",
                                      "cluster_name", "distance_to_cluster"]
    assert len(exported) == 3218
    assert cli.main(["runs", "export", "Small", "--json", *ws]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["manifest"]["data_fingerprint"] == result.prepared.fingerprint
    assert [e["name"] for e in record["names_history"]] == ["Small k", "Poverty", "Rural"]

    assert cli.main(["runs", "delete", "Small", *ws]) == 2
    assert "--yes" in capsys.readouterr().err
    assert cli.main(["runs", "delete", "Small", "--yes", *ws]) == 0
    assert not (tmp_path / "runs" / result.run_id).exists()
    assert cli.main(["runs", "show", "Small", *ws]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "No run" in err


def test_cli_in_flight_lists_nothing_on_an_empty_workspace(tmp_path, capsys):
    assert cli.main(["runs", "in-flight", "--workspace", str(tmp_path)]) == 0
    assert "No cloud jobs in flight" in capsys.readouterr().out
    assert cli.main(["runs", "reattach", "no-such-job", "--workspace", str(tmp_path)]) == 2
    assert "No job" in capsys.readouterr().err


def _registry_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_cloud_run_records_its_jobs_and_costs_but_no_secrets(moto_sagemaker, census_csv, tmp_path):
    result = segment.run_segmentation(census_csv, workspace=tmp_path, backend="sagemaker", **SMALL,
                                      backend_settings={"role": ROLE, "bucket": BUCKET, "poll_seconds": 0})
    reg = RunStore(workspace=tmp_path)
    run = reg.get(result.run_id)
    assert (run.status, run.backend) == ("Completed", "sagemaker")
    assert [run.jobs[a].job_name for a in ("pca", "kmeans")] == moto_sagemaker.created
    for job in run.jobs.values():
        assert job.status == "Completed" and job.submitted_at and job.region == "us-east-1"
        assert job.billable_seconds == 42 and job.cost_usd > 0 and job.instance_type == "ml.m5.large"
    assert run.cost_usd == pytest.approx(sum(j.cost_usd for j in run.jobs.values()))
    assert reg.in_flight_jobs().empty
    stored = _registry_bytes(reg.path)
    assert ROLE.encode() not in stored and BUCKET.encode() not in stored

    # The same settings on another backend, then how far the two agree.
    from workbench.runs import compare

    local = segment.rerun(result.run_id, backend="embedded", store=reg)
    rerun = reg.get(local.run_id)
    assert (rerun.backend, rerun.parent_run_id, rerun.origin) == ("embedded", result.run_id, "rerun")
    assert (rerun.n_components, rerun.top, rerun.k, rerun.seed) == (6, 3, 4, 0)
    agreement = compare.compare_runs(result.run_id, local.run_id, store=reg)
    assert agreement.kmeans.ari == pytest.approx(1.0) and agreement.pca.max_angle_deg < 1e-3


def test_an_interrupted_cloud_run_is_re_attached_after_a_restart(moto_sagemaker, census_csv, tmp_path,
                                                                 monkeypatch):
    """The app stops while SageMaker trains K-Means; after a restart the job is listed, followed to its
    end, the PCA artifact (lost with the staging folder) fetched again and the counties labeled."""
    class AppStopped(BaseException):
        pass

    def stop_during_kmeans(_seconds):
        if len(moto_sagemaker.created) == 2:
            raise AppStopped

    monkeypatch.setattr(sagemaker_common, "sleep", stop_during_kmeans)
    with pytest.raises(AppStopped):
        segment.run_segmentation(census_csv, workspace=tmp_path, backend="sagemaker", **SMALL,
                                 backend_settings={"role": ROLE, "bucket": BUCKET})
    pca_job, kmeans_job = moto_sagemaker.created

    reg = RunStore(workspace=tmp_path)  # the app restarts
    assert reg.reconcile()["interrupted"] == []
    (run_id,) = reg.list_runs()["run_id"]
    run = reg.get(run_id)
    assert run.status == "Interrupted" and not (tmp_path / "runs" / run_id).exists()
    assert (run.jobs["pca"].status, run.jobs["kmeans"].status) == ("Completed", "InProgress")
    jobs = reg.in_flight_jobs()
    assert list(jobs["job_name"]) == [kmeans_job] and bool(jobs["orphaned"].iloc[0])

    monkeypatch.setattr(sagemaker_common, "sleep", lambda _s: None)
    lines = []
    run = reattach(reg, int(jobs["job_id"].iloc[0]), progress=lines.append)  # a fresh backend: no role needed
    assert any("Re-attached" in line for line in lines)
    assert run.status == "Completed" and reg.in_flight_jobs().empty
    assert (run.jobs["pca"].job_name, run.jobs["kmeans"].job_name) == (pca_job, kmeans_job)
    assert run.jobs["kmeans"].billable_seconds == 42
    assert run.pca_model().n_components == 6 and run.kmeans_model().k == 4
    manifest = manifest_mod.read(run.run_dir)
    assert manifest["recovered"] is True and manifest["kmeans"]["job_name"] == kmeans_job
    reference = segment.run_segmentation(census_csv, workspace=tmp_path / "embedded", **SMALL)
    np.testing.assert_array_equal(run.labels()["cluster"], reference.kmeans.labels)
    assert run.n_counties == 3218


def test_labels_round_trip_when_the_table_has_its_own_county_column(census_csv, tmp_path):
    """labels.csv keys its first column `county`; a table with a column of that name keeps it."""
    frame = pd.read_csv(census_csv).head(300).rename(columns={"County": "county"})
    frame.to_csv(tmp_path / "lower.csv", index=False)
    result = segment.run_segmentation(tmp_path / "lower.csv", workspace=tmp_path / "ws", seed=0, k=4)
    labels = RunStore(workspace=tmp_path / "ws").get(result.run_id).labels()
    assert labels.index.name == "county" and labels.index[0] == "Alabama-Autauga"
    assert labels["county"].iloc[0] == "Autauga"
    np.testing.assert_array_equal(labels["cluster"].to_numpy(), result.kmeans.labels)


def test_labels_written_by_earlier_versions_still_read(census_csv, tmp_path):
    """Runs saved before the pyarrow writer have pandas' labels.csv (index label `county`)."""
    result = segment.run_segmentation(census_csv, workspace=tmp_path / "ws", seed=0, **SMALL)
    record = RunStore(workspace=tmp_path / "ws").get(result.run_id)
    written = record.labels()
    pipeline.labeled_table(result.prepared, result.scores, result.kmeans).to_csv(record.labels_path,
                                                                                  index_label="county")
    pd.testing.assert_frame_equal(record.labels(), written)


def test_a_read_only_registry_still_lists_shows_and_exports(walkthrough, monkeypatch, tmp_path, capsys):
    from workbench.runs import database

    result, workspace = walkthrough
    copy = tmp_path / "archive"
    shutil.copytree(workspace, copy)
    monkeypatch.setattr(database, "_writable", lambda path: False)  # as on a read-only mount
    reg = RunStore(workspace=copy)
    assert reg.read_only and reg.reconcile() == {k: [] for k in reg.reconcile()}
    assert result.run_id in reg.list_runs()["run_id"].tolist()
    assert len(reg.get(result.run_id).labeled()) == 3218
    with pytest.raises(RegistryError, match="is read-only: runs can be listed, shown, compared and exported"):
        reg.rename(result.run_id, "archived")
    assert cli.main(["runs", "export", result.run_id, "--workspace", str(copy)]) == 0
    assert capsys.readouterr().out.startswith("CensusId,State,County,pc1")
    assert not (copy / "registry.sqlite3-wal").exists()


def test_a_read_only_registry_with_unfolded_writes_says_so_instead_of_leaving_runs_out(tmp_path, monkeypatch,
                                                                                      capsys):
    """A writer that stopped before its checkpoint leaves committed runs in registry.sqlite3-wal,
    which an immutable read ignores: listing them read-only would silently leave them out."""
    from workbench.runs import database

    code = ("import os, sys\nfrom workbench.runs.store import RunStore\nfrom tests.runs.test_store import _run\n"
            "reg = RunStore(workspace=sys.argv[1])\nwith reg.session():\n    _run(reg, 'r-before-crash')\n"
            "    os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=Path(__file__).parents[2],
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert (tmp_path / "registry.sqlite3-wal").stat().st_size > 0
    monkeypatch.setattr(database, "_writable", lambda path: False)
    with pytest.raises(RegistryError, match="last writes are still in registry.sqlite3-wal"):
        RunStore(workspace=tmp_path).list_runs()
    assert cli.main(["runs", "list", "--workspace", str(tmp_path)]) == 2
    assert "registry.sqlite3-wal" in capsys.readouterr().err
    monkeypatch.setattr(database, "_writable", lambda path: True)
    assert RunStore(workspace=tmp_path).list_runs()["run_id"].tolist() == ["r-before-crash"]


def test_runs_list_refuses_an_unknown_backend_and_says_when_no_run_matches(tmp_path, capsys):
    reg = RunStore(workspace=tmp_path)
    _run(reg, "one-run")
    ws = ["--workspace", str(tmp_path)]
    assert cli.main(["runs", "list", "--backend", "nope", *ws]) == 2
    assert "Unknown backend 'nope'" in capsys.readouterr().err
    assert cli.main(["runs", "list", "--status", "Failed", *ws]) == 0
    assert "No runs match" in capsys.readouterr().out
    assert reg.list_runs(backend="local")["run_id"].tolist() == ["one-run"]
