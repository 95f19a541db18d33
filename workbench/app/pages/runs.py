"""Runs: every run the registry recorded — filter, inspect, open, rename, delete and re-run.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from workbench.analysis import formatting, text
from workbench.app import navigation, opening, widgets
from workbench.app.errors import USER_ERRORS
from workbench.app.navigation import require_runs
from workbench.app.runs_handle import runs_handle
from workbench.runs import manifest, pickers, records, segment

st.title("Runs")
st.caption("Every run recorded in this workspace's registry: filter them, look inside one, open it, rename it, "
           "delete it, or run the same settings again on another backend.")

for skipped in runs_handle().reconciled.get("skipped", []):  # said even when no run could be listed
    st.warning(f"A run folder could not be registered: {text.markdown(skipped)}. Restore its files, or move it "
               "out of the workspace's runs folder.", icon=":material/warning:")
reg, everything = require_runs("runs_flash")
for job_id, state in sorted(runs_handle().reattached.items()):
    st.info(f"Cloud job {job_id} left in flight by an earlier session: {text.markdown(state)}", icon=":material/sync:")

# ---- filters and the list ------------------------------------------------------------------
backends = sorted(set(widgets.backend_options()) | set(everything["backend"].dropna()))
statuses = list(records.STATUSES) + sorted(set(everything["status"].dropna()) - set(records.STATUSES))
for key, choices in (("runs_backend", backends), ("runs_status", statuses), ("runs_kind", records.KINDS)):
    widgets.keep_choices(key, choices)  # kept from an earlier visit: only what is still offered
left, middle, right = st.columns(3)
chosen_backends = left.multiselect("Backend", backends, key="runs_backend", placeholder="every backend")
chosen_statuses = middle.multiselect("Status", statuses, key="runs_status", placeholder="every status")
chosen_kinds = right.multiselect("Kind", list(records.KINDS), key="runs_kind", placeholder="every kind",
                                 help="segmentation: PCA + K-Means (one per K-Means training in the app); "
                                      "pca: a PCA training alone.")
filtered = reg.list_runs(backend=chosen_backends or None, status=chosen_statuses or None, kind=chosen_kinds or None)
attempts = pickers.unsubmitted_attempts(everything)


def clear_attempts() -> None:
    try:
        for attempt in attempts:
            reg.delete(attempt)
    except USER_ERRORS as exc:
        st.session_state["runs_flash"] = ("error", "**The failed attempts could not all be cleared:** "
                                                   + text.markdown(exc))
        return
    st.session_state["runs_flash"] = ("success", f"Cleared {len(attempts)} SageMaker attempt(s) that never "
                                                 "submitted a job.")


if attempts:
    with st.container(border=True):
        st.markdown(f"**{len(attempts)} SageMaker attempt(s) failed before any job was submitted** (no credentials, "
                    "no region or no Docker): nothing was trained or billed.")
        show, clear = st.columns([3, 1], vertical_alignment="center")
        show.toggle("Show them in the list", key="runs_show_attempts")
        clear.button("Clear them", key="runs_clear_attempts", on_click=clear_attempts, icon=":material/delete_sweep:",
                     width="stretch")
listed = pickers.visible(filtered, show_unsubmitted=bool(st.session_state.get("runs_show_attempts")))
st.session_state["runs_listed"] = listed["run_id"].tolist()  # what the list shows, also readable by tests

st.dataframe(pickers.shown_table(listed), hide_index=True, key="runs_table")
st.caption(f"{len(listed)} of {len(everything)} runs shown, newest first.")
if listed.empty:
    st.info("No run matches these filters.", icon=":material/filter_alt_off:")
    navigation.stop()

labels = pickers.labels(listed)
if st.session_state.get("runs_selected") not in labels:
    st.session_state.pop("runs_selected", None)
run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="runs_selected")

try:
    run = reg.get(run_id)
except USER_ERRORS as exc:
    st.error(text.markdown(exc), icon=":material/error:")
    navigation.stop()

# ---- details --------------------------------------------------------------------------------


def names_table(names: list[str], count: int | None, prefix: str) -> list[dict[str, str]]:
    count = max(count or 0, len(names))
    return [{prefix: f"{prefix} {i + (1 if prefix == 'pc' else 0)}", "name": names[i] if i < len(names) else ""}
            for i in range(count)]


with st.container(border=True):
    st.markdown(f"### {text.markdown(run.display_name)}")
    jobs = ", ".join(f"{alg}: `{job.job_name or '—'}` ({job.status})" for alg, job in run.jobs.items()) or "none"
    cost = ("$%.4f" % run.cost_usd) if run.cost_usd is not None else "—"
    st.markdown(
        f"**Run id:** `{run.run_id}` · **status:** {run.status} · **backend:** {run.backend} · "
        f"**kind:** {run.kind} · **origin:** {run.origin}"
        + (f" (from `{run.parent_run_id}`)" if run.parent_run_id else "") + "  \n"
        f"**Created:** {formatting.when(run.created_at)} · **finished:** {formatting.local_time(run.finished_at)} · "
        f"**took:** {formatting.duration(run.seconds)} · **cost:** {cost}  \n"
        f"**Data:** {text.markdown(run.source or '—')} · fingerprint `{(run.data_fingerprint or '—')[:12]}` · "
        f"{formatting.count(run.n_counties) if run.n_counties is not None else '?'} places  \n"
        f"**Features:** {len(run.features or [])}, scaled with {run.scaler_recipe or '—'} · "
        f"**PCA:** {run.n_components} components, {run.kept or '—'} kept · **K-Means:** {f'k = {run.k}' if run.k is not None else 'none'} · **seed:** {run.seed}  \n"
        f"**Jobs:** {jobs}"
    )
    if run.error:
        st.warning(text.markdown(run.error), icon=":material/warning:")
    names_left, names_right = st.columns(2)
    names_left.markdown("**Component names**")
    names_left.dataframe(names_table(run.component_names, run.top, "pc"), hide_index=True, key="runs_component_names")
    names_right.markdown("**Cluster names**")
    names_right.dataframe(names_table(run.cluster_names, run.k, "cluster"), hide_index=True,
                          key="runs_cluster_names")
    with st.expander("Manifest"):
        try:
            st.json(manifest.read(run.run_dir) if run.run_dir else {}, expanded=False)
        except USER_ERRORS as exc:
            st.caption(text.markdown(exc))

# ---- actions --------------------------------------------------------------------------------


def rename_run(run_id: str) -> None:
    new_name = st.session_state.get("runs_rename_name", "")
    try:
        record = reg.rename(run_id, new_name)
    except USER_ERRORS as exc:
        st.session_state["runs_flash"] = ("error", f"**The run could not be renamed:** {text.markdown(exc)}")
        return
    st.session_state["runs_rename_name"] = ""
    st.session_state["runs_flash"] = ("success", f"Run `{record.run_id}` is now called "
                                                 f"**{text.markdown(record.display_name)}**.")


def delete_run(run_id: str) -> None:
    if not st.session_state.get("runs_delete_confirm"):
        st.session_state["runs_flash"] = ("error", "Tick the confirmation box first: deleting removes the run's "
                                                   "files for good.")
        return
    try:
        reg.delete(run_id)
    except USER_ERRORS as exc:
        st.session_state["runs_flash"] = ("error", f"**The run could not be deleted:** {text.markdown(exc)}")
        return
    st.session_state["runs_delete_confirm"] = False
    st.session_state.pop("runs_selected", None)
    opening.forget_deleted_run(run_id)
    st.session_state["runs_flash"] = ("success", f"Run `{run_id}` was deleted.")


open_col, rename_col, delete_col = st.columns(3)
with open_col.container(border=True):
    st.markdown("**Open**")
    st.caption("Make this run the active run on every page: its data, features, models and names.")
    openable = run.status != "InProgress" and ("pca" in run.jobs or bool(run.parent_run_id))
    st.button("Open run", key="runs_open", on_click=opening.open_and_say, args=(run.run_id, "runs_flash"), icon=":material/folder_open:",
              disabled=not openable, help=None if openable else "This run has no models to open yet.")
with rename_col.container(border=True):
    st.markdown("**Rename**")
    st.text_input("New name", key="runs_rename_name", placeholder=run.display_name,
                  help="An empty name goes back to the run id.")
    st.button("Rename", key="runs_rename", on_click=rename_run, args=(run.run_id,), icon=":material/edit:")
with delete_col.container(border=True):
    st.markdown("**Delete**")
    st.checkbox(f"Yes, delete `{run.run_id}` and its files", key="runs_delete_confirm")
    st.button("Delete run", key="runs_delete", on_click=delete_run, args=(run.run_id,), icon=":material/delete:")

with st.container(border=True):
    st.markdown("**Run again on another backend** — the same data, features, scaling, components, k and seed.")
    options = widgets.backend_options()
    others = [b for b in options if b != run.backend]
    if st.session_state.get("runs_rerun_backend") not in options:
        st.session_state["runs_rerun_backend"] = (others or options)[0]
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    target = pick.selectbox("Backend", options, key="runs_rerun_backend")
    if go.button("Re-run", key="runs_rerun", icon=":material/replay:", width="stretch"):
        lines: list[str] = []

        def progress(*args: Any, **_: Any) -> None:
            lines.append(" ".join(str(a) for a in args))

        try:
            with st.spinner(f"Running {text.markdown(run.display_name)} again on {target}…"):
                result = segment.rerun(run.run_id, backend=target, store=reg, progress=progress)
        except USER_ERRORS as exc:
            st.error(f"**The re-run failed:** {text.markdown(exc)}", icon=":material/error:")
        else:
            st.session_state["runs_flash"] = ("success", f"Re-ran on {target}: new run `{result.run_id}`.")
            st.rerun()

# ---- the open run -----------------------------------------------------------------------------
active = st.session_state.get("active_run_id")
if active:
    st.divider()
    try:
        opened = reg.get(active)
    except USER_ERRORS as exc:
        st.error(f"**The open run could not be loaded:** {text.markdown(exc)}", icon=":material/error:")
        navigation.stop()
    st.subheader(f"Open run: {text.markdown(opened.display_name)}")
    named_components = [n for n in opened.component_names if n]
    named_clusters = [n for n in opened.cluster_names if n]
    st.caption(f"`{opened.run_id}` · components: " + (text.markdown(", ".join(named_components)) or "unnamed")
               + " · clusters: " + (text.markdown(", ".join(named_clusters)) or "unnamed"))
    links = st.columns(4)
    for column, page_name in zip(links, ("pca", "clusters", "explore", "export")):
        with column:
            navigation.link(page_name)
    if opened.has_labels:
        try:
            table = opened.labeled()
        except (*USER_ERRORS, KeyError) as exc:
            st.caption(f"Its saved labeled counties cannot be shown: {text.markdown(exc)}")
        else:
            sizes = table["cluster"].value_counts().sort_index().rename("counties").reset_index()
            if "cluster_name" in table.columns:
                sizes.insert(1, "name", [(opened.cluster_names[c] if c < len(opened.cluster_names) else "") or ""
                                         for c in sizes["cluster"].astype(int)])
            sizes_col, table_col = st.columns([1, 3])
            sizes_col.dataframe(sizes, hide_index=True, key="runs_open_sizes")
            table_col.dataframe(table, height=360, key="runs_open_table")
