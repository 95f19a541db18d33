"""workbench.app.state: the declared session state, and what happens when the data under it changes.

The first tests drive the pure module with a dict; the last ones the app through AppTest, on
the census table and a smaller table loaded by path.
"""
from __future__ import annotations

import pandas as pd
import pytest

from tests.support.apptest import errors, goto, load_by_path, new_app, problems, shown, train_pca
from workbench.app import state

CENSUS = state.Context(table="census", table_features=tuple(f"f{i}" for i in range(34)), rows=3218, n_features=34)
SMALL = state.Context(table="small", table_features=tuple(f"f{i}" for i in range(13)), rows=400, n_features=13)


def settled(context: state.Context) -> dict:
    session: dict = {}
    state.initialise(session)
    for stage in range(len(state.STAGES)):
        state.reconcile(session, context, stage)
    return session


def test_every_input_has_a_default_once_the_data_is_known():
    session = settled(CENSUS)
    assert session["feature_select"] == list(CENSUS.table_features)
    assert session["pca_num_components"] == 33 and session["kmeans_k"] == 7
    assert session["hist_feature"] == "f0" and session["makeup_n"] == 8
    assert not state.problems(session, CENSUS, tuple(spec.key for spec in state.INPUTS))


def test_a_new_table_resets_what_belonged_to_the_last_one_and_says_so():
    session = settled(SMALL)
    assert session["pca_num_components"] == 13 and len(session["feature_select"]) == 13
    notices = [n for stage in range(len(state.STAGES)) for n in state.reconcile(session, CENSUS, stage)]
    assert len(session["feature_select"]) == 34 and session["pca_num_components"] == 33
    texts = [n.text for n in notices]
    assert "The feature choice was 13 features of the last table; it is all 34 features of this one." in texts
    assert "num_components was 13 for the last table; it is 33 for this one." in texts


def test_a_value_that_still_fits_is_kept_and_one_that_no_longer_fits_is_reset_with_a_notice():
    session = settled(CENSUS)
    session["pca_num_components"] = 20
    fewer = state.Context(**{**CENSUS.__dict__, "n_features": 25})
    assert state.reconcile(session, fewer, 1) == [] and session["pca_num_components"] == 20
    narrow = state.Context(**{**CENSUS.__dict__, "n_features": 10})
    (notice,) = state.reconcile(session, narrow, 1)
    assert session["pca_num_components"] == 10
    assert notice.text == "num_components was 20 for the last feature choice; it is 10 for this one."


def test_a_typed_value_out_of_range_is_kept_and_named_as_a_problem():
    session = settled(CENSUS)
    session["kmeans_k"] = 5000
    state.reconcile(session, CENSUS, 1)
    assert session["kmeans_k"] == 5000  # never silently replaced
    assert state.problems(session, CENSUS, ("kmeans_k",)) == {"kmeans_k": "k must be at most 3,218 (the 3,218 "
                                                                           "counties); it is 5,000."}
    session["kmeans_k"] = 2.5
    assert "whole number" in state.problems(session, CENSUS, ("kmeans_k",))["kmeans_k"]


def test_view_settings_follow_quietly():
    session = settled(CENSUS)
    session["makeup_n"], session["profile_features"] = 20, 30
    notices = state.reconcile(session, SMALL, 1)
    assert (session["makeup_n"], session["profile_features"]) == (8, 13)
    assert {n.key for n in notices} == {"pca_num_components"}  # the table's input is said; the views are not


def test_stamped_values_are_not_reset():
    session = settled(SMALL)
    session["feature_select"], session["pca_num_components"] = ["f1", "f2"], 2
    state.stamp(session, CENSUS)  # an opened run set these for the census
    assert all(state.reconcile(session, CENSUS, stage) == [] for stage in range(len(state.STAGES)))
    assert session["pca_num_components"] == 2


def test_the_sidebar_status_is_derived_from_the_facts_of_the_rerun():
    lines = state.pipeline_status(state.PipelineFacts("the census", rows=3218, n_features=34, scaler="minmax"))
    assert [line.text for line in lines][-1] == "PCA: not trained" and not lines[-1].done
    assert not any("K-Means" in line.text for line in lines)  # nothing after a step that is not done
    trained = state.PipelineFacts("the census", rows=3218, n_features=34, scaler="minmax", kept=5, n_components=33,
                                  kept_share=0.72, named=1, k=7, sse=280.0)
    assert [line.text for line in state.pipeline_status(trained)][-1] == "K-Means: k = 7, SSE 280.00"


def test_the_sidebar_says_a_trained_pca_needs_its_components_to_keep_fixed():
    wrong = state.PipelineFacts("the census", rows=3218, n_features=34, scaler="minmax", n_components=6)
    lines = state.pipeline_status(wrong)
    assert lines[-1].text == "PCA: 6 components; fix Components to keep on the PCA page" and not lines[-1].done


# --- in the app ----------------------------------------------------------------------------------------
@pytest.fixture
def small_table(census_csv, tmp_path):
    frame = pd.read_csv(census_csv)
    path = tmp_path / "thirteen.csv"
    frame[["CensusId", "State", "County", *frame.columns[3:16]]].to_csv(path, index=False)
    return path


def test_switching_back_to_the_census_gives_back_its_features_and_components(app_env, small_table):
    at = train_pca(load_by_path(new_app(), small_table))
    assert at.session_state["pca_num_components"] == 13
    assert len(at.session_state["feature_select"]) == 13
    goto(at, "data")
    at.radio(key="source_kind").set_value("default").run()
    assert len(at.session_state["feature_select"]) >= 30 and at.session_state["pca_num_components"] >= 30
    shown = " ".join(i.value for i in at.info)
    assert "num_components was 13 for the last table; it is 33 for this one." in shown, shown
    assert "feature choice was 13 features of the last table" in shown, shown
    goto(at, "pca")
    assert at.number_input(key="pca_num_components").value == 33 and not problems(at)


def test_a_k_above_the_allowed_range_blocks_training_with_an_error_at_the_input(app_env):
    at = train_pca(new_app())
    goto(at, "clusters")
    at.number_input(key="kmeans_k").set_value(5000).run()
    assert at.session_state["kmeans_k"] == 5000
    assert any("k must be at most 3,218" in e for e in errors(at)), errors(at)
    assert at.button(key="kmeans_train").disabled
    at.number_input(key="kmeans_k").set_value(6).run()
    assert not errors(at) and not at.button(key="kmeans_train").disabled


def test_the_sidebar_never_shows_a_clustering_beside_an_untrained_pca(app_env, small_table):
    at = train_pca(new_app())
    goto(at, "clusters")
    at.button(key="kmeans_train").click().run()
    load_by_path(at, small_table)
    status = [shown(c.value) for c in at.sidebar.caption]
    assert any("PCA: not trained" in line for line in status), status
    assert not any("K-Means: k =" in line for line in status), status
