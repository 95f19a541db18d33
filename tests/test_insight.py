"""workbench.insight: the analysis behind the app's tables and exports, tested without Streamlit."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from workbench import data, insight, pipeline, scaling

FEATURES = ["Income", "Poverty", "Walk", "Drive"]


@pytest.fixture(scope="module")
def census(census_csv):
    return pipeline.prepare_table(data.read_csv_path(census_csv))


# --- Preparing a loaded table -------------------------------------------------------------


def test_prepare_table_matches_the_pipeline_steps(census, census_csv):
    raw = data.read_csv_path(census_csv)
    clean = data.clean_table(raw, data.detect_schema(raw))
    assert census.X.shape == (3218, 34) and census.X.dtype == np.float32
    assert census.features == clean.features
    assert census.fingerprint == data.fingerprint(clean.frame[clean.features])
    expected = scaling.fit_scaler("minmax", clean.frame[clean.features]).transform(clean.frame[clean.features])
    np.testing.assert_array_equal(census.X, expected)
    assert census.source_description.startswith("local file")


def test_prepare_table_with_features_and_zscore(census_csv):
    prep = pipeline.prepare_table(data.read_csv_path(census_csv), features=["Income", "Poverty"], scaler="zscore")
    assert prep.features == ["Income", "Poverty"]
    assert prep.scaler.recipe == "zscore"
    np.testing.assert_allclose(prep.X.mean(axis=0), 0, atol=1e-5)


def test_prepare_table_reports_bad_features_as_data_errors(census_csv):
    with pytest.raises(data.DataError, match="Unknown feature"):
        pipeline.prepare_table(data.read_csv_path(census_csv), features=["Incme"])


# --- Names --------------------------------------------------------------------------------


def test_suggested_component_name_uses_strongest_positive_and_negative_weights():
    weights = np.array([0.7, -0.2, 0.1, -0.6])
    assert insight.suggest_component_name(weights, FEATURES) == "+Income −Drive"
    assert insight.suggest_component_name(weights, FEATURES, n_each=2) == "+Income −Drive −Poverty"  # Walk is weak


def test_suggested_component_name_leaves_out_a_weak_side():
    assert insight.suggest_component_name(np.array([0.9, 0.3, 0.1, -0.05]), FEATURES) == "+Income"
    assert insight.suggest_component_name(np.zeros(4), FEATURES) == ""


def test_suggested_component_names_are_unique():
    v = np.array([[0.9, 0.8, 0.0], [0.0, 0.1, 0.0], [-0.5, -0.4, 0.0], [0.1, 0.3, 0.0]])
    names = insight.suggest_component_names(v, FEATURES)
    assert len(set(names)) == 3
    assert names[2] == "pc3"  # nothing to say about an all-zero component
    assert names[0].startswith("+Income −Walk")


def test_suggested_component_names_on_census(census):
    from backends import algorithms

    model = algorithms.fit_pca(census.X, {"feature_dim": 34, "num_components": 8, "mini_batch_size": 500})
    names = insight.suggest_component_names(model.v, census.features)
    assert len(names) == 8 and len(set(names)) == 8
    assert all(name.startswith(("+", "−")) for name in names)


def test_suggested_cluster_names_describe_extreme_components_and_are_unique():
    centroids = np.array([[2.0, 0.1, 0.0], [-2.0, 0.0, 0.1], [0.0, 3.0, -1.0], [0.0, 3.0, 1.0]])
    names = insight.suggest_cluster_names(centroids, ["Wealth", "Rural", "Age"], n=1)
    assert names[0] == "high Wealth" and names[1] == "low Wealth"
    assert len(set(names)) == 4
    assert names[2].startswith("high Rural") and names[3].startswith("high Rural")


def test_cluster_names_default_and_must_be_unique():
    assert insight.cluster_names(None, 3) == ["cluster 0", "cluster 1", "cluster 2"]
    assert insight.cluster_names(["Cities", " "], 3) == ["Cities", "cluster 1", "cluster 2"]
    with pytest.raises(ValueError, match="unique"):
        insight.cluster_names(["A", "A"], 2)
    with pytest.raises(ValueError, match="unique"):
        insight.cluster_names(["cluster 1", ""], 2)


def test_name_lists_pad_apply_and_fill():
    assert insight.pad_names([" a ", None], 3) == ["a", "", ""]
    assert insight.pad_names(["a", "b", "c"], 2) == ["a", "b"]
    assert insight.apply_names(["a", "b", "c"], ["x", ""], 3) == ["x", "", "c"]
    assert insight.fill_blanks(["mine", ""], ["s1", "s2"]) == ["mine", "s2"]


# --- Data page ----------------------------------------------------------------------------


def test_summary_statistics_match_pandas():
    values = pd.Series([1.0, 2.0, np.nan, 4.0, 10.0])
    stats = insight.summary_statistics(values).set_index("statistic")["value"]
    assert stats["count"] == 4 and stats["missing"] == 1
    assert stats["mean"] == pytest.approx(4.25)
    assert stats["median"] == pytest.approx(3.0)
    assert stats["std"] == pytest.approx(values.std())
    assert (stats["min"], stats["max"]) == (1.0, 10.0)


def test_histogram_bins_count_every_value():
    values = pd.Series(np.arange(100, dtype=float))
    bins = insight.histogram_bins(values, bins=10)
    assert len(bins) == 10 and bins["count"].sum() == 100
    assert bins["bin_start"].iloc[0] == 0 and bins["bin_end"].iloc[-1] == 99
    constant = insight.histogram_bins(pd.Series([5.0, 5.0]), bins=4)
    assert constant["count"].sum() == 2
    assert insight.histogram_bins(pd.Series([np.nan]), bins=4).empty
    assert insight.histogram_bins(np.array([1.0, 2.0]), bins=2)["count"].tolist() == [1, 1]


def test_scaled_summary_of_minmax_runs_from_zero_to_one(census):
    summary = insight.scaled_summary(census.X, census.features)
    assert list(summary["feature"]) == census.features
    np.testing.assert_allclose(summary["min"], 0, atol=1e-6)
    np.testing.assert_allclose(summary["max"], 1, atol=1e-6)


# --- PCA ----------------------------------------------------------------------------------


def test_variance_table_is_exact_cumulative_and_marks_kept():
    ratios = np.array([0.5, 0.3, 0.15, 0.05])
    table = insight.variance_table(ratios, 2, ["Wealth", ""])
    assert table["component"].tolist() == ["pc1", "pc2", "pc3", "pc4"]
    assert table["name"].tolist() == ["Wealth", "pc2", "pc3", "pc4"]
    np.testing.assert_allclose(table["cumulative"], [0.5, 0.8, 0.95, 1.0])
    assert table["kept"].tolist() == [True, True, False, False]


def test_variance_table_rejects_duplicate_names():
    with pytest.raises(ValueError, match="unique"):
        insight.variance_table(np.array([0.6, 0.4]), 2, ["A", "A"])


def test_strongest_weights_keep_the_largest_magnitudes_sorted_by_weight():
    frame = insight.strongest_weights(np.array([0.1, -0.9, 0.5, 0.05]), FEATURES, n=3)
    assert frame["feature"].tolist() == ["Walk", "Income", "Poverty"]
    assert frame["direction"].tolist() == ["positive", "positive", "negative"]


def test_component_makeup_is_long_with_names_in_order():
    v = np.array([[0.9, 0.0], [-0.2, 0.8], [0.1, -0.5], [0.0, 0.1]])
    makeup = insight.component_makeup(v, FEATURES, ["Wealth", "Walkers"], n=2)
    assert makeup["component"].tolist() == ["Wealth", "Wealth", "Walkers", "Walkers"]
    assert makeup["order"].tolist() == [0, 0, 1, 1]
    assert makeup.loc[makeup["component"] == "Walkers", "feature"].tolist() == ["Poverty", "Walk"]


def test_naming_table_rows_per_kept_component():
    v = np.array([[0.9, 0.0], [-0.2, 0.8], [0.1, -0.5], [0.0, 0.1]])
    table = insight.naming_table(v, FEATURES, np.array([0.6, 0.3]), ["Wealth"], ["+Income", "+Poverty −Walk"])
    assert table.columns.tolist() == ["component", "name", "suggested", "strongest weights", "variance"]
    assert table["name"].tolist() == ["Wealth", ""]
    assert table["strongest weights"][0] == "+Income −Poverty +Walk"


def test_component_table_has_a_column_per_named_component_and_the_variance_row():
    v = np.array([[0.9, 0.0, 0.1], [-0.2, 0.8, 0.1], [0.1, -0.5, 0.1], [0.0, 0.1, 0.1]])
    table = insight.component_table(v, FEATURES, ["Wealth", "pc2"], np.array([0.6, 0.3, 0.1]))
    assert table.columns.tolist() == ["feature", "Wealth", "pc2"]
    assert table.iloc[0].tolist() == ["explained_variance", 0.6, 0.3]
    assert table["feature"].tolist()[1:] == FEATURES
    assert table["Wealth"].tolist()[1:] == pytest.approx([0.9, -0.2, 0.1, 0.0])


# --- Clusters -----------------------------------------------------------------------------


@pytest.fixture
def small():
    frame = pd.DataFrame({"State": ["A", "A", "B", "B", "C"], "County": ["x", "y", "x", "z", "w"],
                          "Income": [10.0, 20.0, 30.0, 40.0, 50.0], "Walk": [1.0, 1.0, 3.0, 3.0, 7.0]})
    labels = np.array([0, 0, 1, 1, 2])
    return frame, labels


def test_cluster_sizes(small):
    _, labels = small
    sizes = insight.cluster_sizes(labels, 4, ["a", "b", "c", "d"])
    assert sizes["counties"].tolist() == [2, 2, 1, 0]
    assert sizes["share"].sum() == pytest.approx(1.0)


def test_cluster_profiles_in_original_units(small):
    frame, labels = small
    profiles = insight.cluster_profiles(frame, ["Income", "Walk"], labels, ["low", "mid", "high"])
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
    profiles = insight.cluster_profiles(frame, ["Income", "Walk"], labels, ["low", "mid", "high"])
    one = insight.cluster_profile(profiles, 2)
    assert one["feature"].tolist() == ["Walk", "Income"]  # 3.0 SDs of Walk beat 1.26 of Income
    assert "cluster" not in one.columns


def test_centroid_tables():
    centroids = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 0.0]])
    table = insight.centroid_table(centroids, ["Wealth", "Rural"], ["a", "b", "c"], [5, 3, 2])
    assert table.columns.tolist() == ["cluster", "cluster_name", "counties", "Wealth", "Rural"]
    assert table["Rural"].tolist() == [-1.0, 2.0, 0.0]
    long = insight.centroid_long(centroids, ["Wealth", "Rural"], ["a", "b", "c"])
    assert len(long) == 6
    assert long[(long["cluster"] == 1) & (long["component"] == "Rural")]["value"].item() == 2.0
    assert long["order"].tolist() == [0, 1, 0, 1, 0, 1]


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


def test_county_labels_read_county_then_state(labeled):
    assert insight.county_labels(labeled, ["State", "County"]).tolist()[0] == "Autauga, Alabama"
    assert insight.county_labels(labeled, []).tolist()[0] == "Alabama-Autauga"


def test_cluster_members_closest_first_and_searchable(labeled):
    members = insight.cluster_members(labeled, 0)
    assert members["County"].tolist() == ["Loving", "Autauga", "Harris"]
    found = insight.cluster_members(labeled, 0, "tex", ["State", "County"])
    assert found["County"].tolist() == ["Loving", "Harris"]
    assert insight.cluster_members(labeled, 0, "4", ["CensusId"])["County"].tolist() == ["Harris"]
    assert insight.search_rows(labeled, "  ", ["County"]) is labeled


def test_county_vs_centroid(labeled):
    table = insight.county_vs_centroid(labeled.iloc[0], np.array([0.25]), ["Wealth"])
    assert table["scores of"].tolist() == ["county", "cluster centroid"]
    assert table["Wealth"].tolist() == [0.1, 0.25]


# --- Export -------------------------------------------------------------------------------


def test_export_files_round_trip(labeled):
    components = insight.component_table(np.eye(4)[:, :1], FEATURES, ["Wealth"], np.array([0.7]))
    centroids = insight.centroid_table(np.array([[0.1], [0.2]]), ["Wealth"], ["rural", "coast"], [3, 1])
    files = insight.export_files(labeled, components, centroids, stem="Counties k=2")
    assert list(files) == ["counties-k-2-clusters.csv", "counties-k-2-components.csv", "counties-k-2-centroids.csv"]
    back = pd.read_csv(io.BytesIO(files["counties-k-2-clusters.csv"]))
    assert back.columns.tolist() == labeled.columns.tolist()  # no index column
    assert back["distance_to_cluster"].tolist() == labeled["distance_to_cluster"].tolist()  # full precision
    assert pd.read_csv(io.BytesIO(files["counties-k-2-centroids.csv"]))["cluster_name"].tolist() == ["rural", "coast"]


def test_csv_bytes_is_utf8_without_index():
    frame = pd.DataFrame({"County": ["Doña Ana"], "x": [1.5]}, index=["label"])
    assert insight.csv_bytes(frame) == "County,x\nDoña Ana,1.5\n".encode()


def test_prepare_table_equals_pipeline_prepare(census_csv):
    expected = pipeline.prepare(str(census_csv), features=["Income", "Walk"], scaler="zscore")
    got = pipeline.prepare_table(data.load_table(str(census_csv)), features=["Income", "Walk"], scaler="zscore")
    assert got.fingerprint == expected.fingerprint
    assert got.source_description == expected.source_description
    np.testing.assert_array_equal(got.X, expected.X)


def test_histogram_bins_in_log_space_keep_units_and_drop_non_positive():
    bins = insight.histogram_bins(pd.Series([0.0, 1.0, 10.0, 100.0, 1000.0]), bins=3, log=True)
    assert bins["count"].sum() == 4  # the zero cannot be drawn on a log axis
    assert bins["bin_start"].iloc[0] == pytest.approx(1.0)
    assert bins["bin_end"].iloc[-1] == pytest.approx(1000.0)
    assert bins["bin_end"].iloc[0] == pytest.approx(10.0)
