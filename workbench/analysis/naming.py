"""Names of components and clusters: defaults, the analyst's names padded and checked, and
suggestions drafted from the weights and centroids.

Conventions: components are largest first (index 0 is pc1); cluster ids are 0..k-1, as
K-Means labels them; a blank analyst name falls back to the default ("pc3", "cluster 2").
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from workbench.analysis import margins
from workbench.core.conventions import default_cluster_name, default_component_names
from workbench.core.names import check_cluster_names

# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------


def pad_names(names: Sequence[str] | None, n: int) -> list[str]:
    """Exactly n names (blank where missing), stripped, for an editor or a store."""
    names = [(name or "").strip() if isinstance(name, str) or name is None else str(name).strip()
             for name in (names or [])][:n]
    return names + [""] * (n - len(names))


def cluster_names(names: Sequence[str] | None, k: int) -> list[str]:
    """The display name of every cluster: the analyst's name, else "cluster i"; the names are
    checked as everywhere (workbench.core.names: unique, no control characters…)."""
    checked = check_cluster_names(pad_names(names, k))
    return [name or default_cluster_name(i) for i, name in enumerate(checked)]


# ---------------------------------------------------------------------------------------
# Features in words
# ---------------------------------------------------------------------------------------

# How the census columns read in a sentence: (phrase, word for more, word for less). Groups
# of residents read "More Hispanic, fewer White residents"; any other column falls back on
# its name split into words ("MedianAge" → "median age") with higher / lower.
RESIDENT_GROUPS = ("Hispanic", "White", "Black", "Native", "Asian", "Pacific")
FEATURE_WORDS: dict[str, tuple[str, str, str]] = {
    **{group: (group, "more", "fewer") for group in RESIDENT_GROUPS},
    "TotalPop": ("population", "larger", "smaller"),
    "Men": ("men", "more", "fewer"),
    "Women": ("women", "more", "fewer"),
    "Citizen": ("citizens", "more", "fewer"),
    "Employed": ("employed people", "more", "fewer"),
    "Income": ("income", "higher", "lower"),
    "IncomeErr": ("income margin of error", "higher", "lower"),
    "IncomePerCap": ("income per person", "higher", "lower"),
    "IncomePerCapErr": ("income-per-person margin of error", "higher", "lower"),
    "Poverty": ("poverty", "higher", "lower"),
    "ChildPoverty": ("child poverty", "higher", "lower"),
    "Unemployment": ("unemployment", "higher", "lower"),
    **{job: (f"{job.lower()} jobs", "more", "fewer")
       for job in ("Professional", "Service", "Office", "Construction", "Production")},
    "Drive": ("driving to work", "more", "less"),
    "Carpool": ("carpooling", "more", "less"),
    "Transit": ("public transit", "more", "less"),
    "Walk": ("walking to work", "more", "less"),
    "OtherTransp": ("other ways to work", "more", "less"),
    "WorkAtHome": ("working from home", "more", "less"),
    "MeanCommute": ("commutes", "longer", "shorter"),
    "PrivateWork": ("private-sector work", "more", "less"),
    "PublicWork": ("public-sector work", "more", "less"),
    "SelfEmployed": ("self-employment", "more", "less"),
    "FamilyWork": ("unpaid family work", "more", "less"),
}


def feature_words(feature: str) -> tuple[str, str, str]:
    """(phrase, word for more, word for less) of a feature: "Poverty" → ("poverty", "higher", "lower")."""
    if feature in FEATURE_WORDS:
        return FEATURE_WORDS[feature]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\s]+", " ", str(feature)).split()
    phrase = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words) or str(feature)
    return phrase, "higher", "lower"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_directions(sides: Sequence[tuple[str, bool]]) -> str:
    """Features with a direction (True: more) in words, e.g. [("Black", True), ("Hispanic",
    False)] → "More Black, fewer Hispanic residents"; consecutive groups of residents share
    the word "residents". Starts with a letter, never a sign."""
    clauses: list[str] = []
    for i, (feature, up) in enumerate(sides):
        phrase, more, less = feature_words(feature)
        clause = f"{more if up else less} {phrase}"
        group_ends = feature in RESIDENT_GROUPS and (i + 1 == len(sides) or sides[i + 1][0] not in RESIDENT_GROUPS)
        clauses.append(f"{clause} residents" if group_ends else clause)
    return _capitalised(", ".join(clauses))


def describe_levels(highs: Sequence[str], lows: Sequence[str]) -> str:
    """A cluster's distinctive features in words: "High poverty and Hispanic, low income"."""
    parts = []
    for level, features in (("high", highs), ("low", lows)):
        if features:
            parts.append(f"{level} " + " and ".join(feature_words(f)[0] for f in features))
    return _capitalised(", ".join(parts))


# ---------------------------------------------------------------------------------------
# Suggestions
# ---------------------------------------------------------------------------------------


def suggest_component_name(weights: np.ndarray, features: Sequence[str], n_each: int = 1) -> str:
    """A name from a component's strongest weights, e.g. "More Hispanic, fewer White residents".

    A county scores high on the component when it is high on the positive features and low
    on the negative ones. One-signed components (or near enough) get only their strong side.
    """
    weights = np.asarray(weights, dtype=np.float64)
    order = np.argsort(weights)
    strongest = np.abs(weights).max() if weights.size else 0.0
    if strongest == 0:
        return ""
    sides = [(features[i], True) for i in order[::-1][:n_each] if weights[i] > 0.25 * strongest]
    sides += [(features[i], False) for i in order[:n_each] if weights[i] < -0.25 * strongest]
    return describe_directions(sides)


def _unique(names: list[str], default: Callable[[int], str]) -> list[str]:
    """Whatever still clashes (or came out empty) gets its default appended."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return [(f"{name} ({default(i)})" if name else default(i)) if (not name or counts[name] > 1) else name
            for i, name in enumerate(names)]


def suggest_component_names(v: np.ndarray, features: Sequence[str], n_each: int = 1) -> list[str]:
    """One suggestion per column of v (d × n, largest first), made unique by widening."""
    v = np.asarray(v)
    suggestions = [suggest_component_name(v[:, j], features, n_each) for j in range(v.shape[1])]
    # Two components with the same strongest features: describe them with one more feature each.
    for extra in (1, 2):
        seen: dict[str, list[int]] = {}
        for j, name in enumerate(suggestions):
            seen.setdefault(name, []).append(j)
        clashes = [js for js in seen.values() if len(js) > 1]
        if not clashes:
            break
        for js in clashes:
            for j in js:
                suggestions[j] = suggest_component_name(v[:, j], features, n_each + extra)
    return _unique(suggestions, lambda j: f"pc{j + 1}")


def _widen_until_unique(describe: Callable[[int, int], str], count: int, start: int, most: int) -> list[str]:
    """describe(i, width) for every i, widening the clashing ones until they differ."""
    widths = [min(start, most)] * count
    names = [describe(i, widths[i]) for i in range(count)]
    for _ in range(most):
        clashes = {name for name in names if names.count(name) > 1}
        if not clashes:
            break
        for i, name in enumerate(names):
            if name in clashes and widths[i] < most:
                widths[i] += 1
                names[i] = describe(i, widths[i])
    return _unique(names, lambda i: f"cluster {i}")


def suggest_cluster_names(centroids: np.ndarray, component_names: Sequence[str], n: int = 2) -> list[str]:
    """A name per centroid from its most extreme components, e.g. "High Wealth, low Rural"
    (for components the analyst has named).

    Components are compared in standard deviations of the centroids, so a component on
    which all clusters sit close together does not dominate. Clusters that would share a
    name are described by one more component each (then numbered, if still equal).
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    spread = centroids.std(axis=0) if len(centroids) > 1 else np.abs(centroids).max(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    z = centroids / spread
    order = np.argsort(-np.abs(z), axis=1, kind="stable")

    def describe(i: int, m: int) -> str:
        return _capitalised(", ".join(f"{'high' if z[i, j] > 0 else 'low'} {component_names[j]}"
                                      for j in order[i, :m]))

    return _widen_until_unique(describe, len(centroids), n, centroids.shape[1])


def suggest_cluster_names_from_profiles(
    profiles: pd.DataFrame, n: int = 2, *, skip: Sequence[str] = (), skip_margins: bool = True
) -> list[str]:
    """A name per cluster from the features on which it differs most from all counties, in
    words: "High poverty and child poverty", "High Hispanic, low income".

    `profiles`: summaries.cluster_profiles (difference_sd ranks the features). skip: features
    to leave out (e.g. profiles.count_columns: counts say how big a county is, not what it
    is like); margins of error (`*Err`) are left out too unless skip_margins is False.
    Clusters that would share a name are described by one more feature each.
    """
    left_out = set(skip)
    if skip_margins:
        left_out |= {f for f in profiles["feature"].unique() if margins.is_margin(f)}
    shown = profiles[~profiles["feature"].isin(left_out) & profiles["difference_sd"].notna()]
    k = int(profiles["cluster"].max()) + 1 if len(profiles) else 0
    ranked = []
    for cluster in range(k):
        one = shown[shown["cluster"] == cluster]
        order = one["difference_sd"].abs().sort_values(ascending=False, kind="stable").index
        ranked.append(list(zip(one.loc[order, "feature"], one.loc[order, "difference_sd"] > 0)))
    most = max((len(r) for r in ranked), default=0)

    def describe(i: int, m: int) -> str:
        top = ranked[i][:m]
        return describe_levels([f for f, up in top if up], [f for f, up in top if not up])

    return _widen_until_unique(describe, k, n, most)


def apply_names(stored: Sequence[str] | None, edited: Sequence[str], n: int) -> list[str]:
    """The store after an edit of its first len(edited) names (the rest are kept)."""
    current = pad_names(stored, n)
    for i, name in enumerate(pad_names(edited, len(edited))):
        if i < n:
            current[i] = name
    return current


def fill_blanks(names: Sequence[str] | None, suggestions: Sequence[str]) -> list[str]:
    """Blank names take the suggestion; names the analyst typed stay."""
    current = pad_names(names, len(suggestions))
    return [name or suggestion for name, suggestion in zip(current, suggestions)]


def top_features_text(weights: np.ndarray, features: Sequence[str], n: int = 3) -> str:
    """ "A 0.70, B -0.60, C 0.20": the n strongest weights, strongest first (a feature
    first, so the text never starts with a sign a spreadsheet would read as a formula)."""
    weights = np.asarray(weights, dtype=np.float64)
    top = np.argsort(-np.abs(weights), kind="stable")[:n]
    return ", ".join(f"{features[i]} {weights[i]:.2f}" for i in top)


def naming_table(
    v: np.ndarray, features: Sequence[str], ratios: np.ndarray, names: Sequence[str], suggestions: Sequence[str]
) -> pd.DataFrame:
    """What the component-naming editor shows: one row per kept component."""
    n = len(suggestions)
    return pd.DataFrame(
        {
            "component": default_component_names(n),
            "name": pad_names(names, n),
            "suggested": list(suggestions),
            "strongest weights": [top_features_text(np.asarray(v)[:, j], features) for j in range(n)],
            "variance": np.asarray(ratios, dtype=np.float64)[:n],
        }
    )
