"""What every page shares: session state, cached computations, training, guards, and errors.

The pages stay thin: they read like a description of the screen and call these helpers.
Analysis lives in workbench.insight / workbench.charts and the pipeline; this module is the
only Streamlit glue between them.

State (all in st.session_state, initialised by app.py through `init_state`):
  source            the active data source (Source)
  uploaded          the last uploaded file, kept beyond the uploader widget: {name, data, digest}
  pca_run           the last PCA training, or the PCA of the run opened on the Runs page (TrainedRun;
                    its run_id is its run in the run registry) — valid while its data is current
  kmeans_run        the last K-Means training, or the opened run's — valid while its PCA + top are current
  active_run_id     the run opened on the Runs page (cleared by the next training)
  component_names   the analyst's names of the current PCA run's components, largest first
  cluster_names     the analyst's names of the current K-Means run's clusters, by id
  names_saved       the names last recorded in the run registry, per (run id, components/clusters)
  widget keys       every setting's widget key, with its default (see DEFAULTS)
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from backends.base import BackendError
from backends.format import hyperparameters as hpmod
from backends.format.errors import ArtifactError
from backends.registry import DEFAULT_BACKEND, available_backends
from workbench.analysis import exports, naming, summaries
from workbench.core import cleaning, pipeline, scaling, schema, settings, sources
from workbench.core.errors import DataError
from workbench.runs import folders as runs
from workbench.runs import recorded_training
from workbench.runs.records import RegistryError

# Errors whose message is meant for the analyst: shown with st.error, never as a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    DataError,
    hpmod.HyperparameterError,
    scaling.ScalingError,
    ArtifactError,
    BackendError,
    ValueError,
    ImportError,
    OSError,
    RegistryError,
)

WALKTHROUGH_COMPONENTS = 33
WALKTHROUGH_TOP = 5
WALKTHROUGH_K = 7

# Hyperparameters that get their own widget (or are derived from the data) rather than the
# generic "advanced" controls built from backends.hyperparameters.
PCA_OWN = {"feature_dim", "num_components"}
KMEANS_OWN = {"feature_dim", "k", "force_dense"}

SOURCE_LABELS = {
    "default": "Walkthrough dataset (ACS 2015 counties)",
    "upload": "Upload a CSV",
    "path": "Path or s3:// URI",
}


def _hp_defaults(algorithm: str, skip: set[str], prefix: str) -> dict[str, Any]:
    out = {}
    for name, param in hpmod.SPECS[algorithm].items():
        if name in skip:
            continue
        default = param.default
        if algorithm == "pca" and name == "mini_batch_size":
            default = 500  # what pipeline.train_pca sends (capped at the row count)
        if param.kind == "metrics":
            default = list(default or ())
        out[f"{prefix}{name}"] = default
    return out


# Every persistent widget key with its default. app.py sets these once per session and keeps
# them alive while their page is not shown (Streamlit forgets unrendered widgets' values).
DEFAULTS: dict[str, Any] = {
    "source_kind": "default",
    "source_path": "",
    "hist_feature": None,
    "hist_bins": 30,
    "hist_log": False,
    "feature_select": None,
    "scaler": "minmax",
    "pca_backend": DEFAULT_BACKEND,
    "pca_num_components": WALKTHROUGH_COMPONENTS,
    "pca_seed": 0,
    **_hp_defaults("pca", PCA_OWN, "pca_hp_"),
    "pca_top": WALKTHROUGH_TOP,
    "makeup_n": 8,
    "kmeans_backend": DEFAULT_BACKEND,
    "kmeans_k": WALKTHROUGH_K,
    "kmeans_seed": 0,
    **_hp_defaults("kmeans", KMEANS_OWN, "kmeans_hp_"),
    "profile_cluster": 0,
    "profile_features": 15,
    "explore_cluster": 0,
    "explore_search": "",
    "lookup_county": None,
    "choosek_min": 2,
    "choosek_max": 12,
    "choosek_reps": 5,
    "choosek_seed": 0,
    "prof_feature": None,
    "prof_reps": 5,
    "prof_draws": 100,
    "prof_threshold": 0.8,
    "map_layer": "cluster",
    "map_feature": None,
    "map_component": None,
    "endpoints_region": "",
    "endpoints_profile": "",
}

# Widget keys created on demand (SageMaker settings form, insight pages' settings), kept alive
# off their page like DEFAULTS.
KEEP_ALIVE_PREFIXES = ("sm_", "prof_portrait_")  # only value widgets use it: never a button, chart or editor

STATE_DEFAULTS: dict[str, Callable[[], Any]] = {
    "source": lambda: Source("default"),
    "uploaded": lambda: None,
    "pca_run": lambda: None,
    "kmeans_run": lambda: None,
    "component_names": list,
    "component_names_job": lambda: None,
    "cluster_names": list,
    "cluster_names_job": lambda: None,
    "names_archive": dict,
    "names_saved": dict,  # (run id, "components"/"clusters") -> the names last recorded in the run registry
    "editor_version": lambda: 0,
}


def init_state() -> None:
    """Shared state, set once per session (called by app.py on every run)."""
    for key, make in STATE_DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = make()
    for key, default in DEFAULTS.items():
        if key not in st.session_state:
            if default is not None:
                st.session_state[key] = default
        else:
            # Re-assigning keeps a widget's value alive on pages where it is not rendered.
            st.session_state[key] = st.session_state[key]
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(KEEP_ALIVE_PREFIXES)]:
        st.session_state[key] = st.session_state[key]


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


@contextmanager
def shows_errors(what: str | None = None, *, stop: bool = True):
    """Show the library's message for a user error (no traceback); stop the page unless told not to."""
    try:
        yield
    except USER_ERRORS as exc:
        message = str(exc) or type(exc).__name__
        st.error(f"**{what}:** {message}" if what else message, icon=":material/error:")
        if stop:
            st.stop()


# ---------------------------------------------------------------------------------------
# Data source and prepared data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where the table comes from: kind is "default", "upload" or "path" (a path or s3:// URI)."""

    kind: str
    location: str = ""  # the path/URI, or the uploaded file's name
    digest: str = ""  # uploads: sha256 of the bytes

    @property
    def label(self) -> str:
        if self.kind == "default":
            return "the walkthrough's dataset"
        if self.kind == "upload":
            return f"upload {self.location}"
        return self.location

    def cache_key(self) -> str:
        """Changes whenever what would be loaded changes (env var, file on disk, upload)."""
        if self.kind == "default":
            local = settings.default_data_path()
            return "default:" + (_file_stamp(local) if local else sources.DEFAULT_URI)
        if self.kind == "upload":
            return f"upload:{self.digest}"
        if self.location.strip().lower().startswith("s3://"):
            return f"s3:{self.location.strip()}"
        return "path:" + _file_stamp(Path(self.location).expanduser())


def _file_stamp(path: Path) -> str:
    try:
        stat = os.stat(path)
        return f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        return f"{path}:missing"


def remember_upload(uploaded) -> Source:
    """Keep an upload's bytes in session state (the uploader forgets them off its page)."""
    payload = uploaded.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    current = st.session_state.get("uploaded")
    if not current or current["digest"] != digest:
        st.session_state["uploaded"] = {"name": uploaded.name, "data": payload, "digest": digest}
    return Source("upload", uploaded.name, digest)


def set_source(source: Source) -> None:
    if st.session_state.get("source") != source:
        st.session_state["source"] = source
        refresh_status()


def _payload(source: Source) -> tuple[Any, str | None]:
    """What data.load_table reads for a source: (None | bytes | path/URI, upload name)."""
    if source.kind == "default":
        return None, None
    if source.kind == "upload":
        uploaded = st.session_state.get("uploaded")
        if not uploaded or uploaded["digest"] != source.digest:
            raise DataError("The uploaded file is no longer available; upload it again on the Data page.")
        return uploaded["data"], uploaded["name"]
    location = source.location.strip()
    if not location:
        raise DataError("Enter a file path or an s3:// URI on the Data page, then press Load.")
    return location, None


@dataclass(frozen=True)
class Outcome:
    """A cached result or the user error it raised (so a failing source is not retried each rerun)."""

    value: Any = None
    error: BaseException | None = None

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def _attempt(fn: Callable[[], Any]) -> Outcome:
    try:
        return Outcome(fn())
    except USER_ERRORS as exc:
        return Outcome(error=exc)


@st.cache_resource(show_spinner="Loading the table…", max_entries=8)
def _load_raw(key: str, _payload_value: Any, _name: str | None) -> Outcome:
    if isinstance(_payload_value, (bytes, bytearray)):
        return _attempt(lambda: sources.read_csv_bytes(bytes(_payload_value), name=_name))
    return _attempt(lambda: sources.load_table(_payload_value))


@st.cache_resource(show_spinner=False, max_entries=8)
def _clean(key: str, _raw: pd.DataFrame) -> Outcome:
    return _attempt(lambda: cleaning.clean_table(_raw, schema.detect_schema(_raw)))


@st.cache_resource(show_spinner="Scaling the features…", max_entries=16)
def _prepare(key: str, features: tuple[str, ...] | None, scaler: str, _raw: pd.DataFrame) -> Outcome:
    chosen = list(features) if features is not None else None
    return _attempt(lambda: pipeline.prepare_table(_raw, features=chosen, scaler=scaler))


def reload_data() -> None:
    """Forget loaded tables (e.g. after a network error, or when an S3 object changed)."""
    _load_raw.clear()
    _clean.clear()
    _prepare.clear()


def raw_table(source: Source | None = None) -> pd.DataFrame:
    source = source or st.session_state["source"]
    payload, name = _payload(source)
    return _load_raw(source.cache_key(), payload, name).get()


def clean_table() -> cleaning.CleanResult:
    """The active source, cleaned with every numeric feature (the Data page's view)."""
    source = st.session_state["source"]
    return _clean(source.cache_key(), raw_table(source)).get()


def chosen_features(clean: cleaning.CleanResult) -> list[str]:
    """The Features page's choice, valid for this table; every feature when none is made."""
    chosen = st.session_state.get("feature_select")
    if not chosen:
        return list(clean.features)
    return [f for f in chosen if f in clean.features] or list(clean.features)


def prepared() -> pipeline.PreparedData:
    """The cleaned, scaled matrix the algorithms train on (cached on source, features, scaler)."""
    clean = clean_table()
    features = chosen_features(clean)
    key = st.session_state["source"].cache_key()
    chosen = None if features == list(clean.features) else tuple(features)
    return _prepare(key, chosen, st.session_state.get("scaler", "minmax"), raw_table()).get()


def data_key(prep: pipeline.PreparedData) -> tuple:
    """Identity of the training matrix: the data, the features and the scaling."""
    return (prep.fingerprint, tuple(prep.features), prep.scaler.recipe)


# ---------------------------------------------------------------------------------------
# Training, with a registry so identical settings never train twice
# ---------------------------------------------------------------------------------------


@dataclass
class TrainedRun:
    """One training: its inputs' key, what it depends on upstream, its settings and stage."""

    algorithm: str
    key: tuple
    upstream: tuple
    settings: dict[str, Any]
    stage: Any  # pipeline.PCAStage | pipeline.KMeansStage
    output_dir: Path
    reused: bool = False
    run_id: str | None = None  # the run registry's record of this training (None: not recorded)

    @property
    def job_name(self) -> str:
        return self.stage.job.job_name


class _Registry:
    """Trained stages by their full input key (LRU, thread-safe), shared by all sessions."""

    def __init__(self, size: int = 24):
        self._items: OrderedDict[tuple, TrainedRun] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: tuple) -> TrainedRun | None:
        with self._lock:
            run = self._items.get(key)
            if run is not None:
                self._items.move_to_end(key)
            return run

    def put(self, run: TrainedRun) -> None:
        with self._lock:
            self._items[run.key] = run
            self._items.move_to_end(run.key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _registry() -> _Registry:
    return _Registry()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def job_dir(algorithm: str) -> Path:
    return settings.workspace_dir() / "jobs" / f"{runs.new_run_id()}-{algorithm}"


def hyperparameters(algorithm: str) -> dict[str, Any]:
    """The advanced hyperparameters as set in their widgets (SageMaker's names)."""
    prefix = f"{algorithm}_hp_"
    skip = PCA_OWN if algorithm == "pca" else KMEANS_OWN
    out = {}
    for name in hpmod.SPECS[algorithm]:
        if name in skip:
            continue
        value = st.session_state.get(prefix + name)
        if isinstance(value, str):
            value = value.strip()
        out[name] = value
    return out


def pca_settings() -> dict[str, Any]:
    config = {
        "backend": st.session_state["pca_backend"],
        "num_components": int(st.session_state["pca_num_components"]),
        "seed": int(st.session_state["pca_seed"]),
        "hyperparameters": hyperparameters("pca"),
    }
    return _with_public_backend_settings(config)


def kmeans_settings() -> dict[str, Any]:
    config = {
        "backend": st.session_state["kmeans_backend"],
        "k": int(st.session_state["kmeans_k"]),
        "seed": int(st.session_state["kmeans_seed"]),
        "hyperparameters": hyperparameters("kmeans"),
    }
    return _with_public_backend_settings(config)


# ---------------------------------------------------------------------------------------
# SageMaker backend settings: one form (shared by the PCA and Clusters pages), driven by
# backends.sagemaker_common.settings_fields. Secret fields (role, bucket, profile) live only
# in session state: never in a run's settings, a registry key or a cache key.
# ---------------------------------------------------------------------------------------

SAGEMAKER_BACKENDS = ("sagemaker", "sagemaker-local")
BACKEND_SETTING_PREFIX = "sm_"


def _settings_fields(backend: str) -> list[dict[str, Any]]:
    if backend not in SAGEMAKER_BACKENDS:
        return []
    try:
        from backends.sagemaker_settings import settings_fields
    except ImportError:  # the SageMaker SDK is not installed
        return []
    return settings_fields(backend)


def backend_setting_values(backend: str, *, secrets: bool = True) -> dict[str, Any]:
    """The form's values for `backend` (blank text → None, so the defaults/env apply)."""
    out: dict[str, Any] = {}
    for spec in _settings_fields(backend):
        if spec.get("secret") and not secrets:
            continue
        value = st.session_state.get(BACKEND_SETTING_PREFIX + spec["name"], spec["default"])
        if isinstance(value, str):
            value = value.strip() or None
        out[spec["name"]] = value
    return out


def _with_public_backend_settings(config: dict[str, Any]) -> dict[str, Any]:
    public = backend_setting_values(config["backend"], secrets=False)
    if public:
        config["backend_settings"] = public
    return config


def backend_settings_form(backend: str) -> None:
    """The SageMaker settings for the chosen backend (nothing for the embedded backend)."""
    fields = _settings_fields(backend)
    if not fields:
        return
    with st.expander(f"{backend} settings", icon=":material/cloud:"):
        st.caption("Blank fields use the WORKBENCH_SAGEMAKER_* environment variables, then the defaults. "
                   "The role, bucket and profile stay in this browser session only.")
        columns = st.columns(3)
        for i, spec in enumerate(fields):
            key = BACKEND_SETTING_PREFIX + spec["name"]
            box = columns[i % 3]
            default = spec["default"]
            if key not in st.session_state:
                st.session_state[key] = "" if default is None else default
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


@contextmanager
def backend_context(backend: str):
    """Training calls inside run with the form's SageMaker settings (a no-op for other backends)."""
    values = backend_setting_values(backend)
    if not values:
        yield
        return
    from backends.sagemaker_settings import backend_settings

    with backend_settings(**values):
        yield


def _recording_registry() -> Any:
    """The workspace's run registry for recording a training, or None (with a warning) when it cannot be used."""
    try:
        handle = registry_handle()
    except Exception as exc:  # the training still runs; it is just not recorded
        st.warning(f"This training is not recorded in the run registry: {exc}", icon=":material/warning:")
        return None
    if handle.error:
        st.warning(f"This training is not recorded in the run registry: {handle.error}", icon=":material/warning:")
        return None
    return handle.registry


def _source_ref(source: Source) -> str | None:
    """What lets a recorded run load its data again: "default", a path or s3:// URI; None for uploads."""
    from workbench.runs import writer

    if source.kind == "default":
        return "default"
    if source.kind == "path" and source.location.strip():
        return writer._source_ref(source.location.strip())
    return None


def _train(
    algorithm: str, upstream: tuple, config: dict[str, Any], fit: Callable[[Path, Callable[[str], None]], Any],
    recipe: recorded_training.Recipe | None = None,
) -> TrainedRun:
    """Train once per (upstream, settings): reuse the registry's run when it already exists.

    With a recipe the training is recorded as a run in the workspace's run registry, its folder
    written atomically (see workbench/recorded_training.py); without one (or without a usable registry) it goes to
    a job folder of the workspace."""
    key = (algorithm, str(settings.workspace_dir()), upstream, _freeze(config))
    registry = _registry()
    existing = registry.get(key)
    if existing is not None and Path(existing.stage.job.artifact_path).exists():
        return TrainedRun(**{**existing.__dict__, "reused": True})
    title = "PCA" if algorithm == "pca" else "K-Means"
    reg = _recording_registry() if recipe is not None else None
    run_id = None
    with st.status(f"Training {title}…", expanded=True) as status:
        def progress(message: str) -> None:
            status.write(message)

        try:
            if reg is None:
                output_dir = job_dir(algorithm)
                progress(f"Job folder: `{output_dir}`")
                stage = fit(output_dir, progress)
            else:
                stage, run_id, output_dir = recorded_training.fit_recorded(reg, algorithm, config["backend"], recipe,
                                                                                 fit, progress)
        except BaseException:
            status.update(label=f"{title} training failed", state="error", expanded=False)
            raise
        status.update(label=f"{title} trained in {stage.job.seconds:.2f} s ({stage.job.job_name})",
                      state="complete", expanded=False)
    run = TrainedRun(algorithm, key, upstream, config, stage, output_dir, run_id=run_id)
    registry.put(run)
    return run


def _after_training(state_key: str, run: TrainedRun) -> None:
    st.session_state[state_key] = run
    st.session_state.pop("active_run_id", None)  # the session now shows this training, not a run opened on Runs
    refresh_status()


def train_pca(prep: pipeline.PreparedData) -> TrainedRun:
    config = pca_settings()
    hp = dict(config["hyperparameters"])
    hp["mini_batch_size"] = min(int(hp.get("mini_batch_size") or 500), len(prep.X))

    def fit(output_dir: Path, progress):
        progress(f"{len(prep.X):,} counties × {len(prep.features)} features, scaled with {prep.scaler.recipe}")
        return pipeline.train_pca(prep.X, config["num_components"], backend=config["backend"], seed=config["seed"],
                                  output_dir=output_dir, hyperparameters=hp, progress=progress)

    recipe = recorded_training.Recipe("pca", prep, config["seed"], {"n_components": config["num_components"]},
                                      source_ref=_source_ref(st.session_state["source"]))
    with backend_context(config["backend"]):
        run = _train("pca", data_key(prep), config, fit, recipe)
    top = int(st.session_state.get("pca_top") or WALKTHROUGH_TOP)
    st.session_state["pca_top"] = max(1, min(top, run.stage.model.n_components))
    _after_training("pca_run", run)
    return run


def train_kmeans(pca_run: TrainedRun, top: int, scores: np.ndarray,
                 prep: pipeline.PreparedData | None = None) -> TrainedRun:
    config = kmeans_settings()

    def fit(output_dir: Path, progress):
        progress(f"{len(scores):,} counties × {top} components (largest first)")
        return pipeline.train_kmeans(scores, config["k"], backend=config["backend"], seed=config["seed"],
                                     output_dir=output_dir, hyperparameters=config["hyperparameters"],
                                     progress=progress)

    recipe = None
    prep = prep if prep is not None else current_prepared()
    if prep is not None:
        component_list = component_names(pca_run)[:top]

        def finish(staging: Path, stage: Any) -> None:
            runs.write_labels(pipeline.labeled_table(prep, scores, stage), staging / runs.LABELS)

        def names(reg: Any, run_id: str) -> None:
            if any(component_list):
                reg.set_names(run_id, components=component_list)

        recipe = recorded_training.Recipe(
            "segmentation", prep, config["seed"],
            {"n_components": pca_run.stage.model.n_components, "top": top, "k": config["k"],
             "pca_seed": pca_run.settings.get("seed"), "kmeans_seed": config["seed"]},
            source_ref=_source_ref(st.session_state["source"]), parent_run_id=pca_run.run_id,
            parent_job=pca_run.stage.job, finish=finish, names=names)
    with backend_context(config["backend"]):
        run = _train("kmeans", (pca_run.job_name, top), config, fit, recipe)
    _after_training("kmeans_run", run)
    return run


# ---------------------------------------------------------------------------------------
# Current runs and what derives from them (each cached on its inputs)
# ---------------------------------------------------------------------------------------


def current_prepared() -> pipeline.PreparedData | None:
    try:
        return prepared()
    except USER_ERRORS:
        return None


def current_pca(prep: pipeline.PreparedData | None = None) -> TrainedRun | None:
    """The PCA run, if it was trained on the data, features and scaling now chosen."""
    run = st.session_state.get("pca_run")
    if run is None:
        return None
    prep = prep if prep is not None else current_prepared()
    if prep is None or run.upstream != data_key(prep):
        return None
    return run


def kept(run: TrainedRun) -> int:
    """How many components are kept (the PCA page's control), within what was trained."""
    n = run.stage.model.n_components
    return max(1, min(int(st.session_state.get("pca_top") or WALKTHROUGH_TOP), n))


def current_kmeans(pca_run: TrainedRun | None) -> TrainedRun | None:
    """The K-Means run, if it was trained on the current PCA run's kept components."""
    run = st.session_state.get("kmeans_run")
    if run is None or pca_run is None or run.upstream != (pca_run.job_name, kept(pca_run)):
        return None
    return run


@st.cache_resource(show_spinner=False, max_entries=16)
def _scores(job_name: str, top: int, _pca: pipeline.PCAStage, _X: np.ndarray) -> np.ndarray:
    scores = pipeline.project(_pca, _X, top)
    scores.setflags(write=False)
    return scores


def scores(prep: pipeline.PreparedData, run: TrainedRun) -> np.ndarray:
    return _scores(run.job_name, kept(run), run.stage, prep.X)


@st.cache_resource(show_spinner=False, max_entries=8)
def _suggested_component_names(job_name: str, _pca: pipeline.PCAStage, features: tuple[str, ...]) -> list[str]:
    return naming.suggest_component_names(_pca.model.v, features)


def suggested_component_names(prep: pipeline.PreparedData, run: TrainedRun) -> list[str]:
    return _suggested_component_names(run.job_name, run.stage, tuple(prep.features))[: kept(run)]


# ---------------------------------------------------------------------------------------
# Names: one list per run, restored when a run comes back
# ---------------------------------------------------------------------------------------


def _names_store(kind: str, job_name: str) -> list[str]:
    """The names list for `job_name`, archiving the previous run's names when the run changes."""
    names_key, job_key = f"{kind}_names", f"{kind}_names_job"
    archive = st.session_state["names_archive"]
    if st.session_state.get(job_key) != job_name:
        previous = st.session_state.get(job_key)
        if previous is not None:
            archive[previous] = list(st.session_state.get(names_key) or [])
        st.session_state[names_key] = list(archive.get(job_name, []))
        st.session_state[job_key] = job_name
    return list(st.session_state.get(names_key) or [])


def component_names(run: TrainedRun) -> list[str]:
    """The analyst's names of the kept components, blank where not named (pad to `kept`)."""
    return naming.pad_names(_names_store("component", run.job_name), kept(run))


def component_columns(run: TrainedRun) -> list[str]:
    """Display names of the kept components: the analyst's, else pc1…; falls back on a clash."""
    try:
        return pipeline.component_columns(kept(run), component_names(run))
    except ValueError:
        return pipeline.component_columns(kept(run))


def set_component_names(run: TrainedRun, names: Sequence[str]) -> None:
    """Store names for the kept components (validated by the pipeline: unique)."""
    n = run.stage.model.n_components
    updated = naming.apply_names(_names_store("component", run.job_name), list(names), n)
    pipeline.component_columns(kept(run), updated[: kept(run)])  # raises ValueError on a clash
    if updated != naming.pad_names(st.session_state.get("component_names"), n):
        st.session_state["component_names"] = updated
        refresh_status()
    # Into the names history of the PCA's run and of the current clustering of it.
    _sync_names(run.run_id, "components", updated)
    kmeans_run = current_kmeans(run)
    if kmeans_run is not None and kmeans_run.run_id != run.run_id:
        _sync_names(kmeans_run.run_id, "components", updated[: kept(run)])


def cluster_names(run: TrainedRun) -> list[str]:
    return naming.pad_names(_names_store("cluster", run.job_name), run.stage.model.k)


def cluster_labels(run: TrainedRun) -> list[str]:
    """Display names of the clusters: the analyst's, else "cluster i"."""
    try:
        return naming.cluster_names(cluster_names(run), run.stage.model.k)
    except ValueError:
        return naming.cluster_names(None, run.stage.model.k)


def set_cluster_names(run: TrainedRun, names: Sequence[str]) -> None:
    k = run.stage.model.k
    updated = naming.apply_names(_names_store("cluster", run.job_name), list(names), k)
    naming.cluster_names(updated, k)  # raises ValueError on a clash
    if updated != naming.pad_names(st.session_state.get("cluster_names"), k):
        st.session_state["cluster_names"] = updated
    _sync_names(run.run_id, "clusters", updated)


def _sync_names(run_id: str | None, target: str, names: Sequence[str]) -> None:
    """Record the session's names of a run in the registry's names history when they differ from
    what was last recorded (the registry keeps only real changes, each timestamped)."""
    if not run_id:
        return
    saved = st.session_state.setdefault("names_saved", {})
    key, value = (run_id, target), tuple(names)
    previous = saved.get(key)
    if previous == value:
        return
    saved[key] = value
    if previous is None and not any(value):  # first seen, nothing named: nothing to record
        return
    _save_names(run_id, **{target: value})


def _save_names(run_id: str, **names: Sequence[str]) -> None:
    try:
        reg = run_registry()
        record = reg.get(run_id)
        if "components" in names:
            names["components"] = list(names["components"])[: record.top or None]
        if "clusters" in names:
            names["clusters"] = list(names["clusters"])[: record.k or None]
        reg.set_names(run_id, **names)
    except (RegistryError, ValueError, OSError) as exc:  # the session keeps the names; say they were not saved
        st.warning(f"The names were not saved to run `{run_id}`: {exc}", icon=":material/warning:")


def bump_editor() -> None:
    """Give the name editors a fresh key, so a reset is not undone by their pending edits."""
    st.session_state["editor_version"] = st.session_state.get("editor_version", 0) + 1


def editor_key(kind: str, run: TrainedRun) -> str:
    return f"{kind}_editor_{run.job_name[-12:]}_{st.session_state.get('editor_version', 0)}"


# ---------------------------------------------------------------------------------------
# Tables derived from a K-Means run (cached on the run and the names)
# ---------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=16)
def _labeled(
    job: str, component_cols: tuple[str, ...], labels: tuple[str, ...], _prep, _scores, _kmeans
) -> pd.DataFrame:
    return pipeline.labeled_table(_prep, _scores, _kmeans, component_names=list(component_cols),
                                  cluster_names=list(labels))


def labeled(prep: pipeline.PreparedData, pca_run: TrainedRun, kmeans_run: TrainedRun) -> pd.DataFrame:
    """The labeled counties (read-only: shared by reruns), with the analyst's names."""
    return _labeled(kmeans_run.job_name, tuple(component_columns(pca_run)), tuple(cluster_labels(kmeans_run)),
                    prep, scores(prep, pca_run), kmeans_run.stage)


@st.cache_resource(show_spinner=False, max_entries=16)
def _profiles(job: str, labels: tuple[str, ...], _prep, _kmeans) -> pd.DataFrame:
    return summaries.cluster_profiles(_prep.clean.frame, _prep.features, _kmeans.labels, list(labels))


def profiles(prep: pipeline.PreparedData, kmeans_run: TrainedRun) -> pd.DataFrame:
    return _profiles(kmeans_run.job_name, tuple(cluster_labels(kmeans_run)), prep, kmeans_run.stage)


@st.cache_data(show_spinner="Preparing the files…", max_entries=8)
def _exports(job: str, component_cols: tuple[str, ...], labels: tuple[str, ...], stem: str,
             _labeled_frame, _components, _centroids) -> dict[str, bytes]:
    return exports.export_files(_labeled_frame, _components, _centroids, stem=stem)


def export_files(prep, pca_run: TrainedRun, kmeans_run: TrainedRun) -> dict[str, bytes]:
    """The three downloads as bytes, prepared before any button is pressed."""
    columns = component_columns(pca_run)
    labels = cluster_labels(kmeans_run)
    ratios = pca_run.stage.explained_variance_ratio
    components = summaries.component_table(pca_run.stage.model.v, prep.features, columns, ratios)
    centroids = summaries.centroid_table(kmeans_run.stage.model.centroids, columns, labels,
                                       kmeans_run.stage.cluster_sizes)
    stem = f"counties-k{kmeans_run.stage.model.k}"
    return _exports(kmeans_run.job_name, tuple(columns), tuple(labels), stem,
                    labeled(prep, pca_run, kmeans_run), components, centroids)


# ---------------------------------------------------------------------------------------
# Insight: choosing k, profiles, stability, membership confidence, the map
#
# The long computations run on a button press with a progress bar, and are kept in a
# process-wide LRU keyed on their inputs (the run's job name, the settings), so a rerun or
# another session asking for the same thing gets it at once. (st.cache_data cannot drive a
# live progress bar created outside the cached function: Streamlit refuses to replay it.)
# ---------------------------------------------------------------------------------------


class _Memo:
    """Results by input key (LRU, thread-safe), shared by all sessions."""

    def __init__(self, size: int = 32):
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: tuple) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


@st.cache_resource(show_spinner=False)
def _memo() -> _Memo:
    return _Memo()


def _with_progress(title: str, compute: Callable[[Callable[[float, str], None]], Any]) -> Any:
    """Run compute(progress) inside st.status with a progress bar; progress(fraction, message)."""
    with st.status(f"{title}…", expanded=True) as status:
        bar = st.progress(0.0, text="starting")

        def progress(fraction: float, message: str) -> None:
            bar.progress(float(min(1.0, max(0.0, fraction))), text=message)

        try:
            value = compute(progress)
        except BaseException:
            status.update(label=f"{title}: failed", state="error", expanded=False)
            raise
        bar.progress(1.0, text="done")
        status.update(label=f"{title}: done", state="complete", expanded=False)
    return value


def k_selection_key(pca_run: TrainedRun, k_values: Sequence[int], reps: int, seed: int) -> tuple:
    return ("choose_k", pca_run.job_name, kept(pca_run), tuple(int(k) for k in k_values), int(reps), int(seed))


def cached_k_selection(key: tuple) -> Any:
    return _memo().get(key)


def evaluate_k(prep: pipeline.PreparedData, pca_run: TrainedRun, k_values: Sequence[int], reps: int,
               seed: int) -> Any:
    """choosing_k.evaluate_k on the kept component scores, with progress; cached on its inputs."""
    from workbench.analysis import choosing_k
    from workbench.charts import insight as insight_charts

    key = k_selection_key(pca_run, k_values, reps, seed)
    found = _memo().get(key)
    if found is not None:
        return found
    X = scores(prep, pca_run)
    ks = [int(k) for k in k_values]
    if not ks or ks[0] < 2 or ks[-1] > len(X) - 1:
        raise ValueError(f"Choose k between 2 and {len(X) - 1}.")
    selection = _with_progress(
        f"Evaluating k = {ks[0]}…{ks[-1]}",
        lambda progress: choosing_k.evaluate_k(X, ks, seed=seed, stability_reps=reps, progress=progress,
                                               cache_dir=settings.workspace_dir() / "cache" / "choose-k"),
    )
    spec = insight_charts.k_selection_chart(selection).to_dict()
    spec.pop("config", None)
    return _memo().put(key, (selection, spec))


@st.cache_resource(show_spinner="Profiling the clusters…", max_entries=16)
def _cluster_profile(job: str, labels: tuple[str, ...], _prep, _kmeans):
    from workbench.analysis import profiles as profiles_mod

    return profiles_mod.build_profile(_prep.clean.frame, _kmeans.labels, features=list(_prep.features),
                                      k=_kmeans.model.k, names=list(labels))


def cluster_profile(prep: pipeline.PreparedData, kmeans_run: TrainedRun):
    """profiles.build_profile of the run's clusters in original units (cached on the run and names)."""
    return _cluster_profile(kmeans_run.job_name, tuple(cluster_labels(kmeans_run)), prep, kmeans_run.stage)


def stability_key(kmeans_run: TrainedRun, reps: int, seed: int) -> tuple:
    return ("stability", kmeans_run.job_name, int(reps), int(seed))


def cached_stability(key: tuple) -> Any:
    return _memo().get(key)


def bootstrap_stability(prep: pipeline.PreparedData, pca_run: TrainedRun, kmeans_run: TrainedRun, reps: int,
                        seed: int) -> Any:
    from workbench.analysis import stability

    key = stability_key(kmeans_run, reps, seed)
    found = _memo().get(key)
    if found is not None:
        return found
    X = scores(prep, pca_run)
    stage = kmeans_run.stage
    result = _with_progress(
        f"Bootstrapping {reps} resamples",
        lambda progress: stability.bootstrap_stability(X, stage.model.k, labels=stage.labels, reps=reps, seed=seed,
                                                       progress=progress),
    )
    return _memo().put(key, result)


def confidence_key(kmeans_run: TrainedRun, draws: int, seed: int) -> tuple:
    return ("confidence", kmeans_run.job_name, int(draws), int(seed))


def cached_confidence(key: tuple) -> Any:
    return _memo().get(key)


def membership_confidence(prep: pipeline.PreparedData, pca_run: TrainedRun, kmeans_run: TrainedRun, draws: int,
                          seed: int) -> Any:
    from workbench.analysis import margins

    key = confidence_key(kmeans_run, draws, seed)
    found = _memo().get(key)
    if found is not None:
        return found

    def compute(progress):
        progress(0.1, f"{draws} draws per county from its margins of error")
        return margins.membership_confidence(prep.clean.frame, prep.scaler, pca_run.stage.model,
                                             kmeans_run.stage.model, labels=kmeans_run.stage.labels,
                                             draws=draws, seed=seed)

    return _memo().put(key, _with_progress("Resampling the estimates", compute))


@st.cache_resource(show_spinner=False, max_entries=8)
def _reliability_summary(key: tuple, _frame: pd.DataFrame) -> pd.DataFrame:
    from workbench.analysis import margins

    return margins.reliability_summary(_frame)


def reliability_summary(prep: pipeline.PreparedData) -> pd.DataFrame:
    return _reliability_summary(data_key(prep), prep.clean.frame)


@st.cache_data(show_spinner=False, max_entries=256)
def _insight_spec(builder: str, args: tuple, kwargs: dict) -> dict:
    from workbench.charts import insight as insight_charts

    spec = getattr(insight_charts, builder)(*args, **kwargs).to_dict()
    spec.pop("config", None)
    return spec


def insight_chart(builder: Callable[..., Any], *args: Any, key: str, where: Any = None, **kwargs: Any) -> None:
    """Draw a workbench.insight_charts chart, its spec cached on the inputs (like `chart`)."""
    (where or st).vega_lite_chart(_insight_spec(builder.__name__, args, kwargs), width="stretch", key=key)


@st.cache_resource(show_spinner="Joining the counties to the map…", max_entries=8)
def map_join(key: tuple, ids: tuple) -> Any:
    from workbench.analysis import geography

    return geography.join_report(ids)


@st.cache_data(show_spinner="Drawing the map (the first one builds the county geometry, about 10 s)…",
               max_entries=16)
def map_spec(values: pd.DataFrame, value_name: str, value_type: str, tooltip: tuple[str, ...], title: str,
             domain: tuple | None = None) -> dict:
    """The county choropleth's Vega-Lite spec, cached on what it shows."""
    from workbench.charts import county_map

    return county_map.choropleth_spec(values, value_name, value_type=value_type, tooltip=tooltip, title=title,
                                      domain=list(domain) if domain else None)


def county_for_fips(table: pd.DataFrame, id_column: str, fips: str | None) -> Any:
    """The row label of the county with this FIPS code in `table` (None when none has it)."""
    from workbench.analysis import geography

    if not fips or id_column not in table.columns:
        return None
    codes = pd.Series(geography.fips_codes(table[id_column].tolist()), index=table.index)
    hits = codes.index[codes == fips]
    return hits[0] if len(hits) else None


# ---------------------------------------------------------------------------------------
# The run registry (Runs and Compare pages)
# ---------------------------------------------------------------------------------------


class RegistryHandle:
    """One workspace's run registry for the app's process: reconciled once when first opened,
    with background threads that resume following the cloud jobs a previous process left in flight."""

    def __init__(self, workspace: Path):
        from workbench.runs.store import Registry

        self.workspace = workspace
        self.registry = Registry(workspace=workspace)
        self.reconciled: dict[str, list[str]] = {}
        self.reattached: dict[int, str] = {}  # job id -> what happened (for the Runs page)
        self.error: str | None = None
        try:
            self.reconciled = self.registry.reconcile()
            in_flight = self.registry.in_flight_jobs()
        except Exception as exc:  # a damaged registry must not break the app: the Runs page says why
            self.error = str(exc) or type(exc).__name__
            return
        if len(in_flight):  # resume polling only when a previous process left cloud jobs running
            orphaned = in_flight[in_flight["orphaned"]]
            for job_id in orphaned["job_id"].tolist():
                self._resume(int(job_id))

    def _resume(self, job_id: int) -> None:
        def follow() -> None:
            def progress(message: Any) -> None:
                self.reattached[job_id] = f"following: {message}"

            try:
                run = self.registry.reattach(job_id, progress=progress)
                self.reattached[job_id] = f"done: run {run.run_id} is {run.status}"
            except Exception as exc:  # shown on the Runs page, never as a traceback
                self.reattached[job_id] = f"failed: {exc}"

        self.reattached[job_id] = "re-attaching…"
        threading.Thread(target=follow, name=f"reattach-{job_id}", daemon=True).start()


@st.cache_resource(show_spinner=False, max_entries=8)
def _registry_handle(workspace: str) -> RegistryHandle:
    return RegistryHandle(Path(workspace))


def registry_handle() -> RegistryHandle:
    """The current workspace's registry handle (created, reconciled and re-attached once per process)."""
    return _registry_handle(str(settings.workspace_dir()))


def run_registry() -> Any:
    """The current workspace's workbench.registry.Registry."""
    return registry_handle().registry


def start_registry() -> None:
    """Called by app.py on every run: the first call per workspace reconciles and resumes in-flight jobs."""
    try:
        registry_handle()
    except Exception:  # the Runs page reports registry problems; other pages must keep working
        pass


# ---------------------------------------------------------------------------------------
# Opening a recorded run: it becomes the session's PCA and K-Means run on every page
# ---------------------------------------------------------------------------------------

OPEN_RUN_KEYS = ("source", "source_kind", "source_path", "feature_select", "scaler", "pca_run", "kmeans_run",
                 "pca_top", "pca_num_components", "pca_seed", "kmeans_k", "kmeans_seed", "component_names",
                 "component_names_job", "cluster_names", "cluster_names_job", "active_run_id")


def _source_for(found: tuple[str, str]) -> Source:
    kind, location = found
    return Source("default") if kind == "default" else Source("path", location)


def _use_source(source: Source) -> None:
    st.session_state["source"] = source
    st.session_state["source_kind"] = source.kind
    if source.kind == "path":
        st.session_state["source_path"] = source.location


def _find_data(record: Any, models: Any) -> tuple[Source, str | None]:
    """The source holding the run's data (the current one first, then the run's own) and a note
    when it was assumed rather than checked; raises OpenRunError saying what is wrong."""
    from workbench.runs import opening as open_run

    current = st.session_state["source"]
    if not open_run.knows_its_data(record):  # an import without data: the current table, if its shape fits
        prep = current_prepared()
        if prep is not None and len(prep.features) == models.feature_dim:
            return current, (f"Run {record.run_id} did not record its data: it is shown on the current table "
                             f"({current.label}, {len(prep.features)} features, {prep.scaler.recipe} scaling), "
                             "assuming that is what it was trained on.")
        raise open_run.OpenRunError(open_run.data_problem(record, []))
    candidates = [current]
    found = open_run.recorded_source(record)
    if found is not None and _source_for(found) != current:
        candidates.append(_source_for(found))
    tried: list[str] = []  # what went wrong with each candidate, the run's own source last
    for source in candidates:
        where = "the walkthrough's dataset" if source.kind == "default" else f"`{source.label}`"
        try:
            raw = raw_table(source)
        except USER_ERRORS as exc:
            tried.append(f"{where} cannot be loaded ({exc}).")
            continue
        try:
            open_run.check_data(record, raw, where)
        except open_run.OpenRunError as exc:
            tried.append(str(exc))
            continue
        return source, None
    # The current table is only a fallback: report it only when it is all there was to try.
    raise open_run.OpenRunError(open_run.data_problem(record, tried[1:] if len(tried) > 1 else tried))


def open_recorded_run(run_id: str) -> str | None:
    """Make a recorded run the session's run on every page: its data source, features and scaling,
    its PCA and K-Means models (read through backends.artifacts) and its names.

    Returns a note for the analyst (or None); raises OpenRunError / RegistryError with what is wrong,
    leaving the session as it was."""
    from workbench.runs import opening as open_run

    reg = run_registry()
    record = reg.get(run_id)
    models = open_run.load_models(reg, record)
    source, note = _find_data(record, models)
    saved = {key: st.session_state[key] for key in OPEN_RUN_KEYS if key in st.session_state}
    try:
        _use_source(source)
        if record.features:
            st.session_state["feature_select"] = list(record.features)
        if record.scaler_recipe in scaling.SCALERS:
            st.session_state["scaler"] = record.scaler_recipe
        prep = prepared()
        if record.data_fingerprint and prep.fingerprint != record.data_fingerprint:
            raise open_run.OpenRunError(f"The data loaded for run {record.run_id} does not match its fingerprint; "
                                        "reload it on the Data page and open the run again.")
        pca_stage, kmeans_stage, _ = open_run.stages(models, prep.X)
        _settings_from(record, models, len(prep.features))
        pca_run = TrainedRun("pca", ("opened", record.run_id, "pca"), data_key(prep), pca_settings(), pca_stage,
                             record.run_dir or Path("."), run_id=record.run_id)
        st.session_state["pca_top"] = models.top
        st.session_state["pca_run"] = pca_run
        _load_names("component", pca_run.job_name, record.component_names, models.pca.n_components,
                    record.run_id)
        if kmeans_stage is not None:
            kmeans_run = TrainedRun("kmeans", ("opened", record.run_id, "kmeans"), (pca_run.job_name, models.top),
                                    kmeans_settings(), kmeans_stage, record.run_dir or Path("."),
                                    run_id=record.run_id)
            st.session_state["kmeans_run"] = kmeans_run
            _load_names("cluster", kmeans_run.job_name, record.cluster_names, models.kmeans.k, record.run_id)
        else:
            st.session_state["kmeans_run"] = None
        st.session_state["active_run_id"] = record.run_id
    except BaseException:
        for key in OPEN_RUN_KEYS:
            if key in saved:
                st.session_state[key] = saved[key]
            else:
                st.session_state.pop(key, None)
        raise
    bump_editor()
    refresh_status()
    return note


def _settings_from(record: Any, models: Any, n_features: int) -> None:
    """The training widgets set to the run's settings, so the pages show them as the run's. The backend
    choices stay as they are: opening a cloud run must not make the next training a paid one."""
    kmeans_job = models.kmeans_job
    st.session_state["pca_num_components"] = max(1, min(models.pca.n_components, n_features))
    pca_seed = record.settings.get("pca_seed", record.seed)
    if pca_seed is not None:
        st.session_state["pca_seed"] = int(pca_seed)
    if kmeans_job is not None:
        st.session_state["kmeans_k"] = int(models.kmeans.k)
        kmeans_seed = record.settings.get("kmeans_seed", record.seed)
        if kmeans_seed is not None:
            st.session_state["kmeans_seed"] = int(kmeans_seed)


def _load_names(kind: str, job_name: str, names: Sequence[str], count: int, run_id: str) -> None:
    """The run's saved names as the session's names of this job (replacing what the session had)."""
    chosen = naming.pad_names(list(names), count)
    st.session_state["names_saved"][(run_id, "components" if kind == "component" else "clusters")] = tuple(chosen)
    previous = st.session_state.get(f"{kind}_names_job")
    if previous is not None and previous != job_name:  # keep the names of the job the session had
        st.session_state["names_archive"][previous] = list(st.session_state.get(f"{kind}_names") or [])
    st.session_state["names_archive"][job_name] = chosen
    st.session_state[f"{kind}_names"] = list(chosen)
    st.session_state[f"{kind}_names_job"] = job_name


# ---------------------------------------------------------------------------------------
# Pages, navigation and prerequisites
# ---------------------------------------------------------------------------------------

PAGE_FILES = {
    "data": ("app/pages/data_source.py", "Data", ":material/table_view:"),
    "features": ("app/pages/features.py", "Features", ":material/tune:"),
    "pca": ("app/pages/pca.py", "PCA", ":material/stacked_line_chart:"),
    "names": ("app/pages/name_components.py", "Name components", ":material/label:"),
    "clusters": ("app/pages/clusters.py", "Clusters", ":material/bubble_chart:"),
    "explore": ("app/pages/explore.py", "Explore", ":material/travel_explore:"),
    "export": ("app/pages/export.py", "Export", ":material/download:"),
    "choose_k": ("app/pages/choose_k.py", "Choose k", ":material/insights:"),
    "profiles": ("app/pages/profiles.py", "Profiles", ":material/person_search:"),
    "map": ("app/pages/county_map.py", "County map", ":material/map:"),
    "endpoints": ("app/pages/endpoints.py", "Endpoints", ":material/cloud:"),
    "runs": ("app/pages/runs.py", "Runs", ":material/history:"),
    "compare": ("app/pages/compare.py", "Compare", ":material/compare_arrows:"),
}


def pages() -> dict[str, Any]:
    """The st.Page objects, by short name (built once per run by app.py)."""
    built = {}
    for name, (path, title, icon) in PAGE_FILES.items():
        built[name] = st.Page(path, title=title, icon=icon, url_path=name, default=(name == "data"))
    return built


def link(name: str, label: str | None = None) -> None:
    path, title, icon = PAGE_FILES[name]
    st.page_link(path, label=label or f"Go to {title}", icon=icon)


def require(message: str, page: str) -> None:
    """Say what to do first, link to the page where it is done, and stop this page."""
    st.info(message, icon=":material/info:")
    link(page)
    st.stop()


def require_data() -> cleaning.CleanResult:
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
    return run


def require_kmeans(pca_run: TrainedRun) -> TrainedRun:
    run = current_kmeans(pca_run)
    if run is None:
        if st.session_state.get("kmeans_run") is not None:
            require("The PCA run or the number of kept components changed since K-Means was trained. "
                    "Train K-Means again first.", "clusters")
        require("Train K-Means first: this page needs its clusters.", "clusters")
    return run


def clamp(key: str, low: int, high: int) -> None:
    """Keep a number widget's stored value inside its current range (before it is drawn)."""
    value = st.session_state.get(key)
    if value is None:
        return
    if value < low or value > high:
        st.session_state[key] = max(low, min(int(value), high))


def backend_options() -> list[str]:
    return available_backends()


_local = threading.local()  # per script run: the sidebar's status slot


def show_status(slot: Any) -> None:
    """Draw the pipeline status into the sidebar slot; pages redraw it when they change a step."""
    _local.slot = slot
    refresh_status()


def refresh_status() -> None:
    slot = getattr(_local, "slot", None)
    if slot is None:
        return
    with slot.container():
        st.caption("PIPELINE")
        for done, text in pipeline_status():
            icon = ":material/check_circle:" if done else ":material/radio_button_unchecked:"
            st.caption(f"{icon} {text}")


def pipeline_status() -> list[tuple[bool, str]]:
    """(done, text) per step, for the sidebar: cheap, cached lookups only."""
    out: list[tuple[bool, str]] = []
    prep = current_prepared()
    source = st.session_state["source"]
    if prep is None:
        out.append((False, f"Data: {source.label} (not loaded)"))
        return out
    report = prep.clean.report
    out.append((True, f"Data: {report.rows_clean:,} counties from {source.label}"))
    out.append((True, f"Features: {len(prep.features)}, {prep.scaler.recipe}"))
    pca_run = current_pca(prep)
    if pca_run is None:
        out.append((False, "PCA: not trained"))
        return out
    top = kept(pca_run)
    share = float(np.sum(pca_run.stage.explained_variance_ratio[:top]))
    out.append((True, f"PCA: {top} of {pca_run.stage.model.n_components} components kept ({share:.1%})"))
    named = sum(1 for name in component_names(pca_run) if name)
    out.append((named > 0, f"Names: {named} of {top} components named"))
    kmeans_run = current_kmeans(pca_run)
    if kmeans_run is None:
        out.append((False, "K-Means: not trained"))
        return out
    out.append((True, f"K-Means: k = {kmeans_run.stage.model.k}, SSE {kmeans_run.stage.sse:.2f}"))
    return out


# ---------------------------------------------------------------------------------------
# Hyperparameter controls, built from SageMaker's own table in backends.hyperparameters
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# Charts: built by workbench.charts, validated once per input, drawn from the cached spec
# ---------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=256)
def _chart_spec(builder: str, args: tuple, kwargs: dict) -> dict:
    from workbench.charts import stages as charts

    spec = getattr(charts, builder)(*args, **kwargs).to_dict()
    # Altair's default theme fixes a 300 px view; Streamlit sizes the chart itself.
    spec.pop("config", None)
    return spec


def chart(builder: Callable[..., Any], *args: Any, key: str, where: Any = None, **kwargs: Any) -> None:
    """Draw `builder(*args, **kwargs)` (a workbench.charts function) at full width.

    Altair validates a chart against the Vega-Lite schema each time it is serialised, which
    costs tens of milliseconds; the spec is cached on the chart's inputs instead, so a rerun
    with unchanged inputs only hashes them.
    """
    (where or st).vega_lite_chart(_chart_spec(builder.__name__, args, kwargs), width="stretch", key=key)
