"""Cluster profiles: index scores, shares, separating variables and box-plot numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import f_oneway
from sklearn.feature_selection import f_classif

from workbench.analysis import profiles
from workbench.core import cleaning, sources


@pytest.fixture()
def small():
    frame = pd.DataFrame({
        "TotalPop": [100.0, 300.0, 1000.0, 600.0],
        "Poverty": [10.0, 30.0, 15.0, 5.0],
        "Zero": [0.0, 0.0, 0.0, 0.0],
    })
    return frame, np.array([0, 0, 1, 1])


def test_index_scores_by_hand(small):
    frame, labels = small
    scores = profiles.index_scores(frame, labels, names=["rural"])
    one = scores.set_index(["cluster", "feature"])
    # TotalPop: overall mean 500; cluster 0 mean 200 -> 40, cluster 1 mean 800 -> 160.
    assert one.loc[(0, "TotalPop"), "index"] == pytest.approx(40)
    assert one.loc[(1, "TotalPop"), "index"] == pytest.approx(160)
    # Poverty: overall 15; cluster 0 mean 20 -> 133.3 (high), cluster 1 mean 10 -> 66.7 (low).
    assert one.loc[(0, "Poverty"), "index"] == pytest.approx(400 / 3)
    assert one.loc[(0, "Poverty"), "flag"] == "high" and one.loc[(1, "Poverty"), "flag"] == "low"
    assert one.loc[(0, "TotalPop"), "flag"] == "low" and one.loc[(1, "TotalPop"), "flag"] == "high"
    assert np.isnan(one.loc[(0, "Zero"), "index"]) and one.loc[(0, "Zero"), "flag"] == ""
    assert scores["cluster_name"].unique().tolist() == ["rural", "cluster 1"]
    wide = profiles.index_matrix(scores)
    assert wide.shape == (2, 3) and list(wide.columns) == ["TotalPop", "Poverty", "Zero"]


def test_flag_thresholds():
    frame = pd.DataFrame({"x": [120.0, 80.0, 100.0, 119.0, 81.0]})
    # overall mean 100 exactly; each row its own cluster
    scores = profiles.index_scores(frame, np.arange(5))
    assert scores["flag"].tolist() == ["high", "low", "", "", ""]


def test_shares_with_and_without_population(small):
    frame, labels = small
    shares = profiles.cluster_shares(labels, 3, population=frame["TotalPop"], names=["a", "b"])
    assert shares["counties"].tolist() == [2, 2, 0]
    assert shares["county_share"].tolist() == [0.5, 0.5, 0.0]
    assert shares["population"].tolist() == [400, 1600, 0]
    assert shares["population_share"].tolist() == pytest.approx([0.2, 0.8, 0.0])
    assert shares["cluster_name"].tolist() == ["a", "b", "cluster 2"]
    assert profiles.cluster_shares(labels).population_share.isna().all()


def test_population_column_detection(census_csv):
    raw = sources.load_table(census_csv)
    assert profiles.detect_population_column(raw.columns) == "TotalPop"
    assert profiles.detect_population_column(["County", "POPESTIMATE2015", "Income"]) == "POPESTIMATE2015"
    assert profiles.detect_population_column(["Population"]) == "Population"
    assert profiles.detect_population_column(["Income", "Poverty", "PopulationDensity"]) is None


def test_separating_variables_match_anova():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 40)
    frame = pd.DataFrame({
        "strong": labels * 5.0 + rng.normal(size=120),
        "weak": labels * 0.2 + rng.normal(size=120),
        "noise": rng.normal(size=120),
        "flat": np.ones(120),
    })
    table = profiles.separating_variables(frame, labels).set_index("feature")
    assert list(table.index[:3]) == ["strong", "weak", "noise"]
    f, p = f_classif(frame[["strong", "weak", "noise"]], labels)
    assert table.loc[["strong", "weak", "noise"], "f_statistic"].to_numpy() == pytest.approx(f)
    assert table.loc[["strong", "weak", "noise"], "p_value"].to_numpy() == pytest.approx(p)
    scipy_f = f_oneway(*[frame.loc[labels == c, "weak"] for c in range(3)]).statistic
    assert table.loc["weak", "f_statistic"] == pytest.approx(scipy_f)
    # R² = between-SS / total-SS, and F = [R²/(k-1)] / [(1-R²)/(n-k)]
    x = frame["strong"].to_numpy()
    between = sum(40 * (x[labels == c].mean() - x.mean()) ** 2 for c in range(3))
    assert table.loc["strong", "r2"] == pytest.approx(between / ((x - x.mean()) ** 2).sum())
    r2 = table.loc["weak", "r2"]
    assert table.loc["weak", "f_statistic"] == pytest.approx((r2 / 2) / ((1 - r2) / 117))
    assert table.loc["flat", "r2"] == 0 and np.isnan(table.loc["flat", "f_statistic"])


def test_box_stats_are_tukeys():
    values = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 100])
    frame = pd.DataFrame({"x": np.concatenate([values, values * 2])})
    labels = np.repeat([0, 1], 9)
    boxes = profiles.box_stats(frame, labels, names=["low", "high"]).set_index("cluster_name")
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    row = boxes.loc["low"]
    assert (row["q1"], row["median"], row["q3"]) == (q1, median, q3)
    assert row["lower_whisker"] == 1 and row["upper_whisker"] == 8 and row["outliers"] == 1
    assert row["max"] == 100 and row["count"] == 9
    assert boxes.loc["high", "median"] == 2 * median


def test_build_profile_on_the_census(census_csv):
    raw = sources.load_table(census_csv)
    clean = cleaning.clean_table(raw)
    labels = (clean.frame["CensusId"].to_numpy() // 1000) % 4  # any labeling: by state code
    profile = profiles.build_profile(clean.frame, labels, features=clean.features, names=["north"])
    assert profile.population_column == "TotalPop"
    assert profile.k == 4 and profile.names[0] == "north"
    assert len(profile.index) == 4 * len(clean.features) == 4 * 34
    assert profile.shares["counties"].sum() == 3218
    assert profile.shares["population"].sum() == pytest.approx(clean.frame["TotalPop"].sum())
    assert set(profile.separation["feature"]) == set(clean.features)
    assert len(profile.boxes) == 4 * 34
    top = profile.cluster(0)
    assert top["index"].is_monotonic_decreasing
    flagged = profile.flagged(0)
    assert set(flagged["flag"]) <= {"high", "low"}
    with pytest.raises(ValueError, match="population column"):
        profiles.build_profile(clean.frame, labels, features=clean.features, population_column="Pop")


def test_count_columns_are_the_population_and_what_grows_with_it():
    rng = np.random.default_rng(0)
    population = rng.integers(1_000, 1_000_000, 200).astype(float)
    frame = pd.DataFrame({
        "TotalPop": population,
        "Men": np.round(population * rng.uniform(0.47, 0.53, 200)),  # a count: grows with the population
        "Poverty": rng.uniform(5, 40, 200).round(1),  # a rate
        "Rank": rng.permutation(200).astype(float),  # whole numbers, but not with the population
        "Visits": np.round(population * 3.0),  # grows with it, but more than one per person: not people
    })
    features = list(frame.columns)
    assert profiles.count_columns(frame, features, "TotalPop") == ["TotalPop", "Men"]
    assert profiles.count_columns(frame, features, None) == []
    assert profiles.count_columns(frame, features) == ["TotalPop", "Men"]  # the population found by name
    built = profiles.build_profile(frame, np.repeat([0, 1], 100))
    assert built.population_column == "TotalPop" and built.counts == ["TotalPop", "Men"]
