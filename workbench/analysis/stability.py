"""Bootstrap stability of clusters: Hennig's clusterboot with the workbench's own K-Means.

For each of `reps` bootstrap resamples (counties drawn with replacement, as many as there
are counties) the data is reclustered with the same k. Every original cluster is then
matched to the bootstrap cluster most similar to it, by the Jaccard coefficient on the
counties the resample holds:

    J(C, D) = |C* ∩ D| / |C* ∪ D|

where C* is the original cluster restricted to the resampled counties (each counted once)
and D a bootstrap cluster. A cluster's stability is the mean of its best-match Jaccard over
the resamples (Hennig 2007, "Cluster-wise assessment of cluster stability", CSDA 52). A
cluster that none of a resample's counties belong to has no value for that resample (NaN,
left out of its mean), as in fpc::clusterboot.

Bands, as Hennig suggests: below 0.6 the cluster is **unstable** (it does not reappear
when the data are perturbed); 0.6 to 0.75 **doubtful** (a pattern, but not a sharp one);
0.75 and above **stable**.

One definition, everywhere: `bootstrap_stability` is the only source of a stability figure
(Choose k's stability column calls it with the candidate's labels and the same seed as the
Profiles page), and `StabilityResult.describe()` says in words what the number measures.
Each resample is fitted with the workbench's K-Means in its quick mode (the local search
without its jitter restarts: on 55 census resamples at k = 2…12, at worst 1.011× the full
search's SSE); the clustering being assessed is whatever `labels` the caller gives.
With few resamples the mean is noisy (on the census at k = 7, 5 resamples give 0.74 to 0.89
depending on the seed; 20 give 0.83), so the standard error comes with it.

Seeded: the same data, k, labels, reps and seed give the same result.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backends.algorithms.kmeans import fit_kmeans
from backends.format.hyperparameters import validate_kmeans
from backends.format.models import KMeansModel

__all__ = [
    "BANDS",
    "DISSOLVED",
    "STABLE",
    "UNSTABLE",
    "Progress",
    "StabilityResult",
    "best_match_jaccard",
    "bootstrap_stability",
    "fit_labels",
    "stability_band",
]

Progress = Callable[[float, str], None]

UNSTABLE = 0.6  # below: unstable
STABLE = 0.75  # at or above: stable; in between: doubtful
DISSOLVED = 0.5  # a resample "dissolves" a cluster when its best Jaccard is at most this (Hennig)
BANDS: tuple[tuple[str, float, float, str], ...] = (
    ("unstable", 0.0, UNSTABLE, "below 0.6: the cluster does not reappear when the counties are resampled"),
    ("doubtful", UNSTABLE, STABLE, "0.6 to 0.75: a pattern, but its boundary moves between resamples"),
    ("stable", STABLE, 1.0, "0.75 and above: the cluster reappears in most resamples"),
)


def stability_band(value: float) -> str:
    """'stable' (≥ 0.75), 'doubtful' (0.6 to 0.75), 'unstable' (< 0.6), or '' for NaN."""
    if value is None or not np.isfinite(value):
        return ""
    if value >= STABLE:
        return "stable"
    if value >= UNSTABLE:
        return "doubtful"
    return "unstable"


def fit_labels(
    X: np.ndarray,
    k: int,
    seed: int = 0,
    *,
    hyperparameters: Mapping[str, Any] | None = None,
    refine: bool = True,
    quick: bool = False,
) -> tuple[np.ndarray, KMeansModel]:
    """The workbench's own K-Means (backends.algorithms.kmeans.fit_kmeans) on X: (labels, model).

    hyperparameters: extra SageMaker K-Means hyperparameters (k and feature_dim are set here).
    refine: False gives SageMaker's own answer (about five times faster; a little higher SSE).
    quick: the local search without its jitter restarts (about half the cost; SSE at worst ~1% higher).
    """
    X = np.asarray(X, dtype=np.float32)
    hp = dict(hyperparameters or {})
    hp.update({"k": int(k), "feature_dim": int(X.shape[1])})
    model, _ = fit_kmeans(X, validate_kmeans(hp), seed=int(seed), refine_on_data=refine, quick=quick)
    labels, _ = model.assign(X)
    return labels, model


def best_match_jaccard(reference: np.ndarray, other: np.ndarray, k_reference: int, k_other: int | None = None) -> np.ndarray:
    """For each reference cluster 0..k_reference-1, the Jaccard coefficient with its most
    similar cluster of `other`, over the same points (one entry per point in both arrays).
    NaN for a reference cluster with no points here."""
    reference = np.asarray(reference, dtype=np.int64)
    other = np.asarray(other, dtype=np.int64)
    if reference.shape != other.shape:
        raise ValueError(f"Both labelings must cover the same points; got {reference.shape} and {other.shape}.")
    k_other = int(k_other if k_other is not None else (other.max() + 1 if other.size else 1))
    counts = np.bincount(reference * k_other + other, minlength=k_reference * k_other)
    M = counts.reshape(k_reference, k_other).astype(np.float64)
    union = M.sum(axis=1)[:, None] + M.sum(axis=0)[None, :] - M
    with np.errstate(invalid="ignore", divide="ignore"):
        J = np.where(union > 0, M / union, 0.0)
    best = J.max(axis=1)
    best[M.sum(axis=1) == 0] = np.nan
    return best


@dataclass(frozen=True, eq=False)
class StabilityResult:
    """jaccard: (reps, k) best-match Jaccard of each original cluster in each resample (NaN
    when the resample held none of its counties). per_cluster: one row per cluster with
    cluster, size, mean_jaccard, sd_jaccard, recovered (share of resamples with J ≥ 0.75),
    dissolved (share with J ≤ 0.5) and band."""

    k: int
    reps: int
    seed: int
    labels: np.ndarray
    jaccard: np.ndarray
    per_cluster: pd.DataFrame

    @property
    def mean(self) -> float:
        """Mean of the per-cluster stabilities (each cluster counts once, whatever its size)."""
        values = self.per_cluster["mean_jaccard"].to_numpy(dtype=np.float64)
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    @property
    def minimum(self) -> float:
        values = self.per_cluster["mean_jaccard"].to_numpy(dtype=np.float64)
        return float(np.nanmin(values)) if np.isfinite(values).any() else float("nan")

    @property
    def standard_error(self) -> float:
        """Standard error of `mean` over the resamples (NaN with one resample)."""
        per_resample = self.jaccard[np.isfinite(self.jaccard).any(axis=1)]
        if len(per_resample) < 2:
            return float("nan")
        means = np.nanmean(per_resample, axis=1)
        return float(np.std(means, ddof=1) / np.sqrt(len(means)))

    @property
    def band(self) -> str:
        return stability_band(self.mean)

    def describe(self) -> str:
        """What the mean measures, in words, e.g. for a caption beside it."""
        error = self.standard_error
        spread = f" ± {error:.2f} (standard error)" if np.isfinite(error) else ""
        return (f"mean per-cluster bootstrap Jaccard {self.mean:.2f}{spread} over {self.reps} resample"
                f"{'s' if self.reps != 1 else ''} (seed {self.seed}; each cluster counts once)")

    def with_names(self, names: list[str] | None) -> pd.DataFrame:
        """per_cluster with a cluster_name column (the given names, else "cluster i")."""
        names = list(names or [])
        names += [""] * (self.k - len(names))
        out = self.per_cluster.copy()
        out.insert(1, "cluster_name", [names[i] or f"cluster {i}" for i in range(self.k)])
        return out


def _per_cluster(jaccard: np.ndarray, labels: np.ndarray, k: int) -> pd.DataFrame:
    with np.errstate(invalid="ignore"):
        present = np.isfinite(jaccard)
        n_present = present.sum(axis=0)
        filled = np.where(present, jaccard, 0.0)
        mean = np.where(n_present > 0, filled.sum(axis=0) / np.maximum(n_present, 1), np.nan)
        sq = np.where(present, (jaccard - mean) ** 2, 0.0)
        sd = np.where(n_present > 1, np.sqrt(sq.sum(axis=0) / np.maximum(n_present - 1, 1)), np.nan)
        recovered = np.where(present, jaccard >= STABLE, False).sum(axis=0) / np.maximum(n_present, 1)
        dissolved = np.where(present, jaccard <= DISSOLVED, False).sum(axis=0) / np.maximum(n_present, 1)
    return pd.DataFrame({
        "cluster": np.arange(k),
        "size": np.bincount(labels, minlength=k)[:k],
        "mean_jaccard": mean,
        "sd_jaccard": sd,
        "recovered": np.where(n_present > 0, recovered, np.nan),
        "dissolved": np.where(n_present > 0, dissolved, np.nan),
        "band": [stability_band(v) for v in mean],
    })


def bootstrap_stability(
    X: np.ndarray,
    k: int,
    *,
    labels: np.ndarray | None = None,
    reps: int = 20,
    seed: int = 0,
    hyperparameters: Mapping[str, Any] | None = None,
    refine: bool = True,
    quick: bool = True,
    progress: Progress | None = None,
) -> StabilityResult:
    """Per-cluster bootstrap Jaccard stability of a k-cluster K-Means on X (rows = counties).

    labels: the clustering to assess (e.g. the trained model's labels on X). Default: the
        workbench's K-Means fitted on X with `seed`.
    reps: bootstrap resamples (Hennig uses 100; 20 already ranks clusters reliably).
    quick: fit each resample with the quick local search (the default; see the module doc).
    progress: called as progress(fraction, message) after each resample.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"Stability needs a 2-d table of counties × scores, got shape {X.shape}.")
    n = X.shape[0]
    k = int(k)
    if reps < 1:
        raise ValueError(f"Use at least one bootstrap resample; got reps={reps}.")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of rows ({n}).")
    if labels is None:
        labels, _ = fit_labels(X, k, seed, hyperparameters=hyperparameters, refine=refine)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,):
        raise ValueError(f"labels must have one entry per row ({n}); got shape {labels.shape}.")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}.")
    rng = np.random.default_rng(seed)
    jaccard = np.full((reps, k), np.nan)
    for b in range(reps):
        sample = rng.integers(0, n, size=n)
        fit_seed = int(rng.integers(2**31 - 1))
        _, model = fit_labels(X[sample], k, fit_seed, hyperparameters=hyperparameters, refine=refine, quick=quick)
        present = np.unique(sample)
        boot_labels, _ = model.assign(X[present])
        jaccard[b] = best_match_jaccard(labels[present], boot_labels, k, model.k)
        if progress is not None:
            progress((b + 1) / reps, f"k = {k}: bootstrap resample {b + 1} of {reps}")
    return StabilityResult(k, reps, int(seed), labels, jaccard, _per_cluster(jaccard, labels, k))
