"""`python -m workbench`: the headless CLI over the same library the app uses."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backends import DEFAULT_BACKEND, available_backends
from workbench import scaling


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
    segment.add_argument("--data", help="CSV path or s3://bucket/key (default: the walkthrough's dataset)")
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

    inspect = commands.add_parser("inspect", help="show what a model.tar.gz or model_algo-1 holds, as JSON")
    inspect.add_argument("path", type=Path)
    return parser


def _segment(args) -> int:
    from workbench.pipeline import run_segmentation

    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    progress = None if args.json else (lambda message: print(message, file=sys.stderr))
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


def _inspect(args) -> int:
    from backends.artifacts import inspect_artifact

    print(json.dumps(inspect_artifact(args.path), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"segment": _segment, "inspect": _inspect}[args.command]
    try:
        return handler(args)
    except (ValueError, OSError, ImportError, RuntimeError) as exc:
        # Our errors carry a message meant for the user; a traceback would bury it.
        print(f"error: {exc}", file=sys.stderr)
        return 2
