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
    assert exports.csv_bytes(frame, excel=False) == "County,x\nDoña Ana,1.5\n".encode()
    assert exports.csv_bytes(frame) == "\ufeffCounty,x\nDoña Ana,1.5\n".encode()  # Excel's UTF-8 by default


def test_downloads_never_carry_a_live_formula(labeled):
    hostile = labeled.copy()
    hostile["County"] = "=cmd|' /C calc'!A0"
    components = summaries.component_table(np.eye(4)[:, :1], FEATURES, ["+Wealth"], np.array([0.7]))
    centroids = summaries.centroid_table(np.array([[0.1], [-0.2]]), ["+Wealth"], ["@rural", "-coast"], [3, 1])
    for name, data in exports.export_files(hostile, components, centroids).items():
        frame = pd.read_csv(io.BytesIO(data), keep_default_na=False)
        cells = [*frame.columns, *frame.select_dtypes(exclude="number").to_numpy().ravel()]
        assert not [c for c in cells if str(c).startswith(("=", "+", "-", "@", "\t", "\r"))], name
    back = pd.read_csv(io.BytesIO(exports.export_files(hostile, components, centroids)["counties-centroids.csv"]))
    assert back["cluster_name"].tolist() == ["'@rural", "'-coast"] and back["'+Wealth"].tolist() == [0.1, -0.2]
