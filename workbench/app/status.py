"""The sidebar's pipeline status, drawn after the page has run from the state of that very rerun,
so it always agrees with what the page showed (workbench.app.state.pipeline_status)."""
from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from workbench.analysis import text
from workbench.app import names
from workbench.app.current import current_runs, kept_or_none
from workbench.app.data import current_source
from workbench.app.errors import USER_ERRORS
from workbench.app.state import PipelineFacts, pipeline_status


def facts() -> PipelineFacts:
    out = PipelineFacts(current_source().label)
    try:
        prep, pca_run, kmeans_run = current_runs()
    except USER_ERRORS:
        return out
    if prep is None:
        return out
    out.rows, out.n_features, out.scaler = prep.clean.report.rows_clean, len(prep.features), prep.scaler.recipe
    if pca_run is None:
        return out
    out.n_components = pca_run.stage.model.n_components
    out.kept = kept_or_none(pca_run)
    if out.kept is None:  # "Components to keep" out of range: the input says so; the sidebar asks to fix it
        return out
    out.kept_share = float(np.sum(pca_run.stage.explained_variance_ratio[: out.kept]))
    out.named = sum(1 for name in names.component_names(pca_run) if name)
    if kmeans_run is not None:
        out.k, out.sse = kmeans_run.stage.model.k, kmeans_run.stage.sse
    return out


def draw(slot: Any) -> None:
    with slot.container():
        st.caption("PIPELINE")
        for line in pipeline_status(facts()):
            icon = ":material/check_circle:" if line.done else ":material/radio_button_unchecked:"
            st.caption(f"{icon} {text.markdown(line.text)}")
