"""AppTest: a page that ends early still leaves the sidebar's status and the address right, results
of another run are never shown as this run's, and narrow inputs never raise."""
from __future__ import annotations

import pytest

from tests.support.apptest import errors, infos, new_app, problems, train_kmeans, train_pca
from workbench.app.navigation import PAGE_FILES

PCA_PAGES = ("names", "clusters", "explore", "export", "choose_k", "profiles", "map")
KMEANS_PAGES = ("explore", "export", "profiles", "map")


def page(at, name: str):
    return at.switch_page(PAGE_FILES[name][0]).run()


def captions(at) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def test_a_page_that_needs_a_model_still_draws_the_sidebar_status(app_env):
    at = new_app()
    data_status = captions(at)
    assert data_status and data_status[0] == "PIPELINE", data_status
    for name in PCA_PAGES:
        page(at, name)
        assert not problems(at), (name, problems(at))
        assert any("Train PCA first" in i for i in infos(at)), (name, infos(at))
        assert len(captions(at)) == len(data_status), (name, captions(at))


def test_a_page_that_needs_k_means_keeps_the_open_run_in_the_address(app_env):
    at = train_pca(new_app())
    run_id = at.session_state["pca_run"].run_id
    assert run_id
    for name in KMEANS_PAGES:
        at.query_params.clear()  # Streamlit drops the address's parameters when the page changes
        page(at, name)
        assert not problems(at), (name, problems(at))
        assert any("Train K-Means first" in i for i in infos(at)), (name, infos(at))
        assert at.query_params.get("run") in (run_id, [run_id]), (name, dict(at.query_params))
        assert len(captions(at)) > 1, (name, captions(at))


def test_results_of_an_earlier_run_are_not_shown_for_the_next_one(app_env, monkeypatch, persistent_cache):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(persistent_cache("workbench-geometry")))
    at = train_kmeans(train_pca(new_app()))
    page(at, "profiles")
    at.number_input(key="prof_draws").set_value(10).run()
    at.button(key="prof_confidence_run").click().run()
    at.button(key="prof_report_run").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert len(at.download_button) == 2 and at.session_state["report_files"]
    page(at, "map")
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert "confidence" in at.radio(key="map_layer").options or "Membership confidence" in at.radio(
        key="map_layer").options
    at.radio(key="map_layer").set_value("confidence").run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))

    page(at, "clusters")
    at.number_input(key="kmeans_k").set_value(5).run()
    at.button(key="kmeans_train").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert at.session_state["kmeans_run"].stage.model.k == 5
    page(at, "map")  # the k = 7 run's confidence is not this run's
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert not {"confidence", "Membership confidence"} & set(at.radio(key="map_layer").options)
    assert at.radio(key="map_layer").value == "cluster"
    page(at, "profiles")  # nor is its report
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    assert at.session_state["report_files"] and len(at.download_button) == 0



def test_one_feature_goes_through_every_page_without_a_traceback(app_env, monkeypatch, persistent_cache):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(persistent_cache("workbench-geometry")))
    at = new_app()
    page(at, "features")
    at.multiselect(key="feature_select").set_value(["Income"]).run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    train_kmeans(train_pca(at))
    for name in PAGE_FILES:
        page(at, name)
        assert not problems(at), (name, problems(at))
    page(at, "clusters")
    assert not errors(at), errors(at)
    assert any("Features shown: 1" in c.value for c in at.caption), [c.value for c in at.caption]



def test_no_page_ends_with_st_stop():
    """st.stop() would leave the sidebar's status and the address undone: navigation.stop() instead."""
    import ast
    from pathlib import Path

    app = Path(__file__).resolve().parents[2] / "workbench"
    users = [p.name for p in app.rglob("*.py") for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "stop"
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "st"]
    assert not users, users


def test_a_user_error_that_stops_the_page_is_a_message_and_keeps_the_status(app_env, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEFAULT_DATA", str(app_env.parent / "missing.csv"))
    at = new_app()
    assert not problems(at), problems(at)
    assert errors(at), "the missing file is said"
    assert captions(at) and captions(at)[0] == "PIPELINE", captions(at)


def test_one_run_on_two_tables_keeps_two_results_apart():
    """An imported run has no fingerprint to check, so it can be shown on two tables (or one table
    scaled two ways): the cached stability, confidence and Choose k results are keyed on the data
    and its scaling too, not on the job alone."""
    from types import SimpleNamespace

    from workbench.app import computations

    def prep(fingerprint, scaling="minmax"):
        scaler = SimpleNamespace(recipe=scaling, transforms={})
        return SimpleNamespace(fingerprint=fingerprint, features=["a", "b"], scaler=scaler)

    run = SimpleNamespace(job_name="imported-kmeans-1")
    first, second, rescaled = prep("aaaa"), prep("bbbb"), prep("aaaa", "zscore")
    for other in (second, rescaled):  # another table, or the same table scaled another way
        assert computations.stability_key(first, run, 5, 0) != computations.stability_key(other, run, 5, 0)
        assert computations.confidence_key(first, run, 50, 0) != computations.confidence_key(other, run, 50, 0)
    computations._memo().put(computations.confidence_key(first, run, 50, 0), SimpleNamespace(table="first's"))
    assert computations.confidence_for(first, run, 50) == "first's"
    assert computations.confidence_for(second, run, 50) is None


def test_a_transform_turned_on_after_pca_makes_the_pca_run_stale(app_env):
    """log1p keeps a feature's name and the table's fingerprint: the data key holds the transforms,
    so the earlier PCA is no longer current and Train PCA trains anew instead of reusing it."""
    from tests.support.apptest import goto

    at = train_pca(new_app())
    first = at.session_state["pca_run"]
    goto(at, "features")
    at.session_state["recipe_log1p"] = ["Income"]
    at.run()
    goto(at, "pca")
    assert not problems(at)
    at.button(key="pca_train").click().run()
    assert not problems(at) and not errors(at)
    assert at.session_state["pca_run"].job_name != first.job_name
    assert not any("reused" in t.value for t in at.toast)
