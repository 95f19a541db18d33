"""The session's state in Streamlit: the declared schema (workbench.app.state) applied to
st.session_state on every rerun, and the notices of what it changed.

The entry point calls `start()` before the page runs; whatever changes the data or a run (a new
source, a training, an opened run) calls `sync()` so the inputs that depend on it follow at once.
"""
from __future__ import annotations

import streamlit as st

from workbench.app import current, data, state
from workbench.app.errors import USER_ERRORS

BACKEND_SETTING_PREFIX = "sm_"


def start() -> None:
    """Called by the entry point on every rerun, before the page."""
    state.initialise(st.session_state)
    for spec in state.INPUTS:  # re-assigning keeps a widget's value alive on pages where it is not drawn
        if spec.key in st.session_state:
            st.session_state[spec.key] = st.session_state[spec.key]
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(state.KEEP_ALIVE_PREFIXES)]:
        st.session_state[key] = st.session_state[key]
    sync()


def context() -> state.Context:
    """The facts of the data and runs now current (as far as they can be loaded)."""
    try:
        clean = data.clean_table()
        identity = data.table_identity()
    except USER_ERRORS:
        return state.Context()
    facts = {"table": identity, "table_features": tuple(clean.features)}
    prep = data.current_prepared()
    if prep is None:
        return state.Context(**facts)
    facts.update(rows=len(prep.X), n_features=len(prep.features))
    pca_run = current.current_pca(prep)
    if pca_run is None:
        return state.Context(**facts)
    facts.update(pca=pca_run.job_name, n_components=pca_run.stage.model.n_components)
    kmeans_run = st.session_state.get("kmeans_run")
    if kmeans_run is not None and kmeans_run.upstream[0] == pca_run.job_name:
        facts.update(kmeans=kmeans_run.job_name, k=kmeans_run.stage.model.k)
    return state.Context(**facts)


def sync() -> None:
    """Reconcile the inputs with what is now current; keep the notices for the page."""
    for stage in range(len(state.STAGES)):  # each link of the chain once the links before it settled
        notices = state.reconcile(st.session_state, context(), stage)
        st.session_state["notices"] = [*st.session_state.get("notices", []), *notices]


def adopt() -> None:
    """The current context is the one every input was just set for (e.g. by opening a run)."""
    state.stamp(st.session_state, context())


def show_notices() -> None:
    """What changed and why, once, at the top of the page."""
    for notice in st.session_state.get("notices", []):
        st.info(notice.text, icon=":material/sync_alt:")
    st.session_state["notices"] = []


def problems(*keys: str) -> dict[str, str]:
    """What is wrong with these inputs' values now (see workbench.app.state.problems)."""
    return state.problems(st.session_state, context(), keys)


def set_source(source: data.Source) -> None:
    """Make `source` the session's table; the inputs that depend on the table follow at once."""
    if st.session_state.get("source") != source:
        st.session_state["source"] = source
        sync()
        show_notices()  # here, where the change was made
