"""Refining a K-Means solution: a local search (restarts, split-merge moves, jitter) on up to
REFINE_SAMPLE_ROWS rows, then a bounded number of Lloyd passes over all of them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from backends.algorithms.local_moves import (
    _assign,
    _blocks,
    _float64_blocks,
    hartigan,
    hartigan_labels,
    kmeans_plusplus,
    lloyd,
    lloyd_labels,
    lloyd_rows,
)
from backends.algorithms import parallel
from backends.algorithms.parallel import (
    _first_minimum_rows,
    _float64_columns,
    _map_parts,
    _parts,
    _score_matrix,
)
from backends.format.models import KMeansModel

# Beyond SageMaker (see `refine`): how many of SageMaker's trials start Lloyd's on the full
# data, how many split-merge moves and jitter restarts the local search tries, and the
# jitter's size (per coordinate, as a fraction of the root-mean-square distance).
REFINE_STARTS = 3
REFINE_SPLIT_MERGE = 2
REFINE_JITTER_ROUNDS = 3
REFINE_JITTER = 0.2
# A restart's Lloyd's optimum gets Hartigan's polish only when its SSE is within this fraction
# of the best so far: the polish lowers a census optimum by about 1e-5, never by more than 2e-5.
REFINE_PROMISING = 2e-5

# Beyond REFINE_SAMPLE_ROWS rows, `refine` runs its local search on a uniform sample of that
# many rows. In memory, Lloyd's then converges on a sample of REFINE_LLOYD_ROWS rows (on all of
# them, up to that many), the full data gets REFINE_FULL_ITERATIONS Lloyd's iterations (compiled
# passes, `local_moves.lloyd_rows`: 0.07 s at 10M rows) and one exact pass scores the result
# against SageMaker's own answer. From disk (`polish`, workbench.core.streaming)
# it gets at most REFINE_FULL_PASSES LloydPass updates. Either way the cost stays a few passes
# over the rows, however large the data.
REFINE_SAMPLE_ROWS = 10_000
REFINE_FULL_PASSES = 2
REFINE_LLOYD_ROWS = 100_000  # Lloyd's to convergence on a sample this large first (its float64 copy: 12 MB)
# Then this many on every row: at 10M rows one gives SSE 877,012 (scikit-learn's lloyd reaches 878,661
# on the same scores) where two gave 877,002 for another 0.07 s.
REFINE_FULL_ITERATIONS = 1


def _split_merge(X: np.ndarray, C: np.ndarray, labels: np.ndarray, cached, rng: np.random.Generator, rank: int
                 ) -> np.ndarray:
    """A structural move: drop the centroid that is `rank`-th cheapest to lose, split the costliest cluster.

    Lloyd's and Hartigan's cannot fix a clustering that spends a centroid on a few outliers
    while two real groups share one centroid; this move can (it is the "remove one, add one"
    step of Ismkhan's I-k-means-+). The dropped centroid's cost is the SSE its rows would add
    at their second-nearest centroid; the split cluster is the one with the largest SSE, and
    its two new centres are k-means++ seeds among its rows. `labels`: each row's nearest centroid.
    """
    k = C.shape[0]
    cc = (C * C).sum(axis=1)
    own = np.empty(X.shape[0])
    second = np.empty(X.shape[0])
    for rows, B in _blocks(X, cached):
        d2 = np.maximum(cc[None, :] - 2.0 * (B @ C.T) + np.einsum("ij,ij->i", B, B)[:, None], 0.0)
        index = np.arange(len(B))
        own[rows] = d2[index, labels[rows]]
        d2[index, labels[rows]] = np.inf
        second[rows] = d2[index, d2.argmin(axis=1)]
    drop_cost = np.bincount(labels, weights=second - own, minlength=k)
    cluster_sse = np.bincount(labels, weights=own, minlength=k)
    drop = int(np.argsort(drop_cost, kind="stable")[rank % k])
    cluster_sse[drop] = -1.0
    split = int(cluster_sse.argmax())
    members = np.flatnonzero(labels == split)
    if len(members) < 2:
        return C
    rows = cached.B[members] if cached is not None else X[members].astype(np.float64)
    seeds = rows[kmeans_plusplus(rows, None, 2, rng)]
    start = C.copy()
    start[drop], start[split] = seeds[0], seeds[1]
    return start


def _lloyd(X: np.ndarray, start: np.ndarray, max_iter: int, cached) -> tuple[np.ndarray, float, np.ndarray]:
    """Lloyd's from `start`: (centroids, SSE, labels)."""
    if cached is not None:
        return lloyd_labels(cached, start, max_iter)
    C, sse = lloyd(X, start, max_iter)
    return C, sse, _assign(X, C)[0]


def _hartigan(X: np.ndarray, found: tuple[np.ndarray, float, np.ndarray], max_iter: int, cached
              ) -> tuple[np.ndarray, float, np.ndarray]:
    """Hartigan's polish of Lloyd's result (centroids, SSE, labels): the same triple, polished."""
    C, _, labels = found
    if cached is not None:
        return hartigan_labels(cached, labels, C.shape[0], max_iter)
    C, sse = hartigan(X, C, max_iter)
    return C, sse, _assign(X, C)[0]


def _start_sse(X: np.ndarray, starts: list[np.ndarray], cached) -> np.ndarray:
    """The SSE of each start on X, all in one product per block (scores laid out start × centre ×
    row, so each minimum runs along the centres over contiguous rows)."""
    k = starts[0].shape[0]
    W = np.hstack([_score_matrix(C) for C in starts]).T  # (starts * k, d + 1)
    total = np.zeros(len(starts))
    step = max(1, (1 << 17) // W.shape[0])  # rows per product: about 1 MiB of scores
    for _, block in _blocks(X, cached):
        for lo in range(0, len(block), step):
            B = block[lo:lo + step]
            scores = (W[:, :-1] @ B.T + W[:, -1:]).reshape(len(starts), k, len(B))
            total += scores.min(axis=1).sum(axis=1) + float(np.einsum("ij,ij->", B, B))
    return total


def local_search(
    X: np.ndarray, starts: list[np.ndarray], hp: Mapping[str, Any], rng: np.random.Generator, *, quick: bool = False
) -> np.ndarray:
    """Our improvement over SageMaker: a local search on the rows X from SageMaker's trials.

    1. Lloyd's on all rows from the REFINE_STARTS trials with the lowest SSE on X
       (SageMaker only ever fits the K weighted centres), then Hartigan's polish of the best.
    2. Split-merge moves (`_split_merge`), up to REFINE_SPLIT_MERGE misses in a row: they
       fix structural mistakes (on the census walkthrough, an optimum at SSE 282.0 that
       spends a centroid on 50 outlying counties and merges two large groups).
    3. Jitter restarts: up to REFINE_JITTER_ROUNDS times, perturb the best centroids, run
       Lloyd's (and Hartigan's when Lloyd's lands within REFINE_PROMISING of the best), keep
       the result if its SSE is lower. The census landscape has near-equal optima a few rows
       apart (SSE 281.514 vs 281.520) that single-row moves cannot cross between; restarts
       nearby do.
    On the census (k = 7, seeds 0-99) this reaches at most scikit-learn's KMeans(n_init=10,
    random_state=0) SSE (281.5173) on 96 seeds and at most KMeans(n_init=10, random_state=seed)'s
    on 97, the worst 281.5200 (1.00001×), in about 12 ms (numpy moves, local_moves).
    quick=True stops after step 2 (for many fits whose exact optimum matters less, such as
    bootstrap resamples): about half the cost; on 55 census bootstrap resamples at k = 2…12
    its SSE was at worst 1.011× the full search's.
    Lloyd's never raises the SSE of its start and every accepted step lowers it, so the
    result is never worse on X than SageMaker's own answer (the trials' best start is at
    most as bad as the trial SageMaker keeps).
    """
    max_iter = hp["local_lloyd_max_iter"]
    cached = _float64_blocks(X)
    ranked = [starts[i] for i in np.argsort(_start_sse(X, starts, cached), kind="stable")[:REFINE_STARTS]]
    best = _hartigan(X, min((_lloyd(X, C, max_iter, cached) for C in ranked), key=lambda item: item[1]),
                     max_iter, cached)

    def attempt(start: np.ndarray) -> bool:
        nonlocal best
        found = _lloyd(X, start, max_iter, cached)
        if found[1] > best[1] * (1.0 + REFINE_PROMISING):
            return False
        found = _hartigan(X, found, max_iter, cached)
        if found[1] < best[1] * (1.0 - 1e-12):
            best = found
            return True
        return False

    misses = 0
    while best[0].shape[0] >= 2 and misses < min(REFINE_SPLIT_MERGE, best[0].shape[0]):
        misses = 0 if attempt(_split_merge(X, best[0], best[2], cached, rng, misses)) else misses + 1
    if quick:
        return best[0]
    for _ in range(REFINE_JITTER_ROUNDS):
        scale = REFINE_JITTER * np.sqrt(best[1] / X.shape[0])
        attempt(best[0] + rng.normal(scale=scale, size=best[0].shape))
    return best[0]


class LloydPass:
    """One pass of Lloyd's over row blocks, for one or more candidate centroid sets at once.

    For each set (rounded to float32, as the artifact stores it) it accumulates the sums and
    counts of the rows nearest to each centroid, so `next_centroids` is Lloyd's update, and the
    SSE — squared distances to those centroids, in float64, as the endpoint scores them — follows
    from the same sums: sum |x|² + sum_j (n_j |c_j|² - 2 c_j·S_j), with no per-row distance.
    Streamable (`update` block by block, `merge` across parts), in bounded memory.
    """

    def __init__(self, candidates: list[np.ndarray]):
        self._reset([KMeansModel(C).centroids.astype(np.float64) for C in candidates])

    def _empty(self) -> "LloydPass":
        return LloydPass.__new__(LloydPass)._reset(self.candidates)

    def _reset(self, candidates: list[np.ndarray]) -> "LloydPass":
        self.candidates = candidates
        self.sums = [np.zeros_like(C) for C in candidates]
        self.counts = [np.zeros(len(C)) for C in candidates]
        self.squares = 0.0  # sum of |x|² over the rows seen
        self.n = 0
        return self

    @property
    def sse(self) -> np.ndarray:
        return np.array([
            max(self.squares + float(counts @ (C * C).sum(axis=1)) - 2.0 * float(np.einsum("ij,ij->", C, sums)), 0.0)
            for C, sums, counts in zip(self.candidates, self.sums, self.counts)
        ])

    def update(self, block: np.ndarray) -> "LloydPass":
        block = np.asarray(block)
        n, d = block.shape
        if d != self.candidates[0].shape[1]:
            raise ValueError(f"Expected rows of {self.candidates[0].shape[1]} features, got {d}.")
        weights = [np.ascontiguousarray(_score_matrix(C).T) for C in self.candidates]

        def part(lo: int, hi: int) -> LloydPass:
            acc = self._empty()
            for _, A in _float64_columns(block, lo, hi):  # (d + 1, rows): the rows as columns, then ones
                B = A[:d]
                acc.squares += float(np.einsum("ij,ij->", B, B))
                for i, W in enumerate(weights):
                    scores = W @ A
                    labels = _first_minimum_rows(scores, scores.min(axis=0))
                    # Each cluster's sum and count as one product with the rows' one-hot labels
                    # (the ones row gives the counts): no GIL held, unlike np.bincount.
                    onehot = np.equal(labels[None, :], np.arange(len(W))[:, None]).astype(np.float64)
                    totals = onehot @ A.T
                    acc.sums[i] += totals[:, :d]
                    acc.counts[i] += totals[:, d]
                acc.n += A.shape[1]
            return acc

        for other in _map_parts(part, _parts(n, d)):
            self.merge(other)
        return self

    def merge(self, other: "LloydPass") -> "LloydPass":
        self.squares += other.squares
        for i in range(len(self.candidates)):
            self.sums[i] += other.sums[i]
            self.counts[i] += other.counts[i]
        self.n += other.n
        return self

    def best(self) -> int:
        return int(np.argmin(self.sse))

    def next_centroids(self, i: int = 0) -> np.ndarray:
        """Lloyd's update of candidate i: its clusters' means (an empty cluster keeps its centroid)."""
        C = self.candidates[i].copy()
        hit = self.counts[i] > 0
        C[hit] = self.sums[i][hit] / self.counts[i][hit][:, None]
        return C


def _sse(X: np.ndarray, centroids: np.ndarray) -> float:
    """SSE as the endpoint reports it: distances to the float32 centroids, summed in float64.

    The same numbers as KMeansModel.assign, a chunk at a time (no (n, k) float64 temporaries).
    """
    return float(LloydPass([centroids]).update(X).sse[0])


def polish(
    passes_over_rows: Callable[[LloydPass], LloydPass], candidates: list[np.ndarray], max_passes: int
) -> tuple[np.ndarray, float]:
    """Bounded Lloyd's on the full data: (centroids, their SSE) after at most max_passes + 1 passes.

    The first pass scores every candidate and keeps the best; each further pass scores the
    Lloyd's update of the best so far, stopping when it no longer lowers the SSE.
    `passes_over_rows(acc)` must feed every row to acc.update (an array, or chunks from disk).
    Lloyd's never raises the SSE, so the answer is at least as good as every candidate.
    """
    acc = passes_over_rows(LloydPass(candidates))
    i = acc.best()
    best_C, best_sse = acc.candidates[i], float(acc.sse[i])
    for _ in range(max_passes):
        following = acc.next_centroids(i)
        if np.array_equal(KMeansModel(following).centroids, KMeansModel(best_C).centroids):
            break  # converged
        acc = passes_over_rows(LloydPass([following]))
        i = 0
        if not acc.sse[0] < best_sse:
            break
        best_C, best_sse = acc.candidates[0], float(acc.sse[0])
    return best_C, best_sse


def _refine(
    X: np.ndarray, starts: list[np.ndarray], hp: Mapping[str, Any], rng: np.random.Generator, *, quick: bool = False
) -> tuple[np.ndarray, float | None]:
    """`refine`, plus the SSE of its answer when it was measured on the way (large data)."""
    n = X.shape[0]
    if n <= REFINE_SAMPLE_ROWS:
        return local_search(X, starts, hp, rng, quick=quick), None
    sample = X[np.sort(rng.choice(n, REFINE_SAMPLE_ROWS, replace=False))]
    searched = local_search(sample, starts, hp, rng, quick=quick)
    # Lloyd's to convergence on a larger sample (all the rows, up to REFINE_LLOYD_ROWS), from the
    # search's answer: a start so close to the full data's optimum that one or two Lloyd's
    # iterations on every row then beat four from the search's answer (at 10M rows, SSE 877,012
    # or 877,002 against 877,018).
    if n <= REFINE_LLOYD_ROWS:
        searched, _ = lloyd(X, searched, hp["local_lloyd_max_iter"], _float64_blocks(X))
        lloyded = searched  # converged on every row already: no further pass can move it
    else:
        larger = X[np.sort(rng.choice(n, REFINE_LLOYD_ROWS, replace=False))]
        searched, _ = lloyd(larger, searched, hp["local_lloyd_max_iter"], _float64_blocks(larger))
        # Lloyd's on every row, then one exact pass scores its answer, and SageMaker's beside it.
        lloyded = lloyd_rows(X, searched, REFINE_FULL_ITERATIONS)
    candidates = [KMeansModel(C).centroids.astype(np.float64) for C in (lloyded, starts[0])]
    sse = exact_sse(X, candidates)
    best = int(np.argmin(sse))
    return candidates[best], float(sse[best])


def exact_sse(X: np.ndarray, candidates: list[np.ndarray]) -> np.ndarray:
    """The SSE of each candidate (float32-rounded centroids, float64 distances summed, as the
    endpoint scores them) in one pass over X's rows, on parts in threads: no labels, no sums."""
    Cs = [KMeansModel(C).centroids.astype(np.float64) for C in candidates]
    if parallel._compiled_rows(X) and len({C.shape for C in Cs}) == 1:
        from backends.algorithms import compiled  # a compiled pass of float64 differences

        stacked = np.stack(Cs)
        return np.sum(_map_parts(lambda lo, hi: compiled.sse_part(X, lo, hi, stacked), _parts(*X.shape)), axis=0)
    weights = [np.ascontiguousarray(_score_matrix(C).T) for C in Cs]
    d = X.shape[1]

    def part(lo: int, hi: int) -> np.ndarray:
        total = np.zeros(len(Cs) + 1)
        for _, block in _float64_columns(X, lo, hi):
            rows = block[:d]
            total[-1] += float(np.vdot(rows, rows)) if rows.flags.c_contiguous else float(np.einsum("ij,ij->", rows, rows))
            for i, W in enumerate(weights):
                total[i] += float((W @ block).min(axis=0).sum())
        return total

    sums = np.sum(_map_parts(part, _parts(*X.shape)), axis=0)
    return np.maximum(sums[:-1] + sums[-1], 0.0)


def refine(X: np.ndarray, starts: list[np.ndarray], hp: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Our improvement over SageMaker: search the rows again, from SageMaker's trials (best first).

    Up to REFINE_SAMPLE_ROWS rows, `local_search` on all of them. Beyond, its cost would
    grow with every restart, so it runs on a uniform sample of REFINE_SAMPLE_ROWS rows; Lloyd's
    then converges on a sample of REFINE_LLOYD_ROWS rows (all of them, up to that many), the
    full data gets REFINE_FULL_ITERATIONS Lloyd's iterations from there, and the answer is the
    better, on the full data, of that and SageMaker's own. Either way
    it is never worse than SageMaker's on the full data.
    """
    return _refine(X, starts, hp, rng)[0]
