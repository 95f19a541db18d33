"""Tracts and block groups on the county map: each county coloured by the share of its units
in a cluster. The map (geography.py, charts/county_map.py) draws counties; this turns a
labeled table of smaller units into one row per county.

    shares = county_shares(labeled["GEOID"], labeled["cluster"], "tract", k=7)
    values = shares.share_of(3)          # 5-digit county FIPS -> share of its tracts in cluster 3
    caption = shares.note("Suburban families")
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.core import fips

UNIT_WORDS = {"tract": "tracts", "block group": "block groups"}


@dataclass(frozen=True, eq=False)
class CountyShares:
    """table: index fips (5-digit county code); columns units (how many of the table's units lie in
    the county), share_0 … share_{k-1} (each cluster's share of them, summing to 1), top_cluster
    and top_share. unmatched: positions and ids of units that name no county."""

    table: pd.DataFrame
    unmatched: pd.DataFrame
    level: str
    k: int

    def share_of(self, cluster: int) -> pd.Series:
        if not 0 <= cluster < self.k:
            raise ValueError(f"There is no cluster {cluster}; clusters are 0 to {self.k - 1}.")
        return self.table[f"share_{cluster}"].rename("share")

    def note(self, cluster_name: str) -> str:
        """What the colours mean, for the map's caption."""
        words = UNIT_WORDS[self.level]
        text = (f"Each county is coloured by the share of its {words} in {cluster_name} "
                f"({len(self.table):,} counties, {int(self.table['units'].sum()):,} {words}).")
        if len(self.unmatched):
            text += f" {len(self.unmatched):,} {words} without a county code are left out."
        return text


def county_shares(ids: Iterable, clusters: Sequence[int] | np.ndarray, level: str, *, k: int | None = None) -> CountyShares:
    """Per county: how many of its units are in the table and each cluster's share of them.
    ids: the units' GEOIDs (text or integers); clusters: each unit's cluster (0..k-1);
    level: "tract" or "block group" (needed: an integer GEOID one digit short is ambiguous)."""
    if level not in UNIT_WORDS:
        raise ValueError(f"County shares are for tracts and block groups, not {level!r} units.")
    ids = list(ids)
    labels = np.asarray(clusters, dtype=np.int64).reshape(-1)
    if len(ids) != len(labels):
        raise ValueError(f"{len(ids)} ids for {len(labels)} cluster labels.")
    if labels.size and labels.min() < 0:
        raise ValueError("Cluster labels must be 0 or more.")
    k = int(k if k is not None else (labels.max() + 1 if labels.size else 0))
    if labels.size and labels.max() >= k:
        raise ValueError(f"A unit is in cluster {labels.max()}, beyond k = {k}.")
    counties = [fips.county_of(value, level) for value in ids]
    found = np.array([c is not None for c in counties], dtype=bool)
    unmatched = pd.DataFrame({"position": np.flatnonzero(~found), "id": [ids[i] for i in np.flatnonzero(~found)]})
    frame = pd.DataFrame({"fips": [c for c in counties if c is not None], "cluster": labels[found]})
    counts = pd.crosstab(frame["fips"], frame["cluster"]).reindex(columns=range(k), fill_value=0)
    units = counts.sum(axis=1)
    table = counts.div(units, axis=0)
    table.columns = [f"share_{c}" for c in range(k)]
    table.insert(0, "units", units.astype(np.int64))
    table["top_cluster"] = counts.to_numpy().argmax(axis=1) if len(counts) else []
    table["top_share"] = table[[f"share_{c}" for c in range(k)]].max(axis=1) if len(counts) else []
    table.index.name = "fips"
    return CountyShares(table, unmatched, level, k)
