"""PCA + K-Means on synthetic census-shaped data (100k, 1M, 10M rows × 34), against the peers an
analyst would really pick.

    python -m benchmarks --only scale --sizes 100k,1m,10m

The data: the walkthrough's 3,218 min-max-scaled counties, resampled with replacement, plus
Gaussian noise of 5% of each feature's spread; float32, written once per size to a .npy file.
Every phase loads its file in a fresh process, so its peak memory is its own:

* floor — one pass of `X.T @ X` on the same float32 array (the faster of numpy's default BLAS
  threads and one thread);
* workbench — the embedded backend as the library drives it: `train_pca` (33 components,
  regular mode; the model.tar.gz written and read back), the top 5 projected, `train_kmeans`
  (k = 7, SageMaker's defaults) and the labels; its 5 component scores are saved for the
  K-Means phases below (untimed);
* sklearn-pca — `PCA(5, svd_solver='covariance_eigh').fit_transform(X)` (context: the
  variance its float32 covariance keeps, against the workbench's exact PCA);
* K-Means on the very same scores (the workbench's), each timed with its labels, with its SSE
  (float64 distances to its float32 centroids) and its peak memory over the loaded scores:
  `kmeans-workbench` (`fit_kmeans` + `assign`), `kmeans-lloyd` — scikit-learn
  `KMeans(7, n_init=1, algorithm="lloyd")`; `kmeans-minibatch` — `MiniBatchKMeans(7,
  batch_size=4096)` (in scikit-learn 1.9.1 each step draws its batch with
  `random_state.choice(n, p=…)`, an O(n) cost per step: its time grows with n for that
  reason, not the method's); `kmeans-faiss` — faiss-cpu's `faiss.Kmeans(d, 7)` with its
  defaults (it trains on a sample of 256 points per centroid: 1,792 rows), and
  `kmeans-faiss-all` — the same on every row (`max_points_per_centroid` = n). faiss-cpu is
  pinned in requirements.txt for the benchmark alone (the workbench never imports it); without
  it those phases report "faiss not installed".
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness

N_FEATURES = 34
TOP = 5
K = 7
NOISE = 0.05


def parse_size(text: str) -> int:
    """'100k' → 100_000, '1m' → 1_000_000, '2500' → 2500."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    value = int(float(number) * scale)
    if value < 100:
        raise ValueError(f"A size must be at least 100 rows, got {text!r}.")
    return value


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def census_matrix():
    """The walkthrough's cleaning and scaling: rows with blanks dropped, 34 features min-max scaled."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(harness.census_path()).dropna()
    numeric = frame.drop(columns=["CensusId", "State", "County"]).to_numpy(dtype=np.float64)
    low, high = numeric.min(axis=0), numeric.max(axis=0)
    return ((numeric - low) / np.where(high > low, high - low, 1.0)).astype(np.float32)


def generate(n: int, path: Path, seed: int = 0) -> Path:
    """n resampled counties with noise, float32 (n, 34), written to `path` (.npy) in chunks."""
    import numpy as np

    base = census_matrix()
    noise = (NOISE * base.std(axis=0)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, base.shape[1]))
    step = 500_000
    for lo in range(0, n, step):
        m = min(step, n - lo)
        block = base[rng.integers(len(base), size=m)]
        block += rng.standard_normal((m, base.shape[1]), dtype=np.float32) * noise
        out[lo : lo + m] = block
    out.flush()
    del out
    return path


def _load(params: dict):
    import numpy as np

    return np.load(params["data"])


# --- phases (each runs in its own process) -----------------------------------------------------
def phase_floor(params: dict) -> dict:
    """One pass of X.T @ X, with numpy's default BLAS threads and with one: the faster is the floor
    (on a busy 2-core machine OpenBLAS's second thread can make the default many times slower)."""
    from threadpoolctl import threadpool_limits

    memory = harness.Memory()
    X = _load(params)
    times, _ = harness.best_of(lambda: X.T @ X, params.get("repeat", 3))
    with threadpool_limits(1, user_api="blas"):
        single, _ = harness.best_of(lambda: X.T @ X, params.get("repeat", 3))
    return {"times": times, "single_thread_times": single, "best": min(times + single), "data_bytes": X.nbytes,
            **memory.result()}


def phase_sklearn_pca(params: dict) -> dict:
    """scikit-learn's PCA on the float32 data, and the variance its 5 components keep."""
    import numpy as np
    from sklearn.decomposition import PCA

    from backends.algorithms import pca as pca_mod

    memory = harness.Memory()
    X = _load(params)
    times, scores = harness.best_of(lambda: PCA(n_components=TOP, svd_solver="covariance_eigh").fit_transform(X),
                                    params.get("repeat", 3))
    peak = memory.result()
    captured = pca_mod.total_variance(scores, scores.mean(axis=0, dtype=np.float64))
    return {"times": times, "best": min(times), "captured_variance": captured, "data_bytes": X.nbytes, **peak}


def _kmeans_runner(name: str, n: int):
    """The K-Means under test as a function of the scores: (centroids, labels)."""
    import numpy as np

    if name == "workbench":
        from backends.algorithms import compiled  # noqa: F401  numba's kernels, which fit_kmeans imports beyond 100,000 rows

        from backends.algorithms import kmeans, kmeans_steps

        def fit(scores):
            model, _ = kmeans.fit_kmeans(scores, {"k": K, "feature_dim": scores.shape[1]}, seed=0)
            return model.centroids, kmeans_steps.assign(scores, model.centroids)[0]
    elif name in ("lloyd", "minibatch"):
        from sklearn.cluster import KMeans, MiniBatchKMeans

        def fit(scores):
            model = (KMeans(K, n_init=1, algorithm="lloyd", random_state=0) if name == "lloyd"
                     else MiniBatchKMeans(K, batch_size=4096, random_state=0)).fit(scores)
            return model.cluster_centers_, model.labels_
    else:
        import faiss

        def fit(scores):
            extra = {"max_points_per_centroid": n} if name == "faiss-all" else {}
            model = faiss.Kmeans(scores.shape[1], K, seed=0, **extra)
            model.train(np.ascontiguousarray(scores, dtype=np.float32))
            _, labels = model.index.search(np.ascontiguousarray(scores, dtype=np.float32), 1)
            return model.centroids, labels[:, 0]
    return fit


def phase_kmeans(params: dict) -> dict:
    """One K-Means (params["method"]) on the workbench's saved scores: time, SSE, peak memory."""
    import numpy as np

    from backends.algorithms import refine

    method = params["method"]
    if method.startswith("faiss"):
        try:
            import faiss  # noqa: F401
        except ImportError:
            return {"skipped": "faiss not installed (it is in requirements.txt: .venv/bin/pip install -r requirements.txt)"}
    rows = np.load(params["scores"], mmap_mode="r").shape[0]
    fit = _kmeans_runner(method, rows)  # its imports, before the memory mark and the clock
    memory = harness.Memory()
    scores = np.load(params["scores"])
    times, (centroids, labels) = harness.best_of(lambda: fit(scores), params.get("repeat", 3))
    peak = memory.result()
    return {"times": times, "best": min(times), "sse": refine._sse(scores, np.asarray(centroids, dtype=np.float32)),
            "clusters_used": int(len(np.unique(labels))), "scores_bytes": scores.nbytes, **peak}


def phase_workbench(params: dict) -> dict:
    """The product's own pipeline stages (workbench.core.pipeline: train_pca with its explained
    variance, project, train_kmeans with every row's label and distance) on the embedded backend."""
    import numpy as np
    from backends.algorithms import compiled  # noqa: F401  imported by fit_kmeans beyond 100,000 rows: before the mark

    from backends.algorithms import pca as pca_mod
    from backends.registry import create_backend
    from workbench.core import pipeline

    backend = create_backend("embedded")
    memory = harness.Memory()
    X = _load(params)
    n, d = X.shape

    def once():
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            started = time.perf_counter()
            pca = pipeline.train_pca(X, min(33, d), backend=backend, seed=0, output_dir=Path(tmp) / "pca")
            t_pca = time.perf_counter()
            scores = pipeline.project(pca, X, TOP)
            t_project = time.perf_counter()
            kmeans = pipeline.train_kmeans(scores, K, backend=backend, seed=0, output_dir=Path(tmp) / "kmeans")
            ended = time.perf_counter()
        stages = {"pca": t_pca - started, "project": t_project - t_pca, "kmeans_and_labels": ended - t_project}
        return kmeans.job.details["metrics"]["sse"], stages

    times, (sse, stages) = harness.best_of(once, params.get("repeat", 3))
    peak = memory.result()
    # Not timed: the variance the 5 kept components hold (compared with scikit-learn's), and the
    # scores themselves, for the K-Means phases (every K-Means is compared on these).
    model = pca_mod.fit_pca(X, {"feature_dim": d, "num_components": TOP, "mini_batch_size": min(n, 500)})
    scores = pca_mod.project(X, model)
    captured = pca_mod.total_variance(scores, scores.mean(axis=0, dtype=np.float64))
    np.save(params["scores_out"], np.ascontiguousarray(scores, dtype=np.float32))
    return {"times": times, "best": min(times), "stages": stages, "sse": sse, "captured_variance": captured,
            "kmeans_stages": kmeans_stages(scores), "data_bytes": X.nbytes, **peak}


def kmeans_stages(scores) -> dict[str, float]:
    """Where fit_kmeans's time goes, stage by stage, on the same scores (one run each), with the
    cost of one read of every row in a random order: the least SageMaker's stream can cost."""
    import numpy as np

    from backends.algorithms import kmeans_steps, refine
    from backends.format.hyperparameters import validate_kmeans

    hp = validate_kmeans({"k": K, "feature_dim": scores.shape[1]})
    rng = np.random.default_rng(0)
    out = {}
    started = time.perf_counter()
    np.take(scores, rng.permutation(len(scores)), axis=0)
    out["random_order_read"] = time.perf_counter() - started
    started = time.perf_counter()
    centres, weights = kmeans_steps.stream_centers(scores, hp, rng)
    out["stream"] = time.perf_counter() - started
    started = time.perf_counter()
    trials = kmeans_steps.reduce_centers(centres, weights, hp, rng)
    out["reduce"] = time.perf_counter() - started
    started = time.perf_counter()
    refine.refine(scores, [C for _, C in trials], hp, rng)
    out["local_search_and_polish"] = time.perf_counter() - started
    return out


def phase_artifact_transform(params: dict) -> dict:
    """Peak memory of the artifact classes' whole-array transform and assign (one run)."""
    import numpy as np

    from backends.algorithms import pca as pca_mod
    from backends.format.models import KMeansModel

    memory = harness.Memory()
    X = _load(params)
    model = pca_mod.fit_pca(X, {"feature_dim": X.shape[1], "num_components": TOP, "mini_batch_size": 500})
    before = harness.peak_rss_bytes()
    started = time.perf_counter()
    scores = model.transform(X)
    centroids = scores[np.random.default_rng(0).choice(len(scores), K, replace=False)]
    KMeansModel(centroids).assign(scores)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "data_bytes": X.nbytes, "peak_before_transform_bytes": before - memory.start,
            **memory.result()}


PHASES = {
    "floor": phase_floor,
    "sklearn-pca": phase_sklearn_pca,
    "workbench": phase_workbench,
    "kmeans": phase_kmeans,
    "artifact-transform": phase_artifact_transform,
}
KMEANS_METHODS = ("workbench", "lloyd", "minibatch", "faiss", "faiss-all")
TARGETS = {"time_vs_floor": 6.0, "peak_vs_data": 1.5, "kmeans_vs_faiss": 2.0, "sse_vs_lloyd": 1.0}


# --- the parent side ---------------------------------------------------------------------------
def run(sizes: list[int], *, workdir: Path, env: dict, repeat: int = 3, quick: bool = False, log=print) -> list[dict]:
    """Every size's phases; `quick` leaves out artifact-transform."""
    results = []
    for n in sizes:
        label = size_label(n)
        path, scores = workdir / f"synthetic-{label}.npy", workdir / f"scores-{label}.npy"
        log(f"[scale {label}] generating {n:,} rows × {N_FEATURES} …")
        started = time.perf_counter()
        generate(n, path)
        entry = {"rows": n, "label": label, "generate_seconds": time.perf_counter() - started,
                 "load_before": harness.load_average()}
        heavy = 1 if n >= 5_000_000 else repeat  # fewer repeats where one run already takes many seconds
        phases = [("floor", "floor", {"repeat": max(repeat, 3)}),
                  ("workbench", "workbench", {"repeat": max(2, repeat) if n >= 5_000_000 else repeat,
                                              "scores_out": str(scores)}),
                  ("sklearn-pca", "sklearn-pca", {"repeat": heavy})]
        phases += [(f"kmeans-{m}", "kmeans", {"method": m, "scores": str(scores), "repeat": 1 if m == "minibatch"
                                              else max(2, heavy)}) for m in KMEANS_METHODS]
        if not quick:
            phases.append(("artifact-transform", "artifact-transform", {}))
        for name, phase, params in phases:
            log(f"[scale {label}] {name} …")
            entry[name] = harness.run_phase("benchmarks.bench_scale", phase, {"data": str(path), **params}, env=env)
            if "error" in entry[name]:
                log(f"[scale {label}] {name} failed: {entry[name]['error']}")
        entry["load_after"] = harness.load_average()
        path.unlink(missing_ok=True)
        scores.unlink(missing_ok=True)
        results.append(summarise(entry))
    return results


def summarise(entry: dict) -> dict:
    floor = entry["floor"].get("best")
    wb = entry.get("workbench", {})
    data_bytes = wb.get("data_bytes") or entry["floor"].get("data_bytes")
    km = {m: entry.get(f"kmeans-{m}", {}) for m in KMEANS_METHODS}
    ours = km["workbench"]
    entry["ratios"] = {
        "workbench_time_vs_floor": harness.ratio(wb.get("best"), floor),
        "workbench_pca_vs_floor": harness.ratio((wb.get("stages") or {}).get("pca"), floor),
        "workbench_peak_vs_data": harness.ratio(wb.get("peak_over_start_bytes"), data_bytes),
        "floor_peak_vs_data": harness.ratio(entry["floor"].get("peak_over_start_bytes"), data_bytes),
        "sklearn_pca_vs_floor": harness.ratio(entry.get("sklearn-pca", {}).get("best"), floor),
        "sklearn_pca_peak_vs_data": harness.ratio(entry.get("sklearn-pca", {}).get("peak_over_start_bytes"), data_bytes),
        "artifact_transform_peak_vs_data": harness.ratio(
            entry.get("artifact-transform", {}).get("peak_over_start_bytes"), data_bytes),
        # scikit-learn's float32 covariance against the workbench's exact PCA: the variance kept.
        "sklearn_captured_variance_vs_workbench": harness.ratio(entry.get("sklearn-pca", {}).get("captured_variance"),
                                                                wb.get("captured_variance")),
        **{f"kmeans_time_vs_{m}": harness.ratio(ours.get("best"), km[m].get("best")) for m in KMEANS_METHODS[1:]},
        **{f"kmeans_sse_vs_{m}": harness.ratio(ours.get("sse"), km[m].get("sse")) for m in KMEANS_METHODS[1:]},
    }
    return entry


def report(results: list[dict]) -> list[str]:
    f = harness.fmt_ratio
    lines = ["PCA + K-Means, the whole pipeline:", "",
             "| rows | floor X.T@X | workbench (PCA + K-Means + labels) | ÷ floor | PCA alone ÷ floor | "
             "scikit-learn PCA ÷ floor | peak ÷ float32 data | variance kept: scikit-learn ÷ workbench |",
             "|---|---|---|---|---|---|---|---|"]
    for e in results:
        r, wb = e["ratios"], e.get("workbench", {})
        lines.append(
            f"| {e['label']} | {e['floor'].get('best', float('nan')):.3f} s | {wb.get('best', float('nan')):.3f} s | "
            f"{f(r['workbench_time_vs_floor'])} | {f(r['workbench_pca_vs_floor'])} | {f(r['sklearn_pca_vs_floor'])} | "
            f"{f(r['workbench_peak_vs_data'])} | {r['sklearn_captured_variance_vs_workbench'] or float('nan'):.4f} |")
    lines += ["", "K-Means alone, every method on the workbench's own scores (k = 7):", "",
              "| rows | method | time | workbench ÷ it | SSE | workbench SSE ÷ its | peak ÷ scores |",
              "|---|---|---|---|---|---|---|"]
    for e in results:
        for m in KMEANS_METHODS:
            res = e.get(f"kmeans-{m}", {})
            if "skipped" in res or "error" in res:
                lines.append(f"| {e['label']} | {m} | {res.get('skipped') or 'FAILED: ' + res['error']} | | | | |")
                continue
            ratio_t = "1.00×" if m == "workbench" else f(e["ratios"][f"kmeans_time_vs_{m}"])
            ratio_s = "1.0000×" if m == "workbench" else f"{e['ratios'][f'kmeans_sse_vs_{m}'] or float('nan'):.4f}×"
            lines.append(f"| {e['label']} | {m} | {res.get('best', float('nan')):.3f} s | {ratio_t} | "
                         f"{res.get('sse', float('nan')):.1f} | {ratio_s} | "
                         f"{f(harness.ratio(res.get('peak_over_start_bytes'), res.get('scores_bytes')))} |")
    lines.append("")
    for e in results:
        wb = e.get("workbench", {})
        lines.append(
            f"- {e['label']}: data {harness.mib(wb.get('data_bytes'))}; workbench stages "
            + ", ".join(f"{k} {v:.3f} s" for k, v in (wb.get("stages") or {}).items())
            + "; its K-Means stages, one run each: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in (wb.get("kmeans_stages") or {}).items())
            + f"; runs: workbench {[round(t, 3) for t in wb.get('times', [])]}, floor "
            f"{[round(t, 3) for t in e['floor'].get('times', [])]}; PCAModel.transform + KMeansModel.assign peak "
            f"{f(e['ratios']['artifact_transform_peak_vs_data'])} of the data; load average {e['load_before']} → "
            f"{e['load_after']}")
        for name in ("floor", "workbench", "sklearn-pca", "artifact-transform"):
            if "error" in e.get(name, {}):
                lines.append(f"  - {name} FAILED: {e[name]['error']}")
    return lines


if __name__ == "__main__":
    sys.exit(harness.phase_main(PHASES))
