"""An offline US county map: Census Bureau county boundaries, pre-projected and packaged.

Geometry
--------
The boundaries are the Census Bureau's 2016 cartographic boundary file at 1:500,000,
`cb_2016_us_county_500k`, as shipped inside the PyPI package `plotly-geo` (1.0.0; it also
holds state outlines and the 2010 county file, unused here). It has 3,233 counties and
county-equivalents: the 50 states, DC, Puerto Rico's 78 municipios and 13 units of the
other territories. Nothing is downloaded, and nothing is built while an analyst waits:
`scripts/build_county_map.py` (`county_shapes.build`) turns the shapes into one TopoJSON
file, committed as PACKAGED_GEOMETRY, which `county_geometry()` reads once per process.

The file holds a topology in screen pixels (d3-geo's albersUsa at its defaults, about
960 × 600), quantised and simplified in that frame to under half a pixel, with arcs shared
between neighbours (so simplifying never opens gaps). Its one object, `counties`, holds a
geometry per county (id = 5-digit FIPS; property name; Puerto Rico's also inset "PR"; the
state follows from the id) and one more, id "borders": the state lines and coasts as a
MultiLineString of the arcs between two states or on the outer edge, reused from the
counties. Its "workbench" member records the version, source, frame and the territories
not drawn.

Projection, Alaska, Hawaii and Puerto Rico
------------------------------------------
albersUsa insets Alaska and Hawaii below the lower 48. It has no frame for Puerto Rico, so
Puerto Rico's municipios are moved, unchanged in shape, by (−8.7° longitude, +6.6°
latitude) before projecting, to sit in the Atlantic south-east of Florida, like the insets
of the Census Bureau's own maps. American Samoa, Guam, the Northern Mariana Islands and the
US Virgin Islands (not in the ACS county table) are not drawn: albersUsa cannot show them.
Charts draw the pixels with Vega-Lite's `identity` projection.

Joining
-------
Counties join on the FIPS code: 2 digits of state and 3 of county. The 2015 ACS table's
CensusId is that code as an integer (1001 for 01001), so ids are zero-padded to 5 digits.
`join_report(ids)` says which ids join and why the others do not, and lists geometry
without a row. Two 2015 renamings are mapped to their new codes (Shannon County, SD 46113 →
Oglala Lakota 46102; Wade Hampton, AK 02270 → Kusilvak 02158), so older tables join too.
On the 2015 table every one of the 3,220 rows joins (Puerto Rico's 78 in the inset).
"""
from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core import fips

GEOMETRY_SOURCE = (
    "US Census Bureau, 2016 cartographic boundary file cb_2016_us_county_500k (1:500,000), "
    "as shipped in the PyPI package plotly-geo 1.0.0"
)
SHAPEFILE = "cb_2016_us_county_500k"
GEOMETRY_VERSION = 3  # 3: pre-projected (albersUsa pixels), packaged; 2: lon/lat, built on first use
# Built by scripts/build_county_map.py (workbench/analysis/county_shapes.py), committed. It sits in
# workbench/static/ so Streamlit's static serving can hand it to the browser once (see charts.county_map).
PACKAGED_GEOMETRY = Path(__file__).resolve().parents[1] / "static" / "us-counties.topo.json"
BORDERS_ID = "borders"  # the one non-county geometry of the `counties` object
PR_SHIFT = (-8.7, 6.6)  # degrees (lon, lat): Puerto Rico into albersUsa's lower-48 frame, SE of Florida
# AS, GU, MP, VI: no frame in albersUsa; the same four territories the ACS leaves out (core.fips).
OUTSIDE_PROJECTION = frozenset(fips.STATES) - frozenset(fips.ACS_STATES)

STATE_FIPS = fips.STATES  # FIPS state code -> (USPS code, name), owned by workbench.core.fips

# Codes retired by a renaming (same area): old FIPS -> (new FIPS, why)
FIPS_RENAMES: dict[str, tuple[str, str]] = {
    "46113": ("46102", "Shannon County, SD was renamed Oglala Lakota County in 2015 (FIPS 46113 → 46102)"),
    "02270": ("02158", "Wade Hampton Census Area, AK was renamed Kusilvak Census Area in 2015 (FIPS 02270 → 02158)"),
}
# Codes retired by a merger or split before 2016: no geometry of their own
FIPS_RETIRED: dict[str, str] = {
    "51515": "Bedford city, VA was merged into Bedford County (51019) in 2013",
    "02201": "Prince of Wales-Outer Ketchikan, AK was split in 2008 (now 02198 and parts of 02130, 02195)",
    "02232": "Skagway-Hoonah-Angoon, AK was split in 2007 (now 02105 and 02230)",
    "02280": "Wrangell-Petersburg, AK was split in 2008 (now 02195 and 02275)",
    "12025": "Dade County, FL was renamed Miami-Dade County in 1997 (FIPS 12025 → 12086)",
    "30113": "Yellowstone National Park, MT was merged into neighbouring counties in 1997",
    "51560": "Clifton Forge city, VA was merged into Alleghany County (51005) in 2001",
    "51780": "South Boston city, VA was merged into Halifax County (51083) in 1995",
}


class GeoError(RuntimeError):
    """The county geometry cannot be built or read; the message says what to install or fix."""


# --------------------------------------------------------------------------- FIPS codes


def fips_code(value: Any) -> str | None:
    """A 5-digit county FIPS string from an int (1001), a float (1001.0), a string ("1001",
    "01001", " 01001 ") or the Census API's county GEO_ID ("0500000US27001"); None when the
    value is no such code. A code of an unknown state ("03001") is kept, for join_report to
    say why it joins nothing."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not float(value).is_integer():
            return None
        number = int(value)
    else:
        text = str(value).strip()
        geo_id = fips.GEO_ID.match(text)
        if geo_id and geo_id.group(1) == "050":  # summary level 050: a county's GEO_ID ("0500000US27001")
            return geo_id.group(2) if len(geo_id.group(2)) == 5 else None
        if text.endswith(".0"):
            text = text[:-2]
        if not text.isdigit():
            return None
        number = int(text)
    if not 1000 <= number <= 99999:  # state codes start at 01
        return None
    return f"{number:05d}"


def fips_codes(values: Iterable[Any]) -> list[str | None]:
    return [fips_code(v) for v in values]


def _current(fips: str | None) -> str | None:
    """The code the 2016 boundaries use for `fips` (renamed codes mapped to their new one)."""
    if fips in FIPS_RENAMES:
        return FIPS_RENAMES[fips][0]
    return fips


# --------------------------------------------------------------------------- geometry

_memory: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def _load(path: str | os.PathLike | None) -> dict[str, Any]:
    """The packaged geometry file, read once per process (about 20 ms), never rebuilt here."""
    path = Path(path) if path is not None else PACKAGED_GEOMETRY
    key = str(path)
    with _lock:
        if key in _memory:
            return _memory[key]
        try:
            topology = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise GeoError(f"The county map's geometry is missing ({path}); rebuild it with "
                           "`python scripts/build_county_map.py`.") from exc
        except (OSError, ValueError) as exc:
            raise GeoError(f"The county map's geometry ({path}) cannot be read ({exc}); rebuild it with "
                           "`python scripts/build_county_map.py`.") from exc
        about = topology.get("workbench") or {}
        if about.get("version") != GEOMETRY_VERSION or topology.get("type") != "Topology":
            raise GeoError(f"{path} is not version {GEOMETRY_VERSION} of the county geometry; rebuild it with "
                           "`python scripts/build_county_map.py`.")
        catalog = []
        for geometry in topology["objects"]["counties"]["geometries"]:
            if geometry["id"] == BORDERS_ID:
                continue
            properties = geometry.get("properties") or {}
            state = STATE_FIPS.get(geometry["id"][:2], ("", ""))[1]
            catalog.append({"fips": geometry["id"], "name": properties.get("name", ""), "state": state, "drawn": True,
                            "inset": properties.get("inset")})
        catalog += [{"fips": fips, "name": name, "state": state, "drawn": False, "inset": None}
                    for fips, name, state in about.get("outside", [])]
        payload = {"topology": topology, "catalog": sorted(catalog, key=lambda row: row["fips"])}
        _memory[key] = payload
        return payload


def county_geometry(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The county TopoJSON topology (object `counties`, with the extra "borders" line), in
    albersUsa screen pixels: read once from PACKAGED_GEOMETRY and kept in memory. Do not modify it."""
    return _load(path)["topology"]


def county_catalog(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every county of the boundary file: fips, name, state, drawn (False for territories
    outside albersUsa) and inset ("PR" for Puerto Rico's municipios, else None)."""
    return pd.DataFrame(_load(path)["catalog"])


# --------------------------------------------------------------------------- join report


@dataclass(frozen=True, eq=False)
class JoinReport:
    """How a table's ids join the map.

    joined: one row per joined input row: position, id (as given), fips (as drawn), name, state, inset.
    unmatched: input rows with no geometry: position, id, fips (None if not a FIPS code), reason.
    geometry_only: counties of the boundary file with no row: fips, name, state, drawn, reason.
    renamed: input rows joined through FIPS_RENAMES: position, id, fips, reason.
    """

    joined: pd.DataFrame
    unmatched: pd.DataFrame
    geometry_only: pd.DataFrame
    renamed: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def all_joined(self) -> bool:
        return self.unmatched.empty

    def summary(self) -> str:
        n = len(self.joined) + len(self.unmatched)
        lines = [f"{len(self.joined)} of {n} rows join a county on the map."]
        inset = int(self.joined["inset"].notna().sum()) if not self.joined.empty else 0
        if inset:
            lines.append(f"{inset} Puerto Rico municipios are drawn in an inset south-east of Florida "
                         "(the albersUsa projection has no frame for Puerto Rico).")
        if not self.renamed.empty:
            lines.append(f"{len(self.renamed)} joined under a renamed code: "
                         + "; ".join(self.renamed["reason"].astype(str).head(5)) + ".")
        if not self.unmatched.empty:
            lines.append(f"{len(self.unmatched)} have no geometry: "
                         + "; ".join(f"{r.id} ({r.reason})" for r in self.unmatched.head(5).itertuples()) + ".")
        drawn = self.geometry_only[self.geometry_only["drawn"]] if not self.geometry_only.empty else self.geometry_only
        hidden = len(self.geometry_only) - len(drawn)
        if len(drawn):
            lines.append(f"{len(drawn)} counties on the map have no row and are drawn grey.")
        if hidden:
            lines.append(f"{hidden} units of territories outside the map (American Samoa, Guam, Northern Mariana "
                         "Islands, US Virgin Islands) have no row; they are not drawn.")
        return "\n".join(lines)


def join_report(ids: Iterable[Any], *, path: str | os.PathLike | None = None) -> JoinReport:
    """Which of `ids` (FIPS codes in any form: 1001, "01001", 1001.0, "0500000US01001") join the map, and why
    the others do not; also the map's counties that no id names."""
    catalog = county_catalog(path)
    by_fips = catalog.set_index("fips")
    drawn = set(catalog.loc[catalog["drawn"], "fips"])
    joined, unmatched, renamed = [], [], []
    seen: dict[str, int] = {}
    for position, value in enumerate(ids):
        fips = fips_code(value)
        current = _current(fips)
        if fips is None:
            unmatched.append({"position": position, "id": value, "fips": None,
                              "reason": "not a county FIPS code (5 digits: 2 of state, 3 of county)"})
            continue
        if current in seen:
            unmatched.append({"position": position, "id": value, "fips": fips,
                              "reason": f"repeats the FIPS code of row {seen[current]}; only that row is drawn"})
            continue
        if current in drawn:
            seen[current] = position
            row = by_fips.loc[current]
            joined.append({"position": position, "id": value, "fips": current, "name": row["name"],
                           "state": row["state"], "inset": row["inset"]})
            if current != fips:
                renamed.append({"position": position, "id": value, "fips": current, "reason": FIPS_RENAMES[fips][1]})
            continue
        state = fips[:2]
        if current in by_fips.index:
            reason = (f"{by_fips.loc[current, 'name']}, {by_fips.loc[current, 'state']}: a territory outside the "
                      "albersUsa projection, not drawn")
        elif fips in FIPS_RETIRED:
            reason = FIPS_RETIRED[fips] + "; the 2016 boundaries have no such county"
        elif state not in STATE_FIPS:
            reason = f"no US state or territory has the FIPS state code {state}"
        else:
            reason = (f"no county {fips} in {STATE_FIPS[state][1]} in the 2016 boundaries "
                      "(created or renumbered after 2016, or a wrong code)")
        unmatched.append({"position": position, "id": value, "fips": fips, "reason": reason})
    covered = set(seen)
    rest = catalog[~catalog["fips"].isin(covered)].copy()
    rest["reason"] = np.where(
        rest["drawn"], "no row in the table: drawn grey",
        "territory outside the albersUsa projection and without a row: not drawn",
    )
    return JoinReport(
        joined=pd.DataFrame(joined, columns=["position", "id", "fips", "name", "state", "inset"]),
        unmatched=pd.DataFrame(unmatched, columns=["position", "id", "fips", "reason"]),
        geometry_only=rest[["fips", "name", "state", "drawn", "reason"]].reset_index(drop=True),
        renamed=pd.DataFrame(renamed, columns=["position", "id", "fips", "reason"]),
    )
