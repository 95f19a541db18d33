"""AppTest: the Runs and Compare pages on a workspace holding two small embedded runs.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.apptest import shown
from workbench.app import runs_handle
from workbench.runs import owners, segment
from workbench.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "workbench" / "streamlit_app.py"
RUNS = "app/pages/runs.py"
COMPARE = "app/pages/compare.py"
SMALL = {"n_components": 6, "top": 3, "k": 4}
TIMEOUT = 60


@pytest.fixture(scope="module")
def two_runs(census_csv, tmp_path_factory):
    """A pristine workspace with two runs (seeds 0 and 1), copied for each test that changes it."""
    if not census_csv.is_file():
        pytest.fail(f"The census data {census_csv} is missing.")
    workspace = tmp_path_factory.mktemp("runs-ws") / "workspace"
    first = segment.run_segmentation(census_csv, workspace=workspace, seed=0, **SMALL)
    second = segment.run_segmentation(census_csv, workspace=workspace, seed=1, **SMALL)
    return workspace, first.run_id, second.run_id


@pytest.fixture
def workspace(two_runs, tmp_path, monkeypatch, census_csv):
    source, a, b = two_runs
    target = tmp_path / "workspace"
    shutil.copytree(source, target)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(target))
    monkeypatch.setenv("WORKBENCH_DEFAULT_DATA", str(census_csv))
    return target, a, b


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    return at.switch_page(name).run()


def ok(at: AppTest) -> None:
    assert not [e.value for e in at.exception], [e.value for e in at.exception]


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def test_pages_say_how_to_create_a_run_when_there_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path / "empty"))
    for name in (RUNS, COMPARE):
        at = page(name)
        ok(at)
        assert any("./run cli segment" in i.value for i in at.info), [i.value for i in at.info]


def test_the_runs_page_lists_filters_renames_and_opens(workspace):
    path, a, b = workspace
    at = page(RUNS)
    ok(at)
    assert set(at.session_state["runs_listed"]) == {a, b}
    assert not errors(at)

    at.multiselect(key="runs_status").set_value(["Failed"]).run()
    ok(at)
    assert at.session_state["runs_listed"] == []
    at.multiselect(key="runs_status").set_value(["Completed"]).run()
    at.multiselect(key="runs_backend").set_value(["embedded"]).run()
    assert set(at.session_state["runs_listed"]) == {a, b}

    at.selectbox(key="runs_selected").set_value(a).run()
    at.text_input(key="runs_rename_name").input("seed zero").run()
    at.button(key="runs_rename").click().run()
    ok(at)
    assert RunStore(workspace=path).get(a).display_name == "seed zero"
    assert any("seed zero" in s.value for s in at.success)

    at.button(key="runs_open").click().run()
    ok(at)
    assert at.session_state["active_run_id"] == a
    assert any("Open run: seed zero" in h.value for h in at.subheader)
    # Open makes it the session's run on every page, not just on this one.
    assert at.session_state["pca_run"].run_id == a and at.session_state["kmeans_run"].run_id == a
    assert at.session_state["kmeans_run"].stage.model.k == 4
    assert not any("still show the run trained in this session" in c.value for c in at.caption)


def test_delete_needs_confirmation(workspace):
    path, a, b = workspace
    at = page(RUNS)
    at.selectbox(key="runs_selected").set_value(b).run()
    at.button(key="runs_delete").click().run()
    ok(at)
    assert RunStore(workspace=path).exists(b)
    assert any("confirmation" in e for e in errors(at))

    at.checkbox(key="runs_delete_confirm").check().run()
    at.button(key="runs_delete").click().run()
    ok(at)
    assert not RunStore(workspace=path).exists(b)
    assert at.session_state["runs_listed"] == [a]


def test_a_rerun_on_an_unusable_backend_is_an_error_not_a_traceback(workspace, monkeypatch):
    path, a, _ = workspace
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "WORKBENCH_SAGEMAKER_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path / "no-aws-credentials"))
    at = page(RUNS)
    at.selectbox(key="runs_selected").set_value(a).run()
    at.selectbox(key="runs_rerun_backend").set_value("sagemaker").run()
    at.button(key="runs_rerun").click().run()
    ok(at)
    assert any("re-run failed" in e for e in errors(at)), errors(at)


def test_compare_a_run_with_itself_and_carry_names(workspace):
    path, a, b = workspace
    reg = RunStore(workspace=path)
    reg.set_names(a, components=["urban", "rural", "young"], clusters=["c0", "c1", "c2", "c3"])

    at = page(COMPARE)
    ok(at)
    assert not errors(at)
    at.selectbox(key="compare_a").set_value(a).run()
    at.selectbox(key="compare_b").set_value(a).run()
    ok(at)
    assert at.session_state["compare_result"]["ari"] == pytest.approx(1.0)
    assert at.session_state["compare_result"]["max_angle_deg"] == pytest.approx(0.0, abs=1e-6)
    assert any(m.value == "1.000" for m in at.metric)

    at.selectbox(key="compare_b").set_value(b).run()
    ok(at)
    assert len(at.dataframe) >= 4  # angles, component matches, cluster matches, contingency
    at.button(key="compare_carry").click().run()
    ok(at)
    assert not errors(at), errors(at)
    after = RunStore(workspace=path).get(b)
    assert sorted(n for n in after.component_names if n) == ["rural", "urban", "young"]
    assert sorted(n for n in after.cluster_names if n) == ["c0", "c1", "c2", "c3"]


def test_a_rerun_records_a_new_run_with_its_parent(workspace):
    path, a, _ = workspace
    at = page(RUNS)
    at.selectbox(key="runs_selected").set_value(a).run()
    at.selectbox(key="runs_rerun_backend").set_value("embedded").run()
    at.button(key="runs_rerun").click().run()
    ok(at)
    assert not errors(at), errors(at)
    listed = RunStore(workspace=path).list_runs()
    assert len(listed) == 3
    assert listed.iloc[0]["parent_run_id"] == a and listed.iloc[0]["origin"] == "rerun"
    assert len(at.session_state["runs_listed"]) == 3


def test_app_start_resumes_cloud_jobs_left_in_flight(workspace, monkeypatch):
    import time

    path, _, _ = workspace
    reg = RunStore(workspace=path)
    reg.begin_run("cloud-run", backend="sagemaker")
    reg.job_submitted("cloud-run", {"job_name": "county-wb-pca-x", "algorithm": "pca", "region": "us-east-1"})
    monkeypatch.setattr(owners, "pid_alive", lambda pid, host: False)  # its process is gone
    calls = []

    def fake_reattach(store, job_ref, *, progress=None, force=False):
        calls.append(job_ref)
        progress("Completed")
        return store.get("cloud-run")

    monkeypatch.setattr(runs_handle, "reattach", fake_reattach)
    at = page(RUNS)
    ok(at)
    for _ in range(50):
        if calls:
            break
        time.sleep(0.1)
    job_id = int(reg.in_flight_jobs()["job_id"].iloc[0])
    assert calls == [job_id]
    at.run()
    assert any(f"Cloud job {job_id}" in i.value for i in at.info), [i.value for i in at.info]
    at.run()  # once per process and workspace, not on every rerun
    assert calls == [job_id]


def test_no_reattach_without_in_flight_jobs(workspace, monkeypatch):
    calls = []
    monkeypatch.setattr(runs_handle, "reattach", lambda store, *a, **k: calls.append(a))
    ok(page(RUNS))
    assert calls == []


def _failed_attempts(path: Path, count: int = 2) -> list[str]:
    """SageMaker runs that failed before submitting any job, as a missing credential leaves them."""
    reg = RunStore(workspace=path)
    ids = []
    for i in range(count):
        run_id = f"20300101-00000{i}-ffff0{i}"
        reg.begin_run(run_id, kind="segmentation", backend="sagemaker", created_at=f"2030-01-01T00:00:0{i}+00:00")
        reg.end_run(run_id, "Failed", "No AWS credentials were found.")
        ids.append(run_id)
    return ids


def test_sagemaker_attempts_that_never_submitted_a_job_can_be_hidden_and_cleared(workspace):
    path, a, b = workspace
    attempts = _failed_attempts(path)
    at = page(RUNS)
    ok(at)
    assert set(at.session_state["runs_listed"]) == {a, b}  # hidden by default
    assert any("2 SageMaker attempt(s) failed before any job was submitted" in m.value for m in at.markdown)
    at.toggle(key="runs_show_attempts").set_value(True).run()
    assert set(at.session_state["runs_listed"]) == {a, b, *attempts}
    at.button(key="runs_clear_attempts").click().run()
    ok(at)
    assert set(RunStore(workspace=path).list_runs()["run_id"]) == {a, b}
    assert not any("attempt(s) failed" in m.value for m in at.markdown)


def test_run_pickers_say_what_a_run_is_and_names_show_as_typed(workspace):
    path, a, b = workspace
    RunStore(workspace=path).rename(a, "**Fresno** [x](http://x)")
    at = page(RUNS)
    at.selectbox(key="runs_selected").set_value(a).run()
    ok(at)
    shown_label = at.selectbox(key="runs_selected").format_func(a)
    assert shown_label.startswith("**Fresno** [x](http://x) · segmentation · k = 4 · 3 of 6 components · ")
    # Age in words; the fixture's runs may be seconds or minutes old on a busy machine.
    assert re.search(rf"embedded · (just now|\d+ s ago|\d+ min ago) · {re.escape(a)}$", shown_label), shown_label
    heading = next(m.value for m in at.markdown if m.value.startswith("### "))
    assert shown(heading) == "### **Fresno** [x](http://x)" and "\\*\\*Fresno" in heading
    assert at.button(key="runs_delete").proto.type != "primary"


def test_compare_starts_from_the_two_latest_completed_segmentations_and_hides_failed_runs(workspace):
    path, a, b = workspace
    attempts = _failed_attempts(path, 1)
    at = page(COMPARE)
    ok(at)
    assert (at.session_state["compare_a"], at.session_state["compare_b"]) == (a, b)
    assert not any(attempts[0] in option for option in at.selectbox(key="compare_a").options)
    assert not at.info or not any("not compared" in i.value for i in at.info)
    at.toggle(key="compare_show_failed").set_value(True).run()
    ok(at)
    assert any(attempts[0] in option for option in at.selectbox(key="compare_a").options)


def test_deleting_the_open_run_forgets_it_in_the_session_and_the_address(workspace):
    path, a, b = workspace
    at = page(RUNS)
    at.selectbox(key="runs_selected").set_value(a).run()
    at.button(key="runs_open").click().run()
    ok(at)
    assert at.session_state["active_run_id"] == a and at.query_params["run"] in (a, [a])

    at.selectbox(key="runs_selected").set_value(a).run()
    at.checkbox(key="runs_delete_confirm").check().run()
    at.button(key="runs_delete").click().run()
    ok(at)
    assert not RunStore(workspace=path).exists(a)
    assert "active_run_id" in at.session_state and at.session_state["active_run_id"] is None
    assert at.session_state["pca_run"].run_id is None and at.session_state["kmeans_run"].run_id is None
    assert "run" not in at.query_params
    at.switch_page("app/pages/explore.py").run()  # the results stay shown, under no run id
    ok(at)
    assert at.session_state["kmeans_run"] is not None and at.session_state["kmeans_run"].run_id is None
    assert "run" not in at.query_params


def test_a_damaged_registry_is_tried_again_once_it_is_moved_away(workspace):
    path, a, b = workspace
    registry = path / "registry.sqlite3"
    assert registry.is_file()
    registry.rename(path / "registry.good")
    registry.write_bytes(b"not a database" * 100)
    at = page(RUNS)
    ok(at)
    assert any("could not be opened" in e and "registry.sqlite3" in e for e in errors(at)), errors(at)
    (path / "registry.good").replace(registry)  # a good registry back in place, no restart
    at.run()
    ok(at)
    assert not errors(at), errors(at)
    options = at.selectbox(key="runs_selected").options
    assert all(any(run_id in option for option in options) for run_id in (a, b)), options


def test_the_runs_and_compare_filters_are_kept_across_pages(workspace):
    at = page(RUNS)
    at.multiselect(key="runs_kind").set_value(["pca"]).run()
    at.multiselect(key="runs_status").set_value(["Completed"]).run()
    ok(at)
    at.switch_page(COMPARE).run()
    at.toggle(key="compare_show_failed").set_value(True).run()
    ok(at)
    at.switch_page("app/pages/data_source.py").run()
    at.switch_page(RUNS).run()
    ok(at)
    assert at.multiselect(key="runs_kind").value == ["pca"]
    assert at.multiselect(key="runs_status").value == ["Completed"]
    at.switch_page(COMPARE).run()
    ok(at)
    assert at.toggle(key="compare_show_failed").value is True


def test_a_run_folder_that_cannot_be_registered_is_named_on_the_runs_page(workspace):
    path, a, _ = workspace
    shutil.copytree(path / "runs" / a, path / "runs" / "20240101-000000-copied")  # its manifest names run a
    at = page(RUNS)
    ok(at)
    warned = [w.value for w in at.warning if "could not be registered" in w.value]
    assert len(warned) == 1 and "20240101-000000-copied" in warned[0] and a in warned[0]
