"""workbench.analysis.summaries: the tables behind the pages.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.support.tables import FEATURES
from workbench.analysis import summaries

# --- Data page ----------------------------------------------------------------------------


def test_summary_statistics_match_pandas():
    values = pd.Series([1.0, 2.0, np.nan, 4.0, 10.0])
    stats = summaries.summary_statistics(values).set_index("statistic")["value"]
    assert stats["count"] == 4 and stats["missing"] == 1
    assert stats["mean"] == pytest.approx(4.25)
    assert stats["median"] == pytest.approx(3.0)
    assert stats["std"] == pytest.approx(values.std())
    assert (stats["min"], stats["max"]) == (1.0, 10.0)


def test_histogram_bins_count_every_value():
    values = pd.Series(np.arange(100, dtype=float))
    bins = summaries.histogram_bins(values, bins=10)
    assert len(bins) == 10 and bins["count"].sum() == 100
    assert bins["bin_start"].iloc[0] == 0 and bins["bin_end"].iloc[-1] == 99
    constant = summaries.histogram_bins(pd.Series([5.0, 5.0]), bins=4)
    assert constant["count"].sum() == 2
    assert summaries.histogram_bins(pd.Series([np.nan]), bins=4).empty
    assert summaries.histogram_bins(np.array([1.0, 2.0]), bins=2)["count"].tolist() == [1, 1]


def test_scaled_summary_of_minmax_runs_from_zero_to_one(census_prepared):
    summary = summaries.scaled_summary(census_prepared.X, census_prepared.features)
    assert list(summary["feature"]) == census_prepared.features
    np.testing.assert_allclose(summary["min"], 0, atol=1e-6)
    np.testing.assert_allclose(summary["max"], 1, atol=1e-6)


# --- PCA ----------------------------------------------------------------------------------


def test_variance_table_is_exact_cumulative_and_marks_kept():
    ratios = np.array([0.5, 0.3, 0.15, 0.05])
    table = summaries.variance_table(ratios, 2, ["Wealth", ""])
    assert table["component"].tolist() == ["pc1", "pc2", "pc3", "pc4"]
    assert table["name"].tolist() == ["Wealth", "pc2", "pc3", "pc4"]
    np.testing.assert_allclose(table["cumulative"], [0.5, 0.8, 0.95, 1.0])
    assert table["kept"].tolist() == [True, True, False, False]


def test_variance_table_rejects_duplicate_names():
    with pytest.raises(ValueError, match="unique"):
        summaries.variance_table(np.array([0.6, 0.4]), 2, ["A", "A"])


def test_strongest_weights_keep_the_largest_magnitudes_sorted_by_weight():
    frame = summaries.strongest_weights(np.array([0.1, -0.9, 0.5, 0.05]), FEATURES, n=3)
    assert frame["feature"].tolist() == ["Walk", "Income", "Poverty"]
    assert frame["direction"].tolist() == ["positive", "positive", "negative"]


def test_component_makeup_is_long_with_names_in_order():
    v = np.array([[0.9, 0.0], [-0.2, 0.8], [0.1, -0.5], [0.0, 0.1]])
    makeup = summaries.component_makeup(v, FEATURES, ["Wealth", "Walkers"], n=2)
    assert makeup["component"].tolist() == ["Wealth", "Wealth", "Walkers", "Walkers"]
    assert makeup["order"].tolist() == [0, 0, 1, 1]
    assert makeup.loc[makeup["component"] == "Walkers", "feature"].tolist() == ["Poverty", "Walk"]


def test_component_table_has_a_column_per_named_component_and_the_variance_row():
    v = np.array([[0.9, 0.0, 0.1], [-0.2, 0.8, 0.1], [0.1, -0.5, 0.1], [0.0, 0.1, 0.1]])
    table = summaries.component_table(v, FEATURES, ["Wealth", "pc2"], np.array([0.6, 0.3, 0.1]))
    assert table.columns.tolist() == ["feature", "Wealth", "pc2"]
    assert table.iloc[0].tolist() == ["explained_variance", 0.6, 0.3]
    assert table["feature"].tolist()[1:] == FEATURES
    assert table["Wealth"].tolist()[1:] == pytest.approx([0.9, -0.2, 0.1, 0.0])


def test_cluster_sizes(small):
    _, labels = small
    sizes = summaries.cluster_sizes(labels, 4, ["a", "b", "c", "d"])
    assert sizes["counties"].tolist() == [2, 2, 1, 0]
    assert sizes["share"].sum() == pytest.approx(1.0)


def test_cluster_profiles_in_original_units(small):
    frame, labels = small
    profiles = summaries.cluster_profiles(frame, ["Income", "Walk"], labels, ["low", "mid", "high"])
    income = profiles[profiles["feature"] == "Income"].set_index("cluster")
    assert income["cluster_mean"].tolist() == [15.0, 35.0, 50.0]
    assert (income["overall_mean"] == 30.0).all()
    assert income["difference"].tolist() == [-15.0, 5.0, 20.0]
    assert income.loc[0, "relative"] == pytest.approx(-0.5)
    assert income.loc[2, "difference_sd"] == pytest.approx(20.0 / frame["Income"].std())
    assert profiles["cluster_name"].unique().tolist() == ["low", "mid", "high"]
    # Group means, checked against pandas.
    expected = frame.groupby(labels)[["Income", "Walk"]].mean()
    walk = profiles[profiles["feature"] == "Walk"]["cluster_mean"].tolist()
    assert walk == expected["Walk"].tolist()


def test_cluster_profile_puts_most_distinctive_first(small):
    frame, labels = small
    profiles = summaries.cluster_profiles(frame, ["Income", "Walk"], labels, ["low", "mid", "high"])
    one = summaries.cluster_profile(profiles, 2)
    assert one["feature"].tolist() == ["Walk", "Income"]  # 3.0 SDs of Walk beat 1.26 of Income
    assert "cluster" not in one.columns


def test_centroid_tables():
    centroids = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 0.0]])
    table = summaries.centroid_table(centroids, ["Wealth", "Rural"], ["a", "b", "c"], [5, 3, 2])
    assert table.columns.tolist() == ["cluster", "cluster_name", "counties", "Wealth", "Rural"]
    assert table["Rural"].tolist() == [-1.0, 2.0, 0.0]
    long = summaries.centroid_long(centroids, ["Wealth", "Rural"], ["a", "b", "c"])
    assert len(long) == 6
    assert long[(long["cluster"] == 1) & (long["component"] == "Rural")]["value"].item() == 2.0
    assert long["order"].tolist() == [0, 1, 0, 1, 0, 1]


def test_county_labels_read_county_then_state(labeled):
    assert summaries.county_labels(labeled, ["State", "County"]).tolist()[0] == "Autauga, Alabama"
    assert summaries.county_labels(labeled, []).tolist()[0] == "Alabama-Autauga"


def test_cluster_members_closest_first_and_searchable(labeled):
    members = summaries.cluster_members(labeled, 0)
    assert members["County"].tolist() == ["Loving", "Autauga", "Harris"]
    found = summaries.cluster_members(labeled, 0, "tex", ["State", "County"])
    assert found["County"].tolist() == ["Loving", "Harris"]
    assert summaries.cluster_members(labeled, 0, "4", ["CensusId"])["County"].tolist() == ["Harris"]
    assert summaries.search_rows(labeled, "  ", ["County"]) is labeled


def test_county_vs_centroid(labeled):
    table = summaries.county_vs_centroid(labeled.iloc[0], np.array([0.25]), ["Wealth"])
    assert table["scores of"].tolist() == ["county", "cluster centroid"]
    assert table["Wealth"].tolist() == [0.1, 0.25]


def test_histogram_bins_in_log_space_keep_units_and_drop_non_positive():
    bins = summaries.histogram_bins(pd.Series([0.0, 1.0, 10.0, 100.0, 1000.0]), bins=3, log=True)
    assert bins["count"].sum() == 4  # the zero cannot be drawn on a log axis
    assert bins["bin_start"].iloc[0] == pytest.approx(1.0)
    assert bins["bin_end"].iloc[-1] == pytest.approx(1000.0)
    assert bins["bin_end"].iloc[0] == pytest.approx(10.0)


def test_county_in_units_beside_its_cluster_and_all_counties(small):
    frame, labels = small  # Income 10..50, Walk 1, 1, 3, 3, 7; clusters {0, 1}, {2, 3}, {4}
    table = summaries.county_in_units(frame, ["Income", "Walk"], labels, 2)  # the county with Income 30, Walk 3
    assert table["feature"].tolist() == ["Income", "Walk"]
    assert table["county"].tolist() == [30.0, 3.0]
    assert table["cluster_mean"].tolist() == [35.0, 3.0]
    assert table["overall_mean"].tolist() == [30.0, 3.0]
    assert table["vs_cluster"].tolist() == [-5.0, 0.0] and table["vs_overall"].tolist() == [0.0, 0.0]
    assert table["percentile"].tolist() == [50.0, 60.0]  # Walk: 2 below, 2 equal of 5
    top = summaries.county_in_units(frame, ["Income"], labels, 4)
    assert top["percentile"].iloc[0] == 90.0 and top["vs_overall_sd"].iloc[0] == pytest.approx(20 / np.std(
        frame["Income"], ddof=1))
    constant = summaries.county_in_units(frame.assign(Flat=1.0), ["Flat"], labels, 0)
    assert np.isnan(constant["vs_overall_sd"].iloc[0])


def test_county_in_units_refuses_a_county_or_labels_that_do_not_fit(small):
    frame, labels = small
    with pytest.raises(ValueError, match="No county 99"):
        summaries.county_in_units(frame, ["Income"], labels, 99)
    with pytest.raises(ValueError, match="one label per county"):
        summaries.county_in_units(frame, ["Income"], labels[:3], 0)
