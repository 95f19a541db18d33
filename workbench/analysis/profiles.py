"""Reading clusters in plain terms: index scores, shares, separating variables, box-plot data.

* **Index score** of a feature in a cluster = cluster mean / overall mean × 100, both the
  plain (unweighted) mean over counties in original units. 100 is average; above 120 the
  cluster is flagged "high" on it, below 80 "low". It is undefined (NaN) when the overall
  mean is 0 or negative (a ratio to it means nothing there).
* **Shares**: each cluster's share of the counties and, when the table has a population
  column (detected by name: TotalPop, Population, Pop, …), of the population.
* **Separating variables**: per feature, R² = between-cluster SS / total SS (the share of
  the feature's variance the clustering explains, 0..1) and the one-way ANOVA F statistic
  with its p-value (scikit-learn's f_classif). F = [R²/(k−1)] / [(1−R²)/(n−k)], so both rank
  features alike; R² reads as a share, F as a test (with thousands of counties almost every
  p-value is tiny, so rank by R²).
* **Count columns**: features that count people (Men, Employed, …) grow with a county's
  population and say how big it is, not what it is like; they are the population column
  and every whole-numbered feature that rises almost in step with it (Spearman ρ ≥ 0.9).
  Portraits and suggested names lead with the rates and shares instead.
* **Box plots**: Tukey five-number summaries per cluster and feature in original units
  (whiskers at the most extreme values within 1.5 IQR of the box), so a chart carries a few
  rows per cluster instead of every county.

Cluster ids are 0..k-1 as K-Means labels them; names default to "cluster i".
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.feature_selection import f_classif

from workbench.core.conventions import default_cluster_name

__all__ = [
    "HIGH",
    "LOW",
    "ClusterProfile",
    "box_stats",
    "build_profile",
    "cluster_shares",
    "count_columns",
    "detect_population_column",
    "index_matrix",
    "index_scores",
    "separating_variables",
]

HIGH = 120.0  # index at or above: flagged high
LOW = 80.0  # index at or below: flagged low

_POPULATION_PATTERNS = (
    r"totalpop(ulation)?", r"totpop", r"pop(ulation)?", r"pop(ulation)?(total|estimate|est)(\d{4})?",
    r"(total|estimated?)pop(ulation)?(\d{4})?", r"popestimate\d{4}", r"residents",
)


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def detect_population_column(columns: Sequence[str]) -> str | None:
    """The population column by name (TotalPop, Population, Pop, POPESTIMATE2015, …), or None."""
    for pattern in _POPULATION_PATTERNS:
        for column in columns:
            if re.fullmatch(pattern, _normalise(column)):
                return column
    return None


COUNT_CORRELATION = 0.9  # Spearman ρ with the population at or above which a whole-numbered feature is a count


def count_columns(frame: pd.DataFrame, features: Sequence[str], population_column: str | None = "auto") -> list[str]:
    """The features that count people: the population column itself and every feature of
    whole numbers between 0 and the population that rises with it almost in step (Spearman
    ρ ≥ COUNT_CORRELATION). population_column: "auto" finds it by name
    (detect_population_column). [] without a population column."""
    if population_column == "auto":
        population_column = detect_population_column([str(c) for c in frame.columns])
    if population_column is None or population_column not in frame.columns:
        return []
    population = pd.to_numeric(frame[population_column], errors="coerce")
    found = []
    for feature in features:
        if feature == population_column:
            found.append(feature)
            continue
        values = pd.to_numeric(frame[feature], errors="coerce")
        both = values.notna() & population.notna()
        if both.sum() < 3 or values[both].nunique() < 2:
            continue
        v, p = values[both], population[both]
        whole = bool((v == v.round()).all()) and bool((v >= 0).all()) and bool((v <= p * 1.01).all())
        if whole and v.corr(p, method="spearman") >= COUNT_CORRELATION:
            found.append(feature)
    return found


def _names(names: Sequence[str] | None, k: int) -> list[str]:
    names = [str(n).strip() if n is not None else "" for n in (names or [])][:k]
    names += [""] * (k - len(names))
    return [name or default_cluster_name(i) for i, name in enumerate(names)]


def _check(values: np.ndarray, labels: np.ndarray, k: int | None) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != values.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {values.shape[0]} rows; give one label per row.")
    if labels.size and labels.min() < 0:
        raise ValueError("Cluster labels must be 0 or more.")
    k = int(k) if k is not None else int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= k:
        raise ValueError(f"A label is {labels.max()}, but k = {k}.")
    return labels, k


def _inputs(frame: pd.DataFrame, labels: np.ndarray, features: Sequence[str] | None,
            k: int | None) -> tuple[np.ndarray, list[str], np.ndarray, int]:
    """(feature values, feature names, labels, k), checked: one label per row, 0 ≤ label < k."""
    values, features = _matrix(frame, features)
    labels, k = _check(values, labels, k)
    return values, features, labels, k


def _matrix(frame: pd.DataFrame, features: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    features = list(features) if features is not None else [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"The table lacks the feature column(s) {missing}.")
    return frame[features].to_numpy(dtype=np.float64, na_value=np.nan), features


def _cluster_means(values: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(labels, minlength=k)[:k].astype(np.float64)
    sums = np.zeros((k, values.shape[1]))
    np.add.at(sums, labels, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts


def index_scores(frame: pd.DataFrame, labels: np.ndarray, *, features: Sequence[str] | None = None,
                 k: int | None = None, names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per cluster × feature: cluster, cluster_name, feature, cluster_mean,
    overall_mean, index (cluster mean / overall mean × 100) and flag ("high" ≥ 120,
    "low" ≤ 80, else ""). features default to the frame's numeric columns."""
    values, features, labels, k = _inputs(frame, labels, features, k)
    means, _ = _cluster_means(values, labels, k)
    overall = values.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(overall > 0, means / np.where(overall > 0, overall, 1.0) * 100.0, np.nan)
    flag = np.where(index >= HIGH, "high", np.where(index <= LOW, "low", ""))
    d = len(features)
    return pd.DataFrame({
        "cluster": np.repeat(np.arange(k), d),
        "cluster_name": np.repeat(np.asarray(_names(names, k), dtype=object), d),
        "feature": np.tile(np.asarray(features, dtype=object), k),
        "cluster_mean": means.reshape(-1),
        "overall_mean": np.tile(overall, k),
        "index": index.reshape(-1),
        "flag": flag.reshape(-1),
    })


def index_matrix(scores: pd.DataFrame) -> pd.DataFrame:
    """index_scores as a cluster_name × feature table (features in their original order)."""
    features = list(dict.fromkeys(scores["feature"]))
    names = list(dict.fromkeys(scores["cluster_name"]))
    wide = scores.pivot(index="cluster_name", columns="feature", values="index")
    return wide.loc[names, features]


def cluster_shares(
    labels: np.ndarray,
    k: int | None = None,
    *,
    population: np.ndarray | pd.Series | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per cluster: cluster, cluster_name, counties, county_share and, with a
    population, population and population_share (NaN without one)."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    labels, k = _check(labels.reshape(-1, 1), labels, k)
    counts = np.bincount(labels, minlength=k)[:k]
    out = pd.DataFrame({
        "cluster": np.arange(k),
        "cluster_name": _names(names, k),
        "counties": counts,
        "county_share": counts / max(1, counts.sum()),
    })
    if population is not None:
        pop = np.asarray(population, dtype=np.float64).reshape(-1)
        if pop.shape != labels.shape:
            raise ValueError(f"population has {pop.shape[0]} values for {labels.shape[0]} rows.")
        totals = np.bincount(labels, weights=np.nan_to_num(pop), minlength=k)[:k]
        out["population"] = totals
        out["population_share"] = totals / (totals.sum() or 1.0)
    else:
        out["population"] = np.nan
        out["population_share"] = np.nan
    return out


def separating_variables(
    frame: pd.DataFrame, labels: np.ndarray, *, features: Sequence[str] | None = None, k: int | None = None
) -> pd.DataFrame:
    """Per feature: r2 (between-SS / total-SS), f_statistic and p_value (one-way ANOVA,
    scikit-learn's f_classif), strongest first. Constant features get r2 0 and F NaN."""
    values, features, labels, k = _inputs(frame, labels, features, k)
    means, counts = _cluster_means(values, labels, k)
    overall = values.mean(axis=0)
    present = counts > 0
    between = (counts[present, None] * (means[present] - overall) ** 2).sum(axis=0)
    total = ((values - overall) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(total > 0, between / np.where(total > 0, total, 1.0), 0.0)
    if present.sum() >= 2 and len(values) > present.sum():
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore")
            f_stat, p_value = f_classif(values, labels)
    else:
        f_stat = p_value = np.full(len(features), np.nan)
    out = pd.DataFrame({"feature": features, "r2": r2, "f_statistic": f_stat, "p_value": p_value})
    out.loc[total <= 0, ["f_statistic", "p_value"]] = np.nan
    return out.sort_values(["r2", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)


def box_stats(frame: pd.DataFrame, labels: np.ndarray, *, features: Sequence[str] | None = None,
              k: int | None = None, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Tukey box-plot numbers per cluster × feature in original units: cluster, cluster_name,
    feature, count, min, lower_whisker, q1, median, q3, upper_whisker, max, mean, outliers
    (how many values lie beyond the whiskers)."""
    values, features, labels, k = _inputs(frame, labels, features, k)
    cluster_names = _names(names, k)
    rows = []
    for c in range(k):
        block = values[labels == c]
        for j, feature in enumerate(features):
            column = block[:, j]
            column = column[np.isfinite(column)]
            if column.size == 0:
                rows.append({"cluster": c, "cluster_name": cluster_names[c], "feature": feature, "count": 0})
                continue
            q1, median, q3 = np.percentile(column, [25, 50, 75])
            iqr = q3 - q1
            inside = column[(column >= q1 - 1.5 * iqr) & (column <= q3 + 1.5 * iqr)]
            rows.append({
                "cluster": c, "cluster_name": cluster_names[c], "feature": feature, "count": int(column.size),
                "min": float(column.min()), "lower_whisker": float(inside.min()), "q1": float(q1),
                "median": float(median), "q3": float(q3), "upper_whisker": float(inside.max()),
                "max": float(column.max()), "mean": float(column.mean()),
                "outliers": int(column.size - inside.size),
            })
    columns = ["cluster", "cluster_name", "feature", "count", "min", "lower_whisker", "q1", "median", "q3",
               "upper_whisker", "max", "mean", "outliers"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, eq=False)
class ClusterProfile:
    """Everything the Profiles view shows, computed once."""

    k: int
    names: list[str]
    features: list[str]
    population_column: str | None
    index: pd.DataFrame  # index_scores
    shares: pd.DataFrame  # cluster_shares
    separation: pd.DataFrame  # separating_variables
    boxes: pd.DataFrame  # box_stats
    counts: list[str] = field(default_factory=list)  # count_columns: features that count people

    def cluster(self, cluster: int) -> pd.DataFrame:
        """One cluster's index scores, highest first."""
        one = self.index[self.index["cluster"] == cluster]
        return one.sort_values("index", ascending=False, kind="stable", na_position="last").reset_index(drop=True)

    def flagged(self, cluster: int) -> pd.DataFrame:
        """The cluster's features flagged high or low, most extreme first."""
        one = self.index[(self.index["cluster"] == cluster) & (self.index["flag"] != "")].copy()
        one["_distance"] = np.abs(np.log(one["index"] / 100.0))
        return one.sort_values("_distance", ascending=False, kind="stable").drop(columns="_distance").reset_index(drop=True)


def build_profile(
    frame: pd.DataFrame,
    labels: np.ndarray,
    *,
    features: Sequence[str] | None = None,
    k: int | None = None,
    names: Sequence[str] | None = None,
    population_column: str | None = "auto",
) -> ClusterProfile:
    """All profile tables for a clustering of `frame` (e.g. CleanResult.frame with its
    features). population_column: "auto" detects it by name among the frame's columns, None
    leaves population shares out, or name a column."""
    values, features, labels, k = _inputs(frame, labels, features, k)
    if population_column == "auto":
        population_column = detect_population_column([str(c) for c in frame.columns])
    elif population_column is not None and population_column not in frame.columns:
        raise ValueError(f"The table has no population column {population_column!r}.")
    population = frame[population_column].to_numpy(dtype=np.float64) if population_column else None
    cluster_names = _names(names, k)
    return ClusterProfile(
        k=k,
        names=cluster_names,
        features=features,
        population_column=population_column,
        index=index_scores(frame, labels, features=features, k=k, names=cluster_names),
        shares=cluster_shares(labels, k, population=population, names=cluster_names),
        separation=separating_variables(frame, labels, features=features, k=k),
        boxes=box_stats(frame, labels, features=features, k=k, names=cluster_names),
        counts=count_columns(frame, features, population_column),
    )


def index_colour(value) -> str:
    """A table cell's background for an index score: red when high, blue when low (CSS)."""
    if not isinstance(value, (int, float)) or not np.isfinite(value):
        return ""
    if value >= HIGH:
        return "background-color: #f4a582"
    if value <= LOW:
        return "background-color: #92c5de"
    return ""
