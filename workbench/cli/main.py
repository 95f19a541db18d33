"""`python -m workbench`: the headless CLI over the same library the app uses.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backends.registry import DEFAULT_BACKEND, available_backends
from workbench.cli import census as census_cli
from workbench.core import scaling


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    segment = commands.add_parser("segment", help="run the whole pipeline: clean, scale, PCA, K-Means, labels")
    segment.add_argument("--data", help="CSV path, s3://bucket/key or census:year=…&geography=… (docs/census.md; "
                         "default: the walkthrough's dataset)")
    segment.add_argument("--backend", default=DEFAULT_BACKEND,
                         help=f"compute backend: {', '.join(available_backends())} ('local' = embedded)")
    segment.add_argument("--scaler", default="minmax", choices=sorted(scaling.SCALERS))
    segment.add_argument("--features", help="comma-separated features to use (default: every numeric column)")
    segment.add_argument("--components", type=_positive_int, default=33, help="PCA num_components (default 33)")
    segment.add_argument("--top", type=_positive_int, default=5, help="components kept for clustering (default 5)")
    segment.add_argument("--k", type=_positive_int, default=7, help="number of clusters (default 7)")
    segment.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    segment.add_argument("--workspace", type=Path, help="where runs are kept (default: WORKBENCH_WORKSPACE)")
    segment.add_argument("--out", type=Path, help="write the labeled counties to this CSV")
    segment.add_argument("--json", action="store_true", help="print the run summary as JSON")
    cloud = segment.add_argument_group("SageMaker backends (--backend sagemaker or sagemaker-local)")
    cloud.add_argument("--instance-type", help="training instance type, e.g. ml.m5.large (sagemaker)")
    cloud.add_argument("--instance-count", type=_positive_int, help="training instances per job (sagemaker)")
    cloud.add_argument("--max-runtime", type=_positive_int, help="stop a job after this many seconds (sagemaker)")
    cloud.add_argument("--volume-size", type=_positive_int, help="EBS volume per instance in GB (sagemaker)")
    cloud.add_argument("--role", help="SageMaker execution role ARN (sagemaker; default WORKBENCH_SAGEMAKER_ROLE)")
    cloud.add_argument("--bucket", help="S3 bucket for data and artifacts (sagemaker; default WORKBENCH_SAGEMAKER_BUCKET)")
    cloud.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    cloud.add_argument("--profile", help="AWS profile from ~/.aws (default: the standard credential chain)")
    cloud.add_argument("--image", help="algorithm image for sagemaker-local (default WORKBENCH_SAGEMAKER_IMAGE_URI)")

    stream = commands.add_parser("stream", help="segment a Parquet file larger than memory, reading it in chunks")
    stream.add_argument("path", type=Path, help="the Parquet file (numeric feature columns, optionally an id column)")
    stream.add_argument("--features", help="comma-separated features to use (default: every numeric column but the id)")
    stream.add_argument("--scaler", default="minmax", choices=sorted(scaling.SCALERS))
    stream.add_argument("--components", type=_positive_int, default=33, help="PCA num_components (default 33)")
    stream.add_argument("--top", type=_positive_int, default=5, help="components kept for clustering (default 5)")
    stream.add_argument("--k", type=_positive_int, default=7, help="number of clusters (default 7)")
    stream.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    stream.add_argument("--batch-rows", type=_positive_int, default=None,
                        help="rows decoded at a time: bounds the memory (default 65,536)")
    stream.add_argument("--labels-out", type=Path, help="write id, cluster and distance_to_cluster to this Parquet file")
    stream.add_argument("--out-dir", type=Path, help="write pca/model.tar.gz and kmeans/model.tar.gz here "
                                                     "(`runs import` can then record them as a run)")
    stream.add_argument("--json", action="store_true", help="print the summary as JSON")

    endpoints = commands.add_parser("endpoints", help="list or delete the live SageMaker endpoints the workbench created")
    endpoints.add_argument("action", choices=("list", "delete"))
    endpoints.add_argument("names", nargs="*", metavar="NAME", help="endpoints to delete")
    endpoints.add_argument("--all", action="store_true", help="with delete: every endpoint the workbench created")
    endpoints.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    endpoints.add_argument("--profile", help="AWS profile from ~/.aws (default: the standard credential chain)")
    endpoints.add_argument("--json", action="store_true", help="print the list as JSON")

    inspect = commands.add_parser("inspect", help="show what a model.tar.gz or model_algo-1 holds, as JSON")
    inspect.add_argument("path", type=Path)
    census_cli.add_parser(commands)
    _add_runs_parser(commands)
    return parser


def _add_runs_parser(commands) -> None:
    """`runs list|show|compare|export|import|rename|delete|in-flight|reattach` over the run registry."""
    from workbench.runs import records

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--workspace", type=Path, help="where runs are kept (default: WORKBENCH_WORKSPACE)")
    runs = commands.add_parser("runs", help="the run registry: list, show, compare, export and import runs")
    actions = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", parents=[where], help="runs, newest first")
    listing.add_argument("--backend", action="append", help="only runs on this backend (repeatable)")
    listing.add_argument("--status", action="append", choices=records.STATUSES, help="only runs with this status")
    listing.add_argument("--kind", action="append", choices=records.KINDS, help="only runs of this kind")
    listing.add_argument("--limit", type=_positive_int, help="at most this many runs")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")

    show = actions.add_parser("show", parents=[where], help="everything recorded about one run")
    show.add_argument("run", metavar="ID", help="run id, unique id prefix or run name")
    show.add_argument("--json", action="store_true", help="print the record as JSON")

    compare = actions.add_parser("compare", parents=[where], help="how far two runs agree (PCA and K-Means)")
    compare.add_argument("run_a", metavar="A")
    compare.add_argument("run_b", metavar="B")
    compare.add_argument("--top", type=_positive_int, help="compare this many leading components of each run "
                         "(default: the components each run kept)")
    compare.add_argument("--changes", type=int, default=20,
                         help="how many counties that change cluster to list (default 20; -1 for all)")
    compare.add_argument("--carry-names", action="store_true",
                         help="copy A's component and cluster names onto their matches in B")
    compare.add_argument("--overwrite-names", action="store_true",
                         help="with --carry-names: replace names B already has")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")

    export = actions.add_parser("export", parents=[where], help="a run's labeled counties, with the analyst's names")
    export.add_argument("run", metavar="ID")
    export.add_argument("--out", type=Path, help="write the CSV to this file (default: standard output)")
    export.add_argument("--json", action="store_true", help="export the run's record (settings, jobs, names "
                        "history, manifest) as JSON instead")

    imported = actions.add_parser("import", parents=[where],
                                  help="import a SageMaker model.tar.gz (PCA or K-Means) from a path or s3://")
    imported.add_argument("path", metavar="PATH", help="model.tar.gz path or s3://bucket/key")
    imported.add_argument("--kmeans", metavar="PATH", help="the K-Means model.tar.gz trained on PATH's PCA")
    imported.add_argument("--data", help="the table the models were trained on (path, s3:// or 'default'), "
                          "to record its fingerprint and label the counties")
    imported.add_argument("--features", help="comma-separated features the PCA was trained on (default: every "
                          "numeric column)")
    imported.add_argument("--scaler", default="minmax", choices=sorted(scaling.SCALERS))
    imported.add_argument("--top", type=_positive_int, help="components kept (default: the K-Means model's "
                          "feature_dim, else all)")
    imported.add_argument("--pca-run", metavar="ID", help="for a K-Means artifact: the run holding its PCA")
    imported.add_argument("--name", help="a name for the run")
    imported.add_argument("--job-name", help="the training job's name (default: read off a "
                          ".../JOB/output/model.tar.gz location)")
    imported.add_argument("--json", action="store_true", help="print the new run's record as JSON")

    rename = actions.add_parser("rename", parents=[where], help="give a run a name ('' clears it)")
    rename.add_argument("run", metavar="ID")
    rename.add_argument("name", metavar="NAME")

    delete = actions.add_parser("delete", parents=[where], help="delete a run: its folder and its record")
    delete.add_argument("run", metavar="ID")
    delete.add_argument("--yes", action="store_true", help="confirm the deletion (required)")
    delete.add_argument("--force", action="store_true", help="delete even a run still in progress")

    in_flight = actions.add_parser("in-flight", parents=[where], help="cloud jobs recorded as still running")
    in_flight.add_argument("--json", action="store_true", help="print the list as JSON")

    reattach = actions.add_parser("reattach", parents=[where], help="follow an in-flight cloud job to its end "
                                  "and save its run")
    reattach.add_argument("job", metavar="JOB", help="job id (from `runs in-flight`) or training job name")
    reattach.add_argument("--force", action="store_true", help="even when another process seems to follow it")


def _segment(args) -> int:
    from workbench.runs.segment import run_segmentation

    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    progress = None if args.json else (lambda message: print(message, file=sys.stderr))
    with _sagemaker_settings(args):
        result = run_segmentation(
            args.data, features=features, scaler=args.scaler, n_components=args.components, top=args.top,
            k=args.k, seed=args.seed, backend=args.backend, workspace=args.workspace, progress=progress,
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result.labeled().to_csv(args.out, index=False)
    summary = result.summary()
    if args.out:
        summary["labeled_csv"] = str(args.out)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        ratios = summary["explained_variance_ratio"]
        print(f"{summary['rows_clean']:,} of {summary['rows_raw']:,} rows kept; {len(summary['features'])} features")
        print(f"Top {len(ratios)} components explain {sum(ratios):.1%} of the variance")
        print(f"k={len(summary['cluster_sizes'])}: sizes {summary['cluster_sizes']}, SSE {summary['sse']:.4f}")
        print(f"Run saved in {summary['run_dir']}")
        if args.out:
            print(f"Labeled counties written to {args.out}")
    return 0


def _stream(args) -> int:
    from workbench.core import streaming

    if args.path.suffix.lower() not in (".parquet", ".pq", ".parq"):
        raise ValueError(f"{args.path} is not a Parquet file. `stream` reads Parquet; for a CSV use `segment --data`, "
                         "or convert it first (pandas: read_csv(...).to_parquet(...)).")
    if not args.path.is_file():
        raise ValueError(f"{args.path} does not exist. Give the path of a Parquet file.")
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    options = {"batch_rows": args.batch_rows} if args.batch_rows else {}
    result = streaming.segment_parquet(
        args.path, features=features, scaler=args.scaler, n_components=args.components, top=args.top, k=args.k,
        seed=args.seed, labels_out=args.labels_out, output_dir=args.out_dir,
        progress=None if args.json else (lambda message: print(message, file=sys.stderr)), **options,
    )
    summary = result.summary()
    summary["artifacts"] = {name: str(path) for name, path in result.artifacts.items()}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    ratios = summary["explained_variance_ratio"]
    print(f"{summary['rows_used']:,} of {summary['rows_read']:,} rows used; {len(summary['features'])} features; "
          f"{summary['passes']} passes over the file")
    print(f"Top {len(ratios)} components explain {sum(ratios):.1%} of the variance")
    print(f"k={len(summary['cluster_sizes'])}: sizes {summary['cluster_sizes']}, SSE {summary['sse']:.4f}")
    if summary["labels"]:
        print(f"Labels written to {summary['labels']}")
    for name, path in summary["artifacts"].items():
        print(f"{name} model written to {path}")
    return 0


SAGEMAKER_FLAGS = {  # CLI option → SageMaker setting (backends/sagemaker_common.py)
    "instance_type": "instance_type", "instance_count": "instance_count", "max_runtime": "max_runtime_seconds",
    "volume_size": "volume_size_gb", "role": "role", "bucket": "bucket", "region": "region",
    "profile": "profile", "image": "image_uri",
}


def _sagemaker_settings(args):
    """The SageMaker flags as settings for the backends this run creates (never stored or logged)."""
    import contextlib

    given = {setting: getattr(args, flag) for flag, setting in SAGEMAKER_FLAGS.items() if getattr(args, flag) is not None}
    if args.backend not in ("sagemaker", "sagemaker-local"):
        if given:
            flags = ", ".join("--" + flag.replace("_", "-") for flag, setting in SAGEMAKER_FLAGS.items() if setting in given)
            raise ValueError(f"{flags} only apply to --backend sagemaker or sagemaker-local.")
        return contextlib.nullcontext()
    from backends.sagemaker_settings import backend_settings

    return backend_settings(**given)


def _endpoints(args) -> int:
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
        else:
            for e in found:
                cost = f"~${e.hourly_cost_usd:.3f}/h" if e.hourly_cost_usd is not None else "cost unknown"
                print(f"{e.name}\t{e.status}\t{e.instance_count or '?'} × {e.instance_type or '?'}\t{cost}\tsince {e.created}")
        return 0
    if bool(args.names) == bool(args.all):
        raise ValueError("`endpoints delete` needs endpoint names or --all (not both).")
    names = [e.name for e in sagemaker_endpoints.list_workbench_endpoints(settings)] if args.all else args.names
    for name in names:
        deleted = sagemaker_endpoints.delete_workbench_endpoint(name, settings)
        print(f"Deleted {', '.join(deleted)}")
    if not names:
        print("No live endpoints created by the workbench.")
    return 0


def _inspect(args) -> int:
    from backends.format.models import inspect_artifact

    print(json.dumps(inspect_artifact(args.path), indent=2))
    return 0


def _runs(args) -> int:
    """The run registry's actions (text output by _run_text and _comparison_text below)."""
    from workbench.runs import store

    reg = store.Registry(workspace=args.workspace)
    action = args.runs_command
    if action == "list":
        reg.reconcile()  # settle what a stopped process left behind before listing
        table = reg.list_runs(backend=args.backend, status=args.status, kind=args.kind, limit=args.limit)
        if args.json:
            print(table.to_json(orient="records", indent=2))
        elif table.empty:
            print(f"No runs recorded in {reg.path}.")
        else:
            shown = table[["run_id", "name", "kind", "status", "backend", "created_at", "k", "top", "cost_usd"]].copy()
            shown["created_at"] = shown["created_at"].str.slice(0, 19).str.replace("T", " ")
            print(shown.astype(object).where(shown.notna(), "").to_string(index=False))
        return 0
    if action == "show":
        run = reg.get(args.run)
        if args.json:
            print(json.dumps(run.to_dict(), indent=2, default=str))
        else:
            print(_run_text(run))
        return 0
    if action == "compare":
        from workbench.runs import compare

        result = compare.compare_runs(args.run_a, args.run_b, registry=reg, top=args.top)
        changes = None if args.changes < 0 else args.changes
        if args.carry_names:
            updated = compare.carry_names(result, registry=reg, overwrite=args.overwrite_names)
            result.run_b = updated
        if args.json:
            print(json.dumps(result.summary(changes=changes), indent=2, default=str))
        else:
            print(_comparison_text(result, changes))
        return 0
    if action == "export":
        run = reg.get(args.run)
        if args.json:
            record = run.to_dict()
            record["names_history"] = json.loads(reg.names_history(run.run_id).to_json(orient="records"))
            record["manifest"] = run.manifest() if run.run_dir is not None else None
            text = json.dumps(record, indent=2, default=str)
        else:
            text = run.labeled().to_csv(index=False)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text if text.endswith("\n") else text + "\n")
            print(f"Run {run.run_id} exported to {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    if action == "import":
        from workbench.runs import importer

        features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
        run = importer.import_model(args.path, kmeans=args.kmeans, data=args.data, features=features,
                                    scaler=args.scaler, top=args.top, pca_run=args.pca_run, name=args.name or "",
                                    job_name=args.job_name, registry=reg)
        if args.json:
            print(json.dumps(run.to_dict(), indent=2, default=str))
        else:
            labels = f", {run.n_counties:,} counties labeled" if run.has_labels else ""
            print(f"Imported {run.kind} run {run.run_id}{labels}; saved in {run.run_dir}")
        return 0
    if action == "rename":
        run = reg.rename(args.run, args.name)
        print(f"Run {run.run_id} is now called {run.name!r}" if run.name else f"Run {run.run_id} has no name")
        return 0
    if action == "delete":
        run = reg.get(args.run)
        if not args.yes:
            raise ValueError(f"Deleting run {run.run_id} ({run.display_name}) removes its folder {run.run_dir}; "
                             "add --yes to confirm.")
        reg.delete(run.run_id, force=args.force)
        print(f"Deleted run {run.run_id}")
        return 0
    if action == "in-flight":
        reg.reconcile()
        table = reg.in_flight_jobs()
        if args.json:
            print(table.to_json(orient="records", indent=2))
        elif table.empty:
            print("No cloud jobs in flight.")
        else:
            print(table[["job_id", "run_id", "algorithm", "backend", "job_name", "submitted_at", "orphaned"]]
                  .to_string(index=False))
        return 0
    if action == "reattach":
        run = reg.reattach(args.job, progress=lambda message: print(message, file=sys.stderr), force=args.force)
        print(f"Run {run.run_id} is {run.status}; saved in {run.run_dir}")
        return 0
    raise ValueError(f"Unknown runs action {action!r}.")


def _run_text(run) -> str:
    lines = [f"{run.run_id}  {run.name or '(no name)'}",
             f"  {run.kind} run, {run.status}, backend {run.backend}, origin {run.origin}",
             f"  created {run.created_at}" + (f", finished {run.finished_at}" if run.finished_at else "")]
    if run.error:
        lines.append(f"  error: {run.error}")
    lines.append(f"  data: {run.source or 'unknown'} (fingerprint {run.data_fingerprint or 'unknown'})")
    if run.features:
        lines.append(f"  features ({len(run.features)}): {', '.join(run.features)}")
    lines.append(f"  scaler {run.scaler_recipe or 'unknown'}; components {run.n_components}, kept {run.top}; "
                 f"k {run.k}; seed {run.seed}")
    if run.cost_usd is not None or run.seconds is not None:
        lines.append(f"  {run.seconds or 0:.2f} s" + (f", estimated cost ${run.cost_usd:.4f}" if run.cost_usd is not None else ""))
    for job in run.jobs.values():
        lines.append(f"  {job.algorithm}: {job.status}, job {job.job_name or '—'}"
                     + (f" ({job.job_arn})" if job.job_arn else "")
                     + f", hyperparameters {json.dumps(job.hyperparameters, sort_keys=True)}")
        if job.artifact_source:
            lines.append(f"    imported from {job.artifact_source}")
    if any(run.component_names):
        lines.append("  components: " + ", ".join(f"pc{i + 1}={n}" for i, n in enumerate(run.component_names) if n))
    if any(run.cluster_names):
        lines.append("  clusters: " + ", ".join(f"{i}={n}" for i, n in enumerate(run.cluster_names) if n))
    lines.append(f"  folder: {run.run_dir or '—'}")
    return "\n".join(lines)


def _comparison_text(result, changes: int | None) -> str:
    a, b = result.run_a, result.run_b
    lines = [f"A: {a.run_id} ({a.display_name}, {a.backend})", f"B: {b.run_id} ({b.display_name}, {b.backend})"]
    lines += [f"note: {note}" for note in result.notes]
    if result.pca is not None:
        angles = ", ".join(f"{x:.2f}" for x in result.pca.angles_deg)
        lines += ["", f"PCA ({result.pca.n_a} vs {result.pca.n_b} components): principal angles (degrees) {angles}",
                  result.pca.matches.to_string(index=False)]
    if result.kmeans is not None:
        km = result.kmeans
        lines += ["", f"K-Means: ARI {km.ari:.4f}, NMI {km.nmi:.4f}; {km.agreement:.1%} of {km.n_counties:,} "
                      "counties stay in the matched cluster", km.matches.to_string(index=False), "",
                  km.contingency_named().to_string()]
        listed = km.changes if changes is None else km.changes.head(changes)
        lines += ["", f"{len(km.changes):,} counties change cluster" + (":" if len(listed) else ".")]
        if len(listed):
            lines.append(listed.to_string())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"segment": _segment, "stream": _stream, "inspect": _inspect, "endpoints": _endpoints, "runs": _runs,
               "census": census_cli.run}[args.command]
    try:
        return handler(args)
    except (ValueError, OSError, ImportError, RuntimeError) as exc:
        # Our errors carry a message meant for the user; a traceback would bury it.
        print(f"error: {exc}", file=sys.stderr)
        return 2
