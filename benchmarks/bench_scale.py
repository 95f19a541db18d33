"""PCA + K-Means on synthetic census-shaped data (100k, 1M, 10M rows × 34), against scikit-learn.

    python -m benchmarks --only scale --sizes 100k,1m,10m

The data: the walkthrough's 3,218 min-max-scaled counties, resampled with replacement, plus
Gaussian noise of 5% of each feature's spread; float32, written once per size to a .npy file.
Every phase loads that file in a fresh process, so its peak memory is its own:

* floor — one pass of `X.T @ X` on the same float32 array (the faster of numpy's default BLAS
  threads and one thread);
* sklearn — `PCA(5, svd_solver='covariance_eigh').fit_transform(X)`, then
  `MiniBatchKMeans(7, random_state=0)` and its labels; run twice, with scikit-learn's default
  threads and with one BLAS and OpenMP thread (on a busy 2-core machine its threads can crawl), the
  faster counts as the baseline;
* workbench — the embedded backend as the library drives it: `train_pca` (33 components,
  regular mode; the model.tar.gz written and read back), the top 5 projected
  (`algorithms.project`), `train_kmeans` (k = 7, SageMaker's defaults) and the labels
  (`algorithms.assign`);
* artifact-transform — memory only: `PCAModel.transform` + `KMeansModel.assign` (what
  `pipeline.project` and `pipeline.train_kmeans` call) on the same data, for the record.

SSE is measured the same way for both (float64 distances to the float32 centroids). The
K-Means comparison is made on identical data: after its timed runs the scikit-learn phase also
runs the workbench's `fit_kmeans` on scikit-learn's own scores (untimed). Each pipeline's SSE
on its own scores is reported too, with the variance each PCA's 5 components kept: at 10M rows
scikit-learn's float32 covariance keeps visibly less, which lowers its SSE without a better
clustering.
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


def phase_sklearn(params: dict) -> dict:
    import contextlib

    import numpy as np
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    from backends.algorithms import kmeans, kmeans_steps, refine
    from backends.algorithms import pca as pca_mod

    threads = params.get("openmp_threads")
    memory = harness.Memory()
    X = _load(params)
    stages: dict[str, float] = {}

    def once():
        started = time.perf_counter()
        scores = PCA(n_components=TOP, svd_solver="covariance_eigh").fit_transform(X)
        middle = time.perf_counter()
        model = MiniBatchKMeans(n_clusters=K, random_state=0).fit(scores)
        labels = model.labels_
        ended = time.perf_counter()
        stages.update(pca=middle - started, kmeans=ended - middle)
        return scores, model.cluster_centers_, labels, dict(stages)

    limit = threadpool_limits(threads) if threads else contextlib.nullcontext()  # BLAS and OpenMP
    with limit:
        times, (scores, centroids, _, best_stages) = harness.best_of(once, params.get("repeat", 3))
    peak = memory.result()
    # Not timed: the SSE, the variance the 5 components kept, and — on these very scores — the
    # workbench's K-Means, so the two K-Means are compared on identical data.
    sse = refine._sse(scores, centroids)
    captured = pca_mod.total_variance(scores, scores.mean(axis=0, dtype=np.float64))
    _, same = kmeans.fit_kmeans(scores, {"k": K, "feature_dim": TOP}, seed=0)
    return {"times": times, "best": min(times), "stages": best_stages, "sse": sse, "captured_variance": captured,
            "workbench_kmeans_sse_on_these_scores": same["sse"], "data_bytes": X.nbytes, **peak}


def phase_workbench(params: dict) -> dict:
    import numpy as np

    from backends.algorithms import kmeans, kmeans_steps, refine
    from backends.algorithms import pca as pca_mod
    from backends.format import models
    from backends.registry import create_backend

    backend = create_backend("embedded")
    memory = harness.Memory()
    X = _load(params)
    n, d = X.shape

    def once():
        stages = {}
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            started = time.perf_counter()
            pca_job = backend.train_pca(
                X, {"feature_dim": d, "num_components": min(33, d), "mini_batch_size": min(n, 500)},
                seed=0, output_dir=Path(tmp) / "pca",
            )
            pca = models.load_pca(pca_job.artifact_path).top(TOP)
            t_pca = time.perf_counter()
            scores = pca_mod.project(X, pca)
            t_project = time.perf_counter()
            km_job = backend.train_kmeans(scores, {"k": K, "feature_dim": TOP}, seed=0, output_dir=Path(tmp) / "kmeans")
            km = models.load_kmeans(km_job.artifact_path)
            t_kmeans = time.perf_counter()
            labels, _ = kmeans_steps.assign(scores, km.centroids)
            ended = time.perf_counter()
        stages.update(pca=t_pca - started, project=t_project - t_pca, kmeans=t_kmeans - t_project,
                      labels=ended - t_kmeans)
        return km_job.details["metrics"]["sse"], stages

    times, (sse, stages) = harness.best_of(once, params.get("repeat", 3))
    peak = memory.result()
    # Not timed: the variance the 5 kept components hold (compared with scikit-learn's).
    model = pca_mod.fit_pca(X, {"feature_dim": d, "num_components": TOP, "mini_batch_size": min(n, 500)})
    scores = pca_mod.project(X, model)
    captured = pca_mod.total_variance(scores, scores.mean(axis=0, dtype=np.float64))
    return {"times": times, "best": min(times), "stages": stages, "sse": sse, "captured_variance": captured,
            "kmeans_stages": kmeans_stages(scores), "data_bytes": X.nbytes, **peak}


def kmeans_stages(scores) -> dict[str, float]:
    """Where fit_kmeans's time goes, stage by stage, on the same scores (one run each), with the
    cost of one read of every row in a random order: the least SageMaker's stream can cost."""
    import numpy as np

    from backends.algorithms import kmeans, kmeans_steps, refine
    from backends.algorithms import pca as pca_mod
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

    from backends.algorithms import kmeans, kmeans_steps, refine
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
    "sklearn": phase_sklearn,
    "workbench": phase_workbench,
    "artifact-transform": phase_artifact_transform,
}


# --- the parent side ---------------------------------------------------------------------------
def run(sizes: list[int], *, workdir: Path, env: dict, repeat: int = 3, quick: bool = False, log=print) -> list[dict]:
    """Every size's phases; `quick` leaves out the one-thread scikit-learn run and artifact-transform."""
    results = []
    for n in sizes:
        label = size_label(n)
        path = workdir / f"synthetic-{label}.npy"
        log(f"[scale {label}] generating {n:,} rows × {N_FEATURES} …")
        started = time.perf_counter()
        generate(n, path)
        entry = {"rows": n, "label": label, "generate_seconds": time.perf_counter() - started,
                 "load_before": harness.load_average()}
        # Fewer repeats where one run already takes many seconds.
        # (scikit-learn's MiniBatchKMeans alone can take minutes at 10M rows: its early stopping
        # follows an average whose weight is 2 × batch / n, so it stops later the more rows.)
        heavy = 1 if n >= 5_000_000 else repeat
        phases = [
            ("floor", {"repeat": max(repeat, 3)}),
            ("sklearn", {"repeat": heavy}),
            ("sklearn-1thread", {"repeat": heavy, "openmp_threads": 1}),
            ("workbench", {"repeat": max(2, repeat) if n >= 5_000_000 else repeat}),
            ("artifact-transform", {}),
        ]
        if quick:
            phases = [p for p in phases if p[0] in ("floor", "sklearn", "workbench")]
        elif n >= 5_000_000:
            # One scikit-learn run is 10+ minutes here; its two-thread run was the slower of the
            # two at every size measured (OpenMP spin-waits on MiniBatchKMeans's small batches).
            phases = [p for p in phases if p[0] != "sklearn"]
        for name, params in phases:
            log(f"[scale {label}] {name} …")
            phase = "sklearn" if name.startswith("sklearn") else name
            entry[name] = harness.run_phase("benchmarks.bench_scale", phase, {"data": str(path), **params}, env=env)
            if "error" in entry[name]:
                log(f"[scale {label}] {name} failed: {entry[name]['error']}")
        entry["load_after"] = harness.load_average()
        path.unlink(missing_ok=True)
        results.append(summarise(entry))
    return results


def summarise(entry: dict) -> dict:
    floor = entry["floor"].get("best")
    sk = [entry[name] for name in ("sklearn", "sklearn-1thread") if "best" in entry.get(name, {})]
    baseline = min(sk, key=lambda r: r["best"]) if sk else {}
    wb = entry.get("workbench", {})
    data_bytes = wb.get("data_bytes") or entry["floor"].get("data_bytes")
    entry["sklearn_baseline"] = "sklearn-1thread" if baseline is entry.get("sklearn-1thread") else "sklearn"
    entry["ratios"] = {
        "workbench_time_vs_floor": harness.ratio(wb.get("best"), floor),
        "workbench_pca_vs_floor": harness.ratio((wb.get("stages") or {}).get("pca"), floor),
        "workbench_time_vs_sklearn": harness.ratio(wb.get("best"), baseline.get("best")),
        "sklearn_time_vs_floor": harness.ratio(baseline.get("best"), floor),
        "workbench_peak_vs_data": harness.ratio(wb.get("peak_over_start_bytes"), data_bytes),
        "sklearn_peak_vs_data": harness.ratio(baseline.get("peak_over_start_bytes"), data_bytes),
        "floor_peak_vs_data": harness.ratio(entry["floor"].get("peak_over_start_bytes"), data_bytes),
        "artifact_transform_peak_vs_data": harness.ratio(
            entry.get("artifact-transform", {}).get("peak_over_start_bytes"), data_bytes),
        # The fair K-Means comparison: both on scikit-learn's own scores.
        "workbench_sse_vs_minibatch": harness.ratio(baseline.get("workbench_kmeans_sse_on_these_scores"),
                                                    baseline.get("sse")),
        # Each pipeline's SSE on its own scores: only comparable when both PCAs kept the same variance.
        "pipeline_sse_vs_sklearn_pipeline": harness.ratio(wb.get("sse"), baseline.get("sse")),
        "sklearn_captured_variance_vs_workbench": harness.ratio(baseline.get("captured_variance"),
                                                                wb.get("captured_variance")),
    }
    return entry


def report(results: list[dict]) -> list[str]:
    f = harness.fmt_ratio
    lines = [
        "| rows | floor X.T@X | scikit-learn | workbench | workbench ÷ floor (PCA alone) | workbench ÷ sklearn "
        "| peak ÷ float32 data: workbench / sklearn | K-Means SSE ÷ MiniBatchKMeans (same scores) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in results:
        r, wb = e["ratios"], e.get("workbench", {})
        base = e.get(e["sklearn_baseline"], {})
        st = wb.get("stages") or {}
        lines.append(
            f"| {e['label']} | {e['floor'].get('best', float('nan')):.3f} s | {base.get('best', float('nan')):.3f} s "
            f"({e['sklearn_baseline']}) | {wb.get('best', float('nan')):.3f} s | {f(r['workbench_time_vs_floor'])} "
            f"({f(r['workbench_pca_vs_floor'])}) | {f(r['workbench_time_vs_sklearn'])} | "
            f"{f(r['workbench_peak_vs_data'])} / {f(r['sklearn_peak_vs_data'])} | {r['workbench_sse_vs_minibatch'] or float('nan'):.4f} |"
        )
    lines.append("")
    for e in results:
        wb, st = e.get("workbench", {}), (e.get("workbench", {}).get("stages") or {})
        sk = {name: e[name] for name in ("sklearn", "sklearn-1thread") if name in e}
        lines.append(
            f"- {e['label']}: data {harness.mib(wb.get('data_bytes'))}; workbench stages "
            + ", ".join(f"{k} {v:.3f} s ({harness.fmt_ratio(harness.ratio(v, e['floor'].get('best')))} of the floor)"
                        for k, v in st.items())
            + "; K-Means stages, one run each: " + ", ".join(
                f"{k} {v:.3f} s ({harness.fmt_ratio(harness.ratio(v, e['floor'].get('best')))})"
                for k, v in (wb.get("kmeans_stages") or {}).items())
            + f"; workbench runs {[round(t, 3) for t in wb.get('times', [])]}; "
            + "; ".join(f"{name} {[round(t, 3) for t in r.get('times', [])]} "
                        f"(PCA {r.get('stages', {}).get('pca', float('nan')):.3f} s, "
                        f"K-Means {r.get('stages', {}).get('kmeans', float('nan')):.3f} s)" for name, r in sk.items())
            + f"; floor runs {[round(t, 3) for t in e['floor'].get('times', [])]}"
            + f"; SSE on scikit-learn's scores: workbench K-Means "
            f"{e.get(e['sklearn_baseline'], {}).get('workbench_kmeans_sse_on_these_scores') or float('nan'):.1f} vs MiniBatchKMeans "
            f"{e.get(e['sklearn_baseline'], {}).get('sse', float('nan')):.1f}; each pipeline on its own scores: workbench "
            f"{wb.get('sse', float('nan')):.1f} ({harness.fmt_ratio(e['ratios']['pipeline_sse_vs_sklearn_pipeline'])}); "
            f"variance kept by scikit-learn's 5 components ÷ the workbench's "
            f"{harness.fmt_ratio(e['ratios']['sklearn_captured_variance_vs_workbench'])}"
            + f"; PCAModel.transform + KMeansModel.assign peak {harness.fmt_ratio(e['ratios']['artifact_transform_peak_vs_data'])} of the data"
            + f"; load average {e['load_before']} → {e['load_after']}"
        )
        for name in ("floor", "sklearn", "sklearn-1thread", "workbench", "artifact-transform"):
            if "error" in e.get(name, {}):
                lines.append(f"  - {name} FAILED: {e[name]['error']}")
    return lines


if __name__ == "__main__":
    sys.exit(harness.phase_main(PHASES))
