"""AppTest: runs trained in the app are recorded in the run registry, and a recorded run opened on
the Runs page (in this session or a fresh one) becomes the run every page shows.
"""
from __future__ import annotations

import shutil

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.support.apptest import (
    APP,
    TIMEOUT,
    downloads,
    errors,
    goto,
    infos,
    load_by_path,
    name_component,
    new_app,
    problems,
    seed_names,
    shown,
    train_kmeans,
    train_pca,
)
from workbench.core import pipeline
from workbench.runs import importer, manifest, segment
from workbench.runs.store import RunStore

RUNS = "app/pages/runs.py"
SMALL = {"n_components": 6, "top": 3, "k": 4}


def small_training(at):
    """PCA with 6 components (5 kept, the default) and K-Means with k = 4, on the census data."""
    goto(at, "pca")
    at.number_input(key="pca_num_components").set_value(6).run()
    train_pca(at)
    goto(at, "clusters")
    at.number_input(key="kmeans_k").set_value(4).run()
    return train_kmeans(at)


def open_on_runs_page(at, run_id):
    at.switch_page(RUNS).run()
    at.selectbox(key="runs_selected").set_value(run_id).run()
    at.button(key="runs_open").click().run()
    assert not problems(at), problems(at)
    return at


def restart():
    """What an app restart forgets: every cached table, model and registry handle of the process."""
    st.cache_data.clear()
    st.cache_resource.clear()


# --- Training in the app records runs ---------------------------------------------------------


def test_pca_and_kmeans_trained_in_the_app_are_recorded_runs(app_env, census_csv):
    at = small_training(new_app())
    pca_run, kmeans_run = at.session_state["pca_run"], at.session_state["kmeans_run"]
    reg = RunStore(workspace=app_env)
    expected = pipeline.prepare(census_csv)

    pca = reg.get(pca_run.run_id)
    assert (pca.kind, pca.status, pca.origin, pca.backend) == ("pca", "Completed", "app", "embedded")
    assert pca.n_components == 6 and pca.artifact_path("pca") is not None
    assert pca.jobs["pca"].job_name == pca_run.job_name

    run = reg.get(kmeans_run.run_id)
    assert (run.kind, run.status, run.origin) == ("segmentation", "Completed", "app")
    assert run.parent_run_id == pca.run_id
    assert (run.n_components, run.top, run.k, run.seed) == (6, 5, 4, 0)
    assert run.features == expected.features and len(run.features) == 34
    assert run.data_fingerprint == expected.fingerprint == pca.data_fingerprint
    assert run.scaler["recipe"] == "minmax" and run.source_ref == "default"
    assert run.n_counties == 3218 and run.cost_usd == 0.0
    assert run.library_versions.get("numpy") and run.timings.get("kmeans") is not None
    assert {alg: job.status for alg, job in run.jobs.items()} == {"pca": "Completed", "kmeans": "Completed"}
    assert str(run.jobs["kmeans"].hyperparameters["k"]) == "4"
    # Every artifact is in the run folder and reads back as the session's models.
    assert run.artifact_path("pca").read_bytes() == pca.artifact_path("pca").read_bytes()
    assert run.kmeans_model().k == 4 and run.pca_model().n_components == 6
    assert (run.kmeans_model().centroids == kmeans_run.stage.model.centroids).all()
    assert kmeans_run.stage.job.artifact_path == run.run_dir / "kmeans" / "model.tar.gz"
    written = manifest.read(run.run_dir)
    assert written["data_fingerprint"] == expected.fingerprint and written["kind"] == "segmentation"
    assert (run.labels()["cluster"].to_numpy() == kmeans_run.stage.labels).all()
    assert not list((app_env / "runs").glob(".staging-*"))  # nothing half-written left behind

    # Retraining with the same settings reuses the model and records no new run.
    at.button(key="kmeans_train").click().run()
    assert len(reg.list_runs()) == 2

    # The Runs page lists both; one segmentation run per PCA + K-Means pair.
    at.switch_page(RUNS).run()
    assert not problems(at)
    assert set(at.session_state["runs_listed"]) == {pca.run_id, run.run_id}
    at.multiselect(key="runs_kind").set_value(["segmentation"]).run()
    assert at.session_state["runs_listed"] == [run.run_id]


def test_names_edited_on_the_pages_land_in_the_runs_names_history(app_env):
    at = small_training(new_app())
    run_id = at.session_state["kmeans_run"].run_id
    pca_id = at.session_state["pca_run"].run_id
    seed_names(at, "cluster", ["Rural South", "", "Big cities", ""])  # as typed in the editor
    at.run()
    assert not problems(at) and not errors(at)
    reg = RunStore(workspace=app_env)
    assert reg.get(run_id).cluster_names == ["Rural South", "", "Big cities", ""]
    history = reg.names_history(run_id)
    assert history[history["target"] == "cluster"][["position", "name"]].values.tolist() == [
        [0, "Rural South"], [2, "Big cities"]]
    assert history["edited_at"].is_monotonic_increasing

    at.button(key="clusters_clear").click().run()  # a later edit is appended, not overwritten
    assert reg.get(run_id).cluster_names == ["", "", "", ""]
    assert len(reg.names_history(run_id)) == 4

    goto(at, "names")
    name_component(at, 0, "Diversity")
    assert not problems(at)
    assert reg.get(pca_id).component_names[0] == "Diversity"
    assert reg.get(run_id).component_names[0] == "Diversity"  # the clustering of that PCA too


def test_a_failed_training_is_recorded_as_failed_with_its_error(app_env):
    at = goto(new_app(), "pca")
    at.number_input(key="pca_hp_extra_components").set_value(-5).run()
    at.button(key="pca_train").click().run()
    assert not problems(at)
    assert any("extra_components" in e for e in errors(at)), errors(at)
    listed = RunStore(workspace=app_env).list_runs()
    assert listed["status"].tolist() == ["Failed"]
    failed = RunStore(workspace=app_env).get(listed["run_id"].iloc[0])
    assert "extra_components" in failed.error and failed.run_dir is None


# --- Opening a run makes it the run of every page -----------------------------------------------


def test_a_run_from_an_earlier_session_opens_on_every_page_with_its_names(app_env):
    first = small_training(new_app())
    run_id = first.session_state["kmeans_run"].run_id
    seed_names(first, "cluster", ["Rural South", "", "Big cities", ""])
    first.run()
    goto(first, "names")
    name_component(first, 1, "Wealth")
    assert not problems(first)
    saved = RunStore(workspace=app_env).get(run_id)
    expected_labels = saved.labels()["cluster"].to_numpy()

    restart()
    at = new_app()  # a new session: nothing trained
    goto(at, "explore")
    assert any("Train PCA first" in i.value for i in at.info)
    open_on_runs_page(at, run_id)
    assert not errors(at), errors(at)
    assert any(f"Run `{run_id}` is open" in s.value for s in at.success)
    assert at.session_state["active_run_id"] == run_id
    assert at.session_state["kmeans_run"].run_id == run_id
    assert (at.session_state["kmeans_run"].stage.labels == expected_labels).all()

    goto(at, "explore")
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    options = at.selectbox(key="explore_cluster").options
    assert options[0].startswith("Rural South") and options[2].startswith("Big cities")

    goto(at, "export")
    assert not problems(at) and not errors(at)
    files = downloads(at)
    clusters = files["counties-k4-clusters.csv"]
    assert clusters.loc[clusters["cluster"] == 0, "cluster_name"].unique().tolist() == ["Rural South"]
    assert clusters.loc[clusters["cluster"] == 2, "cluster_name"].unique().tolist() == ["Big cities"]
    assert clusters.loc[clusters["cluster"] == 1, "cluster_name"].unique().tolist() == ["cluster 1"]
    assert "Wealth" in clusters.columns and "pc1" in clusters.columns
    assert (clusters["cluster"].to_numpy() == expected_labels).all()

    for page in ("app/pages/profiles.py", "app/pages/county_map.py"):
        at.switch_page(page).run()
        assert not problems(at) and not errors(at), (page, problems(at), errors(at))
        assert not any("first" in i.value and "Train" in i.value for i in at.info), (page, [i.value for i in at.info])
    for page in ("pca", "names", "clusters"):
        goto(at, page)
        assert not problems(at) and not errors(at), (page, problems(at), errors(at))
    assert at.number_input(key="kmeans_k").value == 4
    assert not any("settings above changed" in c.value for c in at.caption)

    # A name edited after opening goes into the opened run's history.
    seed_names(at, "cluster", ["Rural South", "Suburbs", "Big cities", ""])
    at.run()
    assert RunStore(workspace=app_env).get(run_id).cluster_names[1] == "Suburbs"


def test_a_page_that_needs_clusters_offers_the_latest_run_in_one_click(app_env, census_csv):
    older = segment.run_segmentation(census_csv, workspace=app_env, seed=3, **SMALL)
    newer = segment.run_segmentation(census_csv, workspace=app_env, seed=4, **SMALL)
    RunStore(workspace=app_env).rename(newer.run_id, "seed *four*")
    assert older.run_id != newer.run_id
    at = new_app()  # a new session, as after a reload without ?run=
    at.switch_page("app/pages/profiles.py").run()
    assert any("Train PCA first" in text for text in infos(at))
    offer = next(m.value for m in at.markdown if m.value.startswith("**Or pick up recorded work:**"))
    assert "seed \\*four\\*" in offer and "k = 4" in offer  # the run described, its name as typed
    at.button(key="offer_open").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert at.session_state["active_run_id"] == newer.run_id
    assert at.query_params["run"] == [newer.run_id] or at.query_params["run"] == newer.run_id
    assert not any("Train PCA first" in text for text in infos(at))


def test_a_cli_run_on_another_file_switches_the_data_source(app_env, census_csv, tmp_path):
    subset = tmp_path / "first-1000.csv"
    pd.read_csv(census_csv).head(1000).to_csv(subset, index=False)
    result = segment.run_segmentation(subset, workspace=app_env, seed=3, **SMALL)
    at = open_on_runs_page(new_app(), result.run_id)
    assert not errors(at), errors(at)
    assert at.session_state["source"].location == str(subset.resolve())
    assert at.session_state["source_kind"] == "path"
    goto(at, "clusters")
    assert not problems(at) and not errors(at)
    assert at.session_state["kmeans_run"].stage.model.k == 4
    assert len(at.session_state["kmeans_run"].stage.labels) == len(result.kmeans.labels)
    goto(at, "data")
    assert not problems(at)
    assert {m.label: m.value for m in at.metric}["Rows read"] == "1,000"


# --- Bad input: clear messages, never a traceback -----------------------------------------------


@pytest.fixture
def subset_run(app_env, census_csv, tmp_path):
    subset = tmp_path / "subset.csv"
    pd.read_csv(census_csv).head(800).to_csv(subset, index=False)
    result = segment.run_segmentation(subset, workspace=app_env, seed=0, **SMALL)
    return subset, result


def assert_not_opened(at, *phrases):
    assert not problems(at), problems(at)
    message = " ".join(errors(at))
    assert "could not be opened" in message, message
    for phrase in phrases:
        assert phrase in message, message
    assert at.session_state["pca_run"] is None and at.session_state["kmeans_run"] is None
    assert not at.session_state["active_run_id"]
    assert at.session_state["source"].kind == "default"  # the session's data is left alone


def test_opening_a_run_whose_data_file_is_gone_says_what_to_do(app_env, subset_run):
    subset, result = subset_run
    subset.unlink()
    at = open_on_runs_page(new_app(), result.run_id)
    assert_not_opened(at, "cannot be loaded", str(subset.resolve()), "Put the original data back")


def test_opening_a_run_whose_data_changed_says_so(app_env, subset_run):
    subset, result = subset_run
    table = pd.read_csv(subset)
    table.loc[0, "Income"] = table.loc[0, "Income"] + 1
    table.to_csv(subset, index=False)
    at = open_on_runs_page(new_app(), result.run_id)
    assert_not_opened(at, "fingerprint", "changed since the run")


def test_opening_a_run_with_a_corrupted_or_missing_artifact_says_so(app_env, subset_run):
    _, result = subset_run
    (result.run_dir / "kmeans" / "model.tar.gz").write_bytes(b"not a model at all")
    at = open_on_runs_page(new_app(), result.run_id)
    assert_not_opened(at, "K-Means model", "cannot be read", "damaged")

    (result.run_dir / "pca" / "model.tar.gz").unlink()
    at = open_on_runs_page(new_app(), result.run_id)
    assert_not_opened(at, "PCA model is missing")


def test_an_imported_pca_without_data_opens_on_a_matching_table_and_says_so(app_env, sagemaker_fixtures):
    artifact = sagemaker_fixtures / "pca-census-33" / "model.tar.gz"
    imported = importer.import_model(artifact, store=RunStore(workspace=app_env))
    at = open_on_runs_page(new_app(), imported.run_id)
    assert not errors(at), errors(at)
    assert any("did not record its data" in s.value for s in at.success)
    assert at.session_state["pca_run"].stage.model.n_components == 33
    assert at.session_state["kmeans_run"] is None
    goto(at, "names")
    assert not problems(at) and not errors(at)
    goto(at, "clusters")
    assert not problems(at)
    assert any("Train K-Means" in i.value for i in at.info)


def test_an_imported_run_that_cannot_be_placed_explains_what_is_missing(app_env, sagemaker_fixtures):
    reg = RunStore(workspace=app_env)
    kmeans_only = importer.import_model(sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz", store=reg)
    at = new_app()
    at.switch_page(RUNS).run()
    at.selectbox(key="runs_selected").set_value(kmeans_only.run_id).run()
    assert at.button(key="runs_open").disabled  # nothing to open: it has no PCA

    pca_other = importer.import_model(sagemaker_fixtures / "pca-19x18" / "model.tar.gz", store=reg)
    at = open_on_runs_page(new_app(), pca_other.run_id)
    assert_not_opened(at, "imported without the data", "--data")


def test_a_deleted_run_folder_is_reported_not_raised(app_env, subset_run):
    _, result = subset_run
    shutil.rmtree(result.run_dir)
    at = open_on_runs_page(new_app(), result.run_id)
    assert not problems(at)
    assert any("could not be opened" in e for e in errors(at)), errors(at)


# --- A run trained with a feature recipe opens again ---------------------------------------------


def _recipe_training():
    """PCA and K-Means trained on the Features page's recommended preset: counts as rates of TotalPop."""
    at = new_app()
    at.switch_page("app/pages/features.py").run()
    at.button(key="features_recommended").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert at.session_state["recipe_total"] == "TotalPop" and at.session_state["recipe_counts"]
    return small_training(at)


def test_a_run_trained_with_a_feature_recipe_opens_again_after_the_recipe_changed(app_env):
    at = _recipe_training()
    run_id = at.session_state["kmeans_run"].run_id
    chosen = list(at.session_state["feature_select"])
    counts = list(at.session_state["recipe_counts"])
    assert any(" per TotalPop" in f for f in RunStore(workspace=app_env).get(run_id).features)

    at.switch_page("app/pages/features.py").run()
    at.button(key="features_all").click().run()  # the walkthrough preset: no rates
    assert at.session_state["recipe_total"] == ""
    open_on_runs_page(at, run_id)
    assert not errors(at), errors(at)
    assert at.session_state["active_run_id"] == run_id
    assert at.session_state["kmeans_run"].run_id == run_id
    assert at.session_state["feature_select"] == chosen
    assert at.session_state["recipe_total"] == "TotalPop" and at.session_state["recipe_counts"] == counts
    goto(at, "explore")
    assert not problems(at) and not errors(at), (problems(at), errors(at))


def test_a_run_trained_with_a_feature_recipe_opens_from_the_address_in_a_new_session(app_env):
    run_id = _recipe_training().session_state["kmeans_run"].run_id
    restart()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = run_id
    at.run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert at.session_state["active_run_id"] == run_id
    assert at.session_state["kmeans_run"].run_id == run_id
    assert at.session_state["recipe_total"] == "TotalPop"


def test_a_run_without_a_recipe_opens_with_the_recipe_cleared(app_env):
    at = small_training(new_app())  # every feature, no recipe
    run_id = at.session_state["kmeans_run"].run_id
    at.switch_page("app/pages/features.py").run()
    at.button(key="features_recommended").click().run()
    open_on_runs_page(at, run_id)
    assert not errors(at), errors(at)
    assert at.session_state["kmeans_run"].run_id == run_id
    assert at.session_state["recipe_total"] == "" and at.session_state["recipe_counts"] == []


# --- A wrong "Components to keep" is said at its input, nothing else breaks ----------------------


def test_an_out_of_range_components_to_keep_does_not_unload_the_data_or_drop_the_address(app_env):
    at = small_training(new_app())
    run_id = at.session_state["kmeans_run"].run_id
    goto(at, "pca")
    at.number_input(key="pca_top").set_value(99).run()
    assert not problems(at), problems(at)
    assert any("Components to keep must be at most 6" in e for e in errors(at)), errors(at)  # at the input
    goto(at, "data")  # a page that draws in full (the PCA page stops at its wrong input)
    assert not problems(at), problems(at)
    assert at.session_state["pca_top"] == 99
    sidebar = [shown(c.value) for c in at.sidebar.caption]
    assert not any("(not loaded)" in line for line in sidebar), sidebar
    assert any("Data: " in line and "counties from" in line for line in sidebar), sidebar
    assert any("fix Components to keep" in line for line in sidebar), sidebar
    assert at.query_params["run"] in (run_id, [run_id])  # the address still names the run
    goto(at, "explore")
    assert not problems(at), problems(at)
    assert at.query_params["run"] in (run_id, [run_id])


# --- A run imported without its data, opened on one table and then another -----------------------


def test_an_imported_pca_opened_on_two_tables_shows_each_tables_own_results(app_env, sagemaker_fixtures, census_csv,
                                                                            tmp_path):
    imported = importer.import_model(sagemaker_fixtures / "pca-census-33" / "model.tar.gz",
                                     store=RunStore(workspace=app_env))
    subset = tmp_path / "first-1000.csv"
    pd.read_csv(census_csv).head(1000).to_csv(subset, index=False)

    def open_and_cluster(at):
        open_on_runs_page(at, imported.run_id)
        assert not errors(at), errors(at)
        goto(at, "clusters")
        at.number_input(key="kmeans_k").set_value(4).run()
        train_kmeans(at)
        goto(at, "export")
        assert not problems(at) and not errors(at), (problems(at), errors(at))
        return downloads(at)["counties-k4-clusters.csv"]

    at = new_app()
    on_a = open_and_cluster(at)  # the walkthrough's table
    assert len(on_a) == len(at.session_state["kmeans_run"].stage.labels) > 1000
    load_by_path(at, subset)
    on_b = open_and_cluster(at)  # the same imported run on the first 1,000 counties
    labels_b = at.session_state["kmeans_run"].stage.labels
    assert len(on_b) == len(labels_b) and 990 <= len(on_b) <= 1000  # B's counties (cleaning drops a few), not A's


# --- The address is typed by anyone -----------------------------------------------------------------


def _from_address(run_ref: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = run_ref
    return at.run()


def test_a_hostile_run_in_the_address_is_shown_as_typed_never_as_markdown(app_env):
    hostile = "**bold**[x](http://example.com)"
    at = _from_address(hostile)
    assert not problems(at), problems(at)
    said = [e.value for e in at.error]
    assert any("could not be opened" in e for e in said), said
    assert any(hostile in shown(e) for e in said), said  # the reader sees what was typed …
    assert not any("[x](http" in e or "**bold**" in e for e in said), said  # … and no link, no bold


def test_a_damaged_run_folder_in_the_address_is_reported_not_raised(app_env, subset_run):
    _, result = subset_run
    shutil.rmtree(result.run_dir)
    at = _from_address(result.run_id)
    assert not problems(at), problems(at)
    assert any("could not be opened" in e for e in errors(at)), errors(at)


def test_whatever_a_damaged_run_raises_through_the_address_is_a_message(app_env, subset_run, monkeypatch):
    from workbench.runs import apply

    _, result = subset_run

    def damaged(store, record):
        raise KeyError("kmeans")  # not one of the app's user errors: what a half-written manifest can raise

    monkeypatch.setattr(apply, "load_models", damaged)
    at = _from_address(result.run_id)
    assert not problems(at), problems(at)
    assert any("could not be opened" in e and "KeyError" in e and "damaged" in e for e in errors(at)), errors(at)
