"""The CLI's arguments: every command and option, with its help (docs/cli.md documents each).

Building the parser imports nothing heavy (no pandas, scikit-learn or scipy), so `--help`
answers at once; the commands import what they need when they run.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from backends.registry import DEFAULT_BACKEND, available_backends
from workbench.core import conventions
from workbench.runs.records import KINDS, STATUSES

MAX_SEED = 2**31 - 1  # the largest seed SageMaker's algorithms (and every backend) accept


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def seed(text: str) -> int:
    """A whole number; its range (0 to MAX_SEED) is checked where the run starts
    (backends.format.hyperparameters.validate_seed), so the message is one line."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None


def _add_model_options(command: argparse.ArgumentParser, *, adapt_components: bool = False) -> None:
    """--features, --scaler, --components, --top, --k and --seed, shared by segment and stream.
    adapt_components: --components defaults to None, so the command can fit the default to the
    file's features while still refusing a typed value that is too large."""
    command.add_argument("--scaler", default=conventions.DEFAULT_SCALER, choices=conventions.SCALER_NAMES)
    if adapt_components:
        command.add_argument("--components", type=positive_int, default=None,
                             help=f"PCA num_components (default {conventions.WALKTHROUGH_COMPONENTS}, or every "
                                  "component of a file with fewer features)")
    else:
        command.add_argument("--components", type=positive_int, default=conventions.WALKTHROUGH_COMPONENTS,
                             help=f"PCA num_components (default {conventions.WALKTHROUGH_COMPONENTS})")
    command.add_argument("--top", type=positive_int, default=conventions.WALKTHROUGH_TOP,
                         help=f"components kept for clustering (default {conventions.WALKTHROUGH_TOP})")
    command.add_argument("--k", type=positive_int, default=conventions.WALKTHROUGH_K,
                         help=f"number of clusters (default {conventions.WALKTHROUGH_K})")
    command.add_argument("--seed", type=seed, default=conventions.DEFAULT_SEED,
                         help=f"random seed, 0 to {MAX_SEED:,} (default {conventions.DEFAULT_SEED})")


def _add_segment(commands) -> None:
    segment = commands.add_parser("segment", help="run the whole pipeline: clean, scale, PCA, K-Means, labels")
    segment.add_argument("--data", help="CSV path, s3://bucket/key or a census:… request (default: the walkthrough's "
                         "dataset)")
    segment.add_argument("--backend", default=DEFAULT_BACKEND,
                         help=f"compute backend: {', '.join(available_backends())} ('local' = embedded)")
    segment.add_argument("--features", help="comma-separated features to use (default: every numeric column)")
    segment.add_argument("--rates", metavar="TOTAL:A,B,…", help="make the counts A, B, … rates of TOTAL (e.g. "
                         "TotalPop:Men,Women,Citizen,Employed); the total is dropped unless --keep-total")
    segment.add_argument("--keep-total", action="store_true", help="with --rates: keep the total as a feature")
    segment.add_argument("--transform", action="append", metavar="FEATURE=log1p|asinh",
                         help="re-express a skewed feature before scaling (repeatable)")
    _add_model_options(segment)
    segment.add_argument("--workspace", type=Path, help="where runs are kept (default: WORKBENCH_WORKSPACE)")
    segment.add_argument("--out", type=Path, help="write the labeled counties to this CSV")
    segment.add_argument("--json", action="store_true", help="print the run summary as JSON")
    cloud = segment.add_argument_group("SageMaker backends (--backend sagemaker or sagemaker-local)")
    cloud.add_argument("--instance-type", help="training instance type, e.g. ml.m5.large (sagemaker)")
    cloud.add_argument("--instance-count", type=positive_int, help="training instances per job (sagemaker)")
    cloud.add_argument("--max-runtime", type=positive_int, help="stop a job after this many seconds (sagemaker)")
    cloud.add_argument("--volume-size", type=positive_int, help="EBS volume per instance in GB (sagemaker)")
    cloud.add_argument("--role", help="SageMaker execution role ARN (sagemaker; default WORKBENCH_SAGEMAKER_ROLE)")
    cloud.add_argument("--bucket", help="S3 bucket for data and artifacts (sagemaker; default WORKBENCH_SAGEMAKER_BUCKET)")
    cloud.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    cloud.add_argument("--profile", help="AWS profile from ~/.aws (default: the standard credential chain)")
    cloud.add_argument("--image", help="algorithm image for sagemaker-local (default WORKBENCH_SAGEMAKER_IMAGE_URI)")


def _add_stream(commands) -> None:
    stream = commands.add_parser("stream", help="segment a Parquet file larger than memory, reading it in chunks")
    stream.add_argument("path", type=Path, help="the Parquet file (numeric feature columns, optionally an id column), "
                                                "or a Census Data API request ('census:year=2022&geography=tract&…')")
    stream.add_argument("--features", help="comma-separated features to use (default: every numeric column but the id)")
    _add_model_options(stream, adapt_components=True)
    stream.add_argument("--batch-rows", type=positive_int, default=None,
                        help="rows decoded at a time: bounds the memory (default 65,536)")
    stream.add_argument("--labels-out", type=Path, help="write id, cluster and distance_to_cluster to this Parquet file")
    stream.add_argument("--out-dir", type=Path, help="write pca/model.tar.gz and kmeans/model.tar.gz here "
                                                     "(`runs import` can then record them as a run)")
    stream.add_argument("--json", action="store_true", help="print the summary as JSON")


def _add_endpoints(commands) -> None:
    endpoints = commands.add_parser("endpoints", help="list or delete the live SageMaker endpoints the workbench created")
    endpoints.add_argument("action", choices=("list", "delete"))
    endpoints.add_argument("names", nargs="*", metavar="NAME", help="endpoints to delete")
    endpoints.add_argument("--all", action="store_true", help="with delete: every endpoint the workbench created")
    endpoints.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    endpoints.add_argument("--profile", help="AWS profile from ~/.aws (default: the standard credential chain)")
    endpoints.add_argument("--json", action="store_true", help="print the list as JSON")


def _add_runs(commands) -> None:
    """`runs list|show|compare|export|import|rename|delete|in-flight|reattach` over the run registry."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--workspace", type=Path, help="where runs are kept (default: WORKBENCH_WORKSPACE)")
    runs = commands.add_parser("runs", help="the run registry: list, show, compare, export and import runs")
    actions = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", parents=[where], help="runs, newest first")
    listing.add_argument("--backend", action="append", help="only runs on this backend (repeatable)")
    listing.add_argument("--status", action="append", choices=STATUSES, help="only runs with this status")
    listing.add_argument("--kind", action="append", choices=KINDS, help="only runs of this kind")
    listing.add_argument("--limit", type=positive_int, help="at most this many runs")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")

    show = actions.add_parser("show", parents=[where], help="everything recorded about one run")
    show.add_argument("run", metavar="ID", help="run id, unique id prefix or run name")
    show.add_argument("--json", action="store_true", help="print the record as JSON")

    compare = actions.add_parser("compare", parents=[where], help="how far two runs agree (PCA and K-Means)")
    compare.add_argument("run_a", metavar="A")
    compare.add_argument("run_b", metavar="B")
    compare.add_argument("--top", type=positive_int, help="compare this many leading components of each run "
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
    imported.add_argument("--scaler", choices=conventions.SCALER_NAMES,
                          help=f"the scaler the PCA was trained with (default {conventions.DEFAULT_SCALER}; with "
                          "--pca-run: that run's fitted scaler)")
    imported.add_argument("--top", type=positive_int, help="components kept (default: the K-Means model's "
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


def _add_census(commands) -> None:
    """`census`: ACS 5-year estimates from the Census Data API to a CSV (workbench/cli/census_commands.py)."""
    census = commands.add_parser("census", help="fetch ACS 5-year estimates from the Census Data API to a CSV")
    census.add_argument("--year", required=True, help="ACS 5-year release, e.g. 2022 (2009 on)")
    census.add_argument("--geography", required=True, choices=("county", "tract", "block-group"))
    census.add_argument("--state", help="FIPS (27) or USPS (MN) code; tracts and block groups without one: every state")
    census.add_argument("--county", help="3-digit county FIPS within --state (053), or the 5-digit code")
    what = census.add_mutually_exclusive_group(required=True)
    # Checked by census.CensusRequest.create, which names the presets: listing them here would
    # import their numerical code into --help.
    what.add_argument("--preset", help="a feature preset: recommended (rates and shares) or walkthrough "
                                       "(the 2015 table's 34 features); docs/census.md")
    what.add_argument("--variables", help="comma-separated estimates, e.g. B19013_001E,DP03_0062E (margins come along)")
    census.add_argument("--out", type=Path, help="write the table to this CSV (default: standard output)")
    census.add_argument("--json", action="store_true", help="print a summary of the fetch as JSON")
    census.add_argument("--refresh", action="store_true", help="fetch again instead of reading the cache")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench",
                                     description="The County Segmentation Workbench's headless CLI.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_segment(commands)
    _add_stream(commands)
    _add_endpoints(commands)
    inspect = commands.add_parser("inspect", help="show what a model.tar.gz or model_algo-1 holds, as JSON")
    inspect.add_argument("path", type=Path)
    _add_runs(commands)
    _add_census(commands)
    return parser
