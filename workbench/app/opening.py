"""Opening a recorded run: it becomes the session's PCA and K-Means run on every page, in any
session (a new one after a restart, a reload, a bookmark or a second tab, through ?run=<id>).

The run's data is found (the current table first, then the run's own source), prepared through
the app's caches, checked against the run (workbench.runs.apply.check_fits) and the run's
models applied to it (workbench.runs.apply.apply) — the one way a recorded run meets a table.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from workbench.analysis import text
from workbench.app import names, session
from workbench.app.current import TrainedRun
from workbench.app.data import current_prepared, current_source, data_key, prepared, raw_table, set_feature_recipe
from workbench.app.errors import USER_ERRORS
from workbench.app.runs_handle import run_store
from workbench.app.source import DEFAULT_SOURCE, Source
from workbench.app.state import QUERY_KEY
from workbench.app.training import kmeans_settings, pca_settings
from workbench.core import conventions, recipes, scaling
from workbench.runs import apply

# The Features page's recipe (workbench.app.data.feature_recipe): set from the run's own when it opens.
RECIPE_KEYS = ("recipe_total", "recipe_counts", "recipe_keep_total", "recipe_log1p", "recipe_asinh")
# What opening a run may change, restored when it fails.
OPEN_RUN_KEYS = ("source", "source_kind", "source_path", "feature_select", "scaler", *RECIPE_KEYS, "pca_run",
                 "kmeans_run", "pca_top", "pca_num_components", "pca_seed", "kmeans_k", "kmeans_seed", "names",
                 "names_saved", "active_run_id", "facts")


def _source_for(reference: str) -> Source:
    return DEFAULT_SOURCE if reference == "default" else Source("path", reference)


def _use_source(source: Source) -> None:
    st.session_state["source"] = source
    st.session_state["source_kind"] = source.kind
    if source.kind == "path":
        st.session_state["source_path"] = source.location


def _find_data(record: Any, models: apply.RunModels) -> tuple[Source, str | None]:
    """The source holding the run's data (the current one first, then the run's own) and a note
    when it was assumed rather than checked; raises ApplyError saying what is wrong."""
    current = current_source()
    if not apply.knows_its_data(record):  # an import without data: the current table, if its shape fits
        prep = current_prepared()
        if prep is not None and len(prep.features) == models.feature_dim:
            return current, (f"Run {record.run_id} did not record its data: it is shown on the current table "
                             f"({current.label}, {len(prep.features)} features, {prep.scaler.recipe} scaling), "
                             "assuming that is what it was trained on.")
        raise apply.ApplyError(apply.data_problem(record, []))
    candidates = [current]
    if record.source_ref and _source_for(record.source_ref) != current:
        candidates.append(_source_for(record.source_ref))
    tried: list[str] = []  # what went wrong with each candidate, the run's own source last
    for source in candidates:
        where = "the walkthrough's dataset" if source.kind == "default" else f"`{source.label}`"
        try:
            raw = raw_table(source)
        except USER_ERRORS as exc:
            tried.append(f"{where} cannot be loaded ({exc}).")
            continue
        try:
            apply.prepare_like(raw, record, where)
        except USER_ERRORS as exc:
            tried.append(str(exc))
            continue
        return source, None
    # The current table is only a fallback: report it only when it is all there was to try.
    raise apply.ApplyError(apply.data_problem(record, tried[1:] if len(tried) > 1 else tried))


def open_recorded_run(run_id: str) -> str | None:
    """Make a recorded run the session's run on every page: its data source, features and scaling,
    its PCA and K-Means models (read through backends.format) and its names.

    Returns a note for the analyst (or None); raises ApplyError / RegistryError with what is
    wrong, leaving the session as it was."""
    store = run_store()
    record = store.get(run_id)
    models = apply.load_models(store, record)
    source, note = _find_data(record, models)
    saved = {key: st.session_state[key] for key in OPEN_RUN_KEYS if key in st.session_state}
    try:
        _use_source(source)
        if apply.knows_its_data(record):  # an import without data keeps the current table's choice
            _use_features(record)
        prep = prepared()
        if apply.knows_its_data(record):
            apply.check_fits(record, prep, "The data loaded for it")
        applied = apply.apply(models, prep)
        _settings_from(record, models)
        pca_run = TrainedRun("pca", ("opened", record.run_id, "pca"), data_key(prep), pca_settings(), applied.pca,
                             run_id=record.run_id)
        st.session_state["pca_top"] = models.top
        st.session_state["pca_run"] = pca_run
        names.load_names(pca_run, names.COMPONENT, record.component_names, models.pca.n_components)
        st.session_state["kmeans_run"] = None
        if applied.kmeans is not None:
            kmeans_run = TrainedRun("kmeans", ("opened", record.run_id, "kmeans"), (pca_run.job_name, models.top),
                                    kmeans_settings(), applied.kmeans, run_id=record.run_id)
            st.session_state["kmeans_run"] = kmeans_run
            names.load_names(kmeans_run, names.CLUSTER, record.cluster_names, models.kmeans.k)
        st.session_state["active_run_id"] = record.run_id
        session.adopt()  # these values are the run's: nothing carries over, nothing to reset
    except BaseException:
        for key in OPEN_RUN_KEYS:
            if key in saved:
                st.session_state[key] = saved[key]
            else:
                st.session_state.pop(key, None)
        raise
    names.bump_editor()
    st.query_params[QUERY_KEY] = record.run_id
    return note


def _use_features(record: Any) -> None:
    """The Features page set as the run prepared its table: the table's columns it chose (before its
    recipe's rates: a recipe's outputs such as "Men per TotalPop" are no columns of the table), its
    recipe (cleared for a run without one) and its scaling — what workbench.runs.segment.rerun_settings
    repeats too."""
    scaler = record.scaler_recipe if record.scaler_recipe in scaling.SCALERS else st.session_state.get("scaler")
    st.session_state["feature_select"] = record.source_features
    set_feature_recipe(record.feature_recipe or recipes.FeatureRecipe(scaler=scaler or conventions.DEFAULT_SCALER))


def _try_open(run_id: str) -> tuple[bool, str | None]:
    """Open a recorded run: (True, its note or None) when it opened, else (False, why it could not, as
    Markdown). Whatever a damaged run folder raises is a message, never a traceback."""
    try:
        return True, open_recorded_run(run_id)
    except USER_ERRORS as exc:
        return False, text.markdown(exc)
    except Exception as exc:  # noqa: BLE001 - whatever a damaged run folder raises: a message, not a traceback
        return False, (f"{type(exc).__name__}: {text.markdown(exc)}. Its folder may be damaged; delete it or "
                       "run it again.")


def open_and_say(run_id: str, flash_key: str) -> None:
    """Open a recorded run (a button's callback) and leave what happened, ("success" | "error",
    message), in session_state[flash_key] for the page to show on its next run."""
    opened, said = _try_open(run_id)
    if not opened:
        st.session_state[flash_key] = ("error", f"**The run could not be opened:** {said}")
        return
    note = said
    message = (f"Run `{run_id}` is open: the PCA, Name components, Clusters, Explore, Export, Profiles and County "
               "map pages now show it.")
    st.session_state[flash_key] = ("success", message + (f"  \n{text.markdown(note)}" if note else ""))


def _settings_from(record: Any, models: apply.RunModels) -> None:
    """The training widgets set to the run's settings, so the pages show them as the run's. The backend
    choices stay as they are: opening a cloud run must not make the next training a paid one."""
    st.session_state["pca_num_components"] = models.pca.n_components
    pca_seed = record.settings.get("pca_seed", record.seed)
    if pca_seed is not None:
        st.session_state["pca_seed"] = int(pca_seed)
    if models.kmeans is not None:
        st.session_state["kmeans_k"] = int(models.kmeans.k)
        kmeans_seed = record.settings.get("kmeans_seed", record.seed)
        if kmeans_seed is not None:
            st.session_state["kmeans_seed"] = int(kmeans_seed)


def from_address() -> None:
    """Open the run named in the page's address (?run=<id>) when this session does not have it yet:
    a reload, a bookmark or a second tab shows the same run. A run that cannot be opened is said
    once, with why, and the address is left as it is."""
    wanted = st.query_params.get(QUERY_KEY)
    if not wanted or wanted == st.session_state.get("active_run_id") or wanted == st.session_state.get(
            "address_tried"):
        return
    st.session_state["address_tried"] = wanted
    opened, said = _try_open(wanted)
    shown = text.markdown(wanted)  # the address is typed by anyone: plain text, never Markdown
    if not opened:
        st.error(f"**The run in the address ({shown}) could not be opened:** {said}", icon=":material/error:")
        return
    note = said
    st.toast(f"Opened run {shown} from the address.", icon=":material/folder_open:")
    if note:
        st.info(text.markdown(note), icon=":material/info:")


def forget_deleted_run(run_id: str) -> None:
    """After run `run_id` was deleted from the registry: the session no longer has it open, its runs
    trained or opened from it stay shown but are no longer recorded under that id (names are no
    longer saved to it, keep_in_address does not write it back), and the address no longer names it."""
    if st.session_state.get("active_run_id") == run_id:
        st.session_state["active_run_id"] = None  # a declared object (workbench.app.state): kept, emptied
    for key in ("pca_run", "kmeans_run"):
        run = st.session_state.get(key)
        if run is not None and run.run_id == run_id:
            st.session_state[key] = replace(run, run_id=None)
    if st.query_params.get(QUERY_KEY) == run_id:
        st.query_params.pop(QUERY_KEY, None)
    if st.session_state.get("address_tried") == run_id:
        st.session_state["address_tried"] = None


def keep_in_address() -> None:
    """Put the session's current recorded run (its K-Means run, else its PCA run, trained here or
    opened) in the address after every rerun: Streamlit drops query parameters when the page
    changes, and a reload, a bookmark or a second tab must open the same run. A run that is no
    longer current (the data changed) stays in the address: a reload gives back the last recorded work."""
    from workbench.app.current import current_runs, kept_or_none

    try:
        _, pca_run, kmeans_run = current_runs()
    except USER_ERRORS:
        return
    if pca_run is not None and kmeans_run is None and kept_or_none(pca_run) is None:
        return  # "Components to keep" typed out of range (said at the input): the address keeps its run
    recorded = next((run.run_id for run in (kmeans_run, pca_run) if run is not None and run.run_id), None)
    if recorded is None:
        return
    st.session_state["address_tried"] = recorded  # this session has it: from_address must not open it again
    if st.query_params.get(QUERY_KEY) != recorded:
        st.query_params[QUERY_KEY] = recorded
