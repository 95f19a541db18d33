"""Names of components and clusters: defaults, the analyst's names padded and checked, and
suggestions drafted from the weights and centroids.

Conventions: components are largest first (index 0 is pc1); cluster ids are 0..k-1, as
K-Means labels them; a blank analyst name falls back to the default ("pc3", "cluster 2").
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.core.conventions import default_cluster_name, default_component_names

# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------


def pad_names(names: Sequence[str] | None, n: int) -> list[str]:
    """Exactly n names (blank where missing), stripped, for an editor or a store."""
    names = [(name or "").strip() if isinstance(name, str) or name is None else str(name).strip()
             for name in (names or [])][:n]
    return names + [""] * (n - len(names))


def cluster_names(names: Sequence[str] | None, k: int) -> list[str]:
    """The display name of every cluster: the analyst's name, else "cluster i"; unique."""
    chosen = [name or default_cluster_name(i) for i, name in enumerate(pad_names(names, k))]
    duplicates = sorted({name for name in chosen if chosen.count(name) > 1})
    if duplicates:
        raise ValueError(f"Cluster names must be unique; {', '.join(map(repr, duplicates))} is used twice.")
    return chosen


def suggest_component_name(weights: np.ndarray, features: Sequence[str], n_each: int = 1) -> str:
    """A name from a component's strongest weights, e.g. "+IncomePerCap −Poverty".

    A county scores high on the component when it is high on the "+" features and low on
    the "−" ones. One-signed components (or near enough) get only their strong side.
    """
    weights = np.asarray(weights, dtype=np.float64)
    order = np.argsort(weights)
    strongest = np.abs(weights).max() if weights.size else 0.0
    if strongest == 0:
        return ""
    parts: list[str] = []
    for i in order[::-1][:n_each]:
        if weights[i] > 0.25 * strongest:
            parts.append(f"+{features[i]}")
    for i in order[:n_each]:
        if weights[i] < -0.25 * strongest:
            parts.append(f"−{features[i]}")
    return " ".join(parts)


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
    # Whatever still clashes (or came out empty) gets its default name appended.
    counts: dict[str, int] = {}
    for name in suggestions:
        counts[name] = counts.get(name, 0) + 1
    return [
        (f"{name} (pc{j + 1})" if name else f"pc{j + 1}") if (not name or counts[name] > 1) else name
        for j, name in enumerate(suggestions)
    ]


def suggest_cluster_names(centroids: np.ndarray, component_names: Sequence[str], n: int = 2) -> list[str]:
    """A name per centroid from its most extreme components, e.g. "high Wealth, low Rural".

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
        return ", ".join(f"{'high' if z[i, j] > 0 else 'low'} {component_names[j]}" for j in order[i, :m])

    widths = [min(n, centroids.shape[1])] * len(centroids)
    names = [describe(i, widths[i]) for i in range(len(centroids))]
    for _ in range(centroids.shape[1]):
        clashes = {name for name in names if names.count(name) > 1}
        if not clashes:
            break
        for i, name in enumerate(names):
            if name in clashes and widths[i] < centroids.shape[1]:
                widths[i] += 1
                names[i] = describe(i, widths[i])
    counts = {name: names.count(name) for name in names}
    return [f"{name} ({i})" if counts[name] > 1 else name for i, name in enumerate(names)]


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
    """ "+A +B −C": the n strongest weights with their signs, strongest first."""
    weights = np.asarray(weights, dtype=np.float64)
    top = np.argsort(-np.abs(weights), kind="stable")[:n]
    return " ".join(f"{'+' if weights[i] >= 0 else '−'}{features[i]}" for i in top)


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
