"""How the algorithms pass over rows: cache-sized float64 chunks, parts on threads, BLAS and
OpenMP pinned where threads would only spin; and the input checks they share.

Performance (numbers in the benchmarks)
---------------------------------------
* Every pass over the rows goes a cache-sized chunk at a time (CHUNK_BYTES) through one
  reused float64 buffer: no full-size temporary, no page faults for fresh memory. Passes
  split the rows into PASS_PARTS fixed parts run on threads with BLAS pinned to one thread
  each (many small BLAS calls on two OpenBLAS threads crawled 10-30x on a busy 2-core box).
* Regular PCA is one such pass (`ScatterAccumulator`, mergeable and streamable); the
  finiteness check rides on it. Its accumulation stays float64: a float32 Gram moved the
  census top-20 components by up to 3.5e-6 (70x what storing the data in float32 does).
* Randomized PCA never forms X - mean: products with the centred matrix are taken implicitly.
* K-Means streams (`stream_centers`, `StreamingKMeans` for chunks from disk; beyond 1M rows in
  a random order of 64-row blocks; beyond COMPILED_ROWS rows each epoch is one compiled loop,
  `compiled.stream_epoch`). Beyond REFINE_SAMPLE_ROWS rows the local search runs on a uniform
  sample; the full data then gets one Lloyd's iteration and one exact SSE pass in memory
  (`local_moves.lloyd_rows`, `refine.exact_sse`), or a bounded number of `LloydPass` passes
  from disk, so its cost stays linear and small. Beyond COMPILED_ROWS rows those passes and
  the labels (`kmeans_steps.assign`) are compiled loops too, on PASS_PARTS parts.
* Nearest centres in a pass are found with the scores laid out centre by centre: the minimum
  over k contiguous rows, and its first centre from bit masks (`_first_minimum_rows`).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

# Passes over the rows convert them to float64 a chunk of at most this many bytes at a time,
# in one reused buffer that stays in the CPU cache: no pass holds a full float64 copy of X.
CHUNK_BYTES = 1 * 2**20
# A pass splits the rows into this many contiguous parts, run on up to as many threads. The
# split depends only on the shape, so the rounding is the same on every machine.
PASS_PARTS = 2

# Beyond this many rows K-Means's passes over every row run compiled (`compiled`, numba): at 10M
# rows the stream takes 0.32 s instead of 0.43-0.50 s, the labels 0.08 s instead of 0.19 s. Smaller
# data never imports numba (0.16 s: the county run's import budget).
COMPILED_ROWS = 100_000


def _compiled_rows(X: np.ndarray) -> bool:
    """Whether a pass over X runs compiled: beyond COMPILED_ROWS rows of native float32 or float64
    (the kernels' types; anything else takes the numpy path)."""
    return X.shape[0] > COMPILED_ROWS and X.dtype in (np.float32, np.float64) and X.dtype.isnative


# Up to this many matrix entries fit_kmeans pins BLAS to one thread for its trials and local
# search: small data makes many small BLAS calls, where a second thread only spin-waits.
SINGLE_THREAD_ENTRIES = 2_000_000
_controller: ThreadpoolController | None = None


def _cpu_threads() -> int:
    """The CPUs this process may run on (its affinity: a container or `taskset` may allow fewer
    than the machine has). The answers never depend on it: passes split into fixed parts."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _get_controller() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def _single_blas():
    """A context that pins BLAS to one thread: chunked passes make many small BLAS calls.
    The controller looks at the loaded libraries once (4 ms)."""
    return _get_controller().limit(limits=1, user_api="blas")


# --- row passes -----------------------------------------------------------------------------
def _rows_per_chunk(n_features: int) -> int:
    return max(1, CHUNK_BYTES // (8 * max(1, n_features)))


def _chunks(n_rows: int, n_features: int, start: int = 0, stop: int | None = None):
    step = _rows_per_chunk(n_features)
    stop = n_rows if stop is None else stop
    for lo in range(start, stop, step):
        yield slice(lo, min(lo + step, stop))


def _parts(n_rows: int, n_features: int) -> list[tuple[int, int]]:
    """Contiguous row ranges of a pass: PASS_PARTS once each part spans several chunks, else one."""
    if PASS_PARTS <= 1 or n_rows < PASS_PARTS * 4 * _rows_per_chunk(n_features):
        return [(0, n_rows)]
    bounds = np.linspace(0, n_rows, PASS_PARTS + 1).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _map_parts(fn: Callable[[int, int], Any], parts: list[tuple[int, int]]) -> list[Any]:
    """fn(lo, hi) for every part, on up to len(parts) threads, BLAS on one thread; in part order."""
    with _single_blas():
        workers = min(len(parts), _cpu_threads())
        if workers <= 1:
            return [fn(lo, hi) for lo, hi in parts]
        with ThreadPoolExecutor(workers, thread_name_prefix="rows") as pool:
            return list(pool.map(lambda part: fn(*part), parts))


def _float64_chunks(X: np.ndarray, lo: int = 0, hi: int | None = None):
    """(row slice, float64 view of those rows) through one reused buffer: read each before the next."""
    n, d = X.shape
    hi = n if hi is None else hi
    if hi <= lo:
        return
    buffer = np.empty((min(_rows_per_chunk(d), hi - lo), d))
    for rows in _chunks(n, d, lo, hi):
        block = buffer[: rows.stop - rows.start]
        np.copyto(block, X[rows], casting="unsafe")
        yield rows, block


def _float64_columns(X: np.ndarray, lo: int = 0, hi: int | None = None):
    """(row slice, float64 (d + 1, rows) block: the rows as columns, then a row of ones) through one
    reused buffer. `_score_matrix(C).T @ block` lays the scores out centre by centre, so the
    nearest centre's score is a minimum over k contiguous rows (`.min(axis=0)`): 5 ns a data row,
    where the minimum along each row of a (rows, k) product takes 90 ns for k = 7."""
    n, d = X.shape
    hi = n if hi is None else hi
    if hi <= lo:
        return
    buffer = np.empty((d + 1, min(_rows_per_chunk(d), hi - lo)))
    buffer[d] = 1.0
    for rows in _chunks(n, d, lo, hi):
        block = buffer[:, : rows.stop - rows.start]
        np.copyto(block[:d], X[rows].T, casting="unsafe")
        yield rows, block


# Up to this many centres `_first_minimum_rows` finds the nearest one from bit masks.
BIT_LABEL_CENTRES = 64


def _first_minimum_rows(S: np.ndarray, best: np.ndarray) -> np.ndarray:
    """For scores laid out centre by centre (S: (k, rows), best = S.min(axis=0)), each row's first
    centre whose score equals the minimum: S.argmin(axis=0), exactly (ties to the lowest index).

    numpy's argmin over a short axis pays per row (18 ns a row for k = 7); here each centre adds
    its "equals the minimum" bit to a per-row mask in two in-place passes, and the mask's lowest
    set bit is read off its float64 exponent (powers of two are exact): 5 ns a row for k = 7.
    Beyond BIT_LABEL_CENTRES centres, numpy's argmin."""
    k, m = S.shape
    if k > BIT_LABEL_CENTRES:
        return S.argmin(axis=0)
    dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= k)
    bits = np.zeros(m, dtype=dtype)
    equal = np.empty(m, dtype=bool)
    for j in range(k - 1, -1, -1):
        np.left_shift(bits, 1, out=bits)
        np.equal(S[j], best, out=equal)
        np.bitwise_or(bits, equal, out=bits, casting="unsafe")
    lowest = bits & (~bits + dtype(1))  # only the lowest set bit: 2**label
    return (np.frexp(lowest.astype(np.float64))[1] - 1).astype(np.int64)


def _score_matrix(C: np.ndarray) -> np.ndarray:
    """(d + 1, k) W such that [x, 1] @ W = |c_j|² - 2 x·c_j for each centre c_j: the squared
    distance minus |x|², which has the same argmin. Folding |c|² into the product saves a
    broadcast add over the (rows, k) scores, the slowest step of a pass on narrow data."""
    C = np.asarray(C, dtype=np.float64)
    return np.vstack([-2.0 * C.T, (C * C).sum(axis=1)[None, :]])


# --- input checks ---------------------------------------------------------------------------
def _raise_not_finite(X: np.ndarray, what: str):
    bad = [rows.start + np.flatnonzero(~np.isfinite(X[rows]).all(axis=1)) for rows in _chunks(*X.shape)]
    rows = np.concatenate(bad) if bad else np.array([], dtype=np.intp)
    raise ValueError(
        f"{what} data contains NaN or infinite values in {len(rows)} row(s) (first at row {rows[0] if len(rows) else 0}); "
        "clean or impute them before training."
    )


def all_finite(X: np.ndarray) -> bool:
    """Whether every value is finite: chunk by chunk into one reused mask per part, on threads (at
    10M rows × 34, 0.035 s where np.isfinite(X).all() takes 0.078 s and a 340 MB mask)."""
    X = np.asarray(X)
    if X.ndim != 2:
        return bool(np.isfinite(X).all())
    n, d = X.shape
    if n == 0:
        return True

    def part(lo: int, hi: int) -> bool:
        mask = np.empty((min(_rows_per_chunk(d), hi - lo), d), dtype=bool)
        for rows in _chunks(n, d, lo, hi):
            chunk = mask[: rows.stop - rows.start]
            np.isfinite(X[rows], out=chunk)
            if not chunk.all():
                return False
        return True

    return all(_map_parts(part, _parts(n, d)))


def _check_finite(X: np.ndarray, what: str) -> None:
    """No full-size boolean mask is made (`all_finite`)."""
    if not all_finite(X):
        _raise_not_finite(X, what)


def _as_matrix(X: Any, what: str, *, check_finite: bool = True) -> np.ndarray:
    """X as C-contiguous float32 (no copy when it already is), refusing non-numeric data."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} needs a 2-d table of rows × features, got an array of shape {X.shape}.")
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"{what} needs numeric data, got dtype {X.dtype}.")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if check_finite:
        _check_finite(X, what)
    return X
