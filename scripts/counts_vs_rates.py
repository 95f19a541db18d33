"""How the components and clusters of the census change when counts become rates.

    .venv/bin/python -m scripts.counts_vs_rates [CSV] [--json]

CSV defaults to the census table the benchmarks use: WORKBENCH_DEFAULT_DATA, else
../shared/data/acs2015_county_data.csv beside the repository (benchmarks.harness.census_path).

Runs the walkthrough's segmentation (embedded backend, min-max, top 5 components, k = 7,
seed 0) on the 2015 county table twice: with its features as they are, and with the counts
(Men, Women, Citizen, Employed) as rates of TotalPop, TotalPop left out (the recommended
preset's recipe). The same pair is run without the *Err margins (the recommended preset's
features). Prints, per run: the top 5 components' explained variance, their suggested names,
the cluster sizes, each component's squared weight on the five size columns (counts or
their rates; the weights of a component square-sum to 1); and the adjusted Rand index between the two clusterings of each pair (on
the counties both keep).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from sklearn.metrics import adjusted_rand_score

from benchmarks.harness import census_path
from workbench.analysis import margins, naming
from workbench.core import pipeline, recipes, sources

SIZE_COLUMNS = ("TotalPop", "Men", "Women", "Citizen", "Employed")  # the counts, or their rates


def segment(raw, features, recipe, workdir: Path, name: str) -> dict:
    prepared = pipeline.prepare_table(raw, features=features, recipe=recipe)
    d = len(prepared.features)
    pca = pipeline.train_pca(prepared.X, min(33, d - 1), output_dir=workdir / name / "pca")
    scores = pipeline.project(pca, prepared.X, 5)
    kmeans = pipeline.train_kmeans(scores, 7, output_dir=workdir / name / "kmeans")
    v = pca.model.top(5).v
    names = naming.suggest_component_names(v, prepared.features)
    size = [i for i, f in enumerate(prepared.features) if f.split(" per ")[0] in SIZE_COLUMNS]
    return {"size_weight_top5": [round(float((v[size, j] ** 2).sum()), 4) for j in range(5)],"features": d, "explained_variance_top5": [round(float(r), 4) for r in pca.explained_variance_ratio[:5]],
            "explained_top5_total": round(float(pca.explained_variance_ratio[:5].sum()), 4),
            "component_names": names, "cluster_sizes": sorted(kmeans.cluster_sizes, reverse=True),
            "labels": dict(zip(prepared.index, kmeans.labels.tolist()))}


def compare(a: dict, b: dict) -> float:
    common = sorted(set(a["labels"]) & set(b["labels"]))
    return round(float(adjusted_rand_score([a["labels"][c] for c in common], [b["labels"][c] for c in common])), 4)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.counts_vs_rates", description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path,
                        help="the 2015 county table (default: WORKBENCH_DEFAULT_DATA, else ../shared/data's copy)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of text")
    args = parser.parse_args(argv)
    if args.csv is None:
        try:
            args.csv = census_path()
        except FileNotFoundError as exc:
            parser.error(str(exc))
    try:  # a table that is not the 2015 county table is refused with the library's message
        raw = sources.read_csv_path(args.csv)
        columns = [c for c in raw.columns[3:]]
        rates = recipes.FeatureRecipe(rates=recipes.recommended_rates(columns))
        without_margins = margins.feature_preset("recommended", columns)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            runs = {"walkthrough, counts": segment(raw, None, None, work, "a"),
                    "walkthrough, rates": segment(raw, None, rates, work, "b"),
                    "no margins, counts": segment(raw, without_margins, None, work, "c"),
                    "no margins, rates (recommended)": segment(raw, without_margins, rates, work, "d")}
    except ValueError as exc:  # DataError, ScalingError and the pipeline's checks are ValueErrors
        parser.error(str(exc))
    keys = list(runs)
    ari = {"walkthrough: counts vs rates": compare(runs[keys[0]], runs[keys[1]]),
           "no margins: counts vs rates": compare(runs[keys[2]], runs[keys[3]])}
    for run in runs.values():
        run.pop("labels")
    if args.json:
        print(json.dumps({"runs": runs, "ari": ari}, indent=2))
        return 0
    for title, run in runs.items():
        print(f"{title} ({run['features']} features): top 5 explain {run['explained_top5_total']:.1%} "
              f"({', '.join(f'{r:.3f}' for r in run['explained_variance_top5'])})")
        print(f"  components: {' | '.join(run['component_names'])}")
        print(f"  cluster sizes: {run['cluster_sizes']}")
        print(f"  squared weight on the size columns (or their rates), per component: {run['size_weight_top5']}")
    for title, value in ari.items():
        print(f"ARI {title}: {value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
