"""SageMaker's streaming stage of K-Means as one compiled loop (numba), for large data.

An epoch is 2,000 sequential mini-batches at 10M rows; in numpy or scikit-learn each batch pays
for a gather, a scoring call, a label pass for the sums and the update, about 215 µs. Here the
whole epoch is one call with no temporaries: each batch's rows are copied into a transposed
buffer straight from the visit order's blocks, scored against every centre in float32 (as
SageMaker's MXNet scores them, and as the scikit-learn E-step did), summed by nearest centre in
float64 and the centres moved, in about 160 µs a batch on one core. One thread: the answer
never depends on the machine's threads.

Imported only beyond kmeans_steps.COMPILED_STREAM_ROWS rows: numba's import costs 0.16 s, and
the first call on a new install compiles for about 2 s (then cached beside this file).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, fastmath={"contract"}, boundscheck=False, error_model="numpy", cache=True)
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
        for t in range(m):
            closer = score[t] < best[t]
            best[t] = score[t] if closer else best[t]
            nearest[t] = c if closer else nearest[t]


@numba.njit(nogil=True, boundscheck=False, error_model="numpy", cache=True)
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
