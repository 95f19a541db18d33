"""Building the packaged county geometry: arc chains merged, specks dropped, rings wound.
"""
from __future__ import annotations

import numpy as np

from workbench.analysis import county_shapes


def _delta(points):
    points = np.asarray(points)
    return np.vstack([points[:1], np.diff(points, axis=0)]).tolist()


def _outline(topology, ring):
    """The ring's points, in order, from its (signed) arcs."""
    out = []
    for a in ring:
        points = np.cumsum(np.asarray(topology["arcs"][a if a >= 0 else ~a]), axis=0)
        points = points if a >= 0 else points[::-1]
        out.extend(map(tuple, points[1:] if out else points))
    return out


def _two_squares():
    # Squares A = (0,0)-(2,2) and B = (2,0)-(4,2) sharing the edge x = 2, which topojson-like
    # splitting cut into two arcs (0: (2,0)→(2,1), 1: (2,1)→(2,2)); plus a speck loop (arc 4).
    arcs = [
        _delta([(2, 0), (2, 1)]),                            # 0 shared, lower half
        _delta([(2, 1), (2, 2)]),                            # 1 shared, upper half
        _delta([(2, 2), (0, 2), (0, 0), (2, 0)]),            # 2 A's outer part
        _delta([(2, 0), (4, 0), (4, 2), (2, 2)]),            # 3 B's outer part
        _delta([(2, 0), (2, 0), (3, 0), (2, 0)]),            # 4 a loop: ends where it starts
    ]
    geometries = [
        {"type": "Polygon", "id": "01001", "arcs": [[0, 1, 2]]},
        {"type": "Polygon", "id": "01003", "arcs": [[3, ~1, ~0, 4]]},
    ]
    return {"type": "Topology", "transform": {"scale": [1, 1], "translate": [0, 0]}, "arcs": arcs,
            "objects": {"counties": {"type": "GeometryCollection", "geometries": geometries}}}


def test_chains_of_arcs_are_merged_without_changing_any_outline():
    topology = _two_squares()
    before = [_outline(topology, g["arcs"][0]) for g in topology["objects"]["counties"]["geometries"]]
    county_shapes._merge_chains(topology)
    rings = [g["arcs"][0] for g in topology["objects"]["counties"]["geometries"]]
    # The shared edge is one arc now, the loop is gone, and unused arcs were renumbered away.
    assert len(topology["arcs"]) == 3 and len(rings[0]) == 2 and len(rings[1]) == 2
    shared = {a if a >= 0 else ~a for a in rings[0]} & {a if a >= 0 else ~a for a in rings[1]}
    assert len(shared) == 1
    after = [_outline(topology, ring) for ring in rings]
    assert set(after[0]) == set(before[0])
    assert set(after[1]) == set(before[1]) - {(3, 0)} | {(4, 0)}  # the speck's vertex (3, 0) left with it


def test_rings_are_wound_outer_positive_and_borders_reuse_the_arcs():
    topology = _two_squares()
    county_shapes._merge_chains(topology)
    county_shapes._wind(topology)
    shares = county_shapes.ring_shares(topology)
    for geometry in topology["objects"]["counties"]["geometries"]:
        (ring,) = geometry["arcs"]
        assert sum(shares[a] if a >= 0 else -shares[~a] for a in ring) > 0
    county_shapes._add_borders(topology)
    borders = topology["objects"]["counties"]["geometries"][-1]
    # Both squares are in state 01: the shared edge is no state line, the outer edges are coast.
    used = {a for (a,) in borders["arcs"]}
    assert borders["type"] == "MultiLineString" and len(used) == 2
