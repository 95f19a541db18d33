"""Widgets the pages share: checked inputs, the hyperparameter controls built from SageMaker's own
table (backends.format.hyperparameters), and the SageMaker settings form.

A number input here has no bounds in the browser: Streamlit would refuse an out-of-range value
there (the field turns red while the old value silently stays in effect). The value is taken as
typed, checked against the declared input (workbench.app.state), and the error shown under it;
the page blocks what depends on it until it is fixed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from backends import registry as backends_registry
from backends.format import hyperparameters as hpmod
from workbench.app import session
from workbench.app.state import KMEANS_OWN, PCA_OWN


def number(key: str, label: str, *, where: Any = None, help: str | None = None, step: int = 1) -> str | None:
    """A whole-number input checked against its declared range; returns its error (shown) or None."""
    box = where or st
    box.number_input(label, step=step, key=key, help=help)
    wrong = session.problems(key).get(key)
    if wrong:
        box.error(wrong, icon=":material/error:")
    return wrong


def keep_choices(key: str, choices: Any) -> None:
    """A multiselect's kept value (declared in workbench.app.state, so it outlives its page) without
    the values no longer among its choices: what stays chosen is said by the widget itself."""
    kept, offered = st.session_state.get(key), set(choices)
    if kept:
        st.session_state[key] = [value for value in kept if value in offered]


def how_many(key: str, label: str, most: int, *, where: Any = None) -> int:
    """A slider from 1 to `most` (how many things to show); with a single thing there is nothing to
    choose (Streamlit refuses a slider whose bounds are equal): it is shown, and said so."""
    box = where or st
    if most <= 1:
        box.caption(f"{label}: {most} (the only one)")
        return most
    return int(box.slider(label, 1, most, key=key))


@dataclass(frozen=True)
class TrainingForm:
    """What a training's form says: its own number's key and label, the help texts ({most} is the
    largest value the number may take), and its button."""

    own_key: str
    own_label: str
    own_help: str
    backend_help: str
    seed_help: str
    button: str
    button_key: str


TRAINING_FORMS = {
    "pca": TrainingForm(
        "pca_num_components", "num_components",
        "Components to compute (at most the {most:,} features). The walkthrough uses 33.",
        "Where training runs. embedded: SageMaker's PCA emulated in-process, no AWS account needed.",
        "Same seed, data and settings → same model.", "Train PCA", "pca_train"),
    "kmeans": TrainingForm(
        "kmeans_k", "k (clusters)", "The number of clusters, 1 to {most:,}. The walkthrough uses 7.",
        "Where training runs. embedded: SageMaker's K-Means emulated in-process.",
        "Same seed, data and settings → same clusters.", "Train K-Means", "kmeans_train"),
}


def training_form(algorithm: str, *, most: int, current: Any, train: Callable[[], Any]) -> Any:
    """A training's settings (backend, its own number, seed, SageMaker's other hyperparameters, the
    backend's settings form) and its button, disabled while a setting is wrong. Returns the run
    `train()` gives when the button is pressed (its errors shown there), else `current`."""
    from workbench.app.errors import shows_errors

    form = TRAINING_FORMS[algorithm]
    backend, own, seed = st.columns(3)
    backend.selectbox("Backend", backend_options(), key=f"{algorithm}_backend", help=form.backend_help)
    checked = (number(form.own_key, form.own_label, where=own, help=form.own_help.format(most=most)),
               number(f"{algorithm}_seed", "Seed", where=seed, help=form.seed_help))
    wrong = [problem for problem in checked if problem]
    with st.expander("More hyperparameters (SageMaker's names and defaults)"):
        hyperparameter_controls(algorithm)
    backend_settings_form(st.session_state[f"{algorithm}_backend"])
    if not st.button(form.button, key=form.button_key, type="primary", icon=":material/play_arrow:",
                     disabled=bool(wrong), help="Fix the settings marked in red first." if wrong else None):
        return current
    with shows_errors(f"{form.button.removeprefix('Train ')} training failed"):
        run = train()
    if run.reused:
        st.toast(f"Same inputs and settings as {run.job_name}: reused that model.", icon=":material/history:")
    return run


def hyperparameter_controls(algorithm: str) -> None:
    """One widget per hyperparameter that has no dedicated control, with SageMaker's meaning as help."""
    skip = PCA_OWN if algorithm == "pca" else KMEANS_OWN
    params = [p for name, p in hpmod.SPECS[algorithm].items() if name not in skip]
    columns = st.columns(3)
    for i, param in enumerate(params):
        key = f"{algorithm}_hp_{param.name}"
        help_text = f"{param.meaning} Valid: {param.valid_values}."
        box = columns[i % 3]
        if param.kind == "bool":
            box.checkbox(param.name, key=key, help=help_text)
        elif param.kind == "choice":
            box.selectbox(param.name, list(param.choices), key=key, help=help_text)
        elif param.kind == "metrics":
            box.multiselect(param.name, list(param.choices), key=key, help=help_text)
        elif param.kind == "int":
            box.number_input(param.name, step=1, key=key, help=help_text)
        elif param.kind == "float":
            box.number_input(param.name, step=None, format="%g", key=key, help=help_text)
        else:  # int_or_auto: free text, validated by the backend with SageMaker's message
            box.text_input(param.name, key=key, help=help_text)


def backend_settings_form(backend: str) -> None:
    """The settings of the chosen backend (nothing for one that takes none, like embedded). Secret
    fields (role, bucket, profile) live only in this session: never in a run, a cache key or a log."""
    fields = backends_registry.settings_fields(backend)
    if not fields:
        return
    with st.expander(f"{backend} settings", icon=":material/cloud:"):
        st.caption("Blank fields use the WORKBENCH_SAGEMAKER_* environment variables, then the defaults. "
                   "The role, bucket and profile stay in this browser session only.")
        columns = st.columns(3)
        for i, spec in enumerate(fields):
            key = session.BACKEND_SETTING_PREFIX + spec["name"]
            box = columns[i % 3]
            if key not in st.session_state:
                st.session_state[key] = "" if spec["default"] is None else spec["default"]
            help_text = f"{spec.get('help', '')} Environment: {spec['env']}."
            if spec["kind"] == "choice":
                choices = list(spec["choices"])
                if st.session_state[key] not in choices:
                    st.session_state[key] = choices[0]
                box.selectbox(spec["label"], choices, key=key, help=help_text)
            elif spec["kind"] == "int":
                box.number_input(spec["label"], min_value=int(spec.get("minimum", 0)), step=1, key=key,
                                 help=help_text)
            elif spec["kind"] == "float":
                box.number_input(spec["label"], step=None, format="%g", key=key, help=help_text)
            else:
                box.text_input(spec["label"], key=key, help=help_text,
                               type="password" if spec.get("secret") else "default")


def backend_options() -> list[str]:
    return backends_registry.available_backends()
