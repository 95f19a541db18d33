"""workbench.analysis.naming: defaults, checks and suggestions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.support.tables import FEATURES
from workbench.analysis import naming, summaries

# --- Names --------------------------------------------------------------------------------


def test_suggested_component_name_reads_in_words():
    weights = np.array([0.7, -0.2, 0.1, -0.6])  # Income, Poverty, Walk, Drive
    assert naming.suggest_component_name(weights, FEATURES) == "Higher income, less driving to work"
    assert naming.suggest_component_name(weights, FEATURES, n_each=2) == (
        "Higher income, less driving to work, lower poverty")  # Walk is weak


def test_suggested_component_name_leaves_out_a_weak_side():
    assert naming.suggest_component_name(np.array([0.9, 0.3, 0.1, -0.05]), FEATURES) == "Higher income"
    assert naming.suggest_component_name(np.zeros(4), FEATURES) == ""


def test_groups_of_residents_share_the_word_residents():
    features = ["Black", "Hispanic", "Income"]
    assert naming.suggest_component_name(np.array([0.8, -0.6, 0.0]), features) == "More Black, fewer Hispanic residents"
    assert naming.suggest_component_name(np.array([0.8, 0.0, -0.6]), features) == "More Black residents, lower income"
    assert naming.describe_directions([("Hispanic", True), ("White", False), ("Poverty", True)]) == (
        "More Hispanic, fewer White residents, higher poverty")


def test_unknown_features_read_as_words():
    assert naming.feature_words("MedianAge") == ("median age", "higher", "lower")
    assert naming.feature_words("pct_over_65") == ("pct over 65", "higher", "lower")
    assert naming.feature_words("GDP") == ("GDP", "higher", "lower")
    assert naming.suggest_component_name(np.array([-0.9, 0.1]), ["MedianAge", "X"]) == "Lower median age"


def test_suggested_component_names_are_unique():
    v = np.array([[0.9, 0.8, 0.0], [0.0, 0.1, 0.0], [-0.5, -0.4, 0.0], [0.1, 0.3, 0.0]])
    names = naming.suggest_component_names(v, FEATURES)
    assert len(set(names)) == 3
    assert names[2] == "pc3"  # nothing to say about an all-zero component
    assert names[0].startswith("Higher income, less walking to work")


def test_suggested_component_names_on_census(census_prepared):
    from backends.algorithms import pca

    model = pca.fit_pca(census_prepared.X, {"feature_dim": 34, "num_components": 8, "mini_batch_size": 500})
    names = naming.suggest_component_names(model.v, census_prepared.features)
    assert len(names) == 8 and len(set(names)) == 8
    # Words with a capital first letter: no leading sign (a spreadsheet formula), no Unicode minus.
    assert all(name[0].isalpha() and name[0].isupper() for name in names), names
    assert not any(set(name) & {"+", "−", "="} for name in names), names
    assert "More Hispanic, fewer White residents" in names


def test_suggested_cluster_names_describe_extreme_components_and_are_unique():
    centroids = np.array([[2.0, 0.1, 0.0], [-2.0, 0.0, 0.1], [0.0, 3.0, -1.0], [0.0, 3.0, 1.0]])
    names = naming.suggest_cluster_names(centroids, ["Wealth", "Rural", "Age"], n=1)
    assert names[0] == "High Wealth" and names[1] == "Low Wealth"
    assert len(set(names)) == 4
    assert names[2] == "High Rural, low Age" and names[3] == "High Rural, high Age"


def test_suggested_cluster_names_from_profiles_in_words(small):
    frame, labels = small  # Income 10..50, Walk 1..7; clusters {0, 1}, {2, 3}, {4}
    frame = frame.assign(TotalPop=[100.0, 200.0, 300.0, 400.0, 500.0], IncomeErr=[9.0, 9.0, 1.0, 1.0, 1.0])
    features = ["Income", "Walk", "TotalPop", "IncomeErr"]
    profiles = summaries.cluster_profiles(frame, features, labels, ["", "", ""])
    names = naming.suggest_cluster_names_from_profiles(profiles, n=1, skip=["TotalPop"])
    assert names == ["Low income", "High income", "High walking to work"]  # the margin IncomeErr left out
    assert naming.suggest_cluster_names_from_profiles(profiles, n=2, skip=["TotalPop"])[0] == (
        "Low income and walking to work")
    with_margins = naming.suggest_cluster_names_from_profiles(profiles, n=1, skip=["TotalPop"], skip_margins=False)
    assert with_margins[0] == "High income margin of error"


def test_suggested_cluster_names_from_census_profiles_are_unique_words(census_prepared):
    from backends.algorithms import pca
    from workbench.analysis import stability

    model = pca.fit_pca(census_prepared.X, {"feature_dim": 34, "num_components": 5, "mini_batch_size": 500})
    scores = model.transform(census_prepared.X)
    for k in (7, 12):
        labels, _ = stability.fit_labels(scores, k, 0)
        profiles = summaries.cluster_profiles(census_prepared.clean.frame, census_prepared.features, labels, [""] * k)
        names = naming.suggest_cluster_names_from_profiles(profiles)
        assert len(set(names)) == k
        assert all(name.startswith(("High ", "Low ")) for name in names), names
        naming.cluster_names(names, k)  # accepted as the analyst's names


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
    assert table["strongest weights"][0] == "Income 0.90, Poverty -0.20, Walk 0.10"


def test_suggested_cluster_names_from_profiles_number_what_cannot_be_told_apart():
    frame = pd.DataFrame({"Income": [10.0, 10.0, 10.0, 10.0, 50.0]})
    profiles = summaries.cluster_profiles(frame, ["Income"], np.array([0, 0, 1, 1, 2]), ["", "", ""])
    names = naming.suggest_cluster_names_from_profiles(profiles)
    assert names == ["Low income (cluster 0)", "Low income (cluster 1)", "High income"]
