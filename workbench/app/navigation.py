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

# The sidebar's sections and their pages: (short name, title, icon); the page's file is
# app/pages/<short name>.py unless FILES names another.
SECTIONS = {
    "Prepare": (("data", "Data", "table_view"), ("features", "Features", "tune")),
    "Reduce": (("pca", "PCA", "stacked_line_chart"), ("names", "Name components", "label")),
    "Segment": (("clusters", "Clusters", "bubble_chart"), ("explore", "Explore", "travel_explore"),
                ("export", "Export", "download")),
    "Understand": (("choose_k", "Choose k", "insights"), ("profiles", "Profiles", "person_search"),
                   ("map", "County map", "map")),
    "Runs": (("runs", "Runs", "history"), ("compare", "Compare", "compare_arrows")),
    "Cloud": (("endpoints", "Endpoints", "cloud"),),
}
FILES = {"data": "data_source", "names": "name_components", "map": "county_map"}
PAGE_FILES = {name: (f"app/pages/{FILES.get(name, name)}.py", title, f":material/{icon}:")
              for pages in SECTIONS.values() for name, title, icon in pages}


def navigation() -> Any:
    """st.navigation over every page, in the sidebar's sections (built on every rerun by the entry point)."""
    pages = {name: st.Page(path, title=title, icon=icon, url_path=name, default=(name == "data"))
             for name, (path, title, icon) in PAGE_FILES.items()}
    return st.navigation({section: [pages[name] for name, _, _ in entries] for section, entries in SECTIONS.items()})


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
