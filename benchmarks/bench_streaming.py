"""Streaming from disk: the county segmentation of a Parquet file, in chunks, in bounded memory.

    python -m benchmarks --only streaming --streaming-sizes 1m,10m

The file: census-shaped rows in the census's own units (the 3,218 counties' raw features,
resampled, plus 5% noise), 34 float32 features and a CensusId, in row groups of 131,072
rows. Two phases, each in a fresh process:

* stream — `workbench.streaming.segment_parquet(path, labels_out=…)`: min-max scale,
  PCA (33, regular mode), top 5, K-Means k = 7, labels written to Parquet;
* in-memory — the same work with the whole table in memory: `pd.read_parquet`,
  `scaling.fit_scaler('minmax')`, `algorithms.fit_pca`, `project`, `fit_kmeans`, `assign`,
  labels written to Parquet.

Reported: time, peak RSS over the process's start (after imports), and the ratios peak RSS ÷
file size, stream ÷ in-memory (time, peak) and the SSE ratio.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness
from benchmarks.bench_scale import NOISE, size_label

ROW_GROUP_ROWS = 131_072


def generate(n: int, path: Path, seed: int = 0) -> Path:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.read_csv(harness.census_path()).dropna()
    ids = frame["CensusId"].to_numpy(dtype=np.int64)
    names = [c for c in frame.columns if c not in ("CensusId", "State", "County")]
    base = frame[names].to_numpy(dtype=np.float64)
    noise = NOISE * base.std(axis=0)
    rng = np.random.default_rng(seed)
    step = 4 * ROW_GROUP_ROWS
    with pq.ParquetWriter(path, pa.schema([("CensusId", pa.int64())] + [(c, pa.float32()) for c in names])) as writer:
        for lo in range(0, n, step):
            m = min(step, n - lo)
            pick = rng.integers(len(base), size=m)
            block = (base[pick] + rng.standard_normal((m, len(names))) * noise).astype(np.float32)
            columns = {"CensusId": ids[pick]} | {c: block[:, j] for j, c in enumerate(names)}
            writer.write_table(pa.table(columns), row_group_size=ROW_GROUP_ROWS)
    return path


def phase_stream(params: dict) -> dict:
    from workbench.core import streaming

    memory = harness.Memory()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        started = time.perf_counter()
        result = streaming.segment_parquet(params["data"], k=7, top=5, seed=0, labels_out=Path(tmp) / "labels.parquet")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "sse": result.sse, "rows": result.rows_used, "passes": result.passes,
            "stages": result.timings, **memory.result()}


def phase_in_memory(params: dict) -> dict:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from backends.algorithms import kmeans, kmeans_steps
    from backends.algorithms import pca as pca_mod
    from workbench.core import scaling

    memory = harness.Memory()
    with tempfile.TemporaryDirectory(prefix="bench-inmem-") as tmp:
        started = time.perf_counter()
        frame = pd.read_parquet(params["data"])
        features = [c for c in frame.columns if c != "CensusId"]
        fitted = scaling.fit_scaler("minmax", frame, features)
        X = fitted.transform(frame)
        pca = pca_mod.fit_pca(X, {"feature_dim": X.shape[1], "num_components": 33, "mini_batch_size": 500})
        scores = pca_mod.project(X, pca.top(5))
        model, metrics = kmeans.fit_kmeans(scores, {"k": 7, "feature_dim": 5}, seed=0)
        labels, distances = kmeans_steps.assign(scores, model.centroids)
        pq.write_table(pa.table({"CensusId": frame["CensusId"].to_numpy(), "cluster": labels.astype(np.int32),
                                 "distance_to_cluster": distances.astype(np.float32)}), Path(tmp) / "labels.parquet")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "sse": metrics["sse"], "rows": len(X), **memory.result()}


PHASES = {"stream": phase_stream, "in-memory": phase_in_memory}


def run(sizes: list[int], *, workdir: Path, env: dict, log=print) -> list[dict]:
    results = []
    for n in sizes:
        label = size_label(n)
        path = workdir / f"synthetic-{label}.parquet"
        log(f"[streaming {label}] writing {n:,} rows to Parquet …")
        generate(n, path)
        entry = {"rows": n, "label": label, "file_bytes": path.stat().st_size,
                 "data_float32_bytes": n * 34 * 4, "load_before": harness.load_average()}
        for name in ("stream", "in-memory"):
            log(f"[streaming {label}] {name} …")
            entry[name] = harness.run_phase("benchmarks.bench_streaming", name, {"data": str(path)}, env=env)
            if "error" in entry[name]:
                log(f"[streaming {label}] {name} failed: {entry[name]['error']}")
        entry["load_after"] = harness.load_average()
        path.unlink(missing_ok=True)
        s, m = entry["stream"], entry["in-memory"]
        entry["ratios"] = {
            "stream_peak_vs_file": harness.ratio(s.get("peak_over_start_bytes"), entry["file_bytes"]),
            "in_memory_peak_vs_file": harness.ratio(m.get("peak_over_start_bytes"), entry["file_bytes"]),
            "stream_peak_vs_in_memory_peak": harness.ratio(s.get("peak_over_start_bytes"), m.get("peak_over_start_bytes")),
            "stream_time_vs_in_memory": harness.ratio(s.get("seconds"), m.get("seconds")),
            "stream_sse_vs_in_memory": harness.ratio(s.get("sse"), m.get("sse")),
        }
        results.append(entry)
    return results


def report(results: list[dict]) -> list[str]:
    f = harness.fmt_ratio
    lines = [
        "| rows | file | stream: time, peak RSS | in-memory: time, peak RSS | stream peak ÷ file | "
        "stream ÷ in-memory: time, peak | SSE stream ÷ in-memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in results:
        s, m, r = e["stream"], e["in-memory"], e["ratios"]
        lines.append(
            f"| {e['label']} | {harness.mib(e['file_bytes'])} | {s.get('seconds', float('nan')):.2f} s, "
            f"{harness.mib(s.get('peak_over_start_bytes'))} | {m.get('seconds', float('nan')):.2f} s, "
            f"{harness.mib(m.get('peak_over_start_bytes'))} | {f(r['stream_peak_vs_file'])} | "
            f"{f(r['stream_time_vs_in_memory'])}, {f(r['stream_peak_vs_in_memory_peak'])} | "
            f"{r['stream_sse_vs_in_memory'] or float('nan'):.5f} |"
        )
    lines.append("")
    for e in results:
        stages = e["stream"].get("stages") or {}
        lines.append(
            f"- {e['label']}: stream passes over the file {e['stream'].get('passes')}; stages "
            + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
            + f"; load average {e['load_before']} → {e['load_after']}"
        )
        for name in ("stream", "in-memory"):
            if "error" in e.get(name, {}):
                lines.append(f"  - {name} FAILED: {e[name]['error']}")
    return lines


if __name__ == "__main__":
    sys.exit(harness.phase_main(PHASES))
