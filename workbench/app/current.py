"""What is current: the session's PCA and K-Means runs, valid for the data now chosen.

A PCA run is current while its data key (fingerprint, features, scaling) is the prepared
data's; a K-Means run while its PCA run and kept components are the current ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from workbench.app.data import data_key, prepared
from workbench.app.errors import USER_ERRORS
from workbench.core import pipeline


@dataclass
class TrainedRun:
    """One training: its inputs' key, what it depends on upstream, its settings and stage."""

    algorithm: str
    key: tuple
    upstream: tuple
    settings: dict[str, Any]
    stage: Any  # pipeline.PCAStage | pipeline.KMeansStage
    reused: bool = False
    run_id: str | None = None  # the run registry's record of this training

    @property
    def job_name(self) -> str:
        return self.stage.job.job_name


def current_pca(prep: pipeline.PreparedData | None) -> TrainedRun | None:
    """The PCA run, if it was trained on the data, features and scaling now chosen."""
    run = st.session_state.get("pca_run")
    if run is None or prep is None or run.upstream != data_key(prep):
        return None
    return run


def kept(run: TrainedRun) -> int:
    """How many components are kept: the PCA page's input, which workbench.app.state keeps in
    line with the PCA run. A value typed out of range is an error, never quietly replaced: the
    pages check it first (workbench.app.navigation.require_pca)."""
    value = st.session_state.get("pca_top")
    n = run.stage.model.n_components
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= n or int(value) != value:
        raise ValueError(f"Components to keep must be a whole number from 1 to {n}; it is {value!r}. "
                         "Fix it on the PCA page.")
    return int(value)


def kept_or_none(run: TrainedRun) -> int | None:
    """`kept`, or None while "Components to keep" is out of range (the PCA page says so at the input)."""
    try:
        return kept(run)
    except ValueError:
        return None


def current_kmeans(pca_run: TrainedRun | None) -> TrainedRun | None:
    """The K-Means run, if it was trained on the current PCA run's kept components. A "Components to
    keep" typed out of range is no K-Means run's (each was trained on a valid one): it simply does
    not match, and the PCA page says what is wrong at the input (see `kept`)."""
    run = st.session_state.get("kmeans_run")
    if run is None or pca_run is None:
        return None
    top = kept_or_none(pca_run)
    if top is None or run.upstream != (pca_run.job_name, top):
        return None
    return run


@st.cache_resource(show_spinner=False, max_entries=16)
def _scores(job_name: str, top: int, data: tuple, _pca: pipeline.PCAStage, _X):
    scores = pipeline.project(_pca, _X, top)
    scores.setflags(write=False)
    return scores


def scores(prep: pipeline.PreparedData, run: TrainedRun):
    """The kept component scores of the data (cached on the run and the data: a run imported without
    its data is shown on whichever table is current, so its job name alone does not say which)."""
    return _scores(run.job_name, kept(run), data_key(prep), run.stage, prep.X)


def current_runs() -> tuple[pipeline.PreparedData | None, TrainedRun | None, TrainedRun | None]:
    """(prepared data, current PCA run, current K-Means run), each None when not available."""
    try:
        prep = prepared()
    except USER_ERRORS:
        return None, None, None
    pca_run = current_pca(prep)
    return prep, pca_run, current_kmeans(pca_run)
