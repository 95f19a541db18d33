"""Building the county map's geometry (run once, by scripts/build_county_map.py; never at run time).

The Census Bureau's 2016 county boundaries (`cb_2016_us_county_500k`, shipped in the PyPI
package plotly-geo 1.0.0) are read with pyshp, projected here with d3-geo's `albersUsa`
(Alaska and Hawaii inset, the same formulas and constants as d3-geo 3), turned into a
TopoJSON topology with `topojson` (arcs shared between neighbours, so simplifying never opens
gaps), simplified and quantised in projected pixels, and written as package data
(`geography.PACKAGED_GEOMETRY`). Charts then draw it with Vega-Lite's `identity` projection:
the browser projects nothing.

Projection frame: d3's albersUsa at its default scale 1070 and translate (480, 250), so the
map spans about 960 × 600 px; `TOLERANCE_PX` and `QUANTIZE` are in that frame. Puerto Rico,
which albersUsa has no frame for, is moved (−8.7° longitude, +6.6° latitude) into the lower-48
frame, south-east of Florida; American Samoa, Guam, the Northern Mariana Islands and the US
Virgin Islands are not drawn (listed in the catalog as not drawn).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.analysis.geography import (
    BORDERS_ID,
    GEOMETRY_SOURCE,
    GEOMETRY_VERSION,
    OUTSIDE_PROJECTION,
    PR_SHIFT,
    SHAPEFILE,
    STATE_FIPS,
    GeoError,
)

TOLERANCE_PX = 0.4  # Douglas–Peucker on the shared arcs, in the 960-px frame: under half a pixel
QUANTIZE = 5_000  # grid steps across each side of the bounding box (0.18 × 0.1 px)
SCALE, TRANSLATE = 1070.0, (480.0, 250.0)  # d3.geoAlbersUsa() defaults


# --------------------------------------------------------------------------- albersUsa


def _conic_equal_area(lon, lat, *, rotate: float, center: tuple[float, float], parallels: tuple[float, float],
                      scale: float, translate: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """d3.geoConicEqualArea().rotate([rotate, 0]).center(center).parallels(parallels).scale(scale)
    .translate(translate) applied to degrees (arrays): screen pixels, y downward."""
    y0, y1 = np.radians(parallels)
    sy0 = np.sin(y0)
    n = (sy0 + np.sin(y1)) / 2.0
    c = 1.0 + sy0 * (2.0 * n - sy0)
    r0 = np.sqrt(c) / n

    def raw(lam, phi):
        r = np.sqrt(c - 2.0 * n * np.sin(phi)) / n
        return r * np.sin(lam * n), r0 - r * np.cos(lam * n)

    lam = np.radians(np.asarray(lon, dtype=np.float64) + rotate)
    lam = (lam + np.pi) % (2.0 * np.pi) - np.pi  # d3's rotation wraps longitudes into [−π, π)
    x, y = raw(lam, np.radians(np.asarray(lat, dtype=np.float64)))
    cx, cy = raw(np.radians(center[0]), np.radians(center[1]))
    return translate[0] + scale * (x - cx), translate[1] - scale * (y - cy)


def albers_usa(lon, lat, state_fips: str) -> tuple[np.ndarray, np.ndarray]:
    """d3.geoAlbersUsa() at its defaults, choosing the frame by state (Alaska, Hawaii, the rest)."""
    k, (tx, ty) = SCALE, TRANSLATE
    if state_fips == "02":
        return _conic_equal_area(lon, lat, rotate=154, center=(-2, 58.5), parallels=(55, 65), scale=0.35 * k,
                                 translate=(tx - 0.307 * k, ty + 0.201 * k))
    if state_fips == "15":
        return _conic_equal_area(lon, lat, rotate=157, center=(-3, 19.9), parallels=(8, 18), scale=k,
                                 translate=(tx - 0.205 * k, ty + 0.212 * k))
    return _conic_equal_area(lon, lat, rotate=96, center=(-0.6, 38.7), parallels=(29.5, 45.5), scale=k,
                             translate=(tx, ty))


# --------------------------------------------------------------------------- reading


def shapefile_path() -> Path:
    try:
        import _plotly_geo  # the package plotly-geo
    except ImportError as exc:
        raise GeoError("Building the county map needs plotly-geo: pip install plotly-geo==1.0.0") from exc
    path = Path(_plotly_geo.__file__).resolve().parent / "package_data" / SHAPEFILE
    if not path.with_suffix(".shp").is_file():
        raise GeoError(f"plotly-geo is installed but lacks {path.with_suffix('.shp')}; reinstall plotly-geo==1.0.0.")
    return path


def _project_ring(ring: Sequence[Sequence[float]], state_fips: str) -> list[list[float]]:
    points = np.asarray([p[:2] for p in ring], dtype=np.float64)
    lon, lat = points[:, 0], points[:, 1]
    if state_fips == "72":
        lon, lat = lon + PR_SHIFT[0], lat + PR_SHIFT[1]
    x, y = albers_usa(lon, lat, state_fips)
    return np.column_stack([x, y]).tolist()


def _projected(geometry: Mapping[str, Any], state_fips: str) -> dict[str, Any]:
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [_project_ring(r, state_fips) for r in geometry["coordinates"]]}
    if geometry["type"] == "MultiPolygon":
        return {"type": "MultiPolygon",
                "coordinates": [[_project_ring(r, state_fips) for r in poly] for poly in geometry["coordinates"]]}
    raise GeoError(f"Unexpected geometry type {geometry['type']!r} in the county boundaries.")


def read_counties(path: Path | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(projected GeoJSON features to draw, catalog rows of every county in the file)."""
    try:
        import shapefile  # pyshp
    except ImportError as exc:
        raise GeoError("Reading the county boundaries needs pyshp: pip install pyshp==3.1.6") from exc
    features, catalog = [], []
    with shapefile.Reader(str(path or shapefile_path())) as reader:
        for item in reader.iterShapeRecords():
            record = item.record.as_dict()
            fips, state_fips = str(record["GEOID"]), str(record["STATEFP"])
            state = STATE_FIPS.get(state_fips, ("", f"state {state_fips}"))[1]
            drawn = state_fips not in OUTSIDE_PROJECTION
            inset = "PR" if state_fips == "72" else None
            catalog.append({"fips": fips, "name": str(record["NAME"]), "state": state, "drawn": drawn, "inset": inset})
            if drawn:
                # The state's name comes from the id's first two digits (geography.STATE_FIPS): not repeated here.
                properties = {"name": str(record["NAME"]), **({"inset": inset} if inset else {})}
                features.append({"type": "Feature", "id": fips, "properties": properties,
                                 "geometry": _projected(item.shape.__geo_interface__, state_fips)})
    return features, catalog


# --------------------------------------------------------------------------- topology


def _arc_ids(geometry: Mapping[str, Any]) -> Iterable[int]:
    arcs = geometry.get("arcs") or []
    rings = arcs if geometry.get("type") == "Polygon" else [r for p in arcs for r in p]
    for ring in rings:
        for arc in ring:
            yield arc if arc >= 0 else ~arc


def ring_shares(topology: dict[str, Any]) -> np.ndarray:
    """Each arc's share of the shoelace sum (twice the signed area, in the topology's own
    coordinates), so a ring's signed area is the sum over its arcs (~i counts −share[i])."""
    shares = np.zeros(len(topology["arcs"]))
    for i, arc in enumerate(topology["arcs"]):
        points = np.asarray(arc, dtype=np.float64).reshape(-1, 2)
        if "transform" in topology:
            points = np.cumsum(points, axis=0)
        if len(points) > 1:
            x, y = points[:, 0], points[:, 1]
            shares[i] = float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))
    return shares


def _rings(topology: dict[str, Any]) -> list[list[int]]:
    """Every ring of the counties' polygons (the lists themselves, for editing in place)."""
    out = []
    for geometry in topology["objects"]["counties"]["geometries"]:
        if geometry.get("type") == "Polygon":
            out.extend(geometry["arcs"])
        elif geometry.get("type") == "MultiPolygon":
            out.extend(ring for polygon in geometry["arcs"] for ring in polygon)
    return out


def _merge_chains(topology: dict[str, Any]) -> None:
    """Join arcs that always follow one another into one arc, in place (then renumber them).

    `topojson` cuts an arc wherever any ring has a vertex shared with another geometry, so
    most arcs hold two points and a ring lists dozens of them. Arc s is joined to arc t when
    every traversal of s is followed by t and every traversal of t is preceded by s (in both
    directions): the same rings use them, in the same order, so the outline is unchanged.
    """
    points = [np.cumsum(np.asarray(arc, dtype=np.int64).reshape(-1, 2), axis=0) for arc in topology["arcs"]]
    rings = _rings(topology)
    # Quantising leaves sub-pixel loops (an arc that ends where it starts) inside longer rings;
    # they draw nothing and break the chains, so they go.
    loops = {i for i, arc in enumerate(points) if len(arc) > 1 and np.array_equal(arc[0], arc[-1])}
    for ring in rings:
        kept = [a for a in ring if (a if a >= 0 else ~a) not in loops]
        if kept:
            ring[:] = kept

    def oriented(a: int) -> np.ndarray:
        return points[a] if a >= 0 else points[~a][::-1]

    while True:
        following: dict[int, set[int]] = {}
        for ring in rings:
            for i, a in enumerate(ring):
                b = ring[(i + 1) % len(ring)]
                following.setdefault(a, set()).add(b)
                following.setdefault(~b, set()).add(~a)
        merged: dict[int, int] = {}  # s -> t, each arc in at most one pair per round
        busy: set[int] = set()
        for s, nexts in following.items():
            if len(nexts) != 1:
                continue
            (t,) = nexts
            ids = {s if s >= 0 else ~s, t if t >= 0 else ~t}
            if len(ids) == 2 and following.get(~t) == {~s} and not ids & busy:
                merged[s] = t
                busy |= ids
        if not merged:
            break
        for s, t in merged.items():
            keep = s if s >= 0 else ~s
            points[keep] = np.vstack([oriented(s), oriented(t)[1:]])
        for ring in rings:
            out, i = [], 0
            while i < len(ring):
                a, b = ring[i], ring[(i + 1) % len(ring)]
                if a in merged and merged[a] == b and len(ring) > 1:
                    out.append(a if a >= 0 else ~a)
                    if i + 1 == len(ring):  # the pair wraps around the ring's start
                        out.pop(0)
                    i += 2
                elif ~b in merged and merged[~b] == ~a and len(ring) > 1:
                    keep = ~b if ~b >= 0 else b
                    out.append(~keep)
                    if i + 1 == len(ring):
                        out.pop(0)
                    i += 2
                else:
                    out.append(a)
                    i += 1
            ring[:] = out
    used = sorted({a if a >= 0 else ~a for ring in rings for a in ring})
    renumber = {old: new for new, old in enumerate(used)}
    for ring in rings:
        ring[:] = [renumber[a] if a >= 0 else ~renumber[~a] for a in ring]
    topology["arcs"] = [np.vstack([points[old][:1], np.diff(points[old], axis=0)]).tolist() for old in used]


def _wind(topology: dict[str, Any]) -> None:
    """Outer rings of positive shoelace area in screen coordinates (clockwise as drawn), holes
    negative: with the nonzero fill rule a hole then stays a hole. Rings that simplifying and
    quantising flattened to no area (specks of islands) draw nothing and are dropped."""
    shares = ring_shares(topology)

    def area(ring: list[int]) -> float:
        return float(sum(shares[a] if a >= 0 else -shares[~a] for a in ring))

    def fixed(polygon: list[list[int]]) -> list[list[int]]:
        out = []
        for position, ring in enumerate(polygon):
            signed = area(ring)
            if signed == 0:
                if position == 0:
                    return []
                continue
            if (position == 0 and signed < 0) or (position > 0 and signed > 0):
                ring = [~a for a in reversed(ring)]
            out.append(ring)
        return out

    for geometry in topology["objects"]["counties"]["geometries"]:
        if geometry.get("type") == "Polygon":
            geometry["arcs"] = fixed(geometry["arcs"]) or geometry["arcs"]
        elif geometry.get("type") == "MultiPolygon":
            polygons = [p for p in (fixed(polygon) for polygon in geometry["arcs"]) if p]
            geometry["arcs"] = polygons or geometry["arcs"]


def _add_borders(topology: dict[str, Any]) -> None:
    """Append the state lines and coasts to `counties` as one MultiLineString, id BORDERS_ID:
    the arcs between two states or on the outer edge (reused from the counties: no new points)."""
    geometries = topology["objects"]["counties"]["geometries"]
    uses: dict[int, list[str]] = {}
    for geometry in geometries:
        for arc in _arc_ids(geometry):
            uses.setdefault(arc, []).append(str(geometry.get("id", ""))[:2])
    border = sorted(arc for arc, states in uses.items() if len(states) == 1 or len(set(states)) > 1)
    geometries.append({"type": "MultiLineString", "arcs": [[arc] for arc in border], "id": BORDERS_ID,
                       "properties": {"name": "state lines and coasts"}})


def build(tolerance_px: float = TOLERANCE_PX, quantize: int = QUANTIZE, shapefile: Path | None = None) -> dict:
    """The packaged geometry: a TopoJSON topology with a "workbench" member (version, source,
    frame, and `outside`: [fips, name, state] of the territories not drawn)."""
    try:
        import topojson
    except ImportError as exc:
        raise GeoError("Building the county map needs topojson: pip install topojson==2.2 shapely==2.2.0") from exc
    features, catalog = read_counties(shapefile)
    topology = topojson.Topology({"type": "FeatureCollection", "features": features}, prequantize=quantize,
                                 toposimplify=tolerance_px, object_name="counties").to_dict()
    topology = json.loads(json.dumps(topology))  # plain lists and ints throughout
    for geometry in topology["objects"]["counties"]["geometries"]:
        geometry["id"] = str(geometry["id"])
    _merge_chains(topology)
    _wind(topology)
    _add_borders(topology)
    outside = [[row["fips"], row["name"], row["state"]] for row in catalog if not row["drawn"]]
    frame = {"projection": "d3.geoAlbersUsa() defaults, pre-projected (draw with the identity projection)",
             "scale": SCALE, "translate": list(TRANSLATE), "tolerance_px": tolerance_px, "quantize": quantize}
    topology["workbench"] = {"version": GEOMETRY_VERSION, "source": GEOMETRY_SOURCE, "frame": frame,
                             "outside": outside}
    return topology


def write(payload: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    return path
