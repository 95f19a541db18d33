"""The session's table: where it comes from, and the cached steps from raw table to training matrix.

Every page reads the same three cached steps: the raw table of the active source, its cleaned
form with every feature (the Data page's view), and the prepared matrix for the chosen
features and scaling (what PCA trains on). A failing source is cached with its error, so it is
not retried on every rerun.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from workbench.app.errors import USER_ERRORS
from workbench.app.source import DEFAULT_SOURCE, Source
from workbench.core import cleaning, pipeline, recipes, schema, sources
from workbench.core.errors import DataError


def current_source() -> Source:
    return st.session_state.get("source") or DEFAULT_SOURCE


def remember_upload(uploaded) -> Source:
    """Keep an upload's bytes in session state (the uploader forgets them off its page)."""
    payload = uploaded.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    current = st.session_state.get("uploaded")
    if not current or current["digest"] != digest:
        st.session_state["uploaded"] = {"name": uploaded.name, "data": payload, "digest": digest}
    return Source("upload", uploaded.name, digest)


def typed_source(location: str) -> Source:
    """The source of a path or s3:// URI typed on the Data page."""
    location = (location or "").strip()
    if not location:
        raise DataError("Enter a file path or an s3:// URI, then press Load.")
    if sources.is_census(location):
        return Source("path", location)
    # A path only inside the folders this app may read (WORKBENCH_ALLOWED_ROOTS), resolved.
    return Source("path", sources.check_user_source(location))


def schema_lines(schema) -> list[str]:
    """What the schema detection found, for the cleaning report (names shown as plain text)."""
    from workbench.analysis import text

    def listed(columns) -> str:
        return text.markdown(", ".join(columns)) or "—"

    lines = [f"Id column: **{text.markdown(schema.id_column or '—')}**"
             + (f" ({text.markdown(schema.geography)} level; {text.markdown(schema.id_evidence)})"
                if schema.geography else "")
             + f" · name columns: **{listed(schema.name_columns)}**"]
    if schema.code_columns:
        lines.append(f"Other geography codes, not features: {listed(schema.code_columns)}")
    if schema.ignored_columns:
        lines.append(f"Ignored (not numeric): {listed(schema.ignored_columns)}")
    return lines


def _payload(source: Source) -> tuple[Any, str | None]:
    """What the one source reader (workbench.core.sources) reads for a source: (None | bytes | path/URI, name)."""
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
    return location, None  # a path, an s3:// URI or a census: request: the one source reader reads them


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
def _clean(key: str, _raw) -> Outcome:
    def clean():
        result = cleaning.clean_table(_raw, schema.detect_schema(_raw))
        return result, cleaning.fingerprint(result.feature_frame)

    return _attempt(clean)


@st.cache_resource(show_spinner="Scaling the features…", max_entries=16)
def _prepare(key: str, features: tuple[str, ...], recipe: str, _raw) -> Outcome:
    made = recipes.FeatureRecipe.from_dict(json.loads(recipe))
    if made.rates is None and not made.transforms:  # only a scaler: what the CLI records too
        return _attempt(lambda: pipeline.prepare_table(_raw, features=list(features), scaler=made.scaler))
    return _attempt(lambda: pipeline.prepare_table(_raw, features=list(features), recipe=made))


def reload_data() -> None:
    """Forget loaded tables (e.g. after a network error, or when an S3 object changed)."""
    _load_raw.clear()
    _clean.clear()
    _prepare.clear()


def raw_table(source: Source | None = None):
    source = source or current_source()
    payload, name = _payload(source)
    return _load_raw(source.cache_key(), payload, name).get()


def clean_table(source: Source | None = None) -> cleaning.CleanResult:
    """The source cleaned with every numeric feature (the Data page's view)."""
    source = source or current_source()
    return _clean(source.cache_key(), raw_table(source)).get()[0]


def table_identity(source: Source | None = None) -> str:
    """The loaded table's identity: its source and the fingerprint of its cleaned features."""
    source = source or current_source()
    return f"{source.identity}|{_clean(source.cache_key(), raw_table(source)).get()[1]}"


def chosen_features() -> list[str]:
    """The Features page's choice (kept valid for the table by workbench.app.state)."""
    return list(st.session_state.get("feature_select") or [])


def prepared() -> pipeline.PreparedData:
    """The cleaned, scaled matrix the algorithms train on (cached on source, features and scaler)."""
    source = current_source()
    raw = raw_table(source)  # a table that cannot be loaded says so, before anything about features
    features = chosen_features()
    if not features:
        raise DataError("No features are chosen. Choose at least one on the Features page.")
    return _prepare(source.cache_key(), tuple(features), json.dumps(feature_recipe().to_dict(), sort_keys=True),
                    raw).get()


def feature_recipe() -> recipes.FeatureRecipe:
    """The Features page's recipe: counts as rates of a total (when chosen), transforms, the scaler."""
    state = st.session_state
    rates = None
    if state.get("recipe_total") and state.get("recipe_counts"):
        rates = recipes.Rates(state["recipe_total"], tuple(state["recipe_counts"]),
                              keep_total=bool(state.get("recipe_keep_total")))
    transforms = {**{f: "log1p" for f in state.get("recipe_log1p") or []},
                  **{f: "asinh" for f in state.get("recipe_asinh") or []}}
    return recipes.FeatureRecipe(rates=rates, transforms=transforms, scaler=state.get("scaler", "minmax"))


def set_feature_recipe(recipe: recipes.FeatureRecipe) -> None:
    """The Features page's inputs set to `recipe` (feature_recipe's inverse; rates cleared without any)."""
    state, rates = st.session_state, recipe.rates
    state["recipe_total"] = rates.total if rates else ""
    state["recipe_counts"] = list(rates.counts) if rates else []
    state["recipe_keep_total"] = bool(rates.keep_total) if rates else False
    state["recipe_log1p"] = sorted(f for f, how in recipe.transforms.items() if how == "log1p")
    state["recipe_asinh"] = sorted(f for f, how in recipe.transforms.items() if how == "asinh")
    state["scaler"] = recipe.scaler


def current_prepared() -> pipeline.PreparedData | None:
    try:
        return prepared()
    except USER_ERRORS:
        return None


def data_key(prep: pipeline.PreparedData) -> tuple:
    """Identity of the training matrix: the data, the features and the scaling with its transforms
    (the fingerprint is the table's before the transforms, which keep the features' names)."""
    return (prep.fingerprint, tuple(prep.features), prep.scaler.recipe, tuple(sorted(prep.scaler.transforms.items())))
