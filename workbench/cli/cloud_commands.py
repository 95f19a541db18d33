"""`inspect` and `endpoints`: what an artifact holds, and the workbench's live SageMaker endpoints."""
from __future__ import annotations

import json


def inspect(args) -> int:
    from backends.format.models import inspect_artifact

    print(json.dumps(inspect_artifact(args.path), indent=2))
    return 0


def endpoints(args) -> int:
    from backends import sagemaker_endpoints, sagemaker_settings

    settings = sagemaker_settings.resolve_settings({"region": args.region, "profile": args.profile})
    if args.action == "list":
        if args.names or args.all:
            raise ValueError("`endpoints list` takes no names or --all; use `endpoints delete`.")
        found = sagemaker_endpoints.list_workbench_endpoints(settings)
        if args.json:
            print(json.dumps([e.to_dict() for e in found], indent=2))
        elif not found:
            print("No live endpoints created by the workbench.")
        for e in [] if args.json else found:
            cost = f"~${e.hourly_cost_usd:.3f}/h" if e.hourly_cost_usd is not None else "cost unknown"
            print(f"{e.name}\t{e.status}\t{e.instance_count or '?'} × {e.instance_type or '?'}\t{cost}\tsince {e.created}")
        return 0
    if bool(args.names) == bool(args.all):
        raise ValueError("`endpoints delete` needs endpoint names or --all (not both).")
    names = [e.name for e in sagemaker_endpoints.list_workbench_endpoints(settings)] if args.all else args.names
    for name in names:
        print(f"Deleted {', '.join(sagemaker_endpoints.delete_workbench_endpoint(name, settings))}")
    if not names:
        print("No live endpoints created by the workbench.")
    return 0
