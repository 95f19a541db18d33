"""Build the county map's packaged geometry from plotly-geo's Census shapes.

    .venv/bin/python scripts/build_county_map.py            # writes workbench/static/us-counties.topo.json
    .venv/bin/python scripts/build_county_map.py --check    # rebuilds in memory; exit 1 if the file differs

Run it after changing workbench/analysis/county_shapes.py (about 10 s); commit the file it
writes. The app never builds geometry: it reads this file (workbench.analysis.geography).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.analysis import county_shapes, geography  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=geography.PACKAGED_GEOMETRY, help="where to write it")
    parser.add_argument("--tolerance-px", type=float, default=county_shapes.TOLERANCE_PX)
    parser.add_argument("--quantize", type=int, default=county_shapes.QUANTIZE)
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = parser.parse_args(argv)
    topology = county_shapes.build(args.tolerance_px, args.quantize)
    if args.check:
        same = args.out.is_file() and json.loads(args.out.read_text(encoding="utf-8")) == topology
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from a fresh build'}")
        return 0 if same else 1
    county_shapes.write(topology, args.out)
    print(f"Wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, {len(topology['arcs']):,} arcs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
