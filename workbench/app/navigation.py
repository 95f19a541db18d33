"""The app's pages, links between them, and each page's prerequisites (say what to do first and
link to the page where it is done)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from workbench.analysis import text
from workbench.app import session
from workbench.app.current import TrainedRun, current_kmeans, current_pca
from workbench.app.data import clean_table, prepared
from workbench.app.errors import USER_ERRORS, PageStop, shows_errors, stop  # noqa: F401 - PageStop for the entry point
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
    # expanded: every page shows in the sidebar (Runs, where recorded work is reopened, included).
    return st.navigation({section: [pages[name] for name, _, _ in entries] for section, entries in SECTIONS.items()},
                         expanded=True)


def link(name: str, label: str | None = None) -> None:
    path, title, icon = PAGE_FILES[name]
    st.page_link(path, label=label or f"Go to {title}", icon=icon)


def require(message: str, page: str, offer: str | None = None) -> None:
    """Say what to do first, link to the page where it is done, and stop this page. With `offer`
    ("pca" or "kmeans"), the latest recorded run holding that model is offered too, opened in
    one click (after a reload, the work is one click away), with a link to every run."""
    st.info(message, icon=":material/info:")
    link(page)
    if offer:
        _offer_latest_run(offer)
    stop()


def _open_offered(run_id: str) -> None:
    from workbench.app import opening

    opening.open_and_say(run_id, "offer_flash")


def _offer_latest_run(needs: str) -> None:
    from workbench.app.runs_handle import runs_handle
    from workbench.runs import pickers

    flash = st.session_state.pop("offer_flash", None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    store = runs_handle().store
    if store is None:
        return
    try:
        listed = store.list_runs(status="Completed", limit=50)
    except USER_ERRORS:
        return
    run_id = pickers.latest_matching(listed, needs)
    if run_id is None:
        return
    label = pickers.labels(listed[listed["run_id"].eq(run_id)])[run_id]
    with st.container(border=True):
        st.markdown("**Or pick up recorded work:** the latest run with "
                    + ("clusters" if needs == "kmeans" else "a PCA model") + f" is {text.markdown(label)}.")
        left, right = st.columns([1, 2], vertical_alignment="center")
        left.button("Open the latest run", key="offer_open", on_click=_open_offered, args=(run_id,),
                    icon=":material/folder_open:", type="primary")
        with right:
            link("runs", "Choose another on the Runs page")


def require_data():
    with shows_errors("The data could not be loaded"):
        clean = clean_table()
    return clean


def require_prepared() -> pipeline.PreparedData:
    try:
        return prepared()
    except USER_ERRORS as exc:
        st.error(text.markdown(exc), icon=":material/error:")
        require("Fix the data source or the feature choice first.", "data")
    raise AssertionError  # unreachable: require() stops


def require_pca(prep: pipeline.PreparedData) -> TrainedRun:
    run = current_pca(prep)
    if run is None:
        if st.session_state.get("pca_run") is not None:
            require("The data, features or scaling changed since PCA was trained. Train PCA again first.", "pca")
        require("Train PCA first: this page needs its components.", "pca", offer="pca")
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
        require("Train K-Means first: this page needs its clusters.", "clusters", offer="kmeans")
    return run


def require_runs(flash_key: str):
    """(the run store, every run listed) for the Runs and Compare pages: what is wrong with the
    registry is shown and the page stops; a message left by the last action is shown once; with
    no runs yet, the page says how to make one and stops."""
    from workbench.app.runs_handle import runs_handle

    handle = runs_handle()
    if handle.error:
        st.error(f"**The run registry could not be opened:** {text.markdown(handle.error)} Set WORKBENCH_WORKSPACE to a "
                 "writable folder, or move a damaged registry.sqlite3 away (the runs are rebuilt from their "
                 "folders).", icon=":material/error:")
        stop()
    flash = st.session_state.pop(flash_key, None)
    if flash:
        kind, message = flash
        (st.success if kind == "success" else st.error)(message)  # pages escape what they put in it
    try:
        listed = handle.store.list_runs()
    except USER_ERRORS as exc:
        st.error(f"**The runs could not be listed:** {text.markdown(exc)}", icon=":material/error:")
        stop()
    if listed.empty:
        st.info("No runs yet in this workspace. Create one with `./run cli segment` in a shell, "
                "or train PCA and K-Means in the app.", icon=":material/info:")
        link("pca", "Train in the app")
        stop()
    return handle.store, listed
