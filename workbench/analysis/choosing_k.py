"""Choosing k with evidence: five criteria over a range of k, a knee, and a recommendation.

For every k (2 to 15 by default) the component scores are clustered with the workbench's
own K-Means (`backends.algorithms.kmeans.fit_kmeans`, via `stability.fit_labels`), and scored:

* **SSE** — sum of squared distances to the nearest centroid (K-Means' inertia). It always
  falls as k grows; its *elbow* is where adding clusters stops paying off.
* **Silhouette** (−1..1, higher is better): how much closer each county is to its own
  cluster than to the next one, computed here (`silhouettes`, tested equal to scikit-learn's).
  On big tables it is estimated on a seeded sample; every k's comes from one pass over the
  pairwise distances.
* **Calinski–Harabasz** (higher is better): between-cluster over within-cluster dispersion,
  each divided by its degrees of freedom.
* **Davies–Bouldin** (lower is better): the mean over clusters of the worst ratio of
  within-cluster spread to between-centroid distance.
* **Stability** (higher is better): the mean per-cluster bootstrap Jaccard of that k's
  clustering, from `stability.bootstrap_stability` with the same seed the Profiles page
  uses, so the same model with the same resamples gets the same number on both pages
  (stability_se: its standard error over the resamples).

Knee of the SSE curve — the max-distance-to-chord method
--------------------------------------------------------
k and SSE are both rescaled to [0, 1]; the knee is the k whose point lies farthest from the
straight line (the chord) joining the first and the last point. For a decreasing convex
curve this is exactly Kneedle's knee (Satopää et al. 2011) without its sensitivity
threshold: on the unit square Kneedle's "difference curve" is the vertical distance to that
chord, which is proportional to the perpendicular one. The distance itself (`elbow`, 0..~0.7)
says how sharp the bend is: near 0 the curve is a straight line and has no real knee.

The recommendation rule (RULE)
------------------------------
1. Only *stable* k take part: mean bootstrap Jaccard ≥ 0.75 (Hennig's band). When no k is
   stable, or stability was not computed, every k takes part and the reason says so.
2. Each taking part k is ranked on the five criteria: silhouette, Calinski–Harabasz and
   stability (higher first), Davies–Bouldin (lower first) and the elbow (closer to the knee
   first: larger distance to the chord). Ties share the best rank.
3. The k with the smallest sum of ranks wins (a Borda count). Ties go to the more stable k,
   then to the smaller k.
Why: each index has a known bias — silhouette and stability favour few clusters (k = 2 is
often "best" and trivially stable), Calinski–Harabasz and Davies–Bouldin pull in different
directions, the elbow ignores separation — so a k that ranks well on all five is the one
an analyst can defend. On well-separated planted clusters all five agree.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

from workbench.analysis import formatting
from workbench.analysis import stability as stability_mod

__all__ = [
    "CRITERIA",
    "DEFAULT_K_RANGE",
    "RULE",
    "SILHOUETTE_FULL_LIMIT",
    "KSelection",
    "evaluate_k",
    "find_knee",
    "recommend_k",
]

Progress = Callable[[float, str], None]

DEFAULT_K_RANGE = range(2, 16)
SILHOUETTE_FULL_LIMIT = 10_000  # above this many rows, "auto" estimates the silhouette on a sample of this size
SILHOUETTE_ONEHOT_BYTES = 64 << 20  # silhouettes: labelings share one pass while their one-hot fits in this
CACHE_VERSION = 2  # 2: stability over resamples fitted quickly, seeded as on Profiles; stability_se

# metric column -> (label, True when higher is better)
CRITERIA: dict[str, tuple[str, bool]] = {
    "silhouette": ("silhouette", True),
    "calinski_harabasz": ("Calinski–Harabasz", True),
    "davies_bouldin": ("Davies–Bouldin", False),
    "stability": ("stability", True),
    "elbow": ("elbow", True),
}

RULE = (
    "Among the k whose clusters are stable (mean bootstrap Jaccard ≥ 0.75; every k when none is), "
    "rank each k on silhouette, Calinski–Harabasz, Davies–Bouldin, stability and closeness to the "
    "SSE knee; recommend the k with the best total rank (Borda count), ties to the more stable, then the smaller k."
)


# --------------------------------------------------------------------------- knee


def _chord_distance(ks: np.ndarray, sse: np.ndarray) -> np.ndarray:
    """Distance of each point of the normalised (k, SSE) curve from the chord joining its ends."""
    ks = np.asarray(ks, dtype=np.float64)
    sse = np.asarray(sse, dtype=np.float64)
    out = np.zeros(len(ks))
    if len(ks) < 3:
        return out
    x = (ks - ks.min()) / (np.ptp(ks) or 1.0)
    y = (sse - sse.min()) / (np.ptp(sse) or 1.0)
    x0, y0, x1, y1 = x[0], y[0], x[-1], y[-1]
    length = np.hypot(x1 - x0, y1 - y0)
    if length == 0:
        return out
    # Signed distance: positive below the chord, where the bend of a decreasing convex curve lies.
    signed = ((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / length
    return np.maximum(signed, 0.0)


def find_knee(ks: Iterable[int], sse: Iterable[float]) -> tuple[int | None, np.ndarray]:
    """The knee of a decreasing SSE curve by the max-distance-to-chord method (see module doc).

    Returns (knee k or None when fewer than three points or the curve is straight, each
    point's distance to the chord in the normalised square)."""
    ks = np.asarray(list(ks))
    sse = np.asarray(list(sse), dtype=np.float64)
    order = np.argsort(ks, kind="stable")
    distance = np.zeros(len(ks))
    distance[order] = _chord_distance(ks[order], sse[order])
    if len(ks) < 3 or distance.max() <= 1e-9:
        return None, distance
    return int(ks[int(np.argmax(distance))]), distance


# --------------------------------------------------------------------------- recommendation


def _ranks(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Rank 1 = best; ties share the best (minimum) rank; NaN ranks last."""
    series = pd.Series(values if higher_is_better else -np.asarray(values, dtype=np.float64))
    return series.rank(ascending=False, method="min", na_option="bottom").to_numpy()


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 11 <= n % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def recommend_k(table: pd.DataFrame, knee: int | None = None) -> tuple[int, str, pd.DataFrame]:
    """Apply RULE to a metrics table (columns k, silhouette, calinski_harabasz, davies_bouldin,
    elbow and optionally stability). Returns (k, reason, ranking table)."""
    if table.empty:
        raise ValueError("No k was evaluated.")
    frame = table.reset_index(drop=True)
    has_stability = "stability" in frame and frame["stability"].notna().any()
    if has_stability:
        eligible = frame["stability"].to_numpy(dtype=np.float64) >= stability_mod.STABLE
        gate = (f"the {int(eligible.sum())} of {len(frame)} k values whose clusters are stable "
                f"(mean bootstrap Jaccard ≥ {stability_mod.STABLE})")
        if not eligible.any():
            eligible[:] = True
            gate = (f"all {len(frame)} k values, since none is stable (no mean bootstrap Jaccard reaches "
                    f"{stability_mod.STABLE}; treat any choice with care)")
        criteria = list(CRITERIA)
    else:
        eligible = np.ones(len(frame), dtype=bool)
        gate = f"all {len(frame)} k values (stability was not computed)"
        criteria = [c for c in CRITERIA if c != "stability"]
    pool = frame[eligible].reset_index(drop=True)
    ranking = pd.DataFrame({"k": pool["k"].to_numpy()})
    for name in criteria:
        ranking[f"rank_{name}"] = _ranks(pool[name].to_numpy(dtype=np.float64), CRITERIA[name][1])
    ranking["rank_sum"] = ranking[[f"rank_{c}" for c in criteria]].sum(axis=1)
    tiebreak = pool["stability"].to_numpy(dtype=np.float64) if has_stability else np.zeros(len(pool))
    ranking["_stab"] = np.nan_to_num(-tiebreak, nan=0.0)
    ranking = ranking.sort_values(["rank_sum", "_stab", "k"], kind="stable").drop(columns="_stab").reset_index(drop=True)
    best = int(ranking.loc[0, "k"])
    row = pool[pool["k"] == best].iloc[0]
    ranks = ranking.iloc[0]
    n = len(pool)
    parts = [
        f"silhouette {row['silhouette']:.3f} ({_ordinal(int(ranks['rank_silhouette']))} of {n})",
        f"Calinski–Harabasz {row['calinski_harabasz']:,.0f} ({_ordinal(int(ranks['rank_calinski_harabasz']))})",
        f"Davies–Bouldin {row['davies_bouldin']:.3f} ({_ordinal(int(ranks['rank_davies_bouldin']))}, lower is better)",
    ]
    if has_stability:
        parts.append(f"stability {row['stability']:.2f} ({_ordinal(int(ranks['rank_stability']))})")
    knee_text = f"the SSE knee is at k = {knee}" if knee is not None else "the SSE curve has no clear knee"
    parts.append(f"elbow ({_ordinal(int(ranks['rank_elbow']))}; {knee_text})")
    reason = (f"k = {best} has the best combined rank of {len(criteria)} criteria among {gate}: "
              + "; ".join(parts) + ".")
    if len(ranking) > 1:
        runner = ranking.iloc[1]
        reason += f" Runner-up: k = {int(runner['k'])} (rank sum {runner['rank_sum']:g} against {ranks['rank_sum']:g})."
    singles = []
    for name in ("silhouette", "calinski_harabasz", "davies_bouldin"):
        values = frame[name].to_numpy(dtype=np.float64)
        if np.isfinite(values).any():
            top = int(frame["k"].iloc[int(np.nanargmax(values) if CRITERIA[name][1] else np.nanargmin(values))])
            if top != best:
                singles.append(f"{CRITERIA[name][0]} alone would pick k = {top}")
    if singles:
        reason += " For comparison: " + ", ".join(singles) + "."
    return best, reason, ranking


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, eq=False)
class KSelection:
    """The evidence for k.

    table: one row per k: k, sse, silhouette, calinski_harabasz, davies_bouldin, stability
        (mean per-cluster bootstrap Jaccard, NaN when not computed), stability_min (the least
        stable cluster), stability_se (the mean's standard error), elbow (distance to the chord, see find_knee), is_knee, is_recommended.
    knee: the SSE knee (None when the curve has no bend). recommended / reason: RULE's choice
        and why, in words. ranking: the rank table behind it. labels: k -> labels of the rows.
    """

    table: pd.DataFrame
    knee: int | None
    recommended: int
    reason: str
    ranking: pd.DataFrame
    labels: dict[int, np.ndarray] = field(default_factory=dict)
    centroids: dict[int, np.ndarray] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    rule: str = RULE

    def long(self) -> pd.DataFrame:
        """The metrics as (k, metric, label, value, better, is_knee, is_recommended) rows, for a chart."""
        labels = {"sse": ("SSE (elbow)", "lower"), "silhouette": ("silhouette", "higher"),
                  "calinski_harabasz": ("Calinski–Harabasz", "higher"),
                  "davies_bouldin": ("Davies–Bouldin", "lower"), "stability": ("stability (bootstrap Jaccard)", "higher")}
        rows = []
        for metric, (label, better) in labels.items():
            if metric not in self.table or not self.table[metric].notna().any():
                continue
            for _, row in self.table.iterrows():
                rows.append({"k": int(row["k"]), "metric": metric, "label": label, "value": float(row[metric]),
                             "better": better, "is_knee": bool(row["is_knee"]),
                             "is_recommended": bool(row["is_recommended"])})
        return pd.DataFrame(rows)

    @property
    def weak_recommendation(self) -> str | None:
        """Why the recommendation is weak, in words, when it rests on fewer than about 30 rows
        (the scores that rank k are then noisy); None otherwise, or when the rows are unknown."""
        rows = len(next(iter(self.labels.values()))) if self.labels else None
        if rows is None or rows >= 30:
            return None
        return (f"Only {rows} rows: with fewer than about 30, the scores that rank k are noisy, so the "
                f"recommended k = {self.recommended} is weak evidence; treat it as a hint and check the clusters.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (NaN as None); from_dict restores it."""
        def clean(records):
            return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()} for r in records]
        return {
            "version": CACHE_VERSION,
            "table": clean(self.table.to_dict(orient="records")),
            "ranking": clean(self.ranking.to_dict(orient="records")),
            "knee": self.knee,
            "recommended": self.recommended,
            "reason": self.reason,
            "rule": self.rule,
            "labels": {str(k): v.tolist() for k, v in self.labels.items()},
            "centroids": {str(k): v.tolist() for k, v in self.centroids.items()},
            "settings": self.settings,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "KSelection":
        if data.get("version") != CACHE_VERSION:
            raise ValueError(f"A k selection of version {data.get('version')}; this is version {CACHE_VERSION}.")
        table = pd.DataFrame(data["table"]).astype({"k": "int64"})
        for column in table.columns:
            if column not in ("k", "is_knee", "is_recommended"):
                table[column] = pd.to_numeric(table[column]).astype("float64")
        return cls(
            table=table,
            knee=data["knee"],
            recommended=int(data["recommended"]),
            reason=data["reason"],
            ranking=pd.DataFrame(data["ranking"]),
            labels={int(k): np.asarray(v, dtype=np.int64) for k, v in data.get("labels", {}).items()},
            centroids={int(k): np.asarray(v, dtype=np.float32) for k, v in data.get("centroids", {}).items()},
            settings=dict(data.get("settings", {})),
            rule=data.get("rule", RULE),
        )


def _cache_key(X: np.ndarray, settings: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(str(X.shape).encode())
    digest.update(np.ascontiguousarray(X, dtype=np.float32).tobytes())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _criteria(X: np.ndarray, labels: np.ndarray, model) -> dict[str, float]:
    """SSE, Calinski–Harabasz and Davies–Bouldin of one clustering (the silhouette comes later,
    for every k at once)."""
    _, distances = model.assign(X)
    row = {"sse": float(np.sum(distances.astype(np.float64) ** 2))}
    if len(np.unique(labels)) >= 2:
        row["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
        row["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    else:
        row.update(calinski_harabasz=np.nan, davies_bouldin=np.nan)
    return row


def silhouettes(
    X: np.ndarray, labelings: list[np.ndarray], *, sample_size: int | None = None, seed: int = 0
) -> list[float]:
    """scikit-learn's silhouette_score(X, labels, sample_size=…, random_state=seed) for each
    labeling, with the pairwise distances computed once for a group of labelings (a block of
    rows at a time, in bounded memory) instead of once per labeling: on the census, k = 2…12
    cost about one silhouette's time. NaN where a labeling has fewer than 2 or more than
    rows − 1 distinct labels."""
    X = np.asarray(X, dtype=np.float64)
    if sample_size is not None:
        rows = np.random.RandomState(seed).permutation(X.shape[0])[:sample_size]  # as scikit-learn samples
        X, labelings = X[rows], [np.asarray(labels)[rows] for labels in labelings]
    n = X.shape[0]
    codes = [np.unique(np.asarray(labels), return_inverse=True)[1].ravel() for labels in labelings]
    sizes = [np.bincount(c).astype(np.float64) for c in codes]
    budget = max(max(len(s) for s in sizes), SILHOUETTE_ONEHOT_BYTES // (8 * n))  # one-hot columns per group
    groups, current, width = [], [], 0
    for i, size in enumerate(sizes):
        if current and width + len(size) > budget:
            groups.append(current)
            current, width = [], 0
        current.append(i)
        width += len(size)
    groups.append(current)
    totals = np.zeros(len(codes))
    squares = np.einsum("ij,ij->i", X, X)
    for group in groups:
        totals[group] = _silhouette_sums(X, squares, [codes[i] for i in group], [sizes[i] for i in group])
    return [float(totals[i] / n) if 2 <= len(size) <= n - 1 else float("nan") for i, size in enumerate(sizes)]


def _silhouette_sums(X: np.ndarray, squares: np.ndarray, codes: list[np.ndarray], sizes: list[np.ndarray]) -> list[float]:
    """The sum of the silhouette values of every row, for each labeling of one group."""
    n = X.shape[0]
    offsets = np.cumsum([0] + [len(s) for s in sizes])
    onehot = np.zeros((n, offsets[-1]))
    for c, lo in zip(codes, offsets[:-1]):
        onehot[np.arange(n), lo + c] = 1.0
    totals = [0.0] * len(codes)
    step = max(1, (4 << 20) // max(1, n))  # rows per block: 32 MiB of float64 distances
    for lo in range(0, n, step):
        block = slice(lo, min(lo + step, n))
        d2 = squares[block, None] + squares[None, :] - 2.0 * (X[block] @ X.T)
        distances = np.sqrt(np.maximum(d2, 0.0, out=d2), out=d2)
        distances[np.arange(block.stop - block.start), np.arange(block.start, block.stop)] = 0.0
        sums = distances @ onehot  # each row's summed distance to every cluster of every labeling
        for i, (c, size, first) in enumerate(zip(codes, sizes, offsets[:-1])):
            own = c[block]
            picked = np.arange(len(own))
            per_cluster = sums[:, first:first + len(size)]
            with np.errstate(divide="ignore", invalid="ignore"):
                intra = per_cluster[picked, own] / (size[own] - 1.0)
                mean = per_cluster / size[None, :]
                mean[picked, own] = np.inf
                inter = mean.min(axis=1)
                score = (inter - intra) / np.maximum(intra, inter)
            totals[i] += float(np.nan_to_num(score, nan=0.0, posinf=0.0, neginf=0.0).sum())  # a cluster of one: 0
    return totals


def _evaluate_each_k(X, ks, seed, sample, stability_reps, hyperparameters, refine, progress):
    """evaluate_k's measurements: (one row of criteria per k, labels by k, centroids by k)."""
    fits_per_k = 1 + max(0, int(stability_reps))
    total = len(ks) * fits_per_k + 1  # + the silhouettes, all k at once
    done = 0

    def report(fraction_done: float, message: str) -> None:
        if progress is not None:
            progress(min(1.0, fraction_done / total), message)

    rows, labels_by_k, centroids_by_k = [], {}, {}
    for k in ks:
        report(done, f"k = {k}: clustering")
        labels, model = stability_mod.fit_labels(X, k, seed, hyperparameters=hyperparameters, refine=refine)
        done += 1
        row = _criteria(X, labels, model)
        row["k"] = k
        if stability_reps > 0:
            base = done
            result = stability_mod.bootstrap_stability(
                X, k, labels=labels, reps=stability_reps, seed=seed, hyperparameters=hyperparameters,
                refine=refine, progress=lambda fraction, message, base=base: report(base + fraction * stability_reps,
                                                                                    message),
            )
            done += stability_reps
            row["stability"], row["stability_min"] = result.mean, result.minimum
            row["stability_se"] = result.standard_error
        else:
            row["stability"] = row["stability_min"] = row["stability_se"] = np.nan
        report(done, f"k = {k}: done (SSE {formatting.number(row['sse'])})")
        rows.append(row)
        labels_by_k[k] = labels
        centroids_by_k[k] = model.centroids.copy()
    report(done, "silhouettes")
    for row, value in zip(rows, silhouettes(X, [labels_by_k[k] for k in ks], sample_size=sample, seed=seed)):
        row["silhouette"] = value

    return rows, labels_by_k, centroids_by_k


def evaluate_k(
    scores: np.ndarray,
    k_values: Iterable[int] = DEFAULT_K_RANGE,
    *,
    seed: int = 0,
    silhouette_sample_size: int | str | None = "auto",
    stability_reps: int = 10,
    hyperparameters: Mapping[str, Any] | None = None,
    refine: bool = True,
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
) -> KSelection:
    """Cluster `scores` (counties × component scores) for each k and collect the evidence.

    silhouette_sample_size: "auto" (every row up to SILHOUETTE_FULL_LIMIT rows, else a seeded
        sample of that size), None (every row) or a number of rows (seeded sample).
    stability_reps: bootstrap resamples per k (0 skips stability; RULE then uses four criteria).
    hyperparameters / refine: passed to the K-Means (see stability.fit_labels).
    progress: progress(fraction, message), fraction from 0 to 1.
    cache_dir: when given, results are kept there as JSON keyed by the data and the settings,
        and a repeated call returns the stored result without clustering again.
    """
    X = np.ascontiguousarray(scores, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValueError(f"Choosing k needs a table of at least 3 rows × scores; got shape {X.shape}.")
    n = X.shape[0]
    ks = sorted({int(k) for k in k_values})
    if not ks:
        raise ValueError("Give at least one k to evaluate.")
    if ks[0] < 2 or ks[-1] > n - 1:
        raise ValueError(f"Each k must lie between 2 and {n - 1} (one less than the number of rows); got {ks}.")
    if silhouette_sample_size == "auto":
        sample = SILHOUETTE_FULL_LIMIT if n > SILHOUETTE_FULL_LIMIT else None
    else:
        sample = int(silhouette_sample_size) if silhouette_sample_size is not None else None
        if sample is not None and sample >= n:
            sample = None
    settings = {"k_values": ks, "seed": int(seed), "silhouette_sample_size": sample,
                "stability_reps": int(stability_reps), "hyperparameters": dict(hyperparameters or {}),
                "refine": bool(refine)}
    cache_path = None
    if cache_dir is not None:
        cache_path = Path(cache_dir) / f"k-selection-{_cache_key(X, {**settings, 'version': CACHE_VERSION})}.json"
        if cache_path.is_file():
            try:
                result = KSelection.from_dict(json.loads(cache_path.read_text()))
                if progress is not None:
                    progress(1.0, "loaded from the cache")
                return result
            except (ValueError, KeyError, TypeError):
                pass  # a damaged cache file is recomputed and rewritten

    rows, labels_by_k, centroids_by_k = _evaluate_each_k(X, ks, seed, sample, stability_reps, hyperparameters,
                                                         refine, progress)
    table = pd.DataFrame(rows)[["k", "sse", "silhouette", "calinski_harabasz", "davies_bouldin", "stability",
                                 "stability_min", "stability_se"]]
    knee, distance = find_knee(table["k"], table["sse"])
    table["elbow"] = distance
    table["is_knee"] = table["k"] == knee if knee is not None else False
    recommended, reason, ranking = recommend_k(table, knee)
    table["is_recommended"] = table["k"] == recommended
    result = KSelection(table, knee, recommended, reason, ranking, labels_by_k, centroids_by_k, settings)
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result.to_dict()))
        tmp.replace(cache_path)
    if progress is not None:
        progress(1.0, f"done: recommended k = {recommended}")
    return result
