"""The county pipeline as an analyst writes it with pandas and scikit-learn: the baseline of
`benchmarks/bench_processes.py`, run as a process of its own.

    python benchmarks/plain_county.py CENSUS.csv

It imports what it needs, then loads the CSV, drops the incomplete rows, min-max scales the
34 features, fits PCA(33), keeps the top 5 components, runs KMeans(7, n_init=10,
random_state=0) and builds the labeled table. It prints one JSON line: its compute time (from
after the imports to the labeled table), the imports' time and the SSE.
"""
import time

started = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

imported = time.perf_counter()
frame = pd.read_csv(sys.argv[1]).dropna()
frame.index = frame["State"] + "-" + frame["County"]
numeric = frame.drop(columns=["CensusId", "State", "County"])
X = MinMaxScaler().fit_transform(numeric).astype(np.float32)
pca = PCA(n_components=33).fit(X)
scores = pca.transform(X)[:, :5]
km = KMeans(n_clusters=7, n_init=10, random_state=0).fit(scores)
labeled = frame[["CensusId", "State", "County"]].copy()
for i in range(5):
    labeled[f"pc{i + 1}"] = scores[:, i]
labeled["cluster"] = km.labels_
labeled["distance_to_cluster"] = np.sqrt(((scores - km.cluster_centers_[km.labels_]) ** 2).sum(axis=1))
computed = time.perf_counter()
sse = float((labeled["distance_to_cluster"].astype(np.float64) ** 2).sum())
print(json.dumps({"compute": computed - imported, "imports": imported - started, "sse": sse, "rows": len(labeled)}))
