"""Feature recipes, as geodemographic classifications build their inputs (the UK's Output Area
Classification, Esri's Tapestry): counts become rates of a total, skewed variables are
re-expressed (log1p or the inverse hyperbolic sine), then every feature is scaled.

    recipe = FeatureRecipe(rates=Rates("TotalPop", ("Men", "Women", "Citizen", "Employed")),
                           transforms={"Income": "log1p"}, scaler="zscore")
    prepared = pipeline.prepare_table(raw, recipe=recipe)     # rates → transforms → scaling
    manifest["recipe"] = recipe.to_dict()                      # FeatureRecipe.from_dict replays it

Rates are new columns named "<count> per <total>" (their meaning changed, so their name does),
computed on the cleaned rows; rows whose total is 0 or less have no rate and are dropped, with
the reason in the cleaning report. Transforms keep a feature's name and original units in the
cleaned table: they are part of the fitted scaler (scaling.FittedScaler.transforms), so every
later transform (new rows, a reopened run, membership confidence) re-applies them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.core import cleaning, scaling
from workbench.core.errors import DataError

TRANSFORMS: dict[str, str] = {
    "log1p": "log(1 + x): for non-negative, right-skewed values (counts, incomes, densities)",
    "asinh": "inverse hyperbolic sine: like a log for large values, defined for 0 and negatives",
}
# The walkthrough table's counts and their total, for the recommended preset.
KNOWN_TOTALS = ("TotalPop", "B01003_001", "Population", "TotalPopulation")
KNOWN_COUNTS = ("Men", "Women", "Citizen", "VotingAgeCitizen", "Employed")


@dataclass(frozen=True)
class Rates:
    """counts become count / total × per; keep_total keeps the total as a feature."""

    total: str
    counts: tuple[str, ...]
    keep_total: bool = False
    per: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "counts", tuple(str(c) for c in self.counts))
        if not self.counts:
            raise DataError("A rates step needs at least one count column.")
        if self.total in self.counts:
            raise DataError(f"{self.total!r} cannot be a count of itself; remove it from the counts.")
        if not (isinstance(self.per, (int, float)) and np.isfinite(self.per) and self.per > 0):
            raise DataError(f"Rates are per a positive number (1, 100, 1000), not {self.per!r}.")

    def name(self, count: str) -> str:
        return f"{count} per {self.total}"


@dataclass(frozen=True)
class FeatureRecipe:
    """Rates (optional), then transforms {feature: "log1p" | "asinh"} (names after the rates
    step), then the scaler ("minmax" or "zscore")."""

    rates: Rates | None = None
    transforms: Mapping[str, str] = field(default_factory=dict)
    scaler: str = "minmax"

    def __post_init__(self):
        unknown = {c: t for c, t in self.transforms.items() if t not in TRANSFORMS}
        if unknown:
            raise DataError(f"Unknown transform(s) {unknown}; choose {', '.join(TRANSFORMS)}.")
        if self.scaler not in scaling.SCALERS:
            raise DataError(f"Unknown scaler {self.scaler!r}; choose {', '.join(scaling.SCALERS)}.")
        object.__setattr__(self, "transforms", dict(self.transforms))

    @property
    def inputs(self) -> list[str]:
        """Columns the recipe reads that must be among the chosen features."""
        return [self.rates.total, *self.rates.counts] if self.rates else []

    def to_dict(self) -> dict[str, Any]:
        rates = dataclasses.asdict(self.rates) if self.rates else None
        if rates:
            rates["counts"] = list(rates["counts"])
        return {"rates": rates, "transforms": dict(self.transforms), "scaler": self.scaler}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FeatureRecipe:
        if not data:
            return cls()
        try:
            rates = data.get("rates")
            return cls(Rates(**{**rates, "counts": tuple(rates["counts"])}) if rates else None,
                       dict(data.get("transforms") or {}), data.get("scaler", "minmax"))
        except (TypeError, KeyError, AttributeError) as exc:
            raise DataError(f"Not a saved feature recipe (rates, transforms, scaler): {exc!r}.") from exc


def apply_rates(clean: cleaning.CleanResult, recipe: FeatureRecipe) -> cleaning.CleanResult:
    """The cleaned table with the recipe's counts replaced by their rates (in the counts' place
    among the features; the total dropped unless kept), rows without a positive total dropped."""
    rates = recipe.rates
    if rates is None:
        return clean
    missing = [c for c in recipe.inputs if c not in clean.features]
    if missing:
        raise DataError(f"The rates need {missing} among the chosen features (chosen: {', '.join(clean.features)}).")
    frame = clean.frame
    total = frame[rates.total].to_numpy(dtype=np.float64)
    keep = total > 0
    drops = list(clean.report.drops)
    if not keep.all():
        examples = [f"{label} ({rates.total}={value:g})" for label, value in zip(frame.index[~keep], total[~keep])]
        drops.append(cleaning.DropRecord(
            "zero_total", int((~keep).sum()), examples[:5], [rates.total],
            f"Dropped {int((~keep).sum())} row(s) whose {rates.total} is 0 or less: a rate of it is undefined."))
        if keep.sum() < 2:
            raise DataError(f"Fewer than 2 rows have a positive {rates.total}; rates of it cannot be segmented.")
    frame = frame[keep].copy()
    warnings = list(clean.report.warnings)
    for count in rates.counts:
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[rates.name(count)] = frame[count].to_numpy(np.float64) / frame[rates.total].to_numpy(np.float64) * rates.per
        above = int((frame[count] > frame[rates.total]).sum())
        if above:
            warnings.append(cleaning.CleanWarning(
                "rate_above_total", [count, rates.total],
                f"{count} exceeds {rates.total} in {above} row(s): is {rates.total} the right total for it?", float(above)))
    features = []
    for feature in clean.features:
        if feature in rates.counts:
            features.append(rates.name(feature))
        elif feature != rates.total or rates.keep_total:
            features.append(feature)
    # The rates are new columns on fewer rows: screen them as cleaning screens features (a constant
    # rate is dropped, as a constant count is), and drop the earlier near-duplicate warnings (they may name counts and totals gone from the features).
    features, near = cleaning.screen_columns(
        features, {c: frame[c].to_numpy(np.float64) for c in features}, drops)
    warnings = [w for w in warnings if w.kind != "near_duplicate"] + near
    report = dataclasses.replace(clean.report, rows_clean=int(keep.sum()), drops=drops, warnings=warnings)
    return cleaning.CleanResult(frame, features, report, clean.schema)


def suggest_transforms(frame: pd.DataFrame, features: Sequence[str], *, threshold: float = 2.0) -> dict[str, str]:
    """Right-skewed features (skewness above `threshold`): log1p when never negative, else asinh
    (both pull in a long right tail; a left-skewed feature gets none). A suggestion to record in
    a recipe, so a rerun applies the same."""
    out = {}
    for feature in features:
        values = frame[feature].astype(np.float64)
        skew = float(values.skew())
        if np.isfinite(skew) and skew > threshold:
            out[feature] = "log1p" if values.min() >= 0 else "asinh"
    return out


def recommended_rates(columns: Sequence[str]) -> Rates | None:
    """The walkthrough table's counts as rates of its total (TotalPop), which is then dropped;
    None when the columns hold no known total or no known count."""
    columns = [str(c) for c in columns]
    total = next((t for t in KNOWN_TOTALS if t in columns), None)
    counts = tuple(c for c in KNOWN_COUNTS if c in columns)
    return Rates(total, counts) if total and counts else None
