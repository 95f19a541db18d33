"""The app's state: every session key declared once, with its default and what it depends on.

No Streamlit here: the functions work on any mutable mapping (st.session_state in the app, a
dict in the tests). The chain of dependencies is

    table → features → (scaling) → PCA run → K-Means run → names

and each input names the facts of that chain it depends on (a `Context`). When a fact changes,
`reconcile` brings the dependent inputs back in line and says what it changed and why, e.g.
"num_components was 14 for the last table; it is 33 for this one". A value is never silently
replaced: an input whose own value does not fit (a k above the number of counties) keeps it,
and `problems` names what is wrong so the page shows it at the input and blocks training.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from backends.format import hyperparameters as hpmod
from backends.registry import DEFAULT_BACKEND
from workbench.app.source import DEFAULT_SOURCE
from workbench.core import conventions

QUERY_KEY = "run"  # ?run=<run id>: the open run, in the page's address (workbench.app.opening)


@dataclass(frozen=True)
class Context:
    """The facts the inputs depend on, for the data and runs now current (None: not known yet)."""

    table: str | None = None  # identity of the loaded table (its source and its cleaned fingerprint)
    table_features: tuple[str, ...] = ()  # every numeric feature of the cleaned table
    rows: int | None = None  # counties kept by cleaning
    n_features: int | None = None  # features chosen and kept (what PCA trains on)
    pca: str | None = None  # the current PCA run (its job name)
    n_components: int | None = None  # components that PCA run computed
    kmeans: str | None = None  # the current K-Means run (its job name)
    k: int | None = None  # clusters of that run


# The chain's links, in order: an input is reconciled with the link of its latest fact, once the
# links before it have settled (a reset feature choice changes the prepared data, and so on).
STAGES = (("table", "table_features"), ("rows", "n_features"), ("pca", "n_components"), ("kmeans", "k"))
FACT_WORDS = {"table": "table", "table_features": "table", "rows": "table", "n_features": "feature choice",
              "pca": "PCA", "n_components": "PCA", "kmeans": "clustering", "k": "clustering"}


@dataclass(frozen=True)
class Input:
    """One session key: its default (a value, or a function of the context), the facts it depends on,
    how it follows them, and the check its value must pass."""

    key: str
    default: Any = None
    label: str = ""
    resets_on: tuple[str, ...] = ()  # back to its default when one of these facts changes
    checked_on: tuple[str, ...] = ()  # back to its default when these change and its value no longer fits
    check: Callable[[Any, Context], str | None] | None = None  # what is wrong with a value, or None
    quiet: bool = False  # a view setting: reset without a notice

    def default_for(self, context: Context) -> Any:
        return self.default(context) if callable(self.default) else self.default

    def facts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.resets_on + self.checked_on))

    @property
    def stage(self) -> int:
        return max((i for i, names in enumerate(STAGES) for name in self.facts() if name in names), default=-1)


@dataclass
class Notice:
    """What reconcile changed, for the page to show."""

    key: str
    text: str


# --------------------------------------------------------------------------- checks
def whole_number(low: Callable[[Context], int | None], high: Callable[[Context], int | None], what: str):
    """A check that a value is a whole number within [low, high] of the context (None: no bound)."""
    def check(value: Any, context: Context) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            return f"{what} must be a whole number."
        lo, hi = low(context), high(context)
        if lo is not None and value < lo:
            return f"{what} must be at least {lo:,}; it is {int(value):,}."
        if hi is not None and value > hi:
            return f"{what} must be at most {hi:,} ({_why(what, context)}); it is {int(value):,}."
        return None
    return check


def _why(what: str, context: Context) -> str:
    if what.startswith("num_components"):
        return f"the {context.n_features} chosen features"
    if what.startswith("Components to keep"):
        return f"the {context.n_components} components PCA computed"
    return f"the {context.rows:,} counties" if context.rows else "the data"


def _features_check(value: Any, context: Context) -> str | None:
    if not value:
        return "Choose at least one feature."
    unknown = [f for f in value if f not in context.table_features]
    if unknown and context.table_features:
        return f"The table has no feature {', '.join(map(repr, unknown[:3]))}."
    return None


def _chosen_or_blank(value: Any, context: Context) -> str | None:
    return None if not value or value in context.table_features else f"The table has no column {value!r}."


def _all_chosen(value: Any, context: Context) -> str | None:
    unknown = [v for v in value or [] if v not in context.table_features]
    return f"The table has no column {', '.join(map(repr, unknown[:3]))}." if unknown else None


def _one_of(choices: Callable[[Context], tuple]) -> Callable[[Any, Context], str | None]:
    def check(value: Any, context: Context) -> str | None:
        options = choices(context)
        return None if not options or value in options else "no longer one of the choices"
    return check


def _below_k(value: Any, context: Context) -> str | None:
    return None if context.k is None or (isinstance(value, int) and 0 <= value < context.k) else "no such cluster"


def _hp_defaults(algorithm: str, skip: set[str], prefix: str) -> list[Input]:
    out = []
    for name, param in hpmod.SPECS[algorithm].items():
        if name in skip:
            continue
        default = param.default
        if algorithm == "pca" and name == "mini_batch_size":
            default = conventions.PCA_MINI_BATCH  # what the pipeline sends (capped at the row count)
        if param.kind == "metrics":
            default = list(default or ())
        out.append(Input(f"{prefix}{name}", default, label=name))
    return out


# Hyperparameters with their own widget, or derived from the data, rather than the generic controls.
PCA_OWN = {"feature_dim", "num_components"}
KMEANS_OWN = {"feature_dim", "k", "force_dense"}

_ROWS_UP_TO = (lambda c: 1, lambda c: c.rows)  # noqa: E731 - a range of whole numbers


def most_weights(n_features: int | None) -> int:
    """The most feature weights the PCA page's makeup chart shows per component, for n_features."""
    return max(2, min(20, n_features or 20))

_ALL_FEATURES = (lambda c: list(c.table_features))  # noqa: E731

INPUTS: tuple[Input, ...] = (
    Input("source_kind", "default"),
    Input("source_path", ""),
    Input("census_year", 2022, check=whole_number(lambda c: 2010, lambda c: 2100, "The year")),
    Input("census_geography", "county"),
    Input("census_state", ""),
    Input("census_preset", "recommended"),
    Input("census_refresh", False),
    Input("feature_select", _ALL_FEATURES, label="The feature choice", resets_on=("table",), check=_features_check),
    Input("scaler", conventions.DEFAULT_SCALER),
    # The feature recipe (workbench.core.recipes): counts as rates of a total, skewed features re-expressed.
    Input("recipe_total", "", label="The rates' total", resets_on=("table",), check=_chosen_or_blank),
    Input("recipe_counts", lambda c: [], label="The counts made rates", resets_on=("table",), check=_all_chosen),
    Input("recipe_keep_total", False),
    Input("recipe_log1p", lambda c: [], label="The log1p features", resets_on=("table",), check=_all_chosen),
    Input("recipe_asinh", lambda c: [], label="The asinh features", resets_on=("table",), check=_all_chosen),
    Input("hist_feature", lambda c: c.table_features[0] if c.table_features else None, resets_on=("table",),
          quiet=True),
    Input("hist_bins", 30),
    Input("hist_log", False),
    Input("pca_backend", DEFAULT_BACKEND),
    Input("pca_num_components", lambda c: conventions.default_components(c.n_features or 1), label="num_components",
          resets_on=("table",), checked_on=("n_features",),
          check=whole_number(lambda c: 1, lambda c: c.n_features, "num_components")),
    Input("pca_seed", conventions.DEFAULT_SEED, check=whole_number(lambda c: 0, lambda c: 2**31 - 1, "The seed")),
    *_hp_defaults("pca", PCA_OWN, "pca_hp_"),
    Input("pca_top", lambda c: conventions.default_top(c.n_components or conventions.WALKTHROUGH_TOP),
          label="Components to keep", checked_on=("n_components",),
          check=whole_number(lambda c: 1, lambda c: c.n_components, "Components to keep")),
    Input("makeup_n", lambda c: min(8, most_weights(c.n_features)), checked_on=("n_features",), quiet=True,
          check=whole_number(lambda c: 1, lambda c: most_weights(c.n_features), "Weights shown")),
    Input("kmeans_backend", DEFAULT_BACKEND),
    Input("kmeans_k", conventions.WALKTHROUGH_K, label="k", checked_on=("rows",),
          check=whole_number(*_ROWS_UP_TO, "k")),
    Input("kmeans_seed", conventions.DEFAULT_SEED, check=whole_number(lambda c: 0, lambda c: 2**31 - 1, "The seed")),
    *_hp_defaults("kmeans", KMEANS_OWN, "kmeans_hp_"),
    Input("profile_cluster", 0, checked_on=("k",), check=_below_k, quiet=True),
    Input("profile_features", lambda c: min(15, c.n_features or 15), checked_on=("n_features",), quiet=True,
          check=whole_number(lambda c: 1, lambda c: c.n_features, "Features shown")),
    Input("explore_cluster", 0, checked_on=("k",), check=_below_k, quiet=True),
    Input("explore_search", ""),
    Input("lookup_county", None, resets_on=("table",), quiet=True),
    Input("choosek_min", 2, label="Smallest k", checked_on=("rows",),
          check=whole_number(lambda c: 2, lambda c: (c.rows or 3) - 1, "The smallest k")),
    Input("choosek_max", 12, label="Largest k", checked_on=("rows",),
          check=whole_number(lambda c: 2, lambda c: (c.rows or 3) - 1, "The largest k")),
    Input("choosek_reps", 5, check=whole_number(lambda c: 0, lambda c: 100, "Bootstrap resamples")),
    Input("choosek_seed", 0, check=whole_number(lambda c: 0, lambda c: 2**31 - 1, "The seed")),
    Input("prof_feature", None, resets_on=("table",), quiet=True),
    Input("prof_reps", 5, check=whole_number(lambda c: 1, lambda c: 200, "Resamples")),
    Input("prof_draws", 100, check=whole_number(lambda c: 1, lambda c: 2000, "Draws per county")),
    Input("prof_threshold", 0.8),
    Input("map_layer", "cluster"),
    Input("map_feature", None, resets_on=("table",), quiet=True,
          check=_one_of(lambda c: c.table_features)),
    Input("map_component", None, checked_on=("n_components",), quiet=True),
    Input("map_share_cluster", 0, checked_on=("k",), check=_below_k, quiet=True),
    Input("endpoints_region", ""),
    Input("endpoints_profile", ""),
    # The Runs and Compare pages' filters, toggles and pickers (those pages drop a kept value that is no
    # longer among their choices). A delete's confirmation, a new name or a target to delete is not kept.
    Input("runs_backend"),
    Input("runs_status"),
    Input("runs_kind"),
    Input("runs_show_attempts", False),
    Input("runs_selected"),
    Input("runs_rerun_backend"),
    Input("compare_show_failed", False),
    Input("compare_a"),
    Input("compare_b"),
)
BY_KEY: Mapping[str, Input] = {spec.key: spec for spec in INPUTS}

# Session objects (not widgets), with a fresh default each session.
OBJECTS: Mapping[str, Callable[[], Any]] = {
    "source": lambda: DEFAULT_SOURCE,  # the active data source (workbench.app.source.Source)
    "uploaded": lambda: None,  # the last upload, kept beyond its widget: {name, data, digest}
    "pca_run": lambda: None,  # the last PCA training or the opened run's PCA (workbench.app.training.TrainedRun)
    "kmeans_run": lambda: None,  # the last K-Means training or the opened run's
    "active_run_id": lambda: None,  # the run opened on the Runs page (cleared by the next training)
    "names": dict,  # job name -> {"component": [...], "cluster": [...]}: the analyst's names per run
    "names_saved": dict,  # (run id, "components"/"clusters") -> the names last recorded in the run registry
    "editor_version": lambda: 0,  # bumped to give the name editors fresh keys
    "notices": list,  # what reconcile changed, shown once at the top of the page
    "facts": dict,  # input key -> the facts it was last reconciled against
    "address_tried": lambda: None,  # the ?run=<id> last tried, so a run that cannot open is not retried each rerun
}
# Widget keys created on demand (SageMaker settings form, portraits), kept alive off their page too.
KEEP_ALIVE_PREFIXES = ("sm_", "prof_portrait_")


def initialise(state: MutableMapping[str, Any]) -> None:
    """Every declared key present: defaults for a new session, values kept for an old one. Inputs
    whose default depends on the data get it from `reconcile`, once the data is known."""
    for key, make in OBJECTS.items():
        if key not in state:
            state[key] = make()
    for spec in INPUTS:
        if spec.key not in state and not callable(spec.default) and spec.default is not None:
            state[spec.key] = spec.default


def stamp(state: MutableMapping[str, Any], context: Context) -> None:
    """Record the context as the one every input's value was set for (after setting them all at
    once, e.g. opening a recorded run), so the next reconcile resets nothing."""
    facts = state.setdefault("facts", {})
    for spec in INPUTS:
        now = {name: getattr(context, name) for name in spec.facts()}
        if now and not any(value is None for value in now.values()):
            facts[spec.key] = now


def reconcile(state: MutableMapping[str, Any], context: Context, stage: int | None = None) -> list[Notice]:
    """Bring the inputs in line with the context (see the module's docstring); returns the notices.
    With `stage`, only the inputs of that link of the chain (see STAGES)."""
    notices: list[Notice] = []
    facts = state.setdefault("facts", {})
    for spec in INPUTS:
        if not spec.facts() or (stage is not None and spec.stage != stage):
            continue
        now = {name: getattr(context, name) for name in spec.facts()}
        if any(value is None for value in now.values()):
            continue  # a fact is not known yet (no table, no PCA): nothing to follow
        before = facts.get(spec.key)
        facts[spec.key] = now
        value = state.get(spec.key)
        if value is None:  # never set: its default for these facts, quietly
            default = spec.default_for(context)
            if default is not None:
                state[spec.key] = default
            continue
        changed = [name for name in now if before is not None and before.get(name) != now[name]]
        unfit = spec.check is not None and spec.check(value, context) is not None
        if not changed and not (spec.quiet and unfit):  # a view setting that does not fit is simply reset
            continue
        resets = any(name in spec.resets_on for name in changed)
        if not (resets or unfit):
            continue
        new = spec.default_for(context)
        if new == value:
            continue
        state[spec.key] = new
        if not spec.quiet:
            notices.append(Notice(spec.key, _notice(spec, value, new, changed)))
    return notices


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} features"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _notice(spec: Input, old: Any, new: Any, changed: list[str]) -> str:
    what = FACT_WORDS[changed[0]] if changed else "data"
    label = spec.label or spec.key
    if spec.key == "feature_select":
        return f"{label} was {_shown(old)} of the last table; it is all {_shown(new)} of this one."
    return f"{label} was {_shown(old)} for the last {what}; it is {_shown(new)} for this one."


def problems(state: Mapping[str, Any], context: Context, keys: tuple[str, ...]) -> dict[str, str]:
    """What is wrong with these inputs' values, by key (empty when every one fits)."""
    found = {}
    for key in keys:
        spec = BY_KEY[key]
        if spec.check is not None and state.get(key) is not None:  # None: not set yet, nothing to check
            message = spec.check(state.get(key), context)
            if message:
                found[key] = message
    return found


@dataclass
class Status:
    """One line of the sidebar's pipeline status."""

    done: bool
    text: str


@dataclass
class PipelineFacts:
    """What the sidebar reports, read from the state and the current runs (see workbench.app.status)."""

    source_label: str
    rows: int | None = None
    n_features: int | None = None
    scaler: str | None = None
    kept: int | None = None
    n_components: int | None = None
    kept_share: float | None = None
    named: int | None = None
    k: int | None = None
    sse: float | None = None


def pipeline_status(facts: PipelineFacts) -> list[Status]:
    """The sidebar's lines, derived from the facts of this very rerun (so they cannot go stale)."""
    if facts.rows is None:
        return [Status(False, f"Data: {facts.source_label} (not loaded)")]
    out = [Status(True, f"Data: {facts.rows:,} counties from {facts.source_label}"),
           Status(True, f"Features: {facts.n_features}, {facts.scaler}")]
    if facts.kept is None and facts.n_components is not None:  # trained, but what to keep is not valid
        return out + [Status(False, f"PCA: {facts.n_components} components; fix Components to keep on the PCA page")]
    if facts.kept is None:
        return out + [Status(False, "PCA: not trained")]
    out.append(Status(True, f"PCA: {facts.kept} of {facts.n_components} components kept ({facts.kept_share:.1%})"))
    out.append(Status(bool(facts.named), f"Names: {facts.named} of {facts.kept} components named"))
    if facts.k is None:
        return out + [Status(False, "K-Means: not trained")]
    return out + [Status(True, f"K-Means: k = {facts.k}, SSE {facts.sse:.2f}")]
