"""SageMaker's stages of K-Means: seeding, the streaming stage and its reduction of the
centres; and nearest-centre assignment of rows to a model's centroids. (The local search's
moves on the rows are in local_moves.)
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from backends.algorithms import parallel
from backends.algorithms.local_moves import kmeans_plusplus
from backends.algorithms.parallel import (
    _first_minimum_rows,
    _float64_columns,
    _map_parts,
    _parts,
    _score_matrix,
    _single_blas,
)
from backends.format.hyperparameters import AUTO
from backends.format.models import KMeansModel

AUTO_EXTRA_CENTER_FACTOR = 10  # SageMaker's `auto`, from the state members of real artifacts
AUTO_LLOYD_NUM_TRIALS = 10  # SageMaker's `auto`, from its training logs (attempts #0…#9)


# --- K-Means --------------------------------------------------------------------------------
def _cluster_sums(labels: np.ndarray, B: np.ndarray, k: int) -> np.ndarray:
    """Per-cluster sums of the rows of B (float64 (k, d))."""
    if B.shape[1] <= 16:
        sums = np.empty((k, B.shape[1]))
        for j in range(B.shape[1]):
            sums[:, j] = np.bincount(labels, weights=B[:, j], minlength=k)
        return sums
    import scipy.sparse as sp  # wide rows only; the census's 5 scores never need scipy

    onehot = sp.csr_matrix((np.ones(len(B)), (labels, np.arange(len(B)))), shape=(k, len(B)))
    return np.asarray(onehot @ B)


def _with_ones(rows: np.ndarray) -> np.ndarray:
    """rows as float64 with a trailing column of ones (for _score_matrix)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1))
    out[:, :-1] = rows
    out[:, -1] = 1.0
    return out


def _score_weights(centres: np.ndarray) -> np.ndarray:
    """_score_matrix(centres), written into a fresh array without stacking (a batch's first step)."""
    K, d = centres.shape
    W = np.empty((d + 1, K))
    np.multiply(centres.T, -2.0, out=W[:d])
    np.einsum("ij,ij->i", centres, centres, out=W[d])
    return W


def _batch_sums(A: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(counts, sums) of a batch's rows (A: `_with_ones`) by nearest centre, W = _score_weights."""
    K = W.shape[1]
    # Nearest centre: argmin of |c|^2 - 2 b.c (|b|^2 is the same for every centre).
    labels = (A @ W).argmin(axis=1)
    return np.bincount(labels, minlength=K).astype(np.float64), _cluster_sums(labels, A[:, :-1], K)


def _move_centres(centres: np.ndarray, weights: np.ndarray, counts: np.ndarray, sums: np.ndarray, rows: int,
                  half_life: int) -> None:
    """Centre j moves to (1 - p) c_j + p mean_j with p = n_j / (w_j + n_j), n_j of the batch's `rows`
    nearest to it, and w_j grows by n_j; with a half-life, all weights first decay. A centre no
    row chose has p = 0 and stays put, even when its weight has decayed to exactly 0 (0 / 0)."""
    if half_life > 0:
        weights *= 0.5 ** (rows / half_life)
    step = sums / np.maximum(counts, 1.0)[:, None]  # the batch's mean for each centre it reached
    step -= centres
    # where= skips the centres no row chose: a decayed weight of 0 would make their p 0 / 0 = NaN.
    step *= np.divide(counts, weights + counts, out=np.zeros_like(counts), where=counts > 0)[:, None]
    centres += step
    weights += counts


def _stream_batch(centres: np.ndarray, weights: np.ndarray, A: np.ndarray, half_life: int) -> None:
    """One mini-batch of SageMaker's streaming stage, in place (A: the batch's rows, `_with_ones`)."""
    counts, sums = _batch_sums(A, _score_weights(centres))
    _move_centres(centres, weights, counts, sums, len(A), half_life)


def _seed_centres(first: np.ndarray, K: int, hp: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    P = first.astype(np.float64)
    if hp["init_method"] == "kmeans++":  # D² sampling, one candidate a step, as SageMaker describes it
        return P[kmeans_plusplus(P, None, K, rng, candidates=1)]
    return P[rng.choice(len(first), K, replace=False)]


def _center_count(hp: Mapping[str, Any]) -> int:
    factor = AUTO_EXTRA_CENTER_FACTOR if hp["extra_center_factor"] == AUTO else hp["extra_center_factor"]
    return hp["k"] * factor


# Beyond this many rows an epoch visits the rows as a random order of BLOCK_ROWS-row blocks, not
# of single rows: at 10M rows the permutation and the gather of single rows cost 1.7 s (every row
# a cache miss), of blocks 0.16 s. A 5,000-row batch still draws about 80 blocks from all over the
# data; only rows within a block keep their stored order.
BLOCK_SHUFFLE_ROWS = 1_000_000
BLOCK_ROWS = 64
# A batch of at least twice this many rows is scored in two halves on two threads.
SPLIT_ROWS = 1_000
class _VisitOrder:
    """An epoch's order of the rows: a permutation, or beyond BLOCK_SHUFFLE_ROWS rows a random order
    of BLOCK_ROWS-row blocks, handed out span by span (`rows(lo, hi)`: the rows at positions lo to
    hi). The block order is never expanded to one index a row: at 10M rows that index alone took
    0.37 s to build."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n = n
        if n <= BLOCK_SHUFFLE_ROWS:
            self.order, self.blocks = rng.permutation(n), None
            return
        count = -(-n // BLOCK_ROWS)
        self.blocks = rng.permutation(count)
        sizes = np.where(self.blocks == count - 1, n - (count - 1) * BLOCK_ROWS, BLOCK_ROWS)
        self.starts = np.concatenate([[0], np.cumsum(sizes)])  # where each block of the order begins

    def rows(self, lo: int, hi: int) -> np.ndarray:
        if self.blocks is None:
            return self.order[lo:hi]
        first = int(np.searchsorted(self.starts, lo, side="right")) - 1
        last = int(np.searchsorted(self.starts, hi, side="left"))
        index = (self.blocks[first:last, None] * BLOCK_ROWS + np.arange(BLOCK_ROWS)).ravel()
        index = index[index < self.n]
        offset = lo - int(self.starts[first])
        return index[offset:offset + hi - lo]

    def take(self, X: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """X's rows at positions lo to hi: np.take(X, self.rows(lo, hi), axis=0), with whole blocks
        copied as blocks (a view of X as (blocks, BLOCK_ROWS, d)) instead of row by row: at 10M
        rows a 5,000-row batch's gather took 52 µs, now about a third of it."""
        if self.blocks is None:
            return np.take(X, self.order[lo:hi], axis=0)
        whole = self.n // BLOCK_ROWS  # the blocks of BLOCK_ROWS rows; a shorter last one has this id
        first = int(np.searchsorted(self.starts, lo, side="right")) - 1
        last = int(np.searchsorted(self.starts, hi, side="left"))
        ids = self.blocks[first:last]
        if whole * BLOCK_ROWS != self.n and (ids == whole).any():  # the short block: one batch an epoch
            return np.take(X, self.rows(lo, hi), axis=0)
        blocks = X[: whole * BLOCK_ROWS].reshape(whole, BLOCK_ROWS, X.shape[1])
        offset = lo - int(self.starts[first])
        return np.take(blocks, ids, axis=0).reshape(-1, X.shape[1])[offset:offset + hi - lo]


def stream_centers(X: np.ndarray, hp: Mapping[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SageMaker's streaming stage: K = k * extra_center_factor weighted centres.

    Returns (centres (K, d) float64, weights (K,)) — what SageMaker keeps in `state_<uuid>`.
    Each epoch visits the rows in a fresh random order (SageMaker's docs: mini-batches are
    "randomly chosen subsets"; beyond BLOCK_SHUFFLE_ROWS rows, a random order of BLOCK_ROWS-row
    blocks) in mini-batches of `mini_batch_size`. The centres are seeded
    from the first mini-batch (`init_method`: K distinct random rows, or k-means++ D²
    sampling as SageMaker describes it, one candidate per step), each with weight 1. Every
    batch, the first included, then moves centre j to (1 - p) c_j + p mean_j with
    p = n_j / (w_j + n_j) (n_j rows of the batch nearest to it) and adds n_j to w_j; with
    half_life_time_size h > 0 all weights are first multiplied by 0.5 ** (batch rows / h),
    so a row's weight halves after h more rows.
    K is capped at the number of rows; the seeding batch has at least K rows.
    """
    n, d = X.shape
    K = min(_center_count(hp), n)
    batch = hp["mini_batch_size"]
    half_life = hp["half_life_time_size"]
    centres = weights = None
    # Beyond parallel.COMPILED_ROWS rows each epoch is one compiled call (float32 scores, as
    # SageMaker's MXNet scores them). Below, beyond one batch, each batch is scored in two halves
    # on two threads (the products and argmins release the GIL), each half gathering its own rows
    # with np.take (which releases it too; fancy indexing X[rows] holds it). The halves' counts
    # and sums are added in a fixed order, so the answer does not depend on the threads' timing.
    # (One batch — the census — needs no second thread: starting one costs more than the batch.)
    if parallel._compiled_rows(X):
        return _compiled_stream(X, hp, rng, K)
    threaded = n > max(batch, K) or hp["epochs"] > 1
    # Unthreaded, mid == hi below and no half is ever submitted: no executor is needed.
    pool = ThreadPoolExecutor(1, thread_name_prefix="stream") if threaded else contextlib.nullcontext()
    with _single_blas(), pool as helper:

        def half(order: _VisitOrder, lo: int, hi: int, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _batch_sums(_with_ones(order.take(X, lo, hi)), W)

        for epoch in range(hp["epochs"]):
            order = _VisitOrder(n, rng)
            if epoch == 0:
                seeding = min(max(batch, K), n)  # the seeding batch has at least K rows
                centres, weights = _first_centres(X, order, seeding, K, hp, rng)
                bounds = [0, seeding, *range(seeding + batch, n, batch), n]
            else:
                bounds = [*range(0, n, batch), n]
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                if hi <= lo:
                    continue
                W = _score_weights(centres)
                mid = (lo + hi) // 2 if threaded and hi - lo >= 2 * SPLIT_ROWS else hi
                other = helper.submit(half, order, mid, hi, W) if mid < hi else None
                counts, sums = half(order, lo, mid, W)
                if other is not None:
                    more_counts, more_sums = other.result()
                    counts, sums = counts + more_counts, sums + more_sums
                _move_centres(centres, weights, counts, sums, hi - lo, half_life)
    return centres, weights


def _first_centres(X: np.ndarray, order: "_VisitOrder", rows: int, K: int, hp: Mapping[str, Any],
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The K seeds, from the first epoch's first `rows` rows, each with weight 1."""
    first = X[np.sort(order.rows(0, rows))]
    return _seed_centres(first, K, hp, rng), np.ones(K)


def _compiled_stream(X: np.ndarray, hp: Mapping[str, Any], rng: np.random.Generator, K: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """stream_centers beyond parallel.COMPILED_ROWS rows: the same visit orders and seeds (the same
    draws from rng), each epoch's batches in one compiled call."""
    from backends.algorithms import compiled

    n = X.shape[0]
    batch = hp["mini_batch_size"]
    centres = weights = None
    for epoch in range(hp["epochs"]):
        order = _VisitOrder(n, rng)
        if epoch == 0:
            centres, weights = _first_centres(X, order, max(batch, K), K, hp, rng)
        blocks, block_rows = (order.order, 1) if order.blocks is None else (order.blocks, BLOCK_ROWS)
        compiled.stream_epoch(X, blocks, block_rows, max(batch, K) if epoch == 0 else batch, batch, centres,
                              weights, hp["half_life_time_size"])
    return centres, weights


def _weighted_lloyd(P: np.ndarray, w: np.ndarray, starts: np.ndarray, max_iter: int, tol: float):
    """Weighted Lloyd's from several starts at once (t, k, d): SageMaker's local Lloyd's.

    Each start stops when its weighted loss falls by at most tol × the loss (SageMaker's
    `local_lloyd_tol`, a change in loss), when no point changes cluster, or after max_iter
    updates. An empty cluster moves to the point farthest from its centre. Returns
    (losses (t,), centres (t, k, d)): each loss is that of the returned centres.
    """
    C = np.array(starts, dtype=np.float64)
    t, k, d = C.shape
    p = len(P)
    squares = (P * P).sum(axis=1)
    offsets = (np.arange(t) * k)[None, :]
    weights = np.repeat(w, t)
    weighted_rows = [np.repeat(P[:, j] * w, t) for j in range(d)]
    active = np.ones(t, dtype=bool)
    previous = np.full(t, np.inf)
    labels = np.full((p, t), -1)
    loss = np.zeros(t)
    for _ in range(max_iter + 1):
        scores = P @ C.reshape(t * k, d).T
        scores *= -2.0
        scores += (C * C).sum(axis=2).reshape(-1)
        scores = scores.reshape(p, t, k)
        new_labels = scores.argmin(axis=2)
        nearest = np.take_along_axis(scores, new_labels[:, :, None], axis=2)[:, :, 0] + squares[:, None]
        current = np.maximum(nearest, 0.0).T @ w
        loss = np.where(active, current, loss)
        stable = (new_labels == labels).all(axis=0)
        active &= ~stable & (previous - current > tol * current)
        previous = current
        labels = np.where(active[None, :], new_labels, labels)
        if not active.any() or _ == max_iter:
            break
        flat = (new_labels + offsets).ravel()
        counts = np.bincount(flat, weights=weights, minlength=t * k).reshape(t, k)
        sums = np.stack([np.bincount(flat, weights=col, minlength=t * k) for col in weighted_rows], axis=1)
        sums = sums.reshape(t, k, d)
        hit = counts > 0
        moved = np.where(hit[:, :, None], sums / np.where(hit, counts, 1.0)[:, :, None], C)
        C = np.where(active[:, None, None], moved, C)
        for s in np.flatnonzero(active & ~hit.all(axis=1)):  # empty clusters: to the farthest points
            # np.resize repeats the points when empty clusters outnumber them (fewer weighted
            # centres than k, after a half-life); otherwise it is the same slice.
            far = np.resize(np.argsort(-nearest[:, s], kind="stable"), int((~hit[s]).sum()))
            C[s, ~hit[s]] = P[far]
    return loss, C


def _draw_by_weight(w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k indices drawn by weight w (all positive) without repeats. With a half-life fewer than k
    centres may keep a weight: then every one of them, and the rest repeats of them, as
    kmeans_plusplus does once every point is chosen (Lloyd's moves the repeats' empty clusters)."""
    if len(w) >= k:
        return rng.choice(len(w), k, replace=False, p=w / w.sum())
    return np.concatenate([rng.permutation(len(w)), rng.integers(len(w), size=k - len(w))])


def reduce_centers(
    centres: np.ndarray, weights: np.ndarray, hp: Mapping[str, Any], rng: np.random.Generator
) -> list[tuple[float, np.ndarray]]:
    """SageMaker's finalising stage: weighted Lloyd's from K centres down to k, several trials.

    Returns every trial as (weighted loss, centroids (k, d)), lowest loss first — the first
    is SageMaker's answer. Each trial seeds k centres (`local_lloyd_init_method`: weighted
    k-means++, or k distinct centres drawn by weight, `_draw_by_weight`), then runs weighted
    Lloyd's for at most `local_lloyd_max_iter` updates, stopping once the loss falls by at most
    `local_lloyd_tol` of itself (`_weighted_lloyd`). The trials run together in numpy: on
    K = 70 points ten scikit-learn fits cost 7 ms of fixed overhead, these 1 ms.
    """
    k = hp["k"]
    trials = AUTO_LLOYD_NUM_TRIALS if hp["local_lloyd_num_trials"] == AUTO else hp["local_lloyd_num_trials"]
    keep = weights > 0
    P, w = np.asarray(centres[keep], dtype=np.float64), np.asarray(weights[keep], dtype=np.float64)
    starts = []
    for _ in range(trials):
        if hp["local_lloyd_init_method"] == "kmeans++":
            chosen = kmeans_plusplus(P, w, k, rng)
        else:
            chosen = _draw_by_weight(w, k, rng)
        starts.append(P[chosen])
    losses, found = _weighted_lloyd(P, w, np.stack(starts), hp["local_lloyd_max_iter"], hp["local_lloyd_tol"])
    order = np.argsort(losses, kind="stable")
    return [(float(losses[i]), found[i]) for i in order]


def assign(X: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KMeansModel.assign (nearest float32 centroid, Euclidean distance), a chunk at a time, the
    scores laid out centre by centre (`_float64_columns`): the minimum over k contiguous rows, and
    its first centre from bit masks (`_first_minimum_rows`). Beyond parallel.COMPILED_ROWS rows,
    a compiled pass of float64 differences (compiled.assign_part). A row with a NaN or infinite
    value gets label -1 and distance NaN."""
    X = np.asarray(X)
    C = KMeansModel(centroids).centroids.astype(np.float64)
    if X.ndim != 2 or X.shape[1] != C.shape[1]:
        raise ValueError(f"Cannot assign rows of shape {X.shape} to centroids of {C.shape[1]} features.")
    labels = np.empty(X.shape[0], dtype=np.int64)
    distances = np.empty(X.shape[0])
    if parallel._compiled_rows(X):  # a compiled pass: at 10M rows 0.08 s instead of 0.19 s
        from backends.algorithms import compiled

        _map_parts(lambda lo, hi: compiled.assign_part(X, lo, hi, C, labels, distances), _parts(*X.shape))
        return labels, distances
    W = np.ascontiguousarray(_score_matrix(C).T)
    d = C.shape[1]

    def part(lo: int, hi: int) -> None:
        for rows, block in _float64_columns(X, lo, hi):
            scores = W @ block
            best = scores.min(axis=0)
            labels[rows] = _first_minimum_rows(scores, best)
            with np.errstate(invalid="ignore"):  # inf - inf in a row with infinite values: handled below
                best += np.einsum("ij,ij->j", block[:d], block[:d])
            unknown = ~np.isfinite(best)  # a NaN or infinite value: no centroid is nearer than another
            if unknown.any():
                labels[rows][unknown] = -1
                best[unknown] = np.nan
            np.sqrt(np.maximum(best, 0.0, out=best), out=distances[rows])

    _map_parts(part, _parts(*X.shape))
    return labels, distances
