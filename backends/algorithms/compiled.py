"""K-Means's loops over every row of large data, compiled (numba): SageMaker's streaming stage,
and the passes that polish, score and label the rows.

`stream_epoch`: an epoch is 2,000 sequential mini-batches at 10M rows; in numpy or scikit-learn
each batch paid for a gather, a scoring call, a label pass for the sums and the update, about
215 µs. Here the whole epoch is one call with no temporaries: each batch's rows are copied into a
transposed buffer straight from the visit order's blocks, scored against every centre in float32
(as SageMaker's MXNet scores them, and as the scikit-learn E-step did), summed by nearest centre
in float64 and the centres moved, in about 160 µs a batch on one core. One thread: the answer
never depends on the machine's threads.

`assign_part`, `lloyd_part`, `sse_part`: one part of a pass of float64 differences (nearest
centroid and its squared distance), which the callers run on parallel.PASS_PARTS fixed parts.

Imported only beyond parallel.COMPILED_ROWS rows: numba's import costs 0.16 s, and the first call
on a new install compiles for about 2 s (then cached beside this file, or in numba's user cache).
"""
from __future__ import annotations

import numba
import numpy as np

_OPTIONS = {"nogil": True, "boundscheck": False, "error_model": "numpy"}


def _jit(**options):
    """numba.njit with _OPTIONS, caching the machine code where numba can write it. With nowhere to
    write (a read-only install and home), numba refuses `cache=True` when the function is
    decorated, so this module would not import: then it compiles in each process instead."""
    def decorate(function):
        try:
            return numba.njit(cache=True, **_OPTIONS, **options)(function)
        except RuntimeError:  # "cannot cache function …: no locator available"
            return numba.njit(cache=False, **_OPTIONS, **options)(function)
    return decorate


@_jit(inline="always")
def _keep_nearer(score, best, nearest, c, m):
    """Where centre c's score beats the best so far (strictly: the first minimum on ties), keep it."""
    for t in range(m):
        closer = score[t] < best[t]
        best[t] = score[t] if closer else best[t]
        nearest[t] = c if closer else nearest[t]


@_jit(fastmath={"contract"})
def _nearest(XT, m, W, squares, nearest, best, score):
    """nearest[t] = argmin_c |c|^2 - 2 c.x_t for the first m columns of XT (d, rows), in float32,
    the first minimum on ties. W: -2 * centres (K, d); squares: |c|^2 (K,). Laid out row-wise along
    the vectors, so every line vectorises."""
    d = XT.shape[0]
    for t in range(m):
        best[t] = np.inf
    for c in range(W.shape[0]):
        start = squares[c]
        for t in range(m):
            score[t] = start
        for j in range(d):
            w = W[c, j]
            for t in range(m):
                score[t] += w * XT[j, t]
        _keep_nearer(score, best, nearest, c, m)


@_jit()
def stream_epoch(X, blocks, block_rows, first, batch, centres, weights, half_life):
    """One epoch of the streaming stage over X (n, d) float32, in place on centres (K, d) and
    weights (K,) (float64): the rows in the order of `blocks` (block b is rows b * block_rows up
    to the next block or n), in batches of `first` rows, then of `batch`. Each batch moves centre
    j to (1 - p) c_j + p mean_j, p = n_j / (w_j + n_j), and adds n_j to w_j; with a half-life,
    every weight first decays by 0.5 ** (rows / half_life): kmeans_steps._move_centres."""
    n, d = X.shape
    K = centres.shape[0]
    most = max(first, batch)
    XT = np.empty((d, most), np.float32)
    nearest = np.zeros(most, np.int64)
    best = np.empty(most, np.float32)
    score = np.empty(most, np.float32)
    W = np.empty((K, d), np.float32)
    squares = np.empty(K, np.float32)
    counts = np.zeros(K)
    sums = np.zeros((K, d))
    block, offset, done, size = 0, 0, 0, first
    while done < n:
        m = min(size, n - done)
        taken = 0
        while taken < m:  # the batch's rows, block by block, as columns of XT
            lo = blocks[block] * block_rows + offset
            hi = min(blocks[block] * block_rows + block_rows, n)
            rows = min(hi - lo, m - taken)
            for j in range(d):
                for r in range(rows):
                    XT[j, taken + r] = X[lo + r, j]
            taken += rows
            offset += rows
            if lo + rows == hi:
                block += 1
                offset = 0
        for c in range(K):
            total = 0.0
            for j in range(d):
                value = np.float32(centres[c, j])
                W[c, j] = np.float32(-2.0) * value
                total += np.float64(value) * np.float64(value)
            squares[c] = np.float32(total)
            counts[c] = 0.0
            for j in range(d):
                sums[c, j] = 0.0
        _nearest(XT, m, W, squares, nearest, best, score)
        for t in range(m):
            c = nearest[t]
            counts[c] += 1.0
            for j in range(d):
                sums[c, j] += XT[j, t]
        if half_life > 0:
            decay = 0.5 ** (m / half_life)
            for c in range(K):
                weights[c] *= decay
        for c in range(K):
            if counts[c] > 0:
                p = counts[c] / (weights[c] + counts[c])
                for j in range(d):
                    step = sums[c, j] / counts[c] - centres[c, j]
                    centres[c, j] += step * p
                weights[c] += counts[c]
        done += m
        size = batch


# --- passes over every row (beyond parallel.COMPILED_ROWS), one part of the rows a call ------
TILE_ROWS = 512  # rows transposed at a time, so every line below vectorises along the rows


@_jit()
def _tile_buffers(d):
    """A tile's buffers: its rows transposed (d, TILE_ROWS) float64, and each row's best squared
    distance, the score being built and the nearest centroid's index."""
    return np.empty((d, TILE_ROWS)), np.empty(TILE_ROWS), np.empty(TILE_ROWS), np.zeros(TILE_ROWS, np.int64)


@_jit()
def _transpose_tile(X, start, m, XT):
    """Rows start … start + m of X into the columns of XT (d, TILE_ROWS), as float64."""
    for j in range(X.shape[1]):
        for t in range(m):
            XT[j, t] = X[start + t, j]


@_jit()
def _nearest_of_tile(XT, m, C, best, score, index):
    """For the first m columns of XT: index[t] = the nearest row of C (float64, the first on ties)
    and best[t] its squared distance, sum_j (x_j - c_j)^2 in float64."""
    for t in range(m):
        best[t] = np.inf
    for c in range(C.shape[0]):
        for t in range(m):
            score[t] = 0.0
        for j in range(XT.shape[0]):
            centre = C[c, j]
            for t in range(m):
                gap = XT[j, t] - centre
                score[t] += gap * gap
        _keep_nearer(score, best, index, c, m)


@_jit()
def _nearest_tile(X, start, m, C, XT, best, score, index):
    _transpose_tile(X, start, m, XT)
    _nearest_of_tile(XT, m, C, best, score, index)


@_jit()
def assign_part(X, lo, hi, C, labels, distances):
    """labels[i] and distances[i] (Euclidean, float64) of rows lo … hi to their nearest row of C;
    -1 and NaN for a row with a NaN or infinite value."""
    XT, best, score, index = _tile_buffers(X.shape[1])
    for start in range(lo, hi, TILE_ROWS):
        m = min(TILE_ROWS, hi - start)
        _nearest_tile(X, start, m, C, XT, best, score, index)
        for t in range(m):
            if best[t] < np.inf:
                labels[start + t] = index[t]
                distances[start + t] = np.sqrt(best[t])
            else:  # a NaN or infinite value: no centroid is nearer than another
                labels[start + t] = -1
                distances[start + t] = np.nan


@_jit()
def lloyd_part(X, lo, hi, C):
    """(sums (k, d), counts (k,)) of rows lo … hi by nearest row of C, in float64: one part of a
    Lloyd's update."""
    k, d = C.shape
    XT, best, score, index = _tile_buffers(d)
    sums, counts = np.zeros((k, d)), np.zeros(k)
    for start in range(lo, hi, TILE_ROWS):
        m = min(TILE_ROWS, hi - start)
        _nearest_tile(X, start, m, C, XT, best, score, index)
        for t in range(m):
            c = index[t]
            counts[c] += 1.0
            for j in range(d):
                sums[c, j] += XT[j, t]
    return sums, counts


@_jit()
def sse_part(X, lo, hi, candidates):
    """Each candidate's (candidates: (m, k, d) float64) sum over rows lo … hi of the squared
    distance to its nearest centroid, in float64."""
    XT, best, score, index = _tile_buffers(X.shape[1])
    totals = np.zeros(candidates.shape[0])
    for start in range(lo, hi, TILE_ROWS):
        m = min(TILE_ROWS, hi - start)
        _transpose_tile(X, start, m, XT)
        for i in range(candidates.shape[0]):
            _nearest_of_tile(XT, m, candidates[i], best, score, index)
            for t in range(m):
                totals[i] += best[t]
    return totals
