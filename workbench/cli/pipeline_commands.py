"""`segment` and `stream`: the whole pipeline on a table, or on a Parquet file beyond memory."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from backends import registry as backends_registry

SAGEMAKER_FLAGS = {  # CLI option → SageMaker setting (backends/sagemaker_settings.py)
    "instance_type": "instance_type", "instance_count": "instance_count", "max_runtime": "max_runtime_seconds",
    "volume_size": "volume_size_gb", "role": "role", "bucket": "bucket", "region": "region",
    "profile": "profile", "image": "image_uri",
}


def feature_list(text: str | None) -> list[str] | None:
    return [f.strip() for f in text.split(",") if f.strip()] if text else None


def backend_settings(args) -> dict[str, Any]:
    """The SageMaker flags as the backend's settings (given when it is made; never stored or logged)."""
    given = {setting: getattr(args, flag) for flag, setting in SAGEMAKER_FLAGS.items()
             if getattr(args, flag) is not None}
    fields = {field["name"] for field in backends_registry.settings_fields(args.backend)}
    refused = [flag for flag, setting in SAGEMAKER_FLAGS.items() if setting in given and setting not in fields]
    if refused:
        flags = ", ".join("--" + flag.replace("_", "-") for flag in refused)
        users = [name for name in backends_registry.available_backends()
                 if any(setting in {f["name"] for f in backends_registry.settings_fields(name)}
                        for setting in (SAGEMAKER_FLAGS[flag] for flag in refused))]
        raise ValueError(f"{flags} only apply to --backend {' or '.join(users) or 'a SageMaker backend'}.")
    return given


def feature_recipe(args):
    """The --rates / --keep-total / --transform flags as a feature recipe (None without them)."""
    if not (args.rates or args.transform):
        if args.keep_total:
            raise ValueError("--keep-total goes with --rates TOTAL:A,B,….")
        return None
    from workbench.core.recipes import FeatureRecipe, Rates

    rates = None
    if args.rates:
        total, _, counts = args.rates.partition(":")
        if not total.strip() or not feature_list(counts):
            raise ValueError(f"--rates takes TOTAL:A,B,… (e.g. TotalPop:Men,Women), not {args.rates!r}.")
        rates = Rates(total.strip(), tuple(feature_list(counts)), keep_total=args.keep_total)
    transforms = {}
    for item in args.transform or []:
        feature, _, how = item.partition("=")
        if not feature.strip() or not how.strip():
            raise ValueError(f"--transform takes FEATURE=log1p or FEATURE=asinh, not {item!r}.")
        transforms[feature.strip()] = how.strip()
    return FeatureRecipe(rates=rates, transforms=transforms, scaler=args.scaler)


def progress_printer(args):
    return None if args.json else (lambda message: print(message, file=sys.stderr))


def _check_out(path, option: str = "--out") -> None:
    """An output file option must name a file whose folder exists or can be made: checked (and
    made) before the run, not after it."""
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name, such as {path / 'labeled.csv'}.")
    _make_folder(path.parent, f"{option} {path}: its folder")


def _make_folder(folder, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{what} {folder} cannot be made ({exc.strerror or exc}). "
                         "Give a path in a folder you can write to.") from None


def segment(args) -> int:
    from workbench.runs.segment import run_segmentation

    backends_registry.canonical_name(args.backend)  # an unknown backend is refused before any work
    settings = backend_settings(args)
    recipe = feature_recipe(args)
    if args.out is not None:  # refused before the run, not after it is saved
        _check_out(args.out)
    result = run_segmentation(
        args.data, features=feature_list(args.features), scaler=None if recipe else args.scaler, recipe=recipe,
        n_components=args.components,
        top=args.top, k=args.k, seed=args.seed, backend=args.backend, backend_settings=settings,
        workspace=args.workspace, progress=progress_printer(args),
    )
    if args.out:
        from workbench.core import csv_out

        csv_out.write_csv(result.labeled(), args.out)
    summary = result.summary()
    if args.out:
        summary["labeled_csv"] = str(args.out)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    ratios = summary["explained_variance_ratio"]
    print(f"{summary['rows_clean']:,} of {summary['rows_raw']:,} rows kept; {len(summary['features'])} features")
    print(f"Top {len(ratios)} components explain {sum(ratios):.1%} of the variance")
    print(f"k={len(summary['cluster_sizes'])}: sizes {summary['cluster_sizes']}, SSE {summary['sse']:.4f}")
    print(f"Run saved in {summary['run_dir']}")
    if args.out:
        print(f"Labeled counties written to {args.out}")
    return 0


def stream(args) -> int:
    import tempfile

    from workbench.core import sources

    if sources.is_census(str(args.path)):  # a Census Data API request: fetched, then streamed from Parquet
        from workbench.core import census

        request = str(args.path)
        with tempfile.TemporaryDirectory(prefix="workbench-census-") as folder:
            table = census.fetch_table(census.parse_uri(request), progress=None if args.json else (
                lambda done, total, message: print(message, file=sys.stderr)))
            args.path = Path(folder) / "census.parquet"
            table.to_parquet(args.path, index=False)
            try:  # the summary, progress and errors name the request, not the temporary file
                return _stream_parquet(args, shown_as=request)
            except ValueError as exc:
                raise ValueError(str(exc).replace(str(args.path), request)) from None
    return _stream_parquet(args)


def _stream_parquet(args, shown_as: str | None = None) -> int:
    from workbench.core import streaming

    if args.path.suffix.lower() not in (".parquet", ".pq", ".parq"):
        raise ValueError(f"{args.path} is not a Parquet file. `stream` reads Parquet; for a CSV use `segment --data`, "
                         "or convert it first (pandas: read_csv(...).to_parquet(...)).")
    if not args.path.is_file():
        raise ValueError(f"{args.path} does not exist. Give the path of a Parquet file.")
    if args.labels_out is not None:  # output paths refused before the passes over the file, not after
        _check_out(args.labels_out, "--labels-out")
    if args.out_dir is not None:
        _make_folder(args.out_dir, "--out-dir")
    options = {"batch_rows": args.batch_rows} if args.batch_rows else {}
    progress = progress_printer(args)
    if progress is not None and shown_as is not None:
        progress = (lambda say: lambda message: say(message.replace(str(args.path), shown_as)))(progress)
    result = streaming.segment_parquet(
        args.path, features=feature_list(args.features), scaler=args.scaler, n_components=args.components,
        top=args.top, k=args.k, seed=args.seed, labels_out=args.labels_out, output_dir=args.out_dir,
        progress=progress, **options,
    )
    summary = result.summary()
    if shown_as is not None:
        summary["source"] = shown_as
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
