"""The tables behind the app's pages: feature summaries and histograms, explained variance,
component makeup, cluster sizes and centroids, cluster profiles in original units, county
look-ups. No Streamlit here, so every table is unit-tested directly.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.analysis.naming import default_component_names, pad_names
from workbench.core.conventions import component_columns

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


def county_in_units(
    frame: pd.DataFrame, features: Sequence[str], labels: np.ndarray, county: object
) -> pd.DataFrame:
    """One county's census values in original units beside its cluster's mean and the mean
    of all counties, one row per feature (in `features` order).

    frame: the cleaned table (CleanResult.frame), one row per county, `labels` its clusters;
    county: the county's index label in frame. Columns: feature, county, cluster_mean,
    overall_mean, vs_cluster (county − cluster mean), vs_overall (county − overall mean),
    vs_overall_sd (vs_overall in the feature's standard deviations over all counties; NaN
    for a constant feature) and percentile (share of counties below it plus half of those
    equal, × 100; 50 is the median county).
    """
    if county not in frame.index:
        raise ValueError(f"No county {county!r} in the table; pick one of its rows.")
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != len(frame):
        raise ValueError(f"{labels.shape[0]} cluster labels for {len(frame)} counties; give one label per county.")
    values = frame[list(features)].to_numpy(dtype=np.float64)
    position = frame.index.get_indexer([county])[0]
    own = values[position]
    members = values[labels == labels[position]]
    overall = np.nanmean(values, axis=0)
    sd = np.nanstd(values, axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        vs_sd = np.where(sd > 0, (own - overall) / np.where(sd > 0, sd, 1.0), np.nan)
    present = np.isfinite(values).sum(axis=0)
    below = (values < own).sum(axis=0) + 0.5 * (values == own).sum(axis=0)
    return pd.DataFrame({
        "feature": list(features),
        "county": own,
        "cluster_mean": np.nanmean(members, axis=0),
        "overall_mean": overall,
        "vs_cluster": own - np.nanmean(members, axis=0),
        "vs_overall": own - overall,
        "vs_overall_sd": vs_sd,
        "percentile": np.where(present > 0, below / np.maximum(present, 1) * 100.0, np.nan),
    })


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


@dataclass(frozen=True)
class VarianceShares:
    kept: float  # the share of the total variance the kept components explain
    total: float  # the share all computed components explain


def variance_shares(ratios: np.ndarray, top: int) -> VarianceShares:
    ratios = np.asarray(ratios, dtype=np.float64)
    return VarianceShares(float(np.sum(ratios[:top])), float(np.sum(ratios)))
