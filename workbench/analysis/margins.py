"""ACS margins of error: reliability flags, feature presets, and membership confidence.

The American Community Survey publishes each estimate with a 90% margin of error (MOE). In
the county table a column ending in `Err` is the MOE of the column without the suffix
(IncomeErr → Income, IncomePerCapErr → IncomePerCap).

* Standard error SE = MOE / 1.645 (1.645 is the 90% z value).
* Coefficient of variation CV = SE / estimate. Bands (the rule of thumb used by the Census
  Bureau's guidance and ESRI): CV ≤ 12% **reliable**, 12–40% **use with caution**, > 40%
  **unreliable**. An estimate of 0 (or below) has no CV (NaN, band "n/a").

Feature presets
  "recommended"  every numeric column except the `*Err` margins: a margin measures how
                 precise an estimate is (mostly: how small the county is), not what the
                 county is like, so it should not shape the segments. Counts become rates:
                 `preset_recipe` turns the walkthrough's Men, Women, Citizen and Employed
                 into shares of TotalPop and drops TotalPop (county size), so size does not
                 dominate the components.
  "walkthrough"  every numeric column, margins included: the SageMaker walkthrough's recipe
                 (34 features on the 2015 table), kept to reproduce it.

Membership confidence
  For each county, `draws` resamples of its estimates are drawn from Normal(estimate, SE)
  for each feature that has a margin (other features stay as they are), and each draw goes
  through the run's own fitted scaler, PCA projection and nearest centroid. The confidence
  is the share of draws that keep the county in its cluster: near 1 the membership is solid,
  near 1/k it is a coin toss. Draws of a feature whose observed values are never negative
  are clipped at 0 (an income cannot be negative). Seeded and vectorised.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backends.format.models import KMeansModel, PCAModel
from workbench.core.recipes import FeatureRecipe, recommended_rates
from workbench.core.scaling import FittedScaler

__all__ = [
    "BANDS",
    "CAUTION",
    "CV_CAUTION",
    "CV_RELIABLE",
    "ERR_SUFFIX",
    "NOT_AVAILABLE",
    "PRESETS",
    "RELIABLE",
    "UNRELIABLE",
    "Z90",
    "MembershipConfidence",
    "coefficient_of_variation",
    "cv_band",
    "feature_preset",
    "margin_pairs",
    "membership_confidence",
    "preset_recipe",
    "reliability_summary",
    "reliability_table",
    "standard_errors",
]

ERR_SUFFIX = "Err"
Z90 = 1.645
CV_RELIABLE = 0.12
CV_CAUTION = 0.40
RELIABLE, CAUTION, UNRELIABLE, NOT_AVAILABLE = "reliable", "use with caution", "unreliable", "n/a"
BANDS: tuple[tuple[str, str], ...] = (
    (RELIABLE, "CV ≤ 12%"),
    (CAUTION, "CV 12% to 40%"),
    (UNRELIABLE, "CV > 40%"),
    (NOT_AVAILABLE, "no CV: the estimate is 0 or missing"),
)

PRESETS: dict[str, str] = {
    "recommended": "Every numeric column except the *Err margins of error, which measure how precise an "
                   "estimate is rather than what a county is like; counts (Men, Women, Citizen, Employed) become "
                   "rates of TotalPop, which is left out, so county size does not dominate.",
    "walkthrough": "Every numeric column, margins of error included: the SageMaker walkthrough's recipe.",
}


def margin_pairs(columns: Sequence[str]) -> dict[str, str]:
    """{estimate column: its MOE column} for every `XErr` column whose `X` is also present."""
    columns = [str(c) for c in columns]
    present = set(columns)
    return {c[: -len(ERR_SUFFIX)]: c for c in columns
            if c.endswith(ERR_SUFFIX) and len(c) > len(ERR_SUFFIX) and c[: -len(ERR_SUFFIX)] in present}


def is_margin(column: str) -> bool:
    return str(column).endswith(ERR_SUFFIX) and len(str(column)) > len(ERR_SUFFIX)


def feature_preset(name: str, columns: Sequence[str]) -> list[str]:
    """The features of a preset among `columns` (the table's numeric feature columns, in order)."""
    columns = [str(c) for c in columns]
    if name == "walkthrough":
        return list(columns)
    if name == "recommended":
        return [c for c in columns if not is_margin(c)]
    raise ValueError(f"Unknown feature preset {name!r}; choose one of: {', '.join(PRESETS)}.")


def preset_recipe(name: str, columns: Sequence[str]) -> FeatureRecipe | None:
    """The feature recipe that goes with a preset's features: for "recommended", the known
    counts among `columns` as rates of their total (recipes.recommended_rates); else None.
    Prepare with both: pipeline.prepare_table(raw, features=feature_preset(name, columns),
    recipe=preset_recipe(name, columns))."""
    if name not in PRESETS:
        raise ValueError(f"Unknown feature preset {name!r}; choose one of: {', '.join(PRESETS)}.")
    if name != "recommended":
        return None
    rates = recommended_rates(feature_preset(name, columns))
    return FeatureRecipe(rates=rates) if rates is not None else None


def _pairs_for(frame: pd.DataFrame, pairs: Mapping[str, str] | None) -> dict[str, str]:
    pairs = dict(pairs) if pairs is not None else margin_pairs(list(frame.columns))
    missing = [c for pair in pairs.items() for c in pair if c not in frame.columns]
    if missing:
        raise ValueError(f"The table lacks the column(s) {missing}.")
    return pairs


def standard_errors(frame: pd.DataFrame, pairs: Mapping[str, str] | None = None) -> pd.DataFrame:
    """SE = MOE / 1.645 for every estimate with a margin; columns named after the estimates."""
    pairs = _pairs_for(frame, pairs)
    return pd.DataFrame({est: frame[moe].to_numpy(dtype=np.float64) / Z90 for est, moe in pairs.items()},
                        index=frame.index)


def coefficient_of_variation(frame: pd.DataFrame, pairs: Mapping[str, str] | None = None) -> pd.DataFrame:
    """CV = SE / estimate per county and estimate (NaN where the estimate is 0 or below)."""
    pairs = _pairs_for(frame, pairs)
    se = standard_errors(frame, pairs)
    out = {}
    for est in pairs:
        value = frame[est].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[est] = np.where(value > 0, se[est].to_numpy() / np.where(value > 0, value, 1.0), np.nan)
    return pd.DataFrame(out, index=frame.index)


def cv_band(cv) -> np.ndarray | str:
    """The reliability band of CV values (a scalar gives a str, an array an object array)."""
    values = np.asarray(cv, dtype=np.float64)
    bands = np.where(~np.isfinite(values), NOT_AVAILABLE,
                     np.where(values <= CV_RELIABLE, RELIABLE, np.where(values <= CV_CAUTION, CAUTION, UNRELIABLE)))
    bands = bands.astype(object)
    return str(bands) if bands.ndim == 0 else bands


def reliability_table(
    frame: pd.DataFrame, pairs: Mapping[str, str] | None = None, *, label_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per county × estimate with a margin: the label columns, estimate (column
    name), value, moe, se, cv and band. Least reliable first."""
    pairs = _pairs_for(frame, pairs)
    cv = coefficient_of_variation(frame, pairs)
    parts = []
    for est, moe in pairs.items():
        part = pd.DataFrame({c: frame[c].to_numpy() for c in label_columns if c in frame.columns})
        part.insert(0, "label", frame.index.to_numpy())
        part["estimate"] = est
        part["value"] = frame[est].to_numpy(dtype=np.float64)
        part["moe"] = frame[moe].to_numpy(dtype=np.float64)
        part["se"] = part["moe"] / Z90
        part["cv"] = cv[est].to_numpy()
        part["band"] = cv_band(part["cv"].to_numpy())
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["label", *label_columns, "estimate", "value", "moe", "se", "cv", "band"])
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("cv", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def reliability_summary(frame: pd.DataFrame, pairs: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per estimate with a margin: counties in each band (reliable, use with caution,
    unreliable, n/a) and the median CV."""
    pairs = _pairs_for(frame, pairs)
    cv = coefficient_of_variation(frame, pairs)
    rows = []
    for est, moe in pairs.items():
        bands = pd.Series(cv_band(cv[est].to_numpy()))
        counts = bands.value_counts()
        rows.append({"estimate": est, "margin": moe,
                     **{band: int(counts.get(band, 0)) for band, _ in BANDS},
                     "median_cv": float(np.nanmedian(cv[est])) if np.isfinite(cv[est]).any() else np.nan})
    return pd.DataFrame(rows, columns=["estimate", "margin", *[b for b, _ in BANDS], "median_cv"])


# --------------------------------------------------------------------------- membership confidence


@dataclass(frozen=True, eq=False)
class MembershipConfidence:
    """table: indexed like the input frame, with cluster (the county's cluster), confidence
    (share of draws kept in it), runner_up (the cluster other draws went to most; -1 if none)
    and runner_up_share. perturbed: the features resampled, with their MOE columns."""

    table: pd.DataFrame
    perturbed: dict[str, str]
    draws: int
    seed: int
    notes: list[str] = field(default_factory=list)

    def uncertain(self, threshold: float = 0.8) -> pd.DataFrame:
        """Counties whose confidence is below `threshold`, least confident first."""
        out = self.table[self.table["confidence"] < threshold]
        return out.sort_values("confidence", kind="stable")


def membership_confidence(
    frame: pd.DataFrame,
    scaler: FittedScaler,
    pca: PCAModel,
    kmeans: KMeansModel,
    *,
    labels: np.ndarray | None = None,
    draws: int = 200,
    seed: int = 0,
    pairs: Mapping[str, str] | None = None,
    clip_at_zero: bool = True,
    max_rows_per_chunk: int = 200_000,
) -> MembershipConfidence:
    """How often each county stays in its cluster when its estimates are resampled within
    their margins of error (see the module doc).

    frame: the cleaned table (CleanResult.frame): every scaler feature and every MOE column.
    pca: the run's PCA model; when it has more components than the centroids have
        dimensions, its top kmeans.feature_dim components are used (the kept ones).
    labels: each county's cluster (default: the nearest centroid of its own projection).
    pairs: {estimate: MOE column}; default: margin_pairs of the frame, limited to features.
    """
    if draws < 1:
        raise ValueError(f"Use at least one draw; got {draws}.")
    features = list(scaler.features)
    pca = _fitting_pca(frame, features, pca, kmeans)
    base = frame[features].to_numpy(dtype=np.float64)
    n = base.shape[0]
    if labels is None:
        labels, _ = kmeans.assign(pca.transform(scaler.transform(base)))
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != n:
        raise ValueError(f"{labels.shape[0]} labels for {n} rows.")

    available = margin_pairs(list(frame.columns)) if pairs is None else dict(pairs)
    perturbed = {est: moe for est, moe in available.items() if est in features and moe in frame.columns}
    notes = [] if perturbed else ["No feature has a margin of error column, so every draw equals the county itself."]
    columns = [features.index(est) for est in perturbed]
    se = np.column_stack([frame[moe].to_numpy(dtype=np.float64) / Z90 for moe in perturbed.values()]) \
        if perturbed else np.zeros((n, 0))
    se = np.where(np.isfinite(se) & (se > 0), se, 0.0)
    clipped = np.array([clip_at_zero and bool((base[:, j] >= 0).all()) for j in columns], dtype=bool)

    def assign(block: np.ndarray) -> np.ndarray:
        return kmeans.assign(pca.transform(scaler.transform(block)))[0]

    kept, other_counts = _count_draws(base, labels, columns, se, clipped, assign, k=kmeans.k, draws=draws,
                                      rng=np.random.default_rng(seed), chunk=max(1, max_rows_per_chunk // draws))
    runner_up = np.where(other_counts.max(axis=1) > 0, other_counts.argmax(axis=1), -1)
    table = pd.DataFrame({
        "cluster": labels,
        "confidence": kept / draws,
        "runner_up": runner_up,
        "runner_up_share": other_counts.max(axis=1) / draws,
    }, index=frame.index)
    return MembershipConfidence(table, perturbed, int(draws), int(seed), notes)


def _fitting_pca(frame: pd.DataFrame, features: list[str], pca: PCAModel, kmeans: KMeansModel) -> PCAModel:
    """The PCA model cut to the components the centroids have, checked against the scaler's features."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"The table lacks the scaler's feature column(s) {missing}.")
    if pca.n_components > kmeans.feature_dim:
        pca = pca.top(kmeans.feature_dim)
    if pca.n_components != kmeans.feature_dim or pca.feature_dim != len(features):
        raise ValueError(
            f"The PCA model ({pca.feature_dim} features → {pca.n_components} components), the scaler "
            f"({len(features)} features) and the centroids ({kmeans.feature_dim} dimensions) do not fit together."
        )
    return pca


def _count_draws(base, labels, columns, se, clipped, assign, *, k: int, draws: int, rng, chunk: int):
    """(draws that keep each county in its cluster, draws per other cluster), a chunk of counties at a time."""
    n = base.shape[0]
    kept = np.zeros(n, dtype=np.int64)
    other_counts = np.zeros((n, k), dtype=np.int64)
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        m = rows.stop - rows.start
        block = np.repeat(base[rows], draws, axis=0)  # (m * draws, d): each county's draws together
        if columns:
            noise = rng.standard_normal((m, draws, len(columns))) * se[rows][:, None, :]
            values = block[:, columns] + noise.reshape(m * draws, len(columns))
            if clipped.any():
                values[:, clipped] = np.maximum(values[:, clipped], 0.0)
            block[:, columns] = values
        assigned = assign(block).reshape(m, draws)
        kept[rows] = (assigned == labels[rows][:, None]).sum(axis=1)
        flat = (np.arange(m)[:, None] * k + assigned).reshape(-1)
        other_counts[rows] = np.bincount(flat, minlength=m * k).reshape(m, k)
    other_counts[np.arange(n), labels] = 0
    return kept, other_counts
