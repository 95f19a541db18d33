"""The analyst's names of components and clusters: one list per run, kept with that run, restored
when the run comes back, and recorded in the run registry's names history.
"""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from workbench.analysis import naming, text
from workbench.app.current import TrainedRun, current_kmeans, kept
from workbench.app.errors import USER_ERRORS
from workbench.core import conventions, pipeline
from workbench.core import names as checks
from workbench.runs.records import RegistryError

COMPONENT, CLUSTER = "component", "cluster"


def _names(run: TrainedRun, kind: str) -> list[str]:
    return list(st.session_state["names"].get(run.job_name, {}).get(kind, []))


def _store_names(run: TrainedRun, kind: str, names: Sequence[str]) -> None:
    st.session_state["names"].setdefault(run.job_name, {})[kind] = list(names)


def component_names(run: TrainedRun) -> list[str]:
    """The analyst's names of the kept components, blank where not named."""
    return naming.pad_names(_names(run, COMPONENT), kept(run))


def component_columns(run: TrainedRun) -> list[str]:
    """Display names of the kept components: the analyst's, else pc1…"""
    try:
        return conventions.component_columns(kept(run), component_names(run))
    except ValueError:  # a clash is refused when the names are set; an old session may still hold one
        return conventions.component_columns(kept(run))


def set_component_names(run: TrainedRun, names: Sequence[str]) -> None:
    """Store names for the kept components; a clash is a ValueError and nothing is stored."""
    n = run.stage.model.n_components
    updated = naming.apply_names(_names(run, COMPONENT), list(names), n)
    # InvalidName (a ValueError) on a clash with another name, a key or added column, or a control character.
    updated[: kept(run)] = checks.check_component_names(updated[: kept(run)], key_columns=_key_columns())
    _store_names(run, COMPONENT, updated)
    _record(run.run_id, "components", updated)
    kmeans_run = current_kmeans(run)
    if kmeans_run is not None and kmeans_run.run_id != run.run_id:
        _record(kmeans_run.run_id, "components", updated[: kept(run)])


def cluster_names(run: TrainedRun) -> list[str]:
    return naming.pad_names(_names(run, CLUSTER), run.stage.model.k)


def cluster_labels(run: TrainedRun) -> list[str]:
    """Display names of the clusters: the analyst's, else "cluster i"."""
    try:
        return naming.cluster_names(cluster_names(run), run.stage.model.k)
    except ValueError:
        return naming.cluster_names(None, run.stage.model.k)


def set_cluster_names(run: TrainedRun, names: Sequence[str]) -> None:
    k = run.stage.model.k
    updated = checks.check_cluster_names(naming.apply_names(_names(run, CLUSTER), list(names), k),
                                         key_columns=_key_columns())
    _store_names(run, CLUSTER, updated)
    _record(run.run_id, "clusters", updated)


def _key_columns() -> list[str]:
    """The table's id and name columns, which no component or cluster name may take."""
    from workbench.app.data import prepared

    try:
        schema = prepared().clean.schema
    except USER_ERRORS:
        return []
    return [c for c in (schema.id_column, *schema.name_columns) if c]


def load_names(run: TrainedRun, kind: str, names: Sequence[str], count: int) -> None:
    """A recorded run's saved names as the session's names of its job (what the registry holds)."""
    chosen = naming.pad_names(list(names), count)
    _store_names(run, kind, chosen)
    if run.run_id:
        st.session_state["names_saved"][(run.run_id, "components" if kind == COMPONENT else "clusters")] = \
            tuple(chosen)


def _record(run_id: str | None, target: str, names: Sequence[str]) -> None:
    """Record the names in the registry's names history when they differ from what was last recorded."""
    if not run_id:
        return
    saved = st.session_state["names_saved"]
    key, value = (run_id, target), tuple(names)
    previous = saved.get(key)
    if previous == value:
        return
    saved[key] = value
    if previous is None and not any(value):  # first seen, nothing named: nothing to record
        return
    from workbench.app.runs_handle import run_store

    try:
        store = run_store()
        record = store.get(run_id)
        count = record.top if target == "components" else record.k
        store.set_names(run_id, **{target: list(value)[: count or None]})
    except (RegistryError, ValueError, OSError) as exc:  # the session keeps the names; say they were not saved
        st.warning(f"The names were not saved to run `{run_id}`: {text.markdown(exc)}", icon=":material/warning:")


def editor(kind: str, run: TrainedRun, table, *, count: int, suggestions: list[str], disabled: list[str],
           column_config: dict, buttons_key: str) -> None:
    """The names editor of a run's components or clusters, with "use suggestions" and "clear" buttons.
    Names that cannot be used (a clash, a reserved name) are refused with the reason and not stored."""
    from workbench.app.errors import shows_errors

    current = component_names if kind == COMPONENT else cluster_names
    store = set_component_names if kind == COMPONENT else set_cluster_names

    def fill() -> None:
        store(run, naming.fill_blanks(current(run), suggestions))
        bump_editor()

    def clear() -> None:
        store(run, [""] * count)
        bump_editor()

    edited = st.data_editor(table, key=editor_key(kind, run), hide_index=True, num_rows="fixed", disabled=disabled,
                            column_config=column_config)
    with shows_errors("These names cannot be used", stop=False):
        store(run, [value if isinstance(value, str) else "" for value in edited["name"].tolist()])
    left, right, _ = st.columns([2, 1, 3])
    left.button("Use suggestions for blank names", key=f"{buttons_key}_fill", on_click=fill,
                icon=":material/auto_fix_high:", width="stretch")
    right.button("Clear names", key=f"{buttons_key}_clear", on_click=clear, icon=":material/backspace:",
                 width="stretch")


def bump_editor() -> None:
    """Give the name editors a fresh key, so a reset is not undone by their pending edits."""
    st.session_state["editor_version"] = st.session_state.get("editor_version", 0) + 1


def editor_key(kind: str, run: TrainedRun) -> str:
    return f"{kind}_editor_{run.job_name[-12:]}_{st.session_state.get('editor_version', 0)}"


@st.cache_resource(show_spinner=False, max_entries=8)
def _suggested_component_names(job_name: str, _pca: pipeline.PCAStage, features: tuple[str, ...]) -> list[str]:
    return naming.suggest_component_names(_pca.model.v, features)


def suggested_component_names(prep: pipeline.PreparedData, run: TrainedRun) -> list[str]:
    return _suggested_component_names(run.job_name, run.stage, tuple(prep.features))[: kept(run)]
