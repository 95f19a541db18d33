"""Segmentation of a Parquet file too big for memory: scale → PCA → K-Means, a chunk at a time.

    result = segment_parquet("tracts.parquet", k=7, top=5, labels_out="labels.parquet")

The file is read with pyarrow in record batches of `batch_rows` rows (one row group at a
time), so memory stays bounded by a few chunks whatever the file's size. The passes:

1. **Statistics.** Each chunk's rows (those with a missing or non-finite feature are dropped
   and counted) update the per-feature min/max and a float64 scatter matrix of the raw
   features (`backends.algorithms.ScatterAccumulator`). Scaling is affine per feature,
   x' = a·x + b, so the scaled data's mean and scatter matrix follow exactly
   (a·mean + b and diag(a) C diag(a)): the scaler and the regular-mode PCA come from this
   one pass.
2. **K-Means stream.** Each chunk is scaled, projected on the top components and fed to
   `StreamingKMeans` (SageMaker's mini-batch stage; rows shuffled within a chunk, row groups
   visited in a random order), which keeps a uniform sample for the local search. Repeated
   for `epochs` > 1.
3. **Polish.** At most `REFINE_FULL_PASSES` + 1 Lloyd's passes over the file
   (`backends.algorithms.polish`); beyond `REFINE_SAMPLE_ROWS` rows the in-memory
   `fit_kmeans` converges Lloyd's on a larger sample and then runs compiled Lloyd's passes on
   the array instead, which a file cannot feed.
4. **Labels** (optional): one more pass writes id (when the file has one), cluster and
   distance to `labels_out` as Parquet, chunk by chunk.

The models are the same typed models the backends return (`PCAModel`, `KMeansModel`), and
`output_dir` gets SageMaker-format model.tar.gz artifacts, so everything downstream reads them
as it reads an in-memory run's. Rows are not de-duplicated by id (the in-memory cleaning
does that); only rows with missing or non-finite features are dropped.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from backends.algorithms import kmeans as kmeans_mod
from backends.algorithms import kmeans_steps, refine
from backends.algorithms import pca as pca_mod
from backends.format import models
from backends.format.hyperparameters import (
    check_kmeans_against_data,
    check_pca_against_data,
    validate_kmeans,
    validate_pca,
    validate_seed,
)
from workbench.core import conventions, scaling
from workbench.core import schema as schema_mod

DEFAULT_BATCH_ROWS = 65_536


class StreamingError(ValueError):
    """The file cannot be segmented as asked; the message says why."""


@dataclass
class StreamingResult:
    path: Path
    features: list[str]
    id_column: str | None
    rows_read: int
    rows_used: int
    rows_dropped: int
    scaler: scaling.FittedScaler
    pca: models.PCAModel  # every trained component, largest first
    total_variance: float
    top: int
    kmeans: models.KMeansModel
    sse: float
    cluster_sizes: list[int]
    passes: int
    timings: dict[str, float] = field(default_factory=dict)
    labels_path: Path | None = None
    artifacts: dict[str, Path] = field(default_factory=dict)

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Exact shares of the scaled data's total variance."""
        return (self.pca.s.astype(np.float64) ** 2) / self.total_variance

    def summary(self) -> dict[str, Any]:
        return {
            "source": str(self.path),
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_dropped": self.rows_dropped,
            "features": self.features,
            "scaler": self.scaler.recipe,
            "explained_variance_ratio": [float(r) for r in self.explained_variance_ratio[: self.top]],
            "sse": self.sse,
            "cluster_sizes": self.cluster_sizes,
            "passes": self.passes,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "labels": str(self.labels_path) if self.labels_path else None,
        }


class ParquetChunks:
    """Numeric feature chunks of a Parquet file: float64 (rows, features), non-finite rows dropped.

    Iterating reads the file once more; `shuffled(rng)` visits the row groups in a random order.
    Memory: one row group decoded by pyarrow plus one batch of `batch_rows` rows.
    """

    def __init__(self, path: str | Path, features: Sequence[str], *, id_column: str | None = None,
                 batch_rows: int = DEFAULT_BATCH_ROWS):
        self.path = Path(path)
        self.features = list(features)
        self.id_column = id_column
        self.batch_rows = int(batch_rows)
        self.file = pq.ParquetFile(self.path, pre_buffer=False)  # pre-buffering keeps the whole file in memory

    @property
    def num_row_groups(self) -> int:
        return self.file.num_row_groups

    def batches(self, row_groups: Sequence[int] | None = None, *, with_ids: bool = False) -> Iterator[tuple]:
        """(features float64, kept-row mask, ids or None) per record batch, in row-group order."""
        columns = self.features + ([self.id_column] if with_ids and self.id_column else [])
        groups = list(range(self.num_row_groups)) if row_groups is None else list(row_groups)
        if not groups:
            return
        for batch in self.file.iter_batches(batch_size=self.batch_rows, row_groups=groups, columns=columns,
                                            use_threads=True):
            X = np.empty((batch.num_rows, len(self.features)))
            for j, name in enumerate(self.features):
                column = batch.column(name)
                if pa.types.is_boolean(column.type):
                    column = column.cast(pa.int8())
                X[:, j] = column.to_numpy(zero_copy_only=False)  # nulls → NaN
            keep = np.isfinite(X).all(axis=1)
            ids = batch.column(self.id_column) if with_ids and self.id_column else None
            yield X, keep, ids

    def __iter__(self) -> Iterator[np.ndarray]:
        for X, keep, _ in self.batches():
            yield X if keep.all() else X[keep]

    def shuffled(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        for X, keep, _ in self.batches(rng.permutation(self.num_row_groups).tolist()):
            yield X if keep.all() else X[keep]


def detect_features(path: str | Path, features: Sequence[str] | None = None) -> tuple[list[str], str | None]:
    """(feature columns, id column): the workbench's schema detection on the file's first rows,
    limited to the columns Parquet stores as numbers (or booleans)."""
    file = pq.ParquetFile(path, pre_buffer=False)
    numeric = {
        f.name for f in file.schema_arrow
        if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_boolean(f.type)
    }
    head = next(file.iter_batches(batch_size=1000), None)
    if head is None:
        raise StreamingError(f"{path} holds no rows.")
    schema = schema_mod.detect_schema(head.to_pandas())
    if features is None:
        chosen = [c for c in schema.feature_columns if c in numeric]
    else:
        chosen = list(features)
        missing = [c for c in chosen if c not in file.schema_arrow.names]
        if missing:
            raise StreamingError(f"{path} has no column(s) {missing}.")
        wrong = [c for c in chosen if c not in numeric]
        if wrong:
            raise StreamingError(f"Feature column(s) {wrong} are not stored as numbers in {path}.")
    if not chosen:
        raise StreamingError(f"{path} has no numeric feature columns.")
    return chosen, schema.id_column


def _scaler_from_stats(recipe: str, features: list[str], n: int, low: np.ndarray, high: np.ndarray,
                       mean: np.ndarray, scatter: np.ndarray) -> tuple[scaling.FittedScaler, np.ndarray, np.ndarray]:
    """The fitted recipe (scikit-learn's parameters) and its affine form x' = a·x + b."""
    # scaling's own parameter arithmetic, so a streamed fit scales as the in-memory one does.
    if recipe == "minmax":
        params = scaling._minmax_params(low, high)
        a, b = params["scale"], params["min"]
    elif recipe == "zscore":
        params = scaling._zscore_params(float(n), mean, np.clip(np.diag(scatter) / n, 0.0, None))
        a, b = 1.0 / params["scale"], -mean / params["scale"]
    else:
        raise StreamingError(f"Unknown scaling recipe {recipe!r}; choose one of: {', '.join(scaling.SCALERS)}.")
    return scaling.FittedScaler(recipe, tuple(features), params, n), a, b


def _components_for(n_components: int | None, d: int) -> int:
    """Only the default adapts to the features; a value asked for that is too large is refused
    with segment's message, before any pass over the file (the row count is not needed for it)."""
    if n_components is None:
        return conventions.default_components(d)
    if n_components > d:
        check_pca_against_data(validate_pca({"feature_dim": d, "num_components": n_components,
                                             "mini_batch_size": 1}), 2, d)
    return n_components


def _refuse_empty_clusters(sizes: np.ndarray, k: int, labels_path: Path | None) -> None:
    """Fewer clusters than asked for: no answer rather than a wrong one (the labels file removed)."""
    empty = np.flatnonzero(sizes == 0)
    if not len(empty):
        return
    if labels_path is not None:
        labels_path.unlink(missing_ok=True)
    raise StreamingError(conventions.empty_clusters_message(empty, k))  # a stream does not count distinct rows


def segment_parquet(
    path: str | Path,
    *,
    features: Sequence[str] | None = None,
    scaler: str = conventions.DEFAULT_SCALER,
    n_components: int | None = None,
    top: int = conventions.WALKTHROUGH_TOP,
    k: int = conventions.WALKTHROUGH_K,
    seed: int = conventions.DEFAULT_SEED,
    kmeans_hyperparameters: dict[str, Any] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    full_passes: int | None = None,
    labels_out: str | Path | None = None,
    output_dir: str | Path | None = None,
    progress=None,
) -> StreamingResult:
    """Scale → PCA (regular mode) → top components → K-Means on a Parquet file, in bounded memory.

    `n_components` defaults to conventions.default_components(number of features); a larger
    value than the features is refused (HyperparameterError), as segment refuses it.
    `full_passes` caps the Lloyd's passes of the polish (default REFINE_FULL_PASSES);
    `labels_out` writes a Parquet file of id, cluster and distance_to_cluster;
    `output_dir` gets pca/model.tar.gz and kmeans/model.tar.gz.
    """
    say = progress or (lambda _message: None)
    seed = validate_seed(seed)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    chosen, id_column = detect_features(path, features)
    chunks = ParquetChunks(path, chosen, id_column=id_column, batch_rows=batch_rows)
    d = len(chosen)
    n_components = _components_for(n_components, d)
    if not 1 <= top <= n_components:
        raise StreamingError(f"top must be between 1 and the number of components ({n_components}); got {top}.")

    say(f"Pass 1: statistics of {d} features in {path}")
    stats, low, high, rows_read = _statistics(chunks, d)
    n = stats.n
    if n < 2:
        raise StreamingError(f"{path} has {n} usable row(s); segmenting needs at least 2.")
    raw_mean, raw_scatter = stats.mean_and_scatter()
    fitted, a, b = _scaler_from_stats(scaler, chosen, n, low, high, raw_mean, raw_scatter)
    pca_hp = validate_pca({"feature_dim": d, "num_components": n_components,
                           "mini_batch_size": conventions.pca_mini_batch(n)})
    check_pca_against_data(pca_hp, n, d)
    scatter = raw_scatter * np.outer(a, a)
    pca = pca_mod.pca_from_scatter(a * raw_mean + b, scatter, n_components)
    kept = pca.top(top)
    timings["statistics_and_pca"] = time.perf_counter() - clock

    def scores_of(X: np.ndarray) -> np.ndarray:
        X *= a
        X += b
        return pca_mod.project(X.astype(np.float32), kept)

    km_hp = validate_kmeans({"k": k, "feature_dim": top, **(kmeans_hyperparameters or {})})
    check_kmeans_against_data(km_hp, n, top)
    model, sse, passes = _kmeans(chunks, scores_of, km_hp, seed=seed, full_passes=full_passes, say=say,
                                 timings=timings)
    clock = time.perf_counter()
    labels_path = Path(labels_out) if labels_out else None
    passes += 1
    say(f"Pass {passes}: labels → {labels_path}" if labels_path else f"Pass {passes}: cluster sizes")
    sizes = _labels(chunks, scores_of, model, labels_path, id_column)
    timings["labels"] = time.perf_counter() - clock
    _refuse_empty_clusters(sizes, k, labels_path)

    saved: dict[str, Path] = {}
    if output_dir is not None:
        output_dir = Path(output_dir)
        saved["pca"] = Path(models.save_pca(pca, output_dir / "pca" / "model.tar.gz"))
        saved["kmeans"] = Path(models.save_kmeans(model, output_dir / "kmeans" / "model.tar.gz"))
    return StreamingResult(
        path=Path(path), features=chosen, id_column=id_column, rows_read=rows_read, rows_used=n,
        rows_dropped=rows_read - n, scaler=fitted, pca=pca, total_variance=float(np.trace(scatter)), top=top,
        kmeans=model, sse=sse, cluster_sizes=sizes.tolist(), passes=passes, timings=timings,
        labels_path=labels_path, artifacts=saved,
    )


def _statistics(chunks: ParquetChunks, d: int):
    """Pass 1: the raw scatter matrix and each feature's min and max, of the usable rows."""
    stats = pca_mod.ScatterAccumulator(d)
    low, high = np.full(d, np.inf), np.full(d, -np.inf)
    rows_read = 0
    for X, keep, _ in chunks.batches():
        rows_read += len(X)
        X = X if keep.all() else X[keep]
        if len(X):
            stats.update(X)
            np.minimum(low, X.min(axis=0), out=low)
            np.maximum(high, X.max(axis=0), out=high)
    return stats, low, high, rows_read


def _kmeans(chunks: ParquetChunks, scores_of, km_hp: dict[str, Any], *, seed: int, full_passes: int | None, say,
            timings: dict[str, float]) -> tuple[models.KMeansModel, float, int]:
    """Passes 2…: SageMaker's K-Means stream over the row groups in a random order, then Lloyd's
    polish on the full data. Returns (model, SSE, passes so far)."""
    clock = time.perf_counter()
    rng = np.random.default_rng([seed, 1])  # the row groups' order
    stream = kmeans_mod.StreamingKMeans(km_hp, seed=seed)
    for epoch in range(km_hp["epochs"]):
        say(f"Pass {2 + epoch}: K-Means stream (epoch {epoch + 1} of {km_hp['epochs']})")
        for X in chunks.shuffled(rng):
            stream.partial_fit(scores_of(X))
        stream.end_epoch()
    trials, searched = stream.finish()
    timings["kmeans_stream"] = time.perf_counter() - clock

    clock = time.perf_counter()
    passes = 1 + km_hp["epochs"]

    def over_rows(acc: refine.LloydPass) -> refine.LloydPass:
        nonlocal passes
        passes += 1
        say(f"Pass {passes}: Lloyd's on the full data")
        for X in chunks:
            acc.update(scores_of(X))
        return acc

    max_passes = refine.REFINE_FULL_PASSES if full_passes is None else full_passes
    centroids, sse = refine.polish(over_rows, [searched, trials[0][1]], max_passes)
    timings["kmeans_polish"] = time.perf_counter() - clock
    return models.KMeansModel(centroids), sse, passes


def _labels(chunks: ParquetChunks, scores_of, model: models.KMeansModel, labels_path: Path | None,
            id_column: str | None) -> np.ndarray:
    """The last pass: the cluster sizes and, when asked, the labels written to a Parquet file."""
    sizes = np.zeros(model.k, dtype=np.int64)
    writer = None
    try:
        for X, keep, ids in chunks.batches(with_ids=labels_path is not None):
            labels, distances = kmeans_steps.assign(scores_of(X[keep]), model.centroids)
            sizes += np.bincount(labels, minlength=model.k)
            if labels_path is None:
                continue
            columns = {}
            if ids is not None:
                columns[id_column] = ids.filter(pa.array(keep))
            columns["cluster"] = pa.array(labels.astype(np.int32))
            columns["distance_to_cluster"] = pa.array(distances.astype(np.float32))
            table = pa.table(columns)
            if writer is None:
                labels_path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(labels_path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return sizes
