"""The steps of K-Means: seeding, SageMaker's streaming stage and its reduction of the
centres, nearest-centre assignment, Lloyd's and Hartigan's updates.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning

try:  # the Cython Lloyd's loop behind KMeans.fit (scikit-learn is pinned in requirements.txt)
    from sklearn.cluster._kmeans import _kmeans_single_lloyd as _single_lloyd
except ImportError:  # pragma: no cover - a scikit-learn without it: the public KMeans, slower
    _single_lloyd = None

from backends.algorithms.parallel import (
    SINGLE_THREAD_ENTRIES,
    _chunks,
    _float64_chunks,
    _map_parts,
    _parts,
    _score_matrix,
    _single_blas,
    _threads_for,
)
from backends.format.hyperparameters import AUTO
from backends.format.models import KMeansModel

# The K-Means local search keeps a float64 copy of its rows when that is at most this big.
CACHE_BYTES = 32 * 2**20


AUTO_EXTRA_CENTER_FACTOR = 10  # SageMaker's `auto`, from the state members of real artifacts
AUTO_LLOYD_NUM_TRIALS = 10  # SageMaker's `auto`, from its training logs (attempts #0…#9)


# --- K-Means --------------------------------------------------------------------------------
def _cpu_threads() -> int:
    return max(1, os.cpu_count() or 1)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _cluster_sums(labels: np.ndarray, B: np.ndarray, k: int) -> np.ndarray:
    """Per-cluster sums of the rows of B (float64 (k, d))."""
    if B.shape[1] <= 16:
        return np.stack([np.bincount(labels, weights=B[:, j], minlength=k) for j in range(B.shape[1])], axis=1)
    onehot = sp.csr_matrix((np.ones(len(B)), (labels, np.arange(len(B)))), shape=(k, len(B)))
    return np.asarray(onehot @ B)


def _with_ones(rows: np.ndarray) -> np.ndarray:
    """rows as float64 with a trailing column of ones (for _score_matrix)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1))
    out[:, :-1] = rows
    out[:, -1] = 1.0
    return out


def _stream_batch(centres: np.ndarray, weights: np.ndarray, A: np.ndarray, half_life: int) -> None:
    """One mini-batch of SageMaker's streaming stage, in place (A: the batch's rows, `_with_ones`).

    Centre j moves to (1 - p) c_j + p mean_j with p = n_j / (w_j + n_j), n_j the batch rows
    nearest to it, and w_j grows by n_j; with a half-life, all weights first decay.
    """
    K = len(centres)
    if half_life > 0:
        weights *= 0.5 ** (len(A) / half_life)
    # Nearest centre: argmin of |c|^2 - 2 b.c (|b|^2 is the same for every centre).
    labels = (A @ _score_matrix(centres)).argmin(axis=1)
    B = A[:, : centres.shape[1]]
    counts = np.bincount(labels, minlength=K).astype(np.float64)
    sums = _cluster_sums(labels, B, K)
    hit = counts > 0
    p = counts[hit] / (weights[hit] + counts[hit])
    centres[hit] += p[:, None] * (sums[hit] / counts[hit][:, None] - centres[hit])
    weights += counts


def _seed_centres(first: np.ndarray, K: int, hp: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    if hp["init_method"] == "kmeans++":
        centres, _ = kmeans_plusplus(first, K, random_state=_seed(rng), n_local_trials=1)
    else:
        centres = first[rng.choice(len(first), K, replace=False)]
    return centres.astype(np.float64)


def _center_count(hp: Mapping[str, Any]) -> int:
    factor = AUTO_EXTRA_CENTER_FACTOR if hp["extra_center_factor"] == AUTO else hp["extra_center_factor"]
    return hp["k"] * factor


# Beyond this many rows an epoch visits the rows as a random order of BLOCK_ROWS-row blocks, not
# of single rows: at 10M rows the permutation and the gather of single rows cost 1.7 s (every row
# a cache miss), of blocks 0.16 s. A 5,000-row batch still draws about 80 blocks from all over the
# data; only rows within a block keep their stored order.
BLOCK_SHUFFLE_ROWS = 1_000_000
BLOCK_ROWS = 64


def _visit_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """An epoch's order of the rows: a permutation, or beyond BLOCK_SHUFFLE_ROWS of blocks."""
    if n <= BLOCK_SHUFFLE_ROWS:
        return rng.permutation(n)
    blocks = rng.permutation(-(-n // BLOCK_ROWS))
    order = (blocks[:, None] * BLOCK_ROWS + np.arange(BLOCK_ROWS)).ravel()
    return order[order < n]


class _InPlace:
    """A stand-in for a one-thread executor that runs each task at once, in this thread."""

    def __enter__(self) -> "_InPlace":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, *args):
        future: Future = Future()
        future.set_result(fn(*args))
        return future


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
    # Gathering a batch's random rows is bound by memory latency (a cache miss a row: at 10M
    # rows, as long as scoring every batch): the next batch is gathered on a second thread while
    # this one is scored. np.take releases the GIL; fancy indexing X[rows] holds it, which
    # serialised the two threads.
    # (One batch — the census — needs no second thread: starting one costs more than the gather.)
    threaded = n > max(batch, K) or hp["epochs"] > 1
    with _single_blas(), (ThreadPoolExecutor(1, thread_name_prefix="gather") if threaded else _InPlace()) as gatherer:
        for epoch in range(hp["epochs"]):
            order = _visit_order(n, rng)
            if epoch == 0:
                first = X[np.sort(order[: max(batch, K)])]
                centres = _seed_centres(first, K, hp, rng)
                weights = np.ones(K)
                bounds = [0, len(first), *range(len(first) + batch, n, batch), n]
            else:
                bounds = [*range(0, n, batch), n]
            spans = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]

            def gather(span: tuple[int, int], order=order) -> np.ndarray:
                return _with_ones(np.take(X, order[span[0]:span[1]], axis=0))

            pending = gatherer.submit(gather, spans[0]) if spans else None
            for i in range(len(spans)):
                B = pending.result()
                if i + 1 < len(spans):
                    pending = gatherer.submit(gather, spans[i + 1])
                _stream_batch(centres, weights, B, half_life)
    return centres, weights

def _weighted_kmeans_plusplus(P: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy weighted k-means++ seeds (scikit-learn's variant: 2 + ln k candidates a step, the
    one that lowers the weighted potential most kept); indices into P."""
    n = len(P)
    candidates = 2 + int(np.log(k))
    chosen = [int(np.searchsorted(np.cumsum(w), rng.random() * w.sum()).clip(0, n - 1))]
    d2 = ((P - P[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(1, k):
        weighted = np.cumsum(w * d2)
        if weighted[-1] <= 0:  # every point sits on a chosen seed (duplicates): any unchosen point
            rest = np.setdiff1d(np.arange(n), chosen)
            pick = int(rest[rng.integers(len(rest))]) if len(rest) else int(rng.integers(n))
        else:
            tries = np.searchsorted(weighted, rng.random(candidates) * weighted[-1]).clip(0, n - 1)
            dist = ((P[tries][:, None, :] - P[None, :, :]) ** 2).sum(axis=2)
            np.minimum(dist, d2[None, :], out=dist)
            best = int(np.argmin(dist @ w))
            pick = int(tries[best])
            d2 = dist[best]
            chosen.append(pick)
            continue
        chosen.append(pick)
        d2 = np.minimum(d2, ((P - P[pick]) ** 2).sum(axis=1))
    return np.asarray(chosen)


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
            far = np.argsort(-nearest[:, s], kind="stable")[: int((~hit[s]).sum())]
            C[s, ~hit[s]] = P[far]
    return loss, C


def reduce_centers(
    centres: np.ndarray, weights: np.ndarray, hp: Mapping[str, Any], rng: np.random.Generator
) -> list[tuple[float, np.ndarray]]:
    """SageMaker's finalising stage: weighted Lloyd's from K centres down to k, several trials.

    Returns every trial as (weighted loss, centroids (k, d)), lowest loss first — the first
    is SageMaker's answer. Each trial seeds k centres (`local_lloyd_init_method`: weighted
    k-means++, or k distinct centres drawn by weight), then runs weighted Lloyd's for at most
    `local_lloyd_max_iter` updates, stopping once the loss falls by at most
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
            chosen = _weighted_kmeans_plusplus(P, w, k, rng)
        else:
            chosen = rng.choice(len(P), k, replace=False, p=w / w.sum())
        starts.append(P[chosen])
    losses, found = _weighted_lloyd(P, w, np.stack(starts), hp["local_lloyd_max_iter"], hp["local_lloyd_tol"])
    order = np.argsort(losses, kind="stable")
    return [(float(losses[i]), found[i]) for i in order]


def assign(X: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KMeansModel.assign (nearest float32 centroid, Euclidean distance), a chunk at a time."""
    X = np.asarray(X)
    C = KMeansModel(centroids).centroids.astype(np.float64)
    if X.ndim != 2 or X.shape[1] != C.shape[1]:
        raise ValueError(f"Cannot assign rows of shape {X.shape} to centroids of {C.shape[1]} features.")
    labels = np.empty(X.shape[0], dtype=np.int64)
    distances = np.empty(X.shape[0])
    W = _score_matrix(C)
    d = C.shape[1]

    def part(lo: int, hi: int) -> None:
        for rows, A in _float64_chunks(X, lo, hi, ones_column=True):
            scores = A @ W
            lab = scores.argmin(axis=1)
            labels[rows] = lab
            B = A[:, :d]
            near = scores[np.arange(len(lab)), lab] + np.einsum("ij,ij->i", B, B)
            np.sqrt(np.maximum(near, 0.0), out=distances[rows])

    _map_parts(part, _parts(*X.shape))
    return labels, distances


def _float64_blocks(X: np.ndarray) -> list[np.ndarray] | None:
    """X as float64 blocks when that fits in CACHE_BYTES (the usual case), else None."""
    return [X.astype(np.float64)] if X.nbytes * 2 <= CACHE_BYTES else None


def _blocks(X: np.ndarray, cached: list[np.ndarray] | None):
    """(row slice, float64 block) pairs: the cached copy, or chunks converted on the fly."""
    if cached is not None:
        yield slice(0, X.shape[0]), cached[0]
        return
    for rows in _chunks(*X.shape):
        yield rows, X[rows].astype(np.float64)


def _assign(X: np.ndarray, C: np.ndarray, cached=None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid per row and the squared distance to it (float64, chunk by chunk)."""
    labels = np.empty(X.shape[0], dtype=np.intp)
    d2min = np.empty(X.shape[0])
    cc = (C * C).sum(axis=1)
    for rows, B in _blocks(X, cached):
        d2 = B @ (-2.0 * C.T)
        d2 += cc
        lab = d2.argmin(axis=1)
        labels[rows] = lab
        d2min[rows] = np.take_along_axis(d2, lab[:, None], axis=1)[:, 0] + np.einsum("ij,ij->i", B, B)
    np.maximum(d2min, 0.0, out=d2min)
    return labels, d2min


def _means(X: np.ndarray, labels: np.ndarray, k: int, cached=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster means (zeros for empty clusters) and counts, accumulated in float64."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.zeros((k, X.shape[1]))
    for rows, B in _blocks(X, cached):
        part = labels[rows]
        for j in range(B.shape[1]):
            sums[:, j] += np.bincount(part, weights=B[:, j], minlength=k)
    return sums / np.maximum(counts, 1.0)[:, None], counts


def lloyd(X: np.ndarray, centroids: np.ndarray, max_iter: int = 300, cached=None) -> tuple[np.ndarray, float]:
    """Lloyd's iterations on all rows from `centroids` until no row changes cluster.

    scikit-learn's Lloyd's (the Cython loop behind KMeans.fit, empty clusters relocated as
    there) from the given start with tol=0 (stop only when the assignment is stable), on the
    float64 copy when there is one. Returns (centroids float64, SSE in float64); the SSE never
    exceeds that of the start.
    """
    data = cached[0] if cached is not None else X
    start = np.ascontiguousarray(centroids, dtype=data.dtype)
    with warnings.catch_warnings(), _threads_for(X.size):
        warnings.simplefilter("ignore", ConvergenceWarning)
        if _single_lloyd is not None:
            # KMeans.fit's validation and thread set-up cost as much as the iterations on the census.
            _, inertia, C, iterations = _single_lloyd(
                data, np.ones(len(data), dtype=data.dtype), start, max_iter=max_iter, tol=0.0,
                n_threads=1 if X.size <= SINGLE_THREAD_ENTRIES else _cpu_threads())
            if cached is not None and iterations < max_iter:
                # Converged on float64 rows: its inertia is the SSE at the final assignment.
                return np.asarray(C, dtype=np.float64), float(inertia)
        else:
            C = KMeans(n_clusters=start.shape[0], init=start, n_init=1, max_iter=max_iter, tol=0.0).fit(data).cluster_centers_
    C = np.asarray(C, dtype=np.float64)
    _, d2 = _assign(X, C, cached)
    return C, float(d2.sum())


def lloyd_rows(X: np.ndarray, centroids: np.ndarray, iterations: int) -> np.ndarray:
    """At most `iterations` of scikit-learn's Lloyd's on all of X's rows as they are (float32: no
    copy), on every core; the centroids only (its inertia is float32-accumulated, so not the SSE)."""
    start = np.ascontiguousarray(centroids, dtype=X.dtype)
    if iterations < 1:
        return np.asarray(centroids, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if _single_lloyd is not None:
            _, _, C, _ = _single_lloyd(X, np.ones(len(X), dtype=X.dtype), start, max_iter=iterations, tol=0.0,
                                       n_threads=_cpu_threads())
        else:
            C = KMeans(n_clusters=start.shape[0], init=start, n_init=1, max_iter=iterations, tol=0.0).fit(X).cluster_centers_
    return np.asarray(C, dtype=np.float64)


def hartigan(X: np.ndarray, centroids: np.ndarray, max_sweeps: int = 300, cached=None) -> tuple[np.ndarray, float]:
    """Polish a clustering with Hartigan's single-row moves; returns (centroids, SSE).

    Moving row x from cluster A (n_A rows) to B changes the SSE by exactly
    n_B/(n_B+1)·|x-c_B|² - n_A/(n_A-1)·|x-c_A|², which can be negative while x is still
    nearest to c_A: Lloyd's stops there, Hartigan's does not. Every Hartigan optimum is a
    Lloyd's fixed point too, so this only lowers the SSE. Each sweep scores all rows at once
    (vectorised, chunked), then makes the improving moves one at a time, best first,
    re-checking each against the centroids as they move.
    """
    C = np.array(centroids, dtype=np.float64)
    k = C.shape[0]
    labels, _ = _assign(X, C, cached)
    for _ in range(max_sweeps):
        C, counts = _means(X, labels, k, cached)
        gain = np.empty(X.shape[0])
        cc = (C * C).sum(axis=1)
        factor_in = counts / (counts + 1.0)
        for rows, B in _blocks(X, cached):
            d2 = np.maximum(cc[None, :] - 2.0 * (B @ C.T) + (B * B).sum(axis=1)[:, None], 0.0)
            idx = np.arange(len(B))
            own_label = labels[rows]
            n_own = counts[own_label]
            leave = np.where(n_own > 1, d2[idx, own_label] * n_own / np.maximum(n_own - 1.0, 1.0), -np.inf)
            join = d2 * factor_in[None, :]
            join[idx, own_label] = np.inf
            gain[rows] = leave - join.min(axis=1)
        eps = 1e-12 * (float(cc.mean()) + 1.0)
        movers = np.flatnonzero(gain > eps)
        moved = False
        for i in movers[np.argsort(-gain[movers], kind="stable")]:
            a = labels[i]
            if counts[a] <= 1:
                continue
            x = X[i].astype(np.float64)
            dist = ((C - x) ** 2).sum(axis=1)
            cost = dist * counts / (counts + 1.0)
            cost[a] = np.inf
            b = int(cost.argmin())
            if dist[a] * counts[a] / (counts[a] - 1.0) - cost[b] <= eps:
                continue
            C[a] = (counts[a] * C[a] - x) / (counts[a] - 1.0)
            C[b] = (counts[b] * C[b] + x) / (counts[b] + 1.0)
            counts[a] -= 1.0
            counts[b] += 1.0
            labels[i] = b
            moved = True
        if not moved:
            break
    C, _ = _means(X, labels, k, cached)
    _, d2 = _assign(X, C, cached)
    return C, float(d2.sum())
