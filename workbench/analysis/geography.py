"""An offline US county map: Census Bureau county boundaries, simplified once and cached.

Geometry
--------
The boundaries are the Census Bureau's 2016 cartographic boundary file at 1:500,000,
`cb_2016_us_county_500k`, as shipped inside the PyPI package `plotly-geo` (1.0.0; it also
holds state outlines and the 2010 county file, unused here). It has 3,233 counties and
county-equivalents: the 50 states, DC, Puerto Rico's 78 municipios and 13 units of the
other territories. Nothing is downloaded.

`county_geometry()` reads it with `pyshp`, and builds a TopoJSON topology with `topojson`
(arcs shared between neighbouring counties, so simplifying never opens gaps between them):
coordinates quantised to a 100,000-step grid, arcs simplified with Douglas–Peucker at 0.01°
(about 1 km, finer than a pixel of a national map). The result, about 1 MB, is cached as
JSON in the user cache dir (`settings.cache_dir()/geo`) and in memory; building it takes
about 10 s once. The topology's one object, `counties`, holds a geometry per county (id =
5-digit FIPS; properties name, state) and one more, id "borders": the state lines and
coasts as a MultiLineString of the arcs between two states or on the outer edge, reused
from the counties, so it costs no coordinates.

Projection, Alaska, Hawaii and Puerto Rico
------------------------------------------
Charts use Vega's `albersUsa` projection, which insets Alaska and Hawaii below the lower 48.
It has no frame for Puerto Rico and would drop it, so Puerto Rico's municipios are moved,
unchanged in shape, by (−8.7° longitude, +6.6° latitude) to sit in the Atlantic south-east
of Florida, like the insets of the Census Bureau's own maps; their geometry carries
`inset: "PR"`. American Samoa, Guam, the Northern Mariana Islands and the US Virgin Islands
(not in the ACS county table) are left out of the topology: `albersUsa` cannot show them.
The Aleutians' few points east of 180° are written as longitudes below −180, the same
places, so the grid is not stretched around the globe.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core import settings

GEOMETRY_SOURCE = (
    "US Census Bureau, 2016 cartographic boundary file cb_2016_us_county_500k (1:500,000), "
    "as shipped in the PyPI package plotly-geo 1.0.0"
)
SHAPEFILE = "cb_2016_us_county_500k"
DEFAULT_TOLERANCE = 0.01  # degrees, Douglas–Peucker on the shared arcs
QUANTIZE = 100_000
GEOMETRY_VERSION = 2
BORDERS_ID = "borders"  # the one non-county geometry of the `counties` object
PR_SHIFT = (-8.7, 6.6)  # degrees (lon, lat): Puerto Rico into albersUsa's lower-48 frame, SE of Florida
OUTSIDE_PROJECTION = {"60", "66", "69", "78"}  # AS, GU, MP, VI: no frame in albersUsa

STATE_FIPS: dict[str, tuple[str, str]] = {
    "01": ("AL", "Alabama"), "02": ("AK", "Alaska"), "04": ("AZ", "Arizona"), "05": ("AR", "Arkansas"),
    "06": ("CA", "California"), "08": ("CO", "Colorado"), "09": ("CT", "Connecticut"), "10": ("DE", "Delaware"),
    "11": ("DC", "District of Columbia"), "12": ("FL", "Florida"), "13": ("GA", "Georgia"), "15": ("HI", "Hawaii"),
    "16": ("ID", "Idaho"), "17": ("IL", "Illinois"), "18": ("IN", "Indiana"), "19": ("IA", "Iowa"),
    "20": ("KS", "Kansas"), "21": ("KY", "Kentucky"), "22": ("LA", "Louisiana"), "23": ("ME", "Maine"),
    "24": ("MD", "Maryland"), "25": ("MA", "Massachusetts"), "26": ("MI", "Michigan"), "27": ("MN", "Minnesota"),
    "28": ("MS", "Mississippi"), "29": ("MO", "Missouri"), "30": ("MT", "Montana"), "31": ("NE", "Nebraska"),
    "32": ("NV", "Nevada"), "33": ("NH", "New Hampshire"), "34": ("NJ", "New Jersey"), "35": ("NM", "New Mexico"),
    "36": ("NY", "New York"), "37": ("NC", "North Carolina"), "38": ("ND", "North Dakota"), "39": ("OH", "Ohio"),
    "40": ("OK", "Oklahoma"), "41": ("OR", "Oregon"), "42": ("PA", "Pennsylvania"), "44": ("RI", "Rhode Island"),
    "45": ("SC", "South Carolina"), "46": ("SD", "South Dakota"), "47": ("TN", "Tennessee"), "48": ("TX", "Texas"),
    "49": ("UT", "Utah"), "50": ("VT", "Vermont"), "51": ("VA", "Virginia"), "53": ("WA", "Washington"),
    "54": ("WV", "West Virginia"), "55": ("WI", "Wisconsin"), "56": ("WY", "Wyoming"),
    "60": ("AS", "American Samoa"), "66": ("GU", "Guam"), "69": ("MP", "Northern Mariana Islands"),
    "72": ("PR", "Puerto Rico"), "78": ("VI", "US Virgin Islands"),
}

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
    """A 5-digit county FIPS string from an int (1001), a float (1001.0) or a string
    ("1001", "01001", " 01001 "); None when the value is no such code."""
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

_memory: dict[tuple[str, float], dict[str, Any]] = {}
_lock = threading.Lock()


def geometry_cache_path(tolerance: float = DEFAULT_TOLERANCE, cache_dir: str | os.PathLike | None = None) -> Path:
    base = Path(cache_dir) if cache_dir is not None else settings.cache_dir()
    return base / "geo" / f"{SHAPEFILE}-tol{tolerance:g}-q{QUANTIZE}-v{GEOMETRY_VERSION}.json"


def _shapefile_path() -> Path:
    try:
        import _plotly_geo  # the package plotly-geo
    except ImportError as exc:
        raise GeoError(
            "The county map needs the Census county boundaries from the package plotly-geo: "
            "pip install plotly-geo==1.0.0"
        ) from exc
    path = Path(_plotly_geo.__file__).resolve().parent / "package_data" / SHAPEFILE
    if not path.with_suffix(".shp").is_file():
        raise GeoError(f"plotly-geo is installed but lacks {path.with_suffix('.shp')}; reinstall plotly-geo==1.0.0.")
    return path


def _shift_ring(ring: Sequence[Sequence[float]], dx: float, dy: float) -> list[list[float]]:
    out = []
    for x, y, *_ in ring:
        x = x - 360.0 if x > 0 else x  # the Aleutians east of 180°: the same places, west of −180°
        out.append([x + dx, y + dy])
    return out


def _moved(geometry: Mapping[str, Any], dx: float, dy: float) -> dict[str, Any]:
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [_shift_ring(r, dx, dy) for r in geometry["coordinates"]]}
    if geometry["type"] == "MultiPolygon":
        return {"type": "MultiPolygon",
                "coordinates": [[_shift_ring(r, dx, dy) for r in poly] for poly in geometry["coordinates"]]}
    raise GeoError(f"Unexpected geometry type {geometry['type']!r} in the county boundaries.")


def _read_counties() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(GeoJSON features to draw, catalog rows of every county in the file)."""
    try:
        import shapefile  # pyshp
    except ImportError as exc:
        raise GeoError("Reading the county boundaries needs pyshp: pip install pyshp==3.1.6") from exc
    features, catalog = [], []
    with shapefile.Reader(str(_shapefile_path())) as reader:
        for item in reader.iterShapeRecords():
            record = item.record.as_dict()
            fips = str(record["GEOID"])
            state_fips = str(record["STATEFP"])
            state = STATE_FIPS.get(state_fips, ("", f"state {state_fips}"))[1]
            drawn = state_fips not in OUTSIDE_PROJECTION
            inset = "PR" if state_fips == "72" else None
            catalog.append({"fips": fips, "name": str(record["NAME"]), "state": state, "drawn": drawn,
                            "inset": inset})
            if not drawn:
                continue
            dx, dy = PR_SHIFT if inset else (0.0, 0.0)
            properties = {"name": str(record["NAME"]), "state": state}
            if inset:
                properties["inset"] = inset
            features.append({"type": "Feature", "id": fips, "properties": properties,
                             "geometry": _moved(item.shape.__geo_interface__, dx, dy)})
    return features, catalog


def _arc_ids(geometry: Mapping[str, Any]) -> Iterable[int]:
    arcs = geometry.get("arcs") or []
    if geometry.get("type") == "Polygon":
        rings = arcs
    elif geometry.get("type") == "MultiPolygon":
        rings = [ring for polygon in arcs for ring in polygon]
    else:
        rings = []
    for ring in rings:
        for arc in ring:
            yield arc if arc >= 0 else ~arc


def _ring_areas(topology: dict[str, Any]) -> np.ndarray:
    """Each arc's share of the shoelace sum (twice the signed area, x = lon, y = lat), so a
    ring's signed area is the sum over its arcs (a reversed arc, ~i, counts −share[i])."""
    shares = np.zeros(len(topology["arcs"]))
    quantized = "transform" in topology
    for i, arc in enumerate(topology["arcs"]):
        points = np.asarray(arc, dtype=np.float64).reshape(-1, 2)
        if quantized:
            points = np.cumsum(points, axis=0)
        if len(points) > 1:
            x, y = points[:, 0], points[:, 1]
            shares[i] = float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))
    return shares


def _wind_for_d3(topology: dict[str, Any]) -> None:
    """Outer rings clockwise, holes counter-clockwise (lon/lat with north up): the winding
    d3-geo (and so Vega) needs, or a polygon is read as the whole globe minus itself."""
    shares = _ring_areas(topology)

    def area(ring: list[int]) -> float:
        return float(sum(shares[a] if a >= 0 else -shares[~a] for a in ring))

    def fixed(polygon: list[list[int]]) -> list[list[int]]:
        out = []
        for position, ring in enumerate(polygon):
            signed = area(ring)
            if (position == 0 and signed > 0) or (position > 0 and signed < 0):
                ring = [~a for a in reversed(ring)]
            out.append(ring)
        return out

    for geometry in topology["objects"]["counties"]["geometries"]:
        if geometry.get("type") == "Polygon":
            geometry["arcs"] = fixed(geometry["arcs"])
        elif geometry.get("type") == "MultiPolygon":
            geometry["arcs"] = [fixed(polygon) for polygon in geometry["arcs"]]


def _add_borders(topology: dict[str, Any]) -> None:
    """Append the state lines and coasts to the `counties` object as one MultiLineString with
    id BORDERS_ID: the arcs between two states, or on the outer edge (used once). Both map
    layers then read the very same data (Vega-Lite rejects one dataset read in two formats)."""
    geometries = topology["objects"]["counties"]["geometries"]
    uses: dict[int, list[str]] = {}
    for geometry in geometries:
        state = str(geometry.get("id", ""))[:2]
        for arc in _arc_ids(geometry):
            uses.setdefault(arc, []).append(state)
    border = sorted(arc for arc, states in uses.items() if len(states) == 1 or len(set(states)) > 1)
    geometries.append({"type": "MultiLineString", "arcs": [[arc] for arc in border], "id": BORDERS_ID,
                       "properties": {"name": "state lines and coasts"}})


def _build(tolerance: float) -> dict[str, Any]:
    try:
        import topojson
    except ImportError as exc:
        raise GeoError("Building the county map needs topojson: pip install topojson==2.2 shapely==2.2.0") from exc
    features, catalog = _read_counties()
    topology = topojson.Topology(
        {"type": "FeatureCollection", "features": features},
        prequantize=QUANTIZE, toposimplify=tolerance, object_name="counties",
    ).to_dict()
    topology = json.loads(json.dumps(topology))  # plain lists and ints throughout
    for geometry in topology["objects"]["counties"]["geometries"]:
        geometry["id"] = str(geometry["id"])
    _wind_for_d3(topology)
    _add_borders(topology)
    return {"version": GEOMETRY_VERSION, "source": GEOMETRY_SOURCE, "tolerance": tolerance,
            "topology": topology, "catalog": catalog}


def _load(tolerance: float, cache_dir: str | os.PathLike | None, rebuild: bool) -> dict[str, Any]:
    path = geometry_cache_path(tolerance, cache_dir)
    key = (str(path), float(tolerance))
    with _lock:
        if not rebuild and key in _memory:
            return _memory[key]
        payload = None
        if not rebuild and path.is_file():
            try:
                payload = json.loads(path.read_text(encoding="utf-8"))
                if payload.get("version") != GEOMETRY_VERSION or "topology" not in payload:
                    payload = None
            except (OSError, ValueError):
                payload = None  # a damaged cache file is rebuilt
        if payload is None:
            payload = _build(tolerance)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
            tmp.replace(path)
        # The compact text the charts embed: one string is cheap for Altair to copy, hash and validate.
        payload["text"] = json.dumps(payload["topology"], separators=(",", ":"))
        _memory[key] = payload
        return payload


def county_geometry(
    *, tolerance: float = DEFAULT_TOLERANCE, cache_dir: str | os.PathLike | None = None, rebuild: bool = False
) -> dict[str, Any]:
    """The county TopoJSON topology (object `counties`, with the extra "borders" line), built once and cached
    (in memory and under cache_dir, default settings.cache_dir()/geo). Do not modify it."""
    return _load(tolerance, cache_dir, rebuild)["topology"]


def county_topojson_text(
    *, tolerance: float = DEFAULT_TOLERANCE, cache_dir: str | os.PathLike | None = None
) -> str:
    """county_geometry() as compact TopoJSON text (what the charts embed)."""
    return _load(tolerance, cache_dir, False)["text"]


def county_catalog(
    *, tolerance: float = DEFAULT_TOLERANCE, cache_dir: str | os.PathLike | None = None
) -> pd.DataFrame:
    """Every county of the boundary file: fips, name, state, drawn (False for territories
    outside albersUsa) and inset ("PR" for Puerto Rico's municipios, else None)."""
    return pd.DataFrame(_load(tolerance, cache_dir, False)["catalog"])


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


def join_report(
    ids: Iterable[Any], *, tolerance: float = DEFAULT_TOLERANCE, cache_dir: str | os.PathLike | None = None
) -> JoinReport:
    """Which of `ids` (FIPS codes in any form: 1001, "01001", 1001.0) join the map, and why
    the others do not; also the map's counties that no id names."""
    catalog = county_catalog(tolerance=tolerance, cache_dir=cache_dir)
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
