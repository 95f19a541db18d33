"""Fixtures of the analysis tests.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

# --- Clusters -----------------------------------------------------------------------------


@pytest.fixture
def small():
    frame = pd.DataFrame({"State": ["A", "A", "B", "B", "C"], "County": ["x", "y", "x", "z", "w"],
                          "Income": [10.0, 20.0, 30.0, 40.0, 50.0], "Walk": [1.0, 1.0, 3.0, 3.0, 7.0]})
    labels = np.array([0, 0, 1, 1, 2])
    return frame, labels


# --- Explore ------------------------------------------------------------------------------


@pytest.fixture
def labeled():
    return pd.DataFrame({
        "CensusId": [1, 2, 3, 4],
        "State": ["Alabama", "Alabama", "Texas", "Texas"],
        "County": ["Autauga", "Baldwin", "Loving", "Harris"],
        "Wealth": [0.1, 0.2, -0.3, 0.4],
        "cluster": [0, 1, 0, 0],
        "cluster_name": ["rural", "coast", "rural", "rural"],
        "distance_to_cluster": [0.5, 0.1, 0.2, 0.9],
    }, index=["Alabama-Autauga", "Alabama-Baldwin", "Texas-Loving", "Texas-Harris"])
