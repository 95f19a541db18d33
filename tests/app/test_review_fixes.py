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
