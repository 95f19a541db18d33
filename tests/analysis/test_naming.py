"""workbench.analysis.naming: defaults, checks and suggestions.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.tables import FEATURES
from workbench.analysis import naming

# --- Names --------------------------------------------------------------------------------


def test_suggested_component_name_uses_strongest_positive_and_negative_weights():
    weights = np.array([0.7, -0.2, 0.1, -0.6])
    assert naming.suggest_component_name(weights, FEATURES) == "+Income −Drive"
    assert naming.suggest_component_name(weights, FEATURES, n_each=2) == "+Income −Drive −Poverty"  # Walk is weak


def test_suggested_component_name_leaves_out_a_weak_side():
    assert naming.suggest_component_name(np.array([0.9, 0.3, 0.1, -0.05]), FEATURES) == "+Income"
    assert naming.suggest_component_name(np.zeros(4), FEATURES) == ""


def test_suggested_component_names_are_unique():
    v = np.array([[0.9, 0.8, 0.0], [0.0, 0.1, 0.0], [-0.5, -0.4, 0.0], [0.1, 0.3, 0.0]])
    names = naming.suggest_component_names(v, FEATURES)
    assert len(set(names)) == 3
    assert names[2] == "pc3"  # nothing to say about an all-zero component
    assert names[0].startswith("+Income −Walk")


def test_suggested_component_names_on_census(census_prepared):
    from backends.algorithms import pca

    model = pca.fit_pca(census_prepared.X, {"feature_dim": 34, "num_components": 8, "mini_batch_size": 500})
    names = naming.suggest_component_names(model.v, census_prepared.features)
    assert len(names) == 8 and len(set(names)) == 8
    assert all(name.startswith(("+", "−")) for name in names)


def test_suggested_cluster_names_describe_extreme_components_and_are_unique():
    centroids = np.array([[2.0, 0.1, 0.0], [-2.0, 0.0, 0.1], [0.0, 3.0, -1.0], [0.0, 3.0, 1.0]])
    names = naming.suggest_cluster_names(centroids, ["Wealth", "Rural", "Age"], n=1)
    assert names[0] == "high Wealth" and names[1] == "low Wealth"
    assert len(set(names)) == 4
    assert names[2].startswith("high Rural") and names[3].startswith("high Rural")


def test_cluster_names_default_and_must_be_unique():
    assert naming.cluster_names(None, 3) == ["cluster 0", "cluster 1", "cluster 2"]
    assert naming.cluster_names(["Cities", " "], 3) == ["Cities", "cluster 1", "cluster 2"]
    with pytest.raises(ValueError, match="unique"):
        naming.cluster_names(["A", "A"], 2)
    with pytest.raises(ValueError, match="unique"):
        naming.cluster_names(["cluster 1", ""], 2)


def test_name_lists_pad_apply_and_fill():
    assert naming.pad_names([" a ", None], 3) == ["a", "", ""]
    assert naming.pad_names(["a", "b", "c"], 2) == ["a", "b"]
    assert naming.apply_names(["a", "b", "c"], ["x", ""], 3) == ["x", "", "c"]
    assert naming.fill_blanks(["mine", ""], ["s1", "s2"]) == ["mine", "s2"]


def test_naming_table_rows_per_kept_component():
    v = np.array([[0.9, 0.0], [-0.2, 0.8], [0.1, -0.5], [0.0, 0.1]])
    table = naming.naming_table(v, FEATURES, np.array([0.6, 0.3]), ["Wealth"], ["+Income", "+Poverty −Walk"])
    assert table.columns.tolist() == ["component", "name", "suggested", "strongest weights", "variance"]
    assert table["name"].tolist() == ["Wealth", ""]
    assert table["strongest weights"][0] == "+Income −Poverty +Walk"
