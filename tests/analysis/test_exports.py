"""workbench.analysis.exports: the CSV downloads.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from tests.support.tables import FEATURES
from workbench.analysis import exports, summaries

# --- Export -------------------------------------------------------------------------------


def test_export_files_round_trip(labeled):
    components = summaries.component_table(np.eye(4)[:, :1], FEATURES, ["Wealth"], np.array([0.7]))
    centroids = summaries.centroid_table(np.array([[0.1], [0.2]]), ["Wealth"], ["rural", "coast"], [3, 1])
    files = exports.export_files(labeled, components, centroids, stem="Counties k=2")
    assert list(files) == ["counties-k-2-clusters.csv", "counties-k-2-components.csv", "counties-k-2-centroids.csv"]
    back = pd.read_csv(io.BytesIO(files["counties-k-2-clusters.csv"]))
    assert back.columns.tolist() == labeled.columns.tolist()  # no index column
    assert back["distance_to_cluster"].tolist() == labeled["distance_to_cluster"].tolist()  # full precision
    assert pd.read_csv(io.BytesIO(files["counties-k-2-centroids.csv"]))["cluster_name"].tolist() == ["rural", "coast"]


def test_csv_bytes_is_utf8_without_index():
    frame = pd.DataFrame({"County": ["Doña Ana"], "x": [1.5]}, index=["label"])
    assert exports.csv_bytes(frame) == "County,x\nDoña Ana,1.5\n".encode()
