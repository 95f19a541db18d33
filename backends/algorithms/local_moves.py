"""Moves of a K-Means local search on the rows themselves, in numpy: nearest-centroid
assignment, Lloyd's and Hartigan's updates, k-means++ seeding, and Lloyd's on large data.

Why numpy and not scikit-learn's KMeans: on small data (the census: 3,218 rows × 5) every
step is a handful of tiny array operations, where numpy is as fast as scikit-learn's Cython
loop (about 60 µs a Lloyd's iteration either way), and importing scikit-learn costs 0.5 s —
more than the whole county run. Only beyond REFINE_LLOYD_ROWS rows (`lloyd_rows`, in-memory
data of more than 100,000 rows) do the iterations on every row run compiled (`compiled`).
"""
from __future__ import annotations

import numpy as np

from backends.algorithms.parallel import _chunks, _map_parts, _parts, _score_matrix

# The local search keeps a float64 copy of its rows (RowCache) when that is at most this big.
CACHE_BYTES = 32 * 2**20


class RowCache:
    """The rows as the small-data moves use them, made once per search: float64 rows `B`, the
    same with a trailing column of ones `A` (A @ W with W = [-2 Cᵀ; |c|²] gives every row's
    |c|² - 2 x·c in one product), the columns contiguous `columns` (for per-cluster sums) and
    the squared norms `squares`."""

    def __init__(self, X: np.ndarray):
        n, d = X.shape
        self.A = np.empty((n, d + 1))
        self.A[:, :d] = X
        self.A[:, d] = 1.0
        self.B = self.A[:, :d]
        self.columns = np.ascontiguousarray(self.B.T)
        self.squares = np.einsum("ij,ij->i", self.B, self.B)
        self.rows = np.arange(n)
        self._eye: np.ndarray | None = None

    def scores(self, C: np.ndarray) -> np.ndarray:
        """(n, k) |c|² - 2 x·c: the squared distances less |x|², which has the same argmin."""
        W = np.empty((C.shape[1] + 1, C.shape[0]))
        np.multiply(C.T, -2.0, out=W[:-1])
        np.einsum("ij,ij->i", C, C, out=W[-1])
        return self.A @ W

    def sums(self, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts (k,), sums (k, d)) of the rows in each cluster."""
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        sums = np.empty((k, self.columns.shape[0]))
        for j, column in enumerate(self.columns):
            sums[:, j] = np.bincount(labels, weights=column, minlength=k)
        return counts, sums

    def move(self, rows: np.ndarray, old: np.ndarray, new: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> None:
        """Update counts and sums in place for `rows` moving from clusters `old` to `new`."""
        k = len(counts)
        if self._eye is None or len(self._eye) != k:
            self._eye = np.eye(k)
        change = self._eye[new] - self._eye[old]  # (moved rows, k): +1 where a row arrives, -1 where it leaves
        counts += change.sum(axis=0)
        sums += change.T @ self.B[rows]


def _float64_blocks(X: np.ndarray) -> RowCache | None:
    """The rows' RowCache when their float64 copy fits in CACHE_BYTES (the usual case), else None."""
    return RowCache(X) if X.nbytes * 3 <= CACHE_BYTES else None


def _blocks(X: np.ndarray, cached: RowCache | None):
    """(row slice, float64 block) pairs: the cached copy, or chunks converted on the fly."""
    if cached is not None:
        yield slice(0, X.shape[0]), cached.B
        return
    for rows in _chunks(*X.shape):
        yield rows, X[rows].astype(np.float64)


def _assign(X: np.ndarray, C: np.ndarray, cached: RowCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid per row and the squared distance to it (float64, chunk by chunk)."""
    if cached is not None:
        scores = cached.A @ _score_matrix(C)
        labels = scores.argmin(axis=1)
        near = scores[np.arange(len(labels)), labels]
        near += cached.squares
        return labels, np.maximum(near, 0.0, out=near)
    labels = np.empty(X.shape[0], dtype=np.intp)
    d2min = np.empty(X.shape[0])
    cc = (C * C).sum(axis=1)
    for rows, B in _blocks(X, None):
        d2 = B @ (-2.0 * C.T)
        d2 += cc
        lab = d2.argmin(axis=1)
        labels[rows] = lab
        d2min[rows] = np.take_along_axis(d2, lab[:, None], axis=1)[:, 0] + np.einsum("ij,ij->i", B, B)
    np.maximum(d2min, 0.0, out=d2min)
    return labels, d2min


def _means(X: np.ndarray, labels: np.ndarray, k: int, cached: RowCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster means (zeros for empty clusters) and counts, accumulated in float64."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.zeros((k, X.shape[1]))
    if cached is not None:
        for j, column in enumerate(cached.columns):
            sums[:, j] = np.bincount(labels, weights=column, minlength=k)
    else:
        for rows, B in _blocks(X, None):
            part = labels[rows]
            for j in range(B.shape[1]):
                sums[:, j] += np.bincount(part, weights=B[:, j], minlength=k)
    return sums / np.maximum(counts, 1.0)[:, None], counts


def _row(X: np.ndarray, i: int, cached: RowCache | None) -> np.ndarray:
    return cached.B[i] if cached is not None else X[i].astype(np.float64)


def lloyd(X: np.ndarray, centroids: np.ndarray, max_iter: int = 300, cached: RowCache | None = None
          ) -> tuple[np.ndarray, float]:
    """Lloyd's iterations on all rows from `centroids` until no row changes cluster, or max_iter
    updates; returns (centroids float64, their SSE in float64), the SSE never above the start's.

    An empty cluster moves to the row farthest from its centroid, the next empty one to the next
    farthest row (as scikit-learn relocates them), which only lowers the SSE.
    """
    if cached is not None:
        C, sse, _ = lloyd_labels(cached, centroids, max_iter)
        return C, sse
    C = np.array(centroids, dtype=np.float64)
    k = C.shape[0]
    labels = None
    for step in range(max_iter + 1):
        new, near = _assign(X, C, None)
        if step == max_iter or (labels is not None and np.array_equal(new, labels)):
            break
        labels = new
        C, counts = _means(X, labels, k, None)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            far = np.argsort(-near, kind="stable")[: len(empty)]
            C[empty] = X[far].astype(np.float64)
            labels = None  # the relocated centroids own rows the labels do not show yet
    return C, float(near.sum())


def lloyd_labels(rows: RowCache, centroids: np.ndarray, max_iter: int = 300, settled: int = 0
                 ) -> tuple[np.ndarray, float, np.ndarray]:
    """`lloyd` on cached rows, also returning the final labels (each row's nearest centroid).

    After the first iterations only a few rows change cluster: the clusters' sums are then updated
    by the rows that moved, not recomputed (about 40 µs an iteration on the census, not 110).
    """
    C = np.array(centroids, dtype=np.float64)
    k = C.shape[0]
    scores = rows.scores(C)
    labels = scores.argmin(axis=1)
    counts, sums = rows.sums(labels, k)
    for _ in range(max_iter):
        full = counts.all()
        C = sums / (counts if full else np.maximum(counts, 1.0))[:, None]
        empty = () if full else np.flatnonzero(counts == 0)
        if len(empty):  # to the farthest rows, as in `lloyd`
            near = scores[rows.rows, labels] + rows.squares
            C[empty] = rows.B[np.argsort(-near, kind="stable")[: len(empty)]]
        scores = rows.scores(C)
        new = scores.argmin(axis=1)
        moved = np.flatnonzero(new != labels)
        if len(moved) <= settled and not len(empty):
            break
        if len(moved) * 8 > len(labels):
            counts, sums = rows.sums(new, k)
        else:
            rows.move(moved, labels[moved], new[moved], counts, sums)
        labels = new
    near = scores[rows.rows, labels]
    near += rows.squares
    return C, float(np.maximum(near, 0.0, out=near).sum()), labels


def hartigan(X: np.ndarray, centroids: np.ndarray, max_sweeps: int = 300, cached: RowCache | None = None
             ) -> tuple[np.ndarray, float]:
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
        gain = _hartigan_gains(X, C, counts, labels, cached)
        eps = 1e-12 * (float((C * C).sum(axis=1).mean()) + 1.0)
        movers = np.flatnonzero(gain > eps)
        moved = False
        for i in movers[np.argsort(-gain[movers], kind="stable")]:
            a = labels[i]
            x = _row(X, int(i), cached)
            b = _better_cluster(C, counts, x, a, eps)
            if b is None:
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


def _better_cluster(C: np.ndarray, counts: np.ndarray, x: np.ndarray, a: int, eps: float) -> int | None:
    """Hartigan's test for one row of cluster `a`: the cluster whose SSE rises least on taking it,
    when moving it there lowers the total SSE by more than `eps`; else None (a lone row stays)."""
    if counts[a] <= 1:
        return None
    dist = ((C - x) ** 2).sum(axis=1)
    cost = dist * counts / (counts + 1.0)
    cost[a] = np.inf
    b = int(cost.argmin())
    if dist[a] * counts[a] / (counts[a] - 1.0) - cost[b] <= eps:
        return None
    return b


def hartigan_labels(rows: RowCache, labels: np.ndarray, k: int, max_sweeps: int = 300
                    ) -> tuple[np.ndarray, float, np.ndarray]:
    """`hartigan` on cached rows from a clustering's labels (k clusters): (centroids, SSE, labels).

    The same moves as `hartigan`; each sweep's gains come from one product, and the clusters'
    sums follow the moves instead of being recomputed.
    """
    labels = np.array(labels)
    counts, sums = rows.sums(labels, k)
    if not counts.all():  # an empty cluster: `hartigan` from the clusters' means
        C, sse = hartigan(rows.B, _means(rows.B, labels, k, rows)[0], max_sweeps, rows)
        return C, sse, _assign(rows.B, C, rows)[0]
    for _ in range(max_sweeps):
        C = sums / counts[:, None]
        d2 = rows.scores(C)
        d2 += rows.squares[:, None]
        np.maximum(d2, 0.0, out=d2)
        n_own = counts[labels]
        own = d2[rows.rows, labels]
        leave = np.where(n_own > 1, own * n_own / np.maximum(n_own - 1.0, 1.0), -np.inf)
        d2 *= counts / (counts + 1.0)
        d2[rows.rows, labels] = np.inf
        gain = leave - d2[rows.rows, d2.argmin(axis=1)]
        eps = 1e-12 * (float((C * C).sum(axis=1).mean()) + 1.0)
        movers = np.flatnonzero(gain > eps)
        moved = 0
        for i in movers[np.argsort(-gain[movers], kind="stable")]:
            a = labels[i]
            x = rows.B[i]
            b = _better_cluster(C, counts, x, a, eps)
            if b is None:
                continue
            sums[a] -= x
            sums[b] += x
            counts[a] -= 1.0
            counts[b] += 1.0
            C[a] = sums[a] / counts[a]
            C[b] = sums[b] / counts[b]
            labels[i] = b
            moved += 1
        if not moved:
            break
    C, _ = _means(rows.B, labels, k, rows)  # exact means, not the running sums
    labels, d2 = _assign(rows.B, C, rows)
    return C, float(d2.sum()), labels


def _hartigan_gains(X: np.ndarray, C: np.ndarray, counts: np.ndarray, labels: np.ndarray,
                    cached: RowCache | None) -> np.ndarray:
    """Per row, how much the best single move to another cluster would lower the SSE."""
    gain = np.empty(X.shape[0])
    factor_in = counts / (counts + 1.0)
    W = _score_matrix(C)
    for rows, B in _blocks(X, cached):
        scores = cached.A @ W if cached is not None else B @ W[:-1] + W[-1]
        squares = cached.squares if cached is not None else np.einsum("ij,ij->i", B, B)
        d2 = np.maximum(scores + squares[:, None], 0.0)
        idx = np.arange(len(B))
        own_label = labels[rows]
        n_own = counts[own_label]
        leave = np.where(n_own > 1, d2[idx, own_label] * n_own / np.maximum(n_own - 1.0, 1.0), -np.inf)
        join = d2 * factor_in[None, :]
        join[idx, own_label] = np.inf
        gain[rows] = leave - join.min(axis=1)
    return gain


def kmeans_plusplus(P: np.ndarray, w: np.ndarray | None, k: int, rng: np.random.Generator,
                    candidates: int | None = None) -> np.ndarray:
    """k-means++ seeds (D² sampling, by weight w when given) as indices into the rows P (float64).

    Greedy as scikit-learn runs it: at each step `candidates` rows are drawn (default 2 + ln k)
    and the one that lowers the (weighted) potential most is kept; candidates=1 is plain
    k-means++, as SageMaker describes its `init_method`.
    """
    n = len(P)
    w = np.ones(n) if w is None else w
    candidates = 2 + int(np.log(k)) if candidates is None else candidates
    chosen = [int(np.searchsorted(np.cumsum(w), rng.random() * w.sum()).clip(0, n - 1))]
    d2 = ((P - P[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(1, k):
        weighted = np.cumsum(w * d2)
        if weighted[-1] <= 0:  # every point sits on a chosen seed (duplicates): any unchosen point
            rest = np.setdiff1d(np.arange(n), chosen)
            pick = int(rest[rng.integers(len(rest))]) if len(rest) else int(rng.integers(n))
            d2 = np.minimum(d2, ((P - P[pick]) ** 2).sum(axis=1))
        else:
            tries = np.searchsorted(weighted, rng.random(candidates) * weighted[-1]).clip(0, n - 1)
            dist = ((P[tries][:, None, :] - P[None, :, :]) ** 2).sum(axis=2)
            np.minimum(dist, d2[None, :], out=dist)
            best = int(np.argmin(dist @ w))
            pick = int(tries[best])
            d2 = dist[best]
        chosen.append(pick)
    return np.asarray(chosen)


def lloyd_rows(X: np.ndarray, centroids: np.ndarray, iterations: int) -> np.ndarray:
    """`iterations` of Lloyd's on all of X's rows as they are (no copy): the centroids only. For
    large data only (beyond REFINE_LLOYD_ROWS rows). Each iteration is one compiled pass
    (compiled.lloyd_part: float64 distances and sums) on PASS_PARTS fixed parts, added in order,
    so the machine's CPU count never changes the rounding; an empty cluster keeps its centroid.
    (scikit-learn's Cython step did this in float32 sums: 0.08-0.15 s an iteration at 10M rows.)"""
    from backends.algorithms import compiled

    C = np.array(centroids, dtype=np.float64)
    for _ in range(iterations):
        parts = _map_parts(lambda lo, hi, C=C: compiled.lloyd_part(X, lo, hi, C), _parts(*X.shape))
        sums, counts = parts[0]
        for more_sums, more_counts in parts[1:]:
            sums, counts = sums + more_sums, counts + more_counts
        hit = counts > 0
        C = C.copy()
        C[hit] = sums[hit] / counts[hit][:, None]
    return C
