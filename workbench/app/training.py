"""Training from the app: the settings the widgets hold, and each training recorded as a run.
Identical inputs and settings never train twice: the shared cache hands back the earlier model.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from backends import registry as backends_registry
from backends.format import hyperparameters as hpmod
from workbench.app import cache, session
from workbench.app.current import TrainedRun
from workbench.app.data import current_source, data_key
from workbench.app.state import KMEANS_OWN, PCA_OWN, QUERY_KEY
from workbench.core import conventions, pipeline, settings
from workbench.runs import trainings


def hyperparameters(algorithm: str) -> dict[str, Any]:
    """The advanced hyperparameters as set in their widgets (SageMaker's names)."""
    prefix = f"{algorithm}_hp_"
    skip = PCA_OWN if algorithm == "pca" else KMEANS_OWN
    out = {}
    for name in hpmod.SPECS[algorithm]:
        if name in skip:
            continue
        value = st.session_state.get(prefix + name)
        out[name] = value.strip() if isinstance(value, str) else value
    return out


def backend_setting_values(backend: str, *, secrets: bool = True) -> dict[str, Any]:
    """The settings form's values for `backend` (blank text → None, so the defaults and env apply)."""
    out: dict[str, Any] = {}
    for spec in backends_registry.settings_fields(backend):
        if spec.get("secret") and not secrets:
            continue
        value = st.session_state.get(session.BACKEND_SETTING_PREFIX + spec["name"], spec["default"])
        out[spec["name"]] = (value.strip() or None) if isinstance(value, str) else value
    return out


def _settings(algorithm: str, **own: Any) -> dict[str, Any]:
    backend = st.session_state[f"{algorithm}_backend"]
    config = {"backend": backend, **own, "seed": int(st.session_state[f"{algorithm}_seed"]),
              "hyperparameters": hyperparameters(algorithm)}
    public = backend_setting_values(backend, secrets=False)  # never the role, bucket or profile
    if public:
        config["backend_settings"] = public
    return config


def pca_settings() -> dict[str, Any]:
    return _settings("pca", num_components=int(st.session_state["pca_num_components"]))


def kmeans_settings() -> dict[str, Any]:
    return _settings("kmeans", k=int(st.session_state["kmeans_k"]))


def _backend(config: dict[str, Any]):
    return backends_registry.create_backend(config["backend"], **backend_setting_values(config["backend"]))


def _store():
    from workbench.app.runs_handle import run_store

    return run_store()


def _train(algorithm: str, upstream: tuple, data: tuple, config: dict[str, Any], fit) -> TrainedRun:
    """Train once per (upstream, data, settings): reuse the shared cache's run when it still exists. The
    data is part of the key: a PCA run imported without its data is shown on whichever table is current."""
    key = (algorithm, str(settings.workspace_dir()), upstream, data, cache.freeze(config))
    trained = cache.shared("trained", 24)
    existing = trained.get(key)
    if existing is not None and Path(existing.stage.job.artifact_path).exists():
        return replace(existing, reused=True)
    title = "PCA" if algorithm == "pca" else "K-Means"
    with st.status(f"Training {title}…", expanded=True) as status:
        try:
            recorded = fit(_store(), _backend(config), status.write)
        except BaseException:
            status.update(label=f"{title} training failed", state="error", expanded=False)
            raise
        job = recorded.stage.job
        status.update(label=f"{title} trained in {job.seconds:.2f} s ({job.job_name})", state="complete",
                      expanded=False)
    return trained.put(key, TrainedRun(algorithm, key, upstream, config, recorded.stage, run_id=recorded.run_id))


def train_pca(prep: pipeline.PreparedData) -> TrainedRun:
    config = pca_settings()
    hp = dict(config["hyperparameters"])
    hp["mini_batch_size"] = min(int(hp.get("mini_batch_size") or conventions.PCA_MINI_BATCH), len(prep.X))

    def fit(store, backend, progress):
        return trainings.train_pca_run(store, prep, backend=backend, backend_name=config["backend"],
                                       n_components=config["num_components"], seed=config["seed"],
                                       hyperparameters=hp, source_ref=current_source().reference,
                                       progress=progress)

    run = _train("pca", data_key(prep), data_key(prep), config, fit)
    _became_current("pca_run", run)
    return run


def train_kmeans(pca_run: TrainedRun, top: int, scores, prep: pipeline.PreparedData) -> TrainedRun:
    from workbench.app import names

    config = kmeans_settings()
    component_list = names.component_names(pca_run)[:top]

    def fit(store, backend, progress):
        return trainings.train_segmentation_run(
            store, prep, pca_run.stage, pca_run_id=pca_run.run_id, pca_seed=pca_run.settings.get("seed"), top=top,
            scores=scores, backend=backend, backend_name=config["backend"], k=config["k"], seed=config["seed"],
            hyperparameters=config["hyperparameters"], source_ref=current_source().reference,
            component_names=component_list, progress=progress)

    run = _train("kmeans", (pca_run.job_name, top), data_key(prep), config, fit)
    _became_current("kmeans_run", run)
    return run


def _became_current(state_key: str, run: TrainedRun) -> None:
    st.session_state[state_key] = run
    st.session_state["active_run_id"] = None  # the session now shows this training, not a run opened on Runs
    st.query_params.pop(QUERY_KEY, None)
    session.sync()


