"""`python -m workbench census`: fetch ACS 5-year estimates from the Census Data API to a CSV.

    python -m workbench census --year 2022 --geography tract --state MN --preset recommended --out mn.csv

The same request is a data source for `segment --data` as a URI (printed with --json):
census:year=2022&geography=tract&state=27&preset=recommended. See docs/census.md.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(commands) -> None:
    """The `census` subcommand on the CLI's subparsers."""
    from workbench.core import census_presets

    census = commands.add_parser("census", help="fetch ACS 5-year estimates from the Census Data API to a CSV")
    census.add_argument("--year", required=True, help="ACS 5-year release, e.g. 2022 (2009 on)")
    census.add_argument("--geography", required=True, choices=("county", "tract", "block-group"))
    census.add_argument("--state", help="FIPS (27) or USPS (MN) code; tracts and block groups without one: every state")
    census.add_argument("--county", help="3-digit county FIPS within --state (053), or the 5-digit code")
    what = census.add_mutually_exclusive_group(required=True)
    what.add_argument("--preset", choices=sorted(census_presets.PRESETS), help="a feature preset (docs/census.md)")
    what.add_argument("--variables", help="comma-separated estimates, e.g. B19013_001E,DP03_0062E (margins come along)")
    census.add_argument("--out", type=Path, help="write the table to this CSV (default: standard output)")
    census.add_argument("--json", action="store_true", help="print a summary of the fetch as JSON")
    census.add_argument("--refresh", action="store_true", help="fetch again instead of reading the cache")


def run(args) -> int:
    """Fetch, write the CSV, and say what came back (annotation cells included)."""
    from workbench.core import census

    request = census.CensusRequest.create(args.year, args.geography, state=args.state, county=args.county,
                                          preset=args.preset, variables=args.variables)
    client = census.CensusClient()
    progress = None if args.json else (lambda done, total, message: print(message, file=sys.stderr))
    table = census.fetch_table(request, client=client, refresh=args.refresh, progress=progress)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    elif not args.json:
        table.to_csv(sys.stdout, index=False)
    annotations = census.annotation_summary(table)
    if args.json:
        print(json.dumps({"request": request.to_dict(), "uri": request.to_uri(), "rows": len(table),
                          "columns": list(table.columns), "requests_sent": client.requests_sent,
                          "cache_hits": client.cache_hits, "annotations": annotations,
                          "out": str(args.out) if args.out else None}, indent=2))
        return 0
    print(f"{len(table):,} rows × {len(table.columns)} columns: {request.describe()}", file=sys.stderr)
    for item in annotations:
        codes = "; ".join(f"{c['count']} × {code} ({c['meaning']})" for code, c in item["codes"].items())
        print(f"{item['column']}: {item['cells']} cell(s) missing, annotated {codes}", file=sys.stderr)
    if args.out:
        print(f"Written to {args.out}; segment it with --data {args.out} or --data '{request.to_uri()}'", file=sys.stderr)
    return 0
