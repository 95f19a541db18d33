"""Pure analysis helpers behind the app's pages: no Streamlit here, so every table the app
shows or exports is unit-tested directly.

Conventions: components are largest first (index 0 is pc1); cluster ids are 0..k-1, as
K-Means labels them; a blank analyst name falls back to the default ("pc3", "cluster 2").
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.pipeline import component_columns

# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------


def default_component_names(n: int) -> list[str]:
    return component_columns(n)


def default_cluster_name(cluster: int) -> str:
    """The fallback the pipeline's labeled table uses for an unnamed cluster."""
    return f"cluster {cluster}"


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


def file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "export"


# ---------------------------------------------------------------------------------------
# Data page
# ---------------------------------------------------------------------------------------


def summary_statistics(values: pd.Series) -> pd.DataFrame:
    """Summary statistics of one feature, as a two-column table (statistic, value)."""
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    present = numeric.dropna()
    rows = [
        ("count", float(present.size)),
        ("missing", float(numeric.size - present.size)),
        ("mean", present.mean()),
        ("std", present.std()),
        ("min", present.min()),
        ("25%", present.quantile(0.25)),
        ("median", present.median()),
        ("75%", present.quantile(0.75)),
        ("max", present.max()),
    ]
    return pd.DataFrame(rows, columns=["statistic", "value"]).astype({"value": "float64"})


def histogram_bins(values: pd.Series, bins: int = 30, *, log: bool = False) -> pd.DataFrame:
    """Counts per bin (bin_start, bin_end, count), NaNs left out.

    Equal-width bins; with `log`, equal width in log10 (for skewed counts such as population),
    over the positive values only, with the edges still in the feature's units.
    """
    numeric = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=np.float64)
    if log:
        numeric = np.log10(numeric[numeric > 0])
    if numeric.size == 0:
        return pd.DataFrame({"bin_start": [], "bin_end": [], "count": []}).astype("float64")
    lo, hi = float(numeric.min()), float(numeric.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(numeric, bins=bins, range=(lo, hi))
    if log:
        edges = 10.0 ** edges
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": counts.astype(np.int64)})


def scaled_summary(X: np.ndarray, features: Sequence[str]) -> pd.DataFrame:
    """Per feature of the scaled matrix: min, mean, std, max."""
    X = np.asarray(X, dtype=np.float64)
    return pd.DataFrame(
        {
            "feature": list(features),
            "min": X.min(axis=0),
            "mean": X.mean(axis=0),
            "std": X.std(axis=0, ddof=1) if len(X) > 1 else np.zeros(X.shape[1]),
            "max": X.max(axis=0),
        }
    )


# ---------------------------------------------------------------------------------------
# PCA
# ---------------------------------------------------------------------------------------


def variance_table(ratios: np.ndarray, keep: int, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Explained variance per component and cumulative, largest first, with the kept ones marked.

    `names` are the kept components' names (blank → default); the rest show their default.
    """
    ratios = np.asarray(ratios, dtype=np.float64)
    n = ratios.size
    defaults = default_component_names(n)
    shown = list(defaults)
    if names:
        shown[: min(keep, n)] = component_columns(min(keep, n), pad_names(names, min(keep, n)))
    return pd.DataFrame(
        {
            "component": defaults,
            "name": shown,
            "explained": ratios,
            "cumulative": np.cumsum(ratios),
            "kept": np.arange(n) < keep,
        }
    )


def strongest_weights(weights: np.ndarray, features: Sequence[str], n: int = 8) -> pd.DataFrame:
    """The n features with the largest |weight| in one component, sorted by weight."""
    weights = np.asarray(weights, dtype=np.float64)
    top = np.argsort(-np.abs(weights), kind="stable")[: min(n, weights.size)]
    frame = pd.DataFrame({"feature": [features[i] for i in top], "weight": weights[top]})
    frame["direction"] = np.where(frame["weight"] >= 0, "positive", "negative")
    return frame.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)


def component_makeup(v: np.ndarray, features: Sequence[str], names: Sequence[str], n: int = 8) -> pd.DataFrame:
    """Long table of each named component's strongest weights (component, feature, weight, direction)."""
    v = np.asarray(v)
    frames = []
    for j, name in enumerate(names):
        frame = strongest_weights(v[:, j], features, n)
        frame.insert(0, "component", name)
        frame.insert(1, "order", j)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["component", "order", "feature", "weight", "direction"])
    return pd.concat(frames, ignore_index=True)


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


def component_table(
    v: np.ndarray, features: Sequence[str], names: Sequence[str], ratios: np.ndarray | None = None
) -> pd.DataFrame:
    """The export's component table: one row per feature, one column of weights per named component.

    With `ratios`, a first row `explained_variance` gives each component's exact share.
    """
    v = np.asarray(v, dtype=np.float64)[:, : len(names)]
    frame = pd.DataFrame(v, columns=list(names))
    frame.insert(0, "feature", list(features))
    if ratios is not None:
        top = pd.DataFrame([[ "explained_variance", *np.asarray(ratios, dtype=np.float64)[: len(names)]]],
                           columns=frame.columns)
        frame = pd.concat([top, frame], ignore_index=True)
    return frame


# ---------------------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------------------


def cluster_sizes(labels: np.ndarray, k: int, names: Sequence[str]) -> pd.DataFrame:
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=k)[:k]
    total = counts.sum() or 1
    return pd.DataFrame(
        {"cluster": np.arange(k), "name": list(names), "counties": counts, "share": counts / total}
    )


def centroid_table(
    centroids: np.ndarray, component_names: Sequence[str], names: Sequence[str], sizes: Sequence[int] | None = None
) -> pd.DataFrame:
    """One row per cluster: id, name, (size), then its centroid under the component names."""
    centroids = np.asarray(centroids, dtype=np.float64)
    frame = pd.DataFrame(centroids, columns=list(component_names))
    frame.insert(0, "cluster", np.arange(len(centroids)))
    frame.insert(1, "cluster_name", list(names))
    if sizes is not None:
        frame.insert(2, "counties", np.asarray(sizes, dtype=np.int64))
    return frame


def centroid_long(centroids: np.ndarray, component_names: Sequence[str], names: Sequence[str]) -> pd.DataFrame:
    """The centroids as (cluster, cluster_name, component, order, value) rows, for a heatmap."""
    centroids = np.asarray(centroids, dtype=np.float64)
    k, d = centroids.shape
    return pd.DataFrame(
        {
            "cluster": np.repeat(np.arange(k), d),
            "cluster_name": np.repeat(np.asarray(list(names), dtype=object), d),
            "component": np.tile(np.asarray(list(component_names), dtype=object), k),
            "order": np.tile(np.arange(d), k),
            "value": centroids.reshape(-1),
        }
    )


def cluster_profiles(
    frame: pd.DataFrame, features: Sequence[str], labels: np.ndarray, names: Sequence[str]
) -> pd.DataFrame:
    """Each cluster's mean of every feature, in original units, against the overall mean.

    Columns: cluster, cluster_name, feature, cluster_mean, overall_mean, difference
    (cluster − overall, original units), relative (difference / |overall mean|) and
    difference_sd (difference in overall standard deviations, comparable across features).
    """
    values = frame[list(features)].to_numpy(dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    k = len(names)
    overall = values.mean(axis=0)
    sd = values.std(axis=0, ddof=1) if len(values) > 1 else np.ones(values.shape[1])
    sd = np.where(sd > 0, sd, 1.0)
    sums = np.zeros((k, values.shape[1]))
    np.add.at(sums, labels, values)
    counts = np.bincount(labels, minlength=k)[:k].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[:, None]
    difference = means - overall
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(overall != 0, difference / np.abs(overall), np.nan)
    d = len(features)
    return pd.DataFrame(
        {
            "cluster": np.repeat(np.arange(k), d),
            "cluster_name": np.repeat(np.asarray(list(names), dtype=object), d),
            "feature": np.tile(np.asarray(list(features), dtype=object), k),
            "cluster_mean": means.reshape(-1),
            "overall_mean": np.tile(overall, k),
            "difference": difference.reshape(-1),
            "relative": relative.reshape(-1),
            "difference_sd": (difference / sd).reshape(-1),
        }
    )


def cluster_profile(profiles: pd.DataFrame, cluster: int) -> pd.DataFrame:
    """One cluster's profile, most distinctive features first (largest |difference_sd|)."""
    one = profiles[profiles["cluster"] == cluster]
    order = one["difference_sd"].abs().sort_values(ascending=False, kind="stable").index
    return one.loc[order, ["feature", "cluster_mean", "overall_mean", "difference", "relative", "difference_sd"]] \
        .reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Explore
# ---------------------------------------------------------------------------------------


def county_labels(labeled: pd.DataFrame, name_columns: Sequence[str]) -> pd.Series:
    """ "County, State" per row (name columns in reverse: the most specific first)."""
    columns = [c for c in name_columns if c in labeled.columns]
    if not columns:
        return pd.Series([str(i) for i in labeled.index], index=labeled.index)
    parts = [labeled[c].astype(str) for c in reversed(columns)]
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return out


def county_vs_centroid(row: pd.Series, centroid: np.ndarray, component_names: Sequence[str]) -> pd.DataFrame:
    """A county's component scores next to its cluster's centroid (two rows)."""
    values = [[float(row[name]) for name in component_names], [float(v) for v in np.asarray(centroid)]]
    frame = pd.DataFrame(values, columns=list(component_names))
    frame.insert(0, "scores of", ["county", "cluster centroid"])
    return frame


def search_rows(table: pd.DataFrame, query: str, columns: Sequence[str]) -> pd.DataFrame:
    """Rows where any of `columns` contains `query` (case-insensitive); all rows for a blank query."""
    query = (query or "").strip()
    if not query:
        return table
    mask = np.zeros(len(table), dtype=bool)
    for column in columns:
        if column in table.columns:
            mask |= table[column].astype(str).str.contains(query, case=False, regex=False).to_numpy()
    return table[mask]


def cluster_members(
    labeled: pd.DataFrame, cluster: int, query: str = "", search_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """A cluster's counties, closest to the centroid first, optionally filtered by a search."""
    members = labeled[labeled["cluster"] == cluster]
    members = search_rows(members, query, search_columns)
    return members.sort_values("distance_to_cluster", kind="stable")


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV without the index, floats at full precision."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def export_files(
    labeled: pd.DataFrame, components: pd.DataFrame, centroids: pd.DataFrame, stem: str = "counties"
) -> dict[str, bytes]:
    """The three downloads, file name → bytes, ready before any button is pressed."""
    stem = file_slug(stem)
    return {
        f"{stem}-clusters.csv": csv_bytes(labeled),
        f"{stem}-components.csv": csv_bytes(components),
        f"{stem}-centroids.csv": csv_bytes(centroids),
    }
