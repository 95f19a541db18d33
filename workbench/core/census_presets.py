"""Feature presets for census fetches: which ACS variables to fetch, and how to build features
from them. The mapping, variable by variable, is documented in docs/census.md.

  walkthrough  the 2015 walkthrough table's 34 features (TotalPop … Unemployment, with IncomeErr
               and IncomePerCapErr), rebuilt from detailed tables for any year from 2010 on.
  recommended  rates, shares and per-person values only (no count that grows with a unit's
               size), each with its margin of error (`XErr`), so reliability and membership
               confidence work on every feature.

Only detailed tables (B…, C…) are used: their line numbers stay put from year to year, while
data-profile codes move (DP05's race lines have been renumbered several times).

Margins of derived features follow the Census Bureau's approximations (ACS "Understanding and
Using ACS Data", chapter 8): a sum's MOE is the root of the summed squared MOEs; a proportion
p = X/Y has MOE √(MOE_X² − p²·MOE_Y²)/Y (with + when the radicand is negative); a ratio
R = X/Y has MOE √(MOE_X² + R²·MOE_Y²)/Y. An input margin of -555555555 ("controlled": no
sampling error) counts as 0 in these formulas; every other annotation makes the result missing.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import DataError

ANNOTATIONS_ATTR = "census_annotations"  # census.ANNOTATIONS_ATTR (census imports this module)
CONTROLLED = -555555555


@dataclass(frozen=True)
class Feature:
    """One built feature. kind: "count" (sum of numerator), "share" (100 × numerator / denominator,
    the numerator a part of the denominator), "ratio" (numerator / denominator) or "value" (one
    variable as it is, e.g. a median). Terms are variable bases; "-B08301_021" subtracts."""

    name: str
    kind: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    margin: bool = True

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(term.lstrip("-") for term in (*self.numerator, *self.denominator))


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    features: tuple[Feature, ...]
    first_year: int
    why_first_year: str

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(base for feature in self.features for base in feature.inputs))

    @property
    def columns(self) -> list[str]:
        out = []
        for feature in self.features:
            out += [feature.name] + ([f"{feature.name}Err"] if feature.margin else [])
        return out

    def derive(self, raw: pd.DataFrame) -> pd.DataFrame:
        """The preset's table from census.fetch_raw's: the id and name columns, then the features
        (and margins), with the inputs' annotations carried to the features built from them."""
        missing = [c for base in self.inputs for c in (base, f"{base}Err") if c not in raw.columns]
        if missing:
            raise DataError(f"The fetched table lacks {missing[:5]} needed by the {self.name!r} preset.")
        keys = [c for c in ("GEOID", "State", "County", "Tract", "BlockGroupName") if c in raw.columns]
        out = raw[keys].copy()
        annotations = raw.attrs.get(ANNOTATIONS_ATTR, {})
        carried: dict[str, dict[str, Any]] = {}
        for feature in self.features:
            estimate, moe = _build(feature, raw)
            out[feature.name] = estimate
            hits = _union(annotations, feature.inputs, margins=False)
            if hits:
                carried[feature.name] = hits
            if feature.margin:
                out[f"{feature.name}Err"] = moe
                hits = _union(annotations, feature.inputs, margins=True)
                if hits:
                    carried[f"{feature.name}Err"] = hits
        out.attrs[ANNOTATIONS_ATTR] = carried
        return out


def _terms(raw: pd.DataFrame, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the terms' estimates (minus for "-" terms) and its MOE (root of summed squares)."""
    total = np.zeros(len(raw))
    squares = np.zeros(len(raw))
    for term in terms:
        base = term.lstrip("-")
        sign = -1.0 if term.startswith("-") else 1.0
        total = total + sign * raw[base].to_numpy(dtype=np.float64)
        squares = squares + _margin(raw, base) ** 2
    return total, np.sqrt(squares)


def _margin(raw: pd.DataFrame, base: str) -> np.ndarray:
    """An input's MOE, a controlled estimate's (-555555555, now missing) counting as 0."""
    moe = raw[f"{base}Err"].to_numpy(dtype=np.float64).copy()
    hits = raw.attrs.get(ANNOTATIONS_ATTR, {}).get(f"{base}Err", {})
    controlled = [geoid for geoid, code in hits.items() if code == CONTROLLED]
    moe[raw["GEOID"].astype(str).isin(controlled).to_numpy()] = 0.0
    return moe


def _build(feature: Feature, raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    x, moe_x = _terms(raw, feature.numerator)
    if feature.kind in ("count", "value"):
        return x, moe_x
    y, moe_y = _terms(raw, feature.denominator)
    y = np.where(y > 0, y, np.nan)  # no units to divide among: no share, no ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = x / y
        if feature.kind == "share":
            radicand = moe_x ** 2 - ratio ** 2 * moe_y ** 2
            radicand = np.where(radicand < 0, moe_x ** 2 + ratio ** 2 * moe_y ** 2, radicand)
            return 100.0 * ratio, 100.0 * np.sqrt(radicand) / y
        if feature.kind == "ratio":
            return ratio, np.sqrt(moe_x ** 2 + ratio ** 2 * moe_y ** 2) / y
    raise ValueError(f"Unknown feature kind {feature.kind!r}.")


def _union(annotations: Mapping[str, Mapping[str, Any]], bases: tuple[str, ...], *, margins: bool) -> dict[str, Any]:
    """The units (GEOIDs) where an input was an annotation (margins: also the inputs' margins,
    save controlled ones), with the first input's code."""
    hits: dict[str, Any] = {}
    for base in bases:
        columns = [base] + ([f"{base}Err"] if margins else [])
        for column in columns:
            for geoid, code in annotations.get(column, {}).items():
                if column.endswith("Err") and code == CONTROLLED:
                    continue
                hits.setdefault(geoid, code)
    return hits


# --------------------------------------------------------------------------- the presets

_B17001_CHILD_BELOW = tuple(f"B17001_{i:03d}" for i in (*range(4, 10), *range(18, 24)))
_B17001_CHILD_ABOVE = tuple(f"B17001_{i:03d}" for i in (*range(33, 39), *range(47, 53)))
_CITIZEN_18 = ("B05003_009", "B05003_011", "B05003_020", "B05003_022")
_WORKERS_AWAY = ("B08301_001", "-B08301_021")  # workers 16+ who did not work at home


def _shares() -> tuple[Feature, ...]:
    """The features the two presets share: every one a share, a ratio or a per-person value."""
    def share(name, numerator, denominator):
        return Feature(name, "share", tuple(numerator), tuple(denominator))

    return (
        share("Hispanic", ["B03002_012"], ["B03002_001"]),
        share("White", ["B03002_003"], ["B03002_001"]),
        share("Black", ["B03002_004"], ["B03002_001"]),
        share("Native", ["B03002_005"], ["B03002_001"]),
        share("Asian", ["B03002_006"], ["B03002_001"]),
        share("Pacific", ["B03002_007"], ["B03002_001"]),
        Feature("Income", "value", ("B19013_001",)),
        Feature("IncomePerCap", "value", ("B19301_001",)),
        share("Poverty", ["B17001_002"], ["B17001_001"]),
        share("ChildPoverty", _B17001_CHILD_BELOW, _B17001_CHILD_BELOW + _B17001_CHILD_ABOVE),
        share("Professional", ["C24010_003", "C24010_039"], ["C24010_001"]),
        share("Service", ["C24010_019", "C24010_055"], ["C24010_001"]),
        share("Office", ["C24010_027", "C24010_063"], ["C24010_001"]),
        share("Construction", ["C24010_030", "C24010_066"], ["C24010_001"]),
        share("Production", ["C24010_034", "C24010_070"], ["C24010_001"]),
        share("Drive", ["B08301_003"], ["B08301_001"]),
        share("Carpool", ["B08301_004"], ["B08301_001"]),
        share("Transit", ["B08301_010"], ["B08301_001"]),
        share("Walk", ["B08301_019"], ["B08301_001"]),
        share("OtherTransp", ["B08301_016", "B08301_017", "B08301_018", "B08301_020"], ["B08301_001"]),
        share("WorkAtHome", ["B08301_021"], ["B08301_001"]),
        Feature("MeanCommute", "ratio", ("B08013_001",), _WORKERS_AWAY),
        share("PrivateWork", ["B24080_003", "B24080_006", "B24080_013", "B24080_016"], ["B24080_001"]),
        share("PublicWork", ["B24080_007", "B24080_008", "B24080_009", "B24080_017", "B24080_018", "B24080_019"],
              ["B24080_001"]),
        share("SelfEmployed", ["B24080_010", "B24080_020"], ["B24080_001"]),
        share("FamilyWork", ["B24080_011", "B24080_021"], ["B24080_001"]),
        share("Unemployment", ["B23025_005"], ["B23025_003"]),
    )


def _walkthrough() -> Preset:
    by_name = {f.name: f for f in _shares()}
    # The 2015 table's order; only Income and IncomePerCap carry their margins there.
    order = ["TotalPop", "Men", "Women", "Hispanic", "White", "Black", "Native", "Asian", "Pacific", "Citizen",
             "Income", "IncomePerCap", "Poverty", "ChildPoverty", "Professional", "Service", "Office",
             "Construction", "Production", "Drive", "Carpool", "Transit", "Walk", "OtherTransp", "WorkAtHome",
             "MeanCommute", "Employed", "PrivateWork", "PublicWork", "SelfEmployed", "FamilyWork", "Unemployment"]
    counts = {"TotalPop": ("B01003_001",), "Men": ("B01001_002",), "Women": ("B01001_026",),
              "Citizen": _CITIZEN_18, "Employed": ("B23025_004",)}
    features = []
    for name in order:
        if name in counts:
            features.append(Feature(name, "count", counts[name], margin=False))
        else:
            base = by_name[name]
            features.append(Feature(base.name, base.kind, base.numerator, base.denominator,
                                    margin=name in ("Income", "IncomePerCap")))
    return Preset("walkthrough", "The 2015 walkthrough table's 34 features, from the same ACS tables for any year "
                  "(2010 on).", tuple(features), 2010, _WHY_2010)


def _recommended() -> Preset:
    rates = (
        Feature("WomenPct", "share", ("B01001_026",), ("B01001_001",)),
        Feature("CitizenPct", "share", _CITIZEN_18, ("B05003_001",)),
        Feature("EmployedPct", "share", ("B23025_004",), ("B23025_001",)),
    )
    return Preset("recommended", "Rates, shares and per-person values only, each with its margin of error.",
                  rates + _shares(), 2010, _WHY_2010)


_WHY_2010 = "the occupation table C24010 has its present lines from the 2010 release on"
PRESETS: dict[str, Preset] = {p.name: p for p in (_walkthrough(), _recommended())}


def get(name: str) -> Preset:
    try:
        return PRESETS[str(name).strip().lower()]
    except KeyError:
        raise DataError(f"Unknown census preset {name!r}; choose one of: {', '.join(PRESETS)}.") from None
