"""Applying a recorded run to a table: its models on the data, scaled as the run scaled it.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.runs.records import RunRecord


def _labels_from_source(run: RunRecord, folder: Path) -> pd.DataFrame | None:
    """The labeled counties of a recovered segmentation, when its data can be loaded again and is
    unchanged (same fingerprint); None otherwise (the run is still usable, without labels)."""
    if run.kind != "segmentation" or not run.source_ref or not run.scaler or not run.features or not run.top:
        return None
    paths = {alg: folder / job.artifact for alg, job in run.jobs.items() if job.artifact}
    if not all(alg in paths and paths[alg].is_file() for alg in ("pca", "kmeans")):
        return None
    from backends.format import models
    from workbench.core import cleaning, pipeline, scaling, schema, sources

    try:
        raw = sources.load_table(None if run.source_ref == "default" else run.source_ref)
        clean = cleaning.clean_table(raw, schema.detect_schema(raw), features=run.features)
        if cleaning.fingerprint(clean.feature_frame) != run.data_fingerprint:
            return None
        fitted = scaling.FittedScaler.from_dict(run.scaler)
        X = fitted.transform(clean.feature_frame)
        prepared = pipeline.PreparedData(run.source or "", clean, fitted, X, run.data_fingerprint)
        pca = models.load_pca(paths["pca"])
        kmeans = models.load_kmeans(paths["kmeans"])
        scores = pca.top(run.top).transform(X)
        labels, distances = kmeans.assign(scores)
        return pipeline.labeled_table(prepared, scores, pipeline.KMeansStage(None, kmeans, labels, distances))
    except (ValueError, OSError):  # the data moved or changed: keep the run, without labels
        return None
