"""What a wide table costs: parse → prepare → embedded PCA of 300 random rows at a given width,
as ratios of time and peak memory against the census table (3,220 × 37) through the same path,
each in a fresh process. The column cap (WORKBENCH_MAX_COLUMNS, default 2,000) is set from this.

    python -m benchmarks.wide_tables 1997 10000
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CENSUS = REPO.parent / "shared" / "data" / "acs2015_county_data.csv"

_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from workbench.core import pipeline, sources
columns = int(sys.argv[1])
if columns:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, columns)).round(4), columns=[f"f{i}" for i in range(columns)])
    frame.insert(0, "CensusId", range(1, 301))
    frame.insert(1, "County", [f"c{i}" for i in range(300)])
    data = frame.to_csv(index=False).encode()
else:
    data = Path(sys.argv[2]).read_bytes()
start = time.perf_counter()
prepared = pipeline.prepare_table(sources.load_table(data))
with tempfile.TemporaryDirectory() as folder:
    pipeline.train_pca(prepared.X, min(len(prepared.X) - 1, prepared.X.shape[1]), output_dir=Path(folder))
seconds = time.perf_counter() - start
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak": peak, "features": prepared.X.shape[1]}))
"""


def measure(columns: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKBENCH_MAX_COLUMNS": str(max(columns + 10, 2000))}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(columns), str(CENSUS)], capture_output=True,
                         text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(widths: list[int]) -> None:
    base = measure(0)
    print(f"census baseline: {base['features']} features, {base['seconds']:.2f} s, {base['peak'] / 2**20:.0f} MB")
    for columns in widths:
        got = measure(columns)
        print(f"300 x {columns:,}: {got['seconds'] / base['seconds']:.1f}x the time, "
              f"{got['peak'] / base['peak']:.1f}x the peak memory ({got['seconds']:.1f} s, {got['peak'] / 2**20:.0f} MB)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1997])
