"""The pages at their limits: a large k on the census, a table without ids or place names, and
a reload that opens the run in the address (?run=<id>) on every page."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.apptest import (
    APP,
    TIMEOUT,
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
from workbench.app.navigation import PAGE_FILES

MODEL_PAGES = ("pca", "names", "clusters", "explore", "export", "choose_k", "profiles", "map")


def every_text(at) -> str:
    """Every text element's value on the page (to look for a traceback printed as text)."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "text", "code", "exception"):
        parts += [str(getattr(e, "value", "")) for e in getattr(at, kind)]
    return "\n".join(parts)


def page(at, name: str):
    return at.switch_page(PAGE_FILES[name][0]).run()


def assert_clean(at, where: str) -> None:
    assert not problems(at), (where, problems(at))
    assert not errors(at), (where, errors(at))
    assert "Traceback" not in every_text(at) and "MaxRowsError" not in every_text(at), where


@pytest.mark.slow
@pytest.mark.parametrize("k", [150, 200])  # past 5,000 rows in the centroid tables from k = 148 (k × 34 features)
def test_a_large_k_on_the_census_shows_no_exception_on_any_page(app_env, k):
    at = train_pca(new_app())
    goto(at, "clusters")
    at.session_state["kmeans_k"] = k
    at.run()
    train_kmeans(at)
    assert at.session_state["kmeans_run"].stage.model.k == k
    # Every page in the sidebar's order; Endpoints lists live SageMaker endpoints, not the run
    # (offline it says, as it should, that no AWS region is set).
    for name in (name for name in PAGE_FILES if name != "endpoints"):
        page(at, name)
        assert_clean(at, name)
    page(at, "profiles")
    at.button(key="prof_stability_run").click().run()
    assert_clean(at, "profiles after stability")
    page(at, "explore")
    at.selectbox(key="explore_cluster").set_value(k - 1).run()
    assert_clean(at, f"explore cluster {k - 1}")


@pytest.fixture
def anonymous_table(census_csv, tmp_path):
    """The census features alone: no id column, no state or county names."""
    frame = pd.read_csv(census_csv).drop(columns=["CensusId", "State", "County"]).dropna().head(400)
    path = tmp_path / "features-only.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_table_without_ids_or_names_is_accepted_and_pages_say_what_is_missing(app_env, anonymous_table):
    at = load_by_path(new_app(), anonymous_table)
    assert at.session_state["feature_select"] and len(at.session_state["feature_select"]) == 34
    train_kmeans(train_pca(at))
    page(at, "explore")
    assert_clean(at, "explore")
    assert any("no id or place-name columns" in text for text in infos(at)), infos(at)
    page(at, "map")
    assert_clean(at, "map")
    assert any("no id column" in text and "FIPS" in text for text in infos(at)), infos(at)
    page(at, "export")
    assert_clean(at, "export")


def opened_from_address(run_id: str) -> AppTest:
    """A new session whose address holds ?run=<id>: a reload, a bookmark or a second tab."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = run_id
    return at.run()


def test_a_reload_with_the_run_in_the_address_restores_it_with_its_names_on_every_page(app_env):
    first = train_kmeans(train_pca(new_app()))
    run_id = first.session_state["kmeans_run"].run_id
    assert first.query_params["run"] in (run_id, [run_id])  # the trained run is in the address at once
    seed_names(first, "cluster", ["Rural South", "", "Big cities", "", "", "", ""])
    first.run()  # on Clusters, whose names editor records them
    goto(first, "names")
    name_component(first, 0, "Wealth")
    assert_clean(first, "names")

    for name in MODEL_PAGES:
        at = page(opened_from_address(run_id), name)
        assert_clean(at, name)
        assert at.session_state["active_run_id"] == run_id, name
        pca_run, kmeans_run = at.session_state["pca_run"], at.session_state["kmeans_run"]
        assert kmeans_run.run_id == run_id, name
        assert at.session_state["names"][kmeans_run.job_name]["cluster"][:3] == ["Rural South", "", "Big cities"]
        assert at.session_state["names"][pca_run.job_name]["component"][0] == "Wealth", name
        assert not any("Train PCA first" in text or "Train K-Means first" in text for text in infos(at)), name
        if name == "explore":
            options = at.selectbox(key="explore_cluster").options
            assert options[0].startswith("Rural South") and options[2].startswith("Big cities")
        if name == "names":
            assert any(shown(m.value).startswith("**In use:** Wealth · pc2") for m in at.markdown)


@pytest.fixture
def tract_table(census_csv, tmp_path):
    """Three tracts in each of 300 counties: 11-digit GEOIDs (as text, leading zeros kept)."""
    counties = pd.read_csv(census_csv).dropna().head(300)
    rows = []
    for i in range(3):
        part = counties.drop(columns=["CensusId"]).copy()
        part.insert(0, "GEOID", [f"{fips:05d}{100 * (i + 1):06d}" for fips in counties["CensusId"]])
        part["Income"] = part["Income"] * (0.8 + 0.2 * i)
        rows.append(part)
    path = tmp_path / "tracts.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


def test_the_map_colours_counties_by_the_share_of_their_tracts_in_a_cluster(app_env, tract_table):
    at = load_by_path(new_app(), tract_table)
    assert "GEOID" not in at.session_state["feature_select"]
    train_kmeans(train_pca(at))
    page(at, "map")
    assert_clean(at, "map")
    note = next(text for text in infos(at) if "share of its tracts" in text)
    assert "(300 counties, 900 tracts)" in note, note
    at.selectbox(key="map_share_cluster").set_value(2).run()
    assert_clean(at, "map, cluster 2")
    assert any("tracts in cluster 2" in text for text in infos(at))
