"""`python -m workbench census`: fetch ACS 5-year estimates from the Census Data API to a CSV.

    python -m workbench census --year 2022 --geography tract --state MN --preset recommended --out mn.csv

The same request is a data source for `segment --data` as a URI (printed with --json):
census:year=2022&geography=tract&state=27&preset=recommended. See docs/census.md.
"""
from __future__ import annotations

import json
import sys


def run(args) -> int:
    """Fetch, write the CSV, and say what came back (annotation cells included)."""
    from workbench.core import census, csv_out

    request = census.CensusRequest.create(args.year, args.geography, state=args.state, county=args.county,
                                          preset=args.preset, variables=args.variables)
    client = census.CensusClient()
    progress = None if args.json else (lambda done, total, message: print(message, file=sys.stderr))
    table = census.fetch_table(request, client=client, refresh=args.refresh, progress=progress)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        csv_out.write_csv(table, args.out)
    elif not args.json:
        sys.stdout.write(csv_out.csv_text(table))
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
