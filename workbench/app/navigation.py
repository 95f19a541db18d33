"""The app's pages, links between them, and each page's prerequisites (say what to do first and
link to the page where it is done)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from workbench.app import session
from workbench.app.current import TrainedRun, current_kmeans, current_pca
from workbench.app.data import clean_table, prepared
from workbench.app.errors import USER_ERRORS, shows_errors
from workbench.core import pipeline

PAGE_FILES = {
    "data": ("app/pages/data_source.py", "Data", ":material/table_view:"),
    "features": ("app/pages/features.py", "Features", ":material/tune:"),
    "pca": ("app/pages/pca.py", "PCA", ":material/stacked_line_chart:"),
    "names": ("app/pages/name_components.py", "Name components", ":material/label:"),
    "clusters": ("app/pages/clusters.py", "Clusters", ":material/bubble_chart:"),
    "explore": ("app/pages/explore.py", "Explore", ":material/travel_explore:"),
    "export": ("app/pages/export.py", "Export", ":material/download:"),
    "choose_k": ("app/pages/choose_k.py", "Choose k", ":material/insights:"),
    "profiles": ("app/pages/profiles.py", "Profiles", ":material/person_search:"),
    "map": ("app/pages/county_map.py", "County map", ":material/map:"),
    "endpoints": ("app/pages/endpoints.py", "Endpoints", ":material/cloud:"),
    "runs": ("app/pages/runs.py", "Runs", ":material/history:"),
    "compare": ("app/pages/compare.py", "Compare", ":material/compare_arrows:"),
}
SECTIONS = {
    "Prepare": ("data", "features"),
    "Reduce": ("pca", "names"),
    "Segment": ("clusters", "explore", "export"),
    "Understand": ("choose_k", "profiles", "map"),
    "Runs": ("runs", "compare"),
    "Cloud": ("endpoints",),
}


def navigation() -> Any:
    """st.navigation over every page, in the sidebar's sections (built on every rerun by the entry point)."""
    pages = {name: st.Page(path, title=title, icon=icon, url_path=name, default=(name == "data"))
             for name, (path, title, icon) in PAGE_FILES.items()}
    return st.navigation({section: [pages[name] for name in names] for section, names in SECTIONS.items()})


def link(name: str, label: str | None = None) -> None:
    path, title, icon = PAGE_FILES[name]
    st.page_link(path, label=label or f"Go to {title}", icon=icon)


def require(message: str, page: str) -> None:
    """Say what to do first, link to the page where it is done, and stop this page."""
    st.info(message, icon=":material/info:")
    link(page)
    st.stop()


def require_data():
    with shows_errors("The data could not be loaded"):
        clean = clean_table()
    return clean


def require_prepared() -> pipeline.PreparedData:
    try:
        return prepared()
    except USER_ERRORS as exc:
        st.error(str(exc), icon=":material/error:")
        require("Fix the data source or the feature choice first.", "data")
    raise AssertionError  # unreachable: require() stops


def require_pca(prep: pipeline.PreparedData) -> TrainedRun:
    run = current_pca(prep)
    if run is None:
        if st.session_state.get("pca_run") is not None:
            require("The data, features or scaling changed since PCA was trained. Train PCA again first.", "pca")
        require("Train PCA first: this page needs its components.", "pca")
    wrong = session.problems("pca_top")
    if wrong:
        st.error(wrong["pca_top"], icon=":material/error:")
        require("Fix the number of components to keep on the PCA page first.", "pca")
    return run


def require_kmeans(pca_run: TrainedRun) -> TrainedRun:
    run = current_kmeans(pca_run)
    if run is None:
        if st.session_state.get("kmeans_run") is not None:
            require("The PCA run or the number of kept components changed since K-Means was trained. "
                    "Train K-Means again first.", "clusters")
        require("Train K-Means first: this page needs its clusters.", "clusters")
    return run
