"""SageMaker's built-in PCA, emulated with numpy: a float32 matrix and hyperparameters in, a
PCAModel out; no file I/O (`backends/embedded.py` writes the artifacts).

PCA — what the real artifact `pca-census-33` (census data, regular mode) shows
------------------------------------------------------------------------------
* `s` are the singular values of the mean-centred matrix: sqrt of the eigenvalues of
  sum x_i^T x_i - (1/n)(sum x_i)^T(sum x_i), with no division by n or n-1. s1 = 19.59218
  on the census data, equal to ours to 2e-7 relative.
* `mean` is the plain column mean (ours agrees to 1 float32 ulp, < 1e-7).
* The storage order, smallest component first, is the ascending order of a symmetric
  eigensolver (MXNet's `linalg.syevd`, LAPACK's divide-and-conquer `?syevd`). numpy's
  `eigh` calls the same LAPACK routine, and its eigenvector signs equal SageMaker's for all
  33 census components, so we keep LAPACK's signs untouched: projections then match the
  walkthrough's sign for sign. (An explicit "largest loading positive" rule would flip 18
  of the 33.)
* SageMaker accumulates in float32. That only shows in the numerically null directions:
  TotalPop = Men + Women makes one eigenvalue exactly 0, where SageMaker reports
  s = 0.0179 (float32 cancellation noise) and its last ~4 components are noise. We
  accumulate in float64: the top 29 components agree with SageMaker's to < 3.1e-4 (top
  20: v to 2.4e-5, s to 5e-6 relative), and ours are the exact ones. Re-running SageMaker's
  float32 recipe (batches of 500 rows) does not reproduce its tail either (the tail depends
  on its BLAS summation order) and moves the top 20 further from the artifact (4e-5).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from backends.algorithms.parallel import (
    _as_matrix,
    _chunks,
    _float64_chunks,
    _map_parts,
    _parts,
    _raise_not_finite,
    _rows_per_chunk,
    _single_blas,
)
from backends.format.hyperparameters import check_pca_against_data, validate_pca
from backends.format.models import PCAModel


# --- PCA ------------------------------------------------------------------------------------
def column_mean(X: np.ndarray) -> np.ndarray:
    """Column means accumulated in float64, chunk by chunk."""
    X = np.asarray(X)
    n, d = X.shape

    def part(lo: int, hi: int) -> np.ndarray:
        total = np.zeros(d)
        for _, block in _float64_chunks(X, lo, hi):
            total += block.sum(axis=0)
        return total

    return sum(_map_parts(part, _parts(n, d))) / n


def total_variance(X: np.ndarray, mean: np.ndarray) -> float:
    """Sum of squares of the rows about `mean`: the denominator of exact explained-variance ratios.

    With a PCA model's `mean` (zeros when subtract_mean is false), s_i**2 / total_variance is
    the share of the whole data's variance that component i explains — not just a share of
    the kept components.
    """
    X = np.asarray(X)
    n, d = X.shape
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)

    def part(lo: int, hi: int) -> float:
        total = 0.0
        for _, block in _float64_chunks(X, lo, hi):
            block -= mean
            total += float(np.einsum("ij,ij->", block, block))
        return total

    return float(sum(_map_parts(part, _parts(n, d))))


class ScatterAccumulator:
    """Regular-mode PCA statistics over row blocks, in float64: streamable and mergeable.

    SageMaker's regular mode computes sum x^T x - (1/n)(sum x)^T(sum x). We hold the same
    quantities about a fixed `shift` (by default the first chunk's column means), so that the
    final subtraction does not cancel away the small eigenvalues: C = S - n * m m^T with S and
    m taken about the shift. Without subtract_mean, the shift is zero and C = S. Each block is
    converted to float64 a cache-sized chunk at a time in one reused buffer.
    """

    def __init__(self, n_features: int, *, subtract_mean: bool = True, shift: np.ndarray | None = None):
        self.n_features = int(n_features)
        self.subtract_mean = bool(subtract_mean)
        if not self.subtract_mean:
            shift = np.zeros(self.n_features)
        self.shift = None if shift is None else np.asarray(shift, dtype=np.float64).reshape(-1)
        self.n = 0
        self.sums = np.zeros(self.n_features)  # about the shift
        self.scatter = np.zeros((self.n_features, self.n_features))  # about the shift

    def update(self, block: np.ndarray) -> "ScatterAccumulator":
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != self.n_features:
            raise ValueError(f"Expected rows of {self.n_features} features, got an array of shape {block.shape}.")
        if len(block) == 0:
            return self
        if self.shift is None:
            self.shift = block[: _rows_per_chunk(self.n_features)].mean(axis=0, dtype=np.float64)
        # The shift is subtracted as a whole chunk-shaped array (numpy broadcasting along rows of
        # 34 values ran at a third of the speed), and the column sums are a product with ones
        # (numpy's .sum(axis=0) took half as long as the scatter itself).
        rows = min(_rows_per_chunk(self.n_features), len(block))  # _float64_chunks' chunk
        shifts = np.broadcast_to(self.shift, (rows, self.n_features)).copy() if self.subtract_mean else None
        ones = np.ones(rows)
        # BLAS on one thread: small products on two OpenBLAS threads crawl on a busy machine.
        with np.errstate(invalid="ignore", over="ignore"), _single_blas():  # non-finite rows: the caller reports them
            for _, chunk in _float64_chunks(block):
                m = len(chunk)
                if self.subtract_mean:
                    np.subtract(chunk, shifts[:m], out=chunk)
                self.scatter += chunk.T @ chunk
                self.sums += ones[:m] @ chunk
                self.n += m
        return self

    def merge(self, other: "ScatterAccumulator") -> "ScatterAccumulator":
        """Add another accumulator's rows (taken about the same shift)."""
        if other.n == 0:
            return self
        if self.n == 0 and self.shift is None:
            self.shift = other.shift
        if not np.array_equal(self.shift, other.shift):
            raise ValueError("Only accumulators about the same shift can be merged.")
        self.n += other.n
        self.sums += other.sums
        self.scatter += other.scatter
        return self

    def mean_and_scatter(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, C): the column means (zeros without subtract_mean) and the scatter matrix about them."""
        if self.n == 0:
            raise ValueError("No rows were accumulated.")
        if not self.subtract_mean:
            return np.zeros(self.n_features), self.scatter.copy()
        m = self.sums / self.n
        return self.shift + m, self.scatter - self.n * np.outer(m, m)


def _scatter_matrix(X: np.ndarray, subtract_mean: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mean, C): C = sum (x - mean)^T (x - mean) in one chunked float64 pass over X."""
    n, d = X.shape
    shift = X[: _rows_per_chunk(d)].mean(axis=0, dtype=np.float64) if subtract_mean else None

    def part(lo: int, hi: int) -> ScatterAccumulator:
        return ScatterAccumulator(d, subtract_mean=subtract_mean, shift=shift).update(X[lo:hi])

    parts = _map_parts(part, _parts(n, d))
    total = parts[0]
    for other in parts[1:]:
        total.merge(other)
    return total.mean_and_scatter()


def pca_from_scatter(mean: np.ndarray, scatter: np.ndarray, num_components: int) -> PCAModel:
    """The regular-mode model from (mean, scatter matrix): symmetric eigendecomposition, largest first."""
    C = (scatter + scatter.T) / 2.0
    # LAPACK ?syevd, ascending like SageMaker's storage order; its signs are SageMaker's.
    eigenvalues, vectors = np.linalg.eigh(C)
    top = slice(None, -num_components - 1, -1)  # largest first
    s = np.sqrt(np.clip(eigenvalues[top], 0.0, None))
    return PCAModel(mean=mean, v=vectors[:, top], s=s)


def _pca_regular(X: np.ndarray, hp: Mapping[str, Any]) -> tuple[PCAModel, float]:
    mean, C = _scatter_matrix(X, hp["subtract_mean"])
    # The finiteness check rides on the pass: any NaN or inf row makes C or the mean non-finite
    # (float32 rows cannot overflow a float64 sum of squares).
    if not (np.isfinite(C).all() and np.isfinite(mean).all()):
        _raise_not_finite(X, "PCA")
    model = pca_from_scatter(mean, C, hp["num_components"])
    # total_variance(X, model.mean) without another pass: trace(C) is the sum of squares about the
    # exact mean, and moving to the stored float32 mean a adds n |mean - a|^2.
    offset = mean - model.mean.astype(np.float64)
    return model, float(np.trace(C)) + X.shape[0] * float(offset @ offset)


def _centred_times(X: np.ndarray, mean: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """(X - mean) @ Q without forming X - mean, chunk by chunk: (n, l) float64."""
    n, d = X.shape
    out = np.empty((n, Q.shape[1]))
    shift = mean @ Q

    def part(lo: int, hi: int) -> None:
        for rows, block in _float64_chunks(X, lo, hi):
            np.matmul(block, Q, out=out[rows])
            out[rows] -= shift

    _map_parts(part, _parts(n, d))
    return out


def _centred_transpose_times(X: np.ndarray, mean: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """(X - mean)^T @ Y = X^T Y - mean^T (1^T Y), accumulated chunk by chunk: (d, l) float64."""
    n, d = X.shape

    def part(lo: int, hi: int) -> np.ndarray:
        total = np.zeros((d, Y.shape[1]))
        for rows, block in _float64_chunks(X, lo, hi):
            total += block.T @ Y[rows]
        return total

    return sum(_map_parts(part, _parts(n, d))) - np.outer(mean, Y.sum(axis=0))


def _pca_randomized(X: np.ndarray, hp: Mapping[str, Any], seed: int) -> PCAModel:
    """Halko-Martinsson-Tropp randomized SVD of the centred matrix, as scikit-learn's
    `randomized_svd` runs it (Gaussian sketch, n_iter "auto", LU-normalised power iterations,
    a final QR), but in float64 and with X - mean applied implicitly: no centred copy of X."""
    n, d = X.shape
    q = hp["num_components"]
    extra = hp["extra_components"] if hp["extra_components"] >= 0 else max(10, q)  # SageMaker's -1
    extra = min(extra, min(n, d) - q)  # the sketch cannot be wider than the matrix
    mean = column_mean(X) if hp["subtract_mean"] else np.zeros(d)
    n_iter = 7 if q < 0.1 * min(n, d) else 4
    import scipy.linalg  # here, not at the top: regular mode (the county run) needs none of scipy's 60 ms import

    Z = np.random.RandomState(seed).normal(size=(d, q + extra))
    for _ in range(n_iter):
        Z, _ = scipy.linalg.lu(_centred_times(X, mean, Z), permute_l=True, check_finite=False)
        Z, _ = scipy.linalg.lu(_centred_transpose_times(X, mean, Z), permute_l=True, check_finite=False)
    Q, _ = np.linalg.qr(_centred_times(X, mean, Z))
    B = _centred_transpose_times(X, mean, Q).T  # Q^T (X - mean): (q + extra, d)
    _, s, vt = np.linalg.svd(B, full_matrices=False)
    v, s = vt[:q].T, s[:q]
    # Deterministic signs: each component's largest-magnitude loading is positive.
    signs = np.sign(v[np.abs(v).argmax(axis=0), np.arange(q)])
    signs[signs == 0] = 1.0
    return PCAModel(mean=mean, v=v * signs, s=s)


def fit_pca(X: np.ndarray, hp: Mapping[str, Any], *, seed: int = 0) -> PCAModel:
    """SageMaker's PCA on float32 rows X (n, d) (see fit_pca_and_variance)."""
    return fit_pca_and_variance(X, hp, seed=seed)[0]


def fit_pca_and_variance(X: np.ndarray, hp: Mapping[str, Any], *, seed: int = 0) -> tuple[PCAModel, float | None]:
    """SageMaker's PCA on float32 rows X (n, d); the model holds components largest first.

    regular: exact. The scatter matrix of the (centred) data in one chunked float64 pass,
        then a symmetric eigendecomposition; s = sqrt(eigenvalues). `mini_batch_size` is
        validated but not used to batch: regular mode's result is a sum of per-batch
        summaries, so the batching changes nothing but rounding; the chunks are sized by
        the CPU cache (CHUNK_BYTES) instead. `ScatterAccumulator` does the same over
        chunks that arrive one by one (workbench/core/streaming.py).
    randomized: a randomized SVD of the centred matrix (never formed), with
        n_oversamples = extra_components (-1 → max(10, num_components), as SageMaker
        defines it), seeded by `seed`. For wide data, where a d × d matrix is too big.
    Returns the model and, in regular mode, `total_variance(X, model.mean)` from the same pass
    (the denominator of its explained-variance shares; at 10M rows another pass took 0.2 s);
    None in randomized mode.
    """
    hp = validate_pca(hp)
    regular = hp["algorithm_mode"] != "randomized"
    X = _as_matrix(X, "PCA", check_finite=not regular)  # regular mode checks during its pass
    check_pca_against_data(hp, *X.shape)
    if not regular:
        return _pca_randomized(X, hp, seed), None
    return _pca_regular(X, hp)


def project(X: np.ndarray, model: PCAModel) -> np.ndarray:
    """PCAModel.transform, (x - mean) @ v in float32, a chunk at a time: no full-size X - mean."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != model.feature_dim:
        raise ValueError(f"Cannot project rows of shape {X.shape} with a PCA model of {model.feature_dim} features.")
    n, d = X.shape
    mean, v = model.mean, model.v
    out = np.empty((n, v.shape[1]), dtype=np.float32)

    def part(lo: int, hi: int) -> None:
        buffer = np.empty((min(_rows_per_chunk(d), max(hi - lo, 1)), d), dtype=np.float32)
        # The mean as a chunk-shaped array: numpy's broadcast of d values along every row ran at
        # about 60% of the speed (the same subtraction, element for element).
        tile = np.ascontiguousarray(np.broadcast_to(mean, buffer.shape))
        for rows in _chunks(n, d, lo, hi):
            size = rows.stop - rows.start
            block = buffer[:size]
            np.subtract(X[rows], tile[:size], out=block, casting="unsafe")
            np.matmul(block, v, out=out[rows])

    _map_parts(part, _parts(n, d))
    return out
