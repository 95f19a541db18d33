"""ACS margins of error: CV bands, feature presets, membership confidence.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backends.algorithms.pca import fit_pca
from workbench.analysis import margins
from workbench.analysis.stability import fit_labels
from workbench.core import cleaning, scaling, sources
from workbench.core import schema as schema_mod


@pytest.fixture(scope="module")
def census(census_csv):
    raw = sources.load_table(census_csv)
    return raw, schema_mod.detect_schema(raw)


def test_margin_pairs_on_the_census(census):
    raw, schema = census
    assert margins.margin_pairs(raw.columns) == {"Income": "IncomeErr", "IncomePerCap": "IncomePerCapErr"}
    assert margins.margin_pairs(["Err", "AErr", "B"]) == {}  # a margin needs its estimate


def test_presets_on_the_census_columns(census):
    raw, schema = census
    walkthrough = margins.feature_preset("walkthrough", schema.feature_columns)
    recommended = margins.feature_preset("recommended", schema.feature_columns)
    assert len(walkthrough) == 34 and walkthrough == list(schema.feature_columns)
    assert "IncomeErr" in walkthrough and "IncomePerCapErr" in walkthrough
    assert len(recommended) == 32
    assert not any(c.endswith("Err") for c in recommended)
    assert {"Income", "IncomePerCap", "TotalPop"} <= set(recommended)
    assert set(margins.PRESETS) == {"recommended", "walkthrough"}
    with pytest.raises(ValueError, match="Unknown feature preset"):
        margins.feature_preset("everything", schema.feature_columns)


@pytest.mark.parametrize("cv, band", [
    (0.0, "reliable"), (0.12, "reliable"), (0.1201, "use with caution"), (0.40, "use with caution"),
    (0.4001, "unreliable"), (3.0, "unreliable"), (float("nan"), "n/a"), (float("inf"), "n/a"),
])
def test_cv_bands(cv, band):
    assert margins.cv_band(cv) == band


def test_cv_is_moe_over_1645_over_estimate():
    frame = pd.DataFrame({"Income": [50_000.0, 10_000.0, 1_000.0, 0.0],
                          "IncomeErr": [1_645.0, 1_974.0, 1_645.0, 100.0]})
    cv = margins.coefficient_of_variation(frame)["Income"].to_numpy()
    assert cv[:3] == pytest.approx([0.02, 0.12, 1.0])
    assert np.isnan(cv[3])
    assert margins.standard_errors(frame)["Income"].iloc[0] == pytest.approx(1000.0)
    table = margins.reliability_table(frame)
    assert table["band"].tolist() == ["unreliable", "reliable", "reliable", "n/a"]
    summary = margins.reliability_summary(frame).iloc[0]
    assert (summary["reliable"], summary["use with caution"], summary["unreliable"], summary["n/a"]) == (2, 0, 1, 1)


def test_reliability_on_the_census(census):
    raw, _ = census
    clean = cleaning.clean_table(raw)
    summary = margins.reliability_summary(clean.frame).set_index("estimate")
    assert summary.loc["Income", ["reliable", "use with caution", "unreliable", "n/a"]].sum() == 3218
    assert summary.loc["Income", "median_cv"] < 0.12
    table = margins.reliability_table(clean.frame, label_columns=["State", "County"])
    assert len(table) == 2 * 3218 and table["cv"].iloc[0] == table["cv"].max()
    assert {"State", "County", "estimate", "moe", "se", "cv", "band"} <= set(table.columns)


def _planted(moe_scale: float, n_per: int = 40):
    """Three well-separated groups in (Income, Poverty, Walk) with an IncomeErr and PovertyErr."""
    rng = np.random.default_rng(3)
    centres = np.array([[30_000, 25.0, 2.0], [60_000, 12.0, 3.0], [90_000, 5.0, 2.5]])
    values = np.repeat(centres, n_per, axis=0) * (1 + 0.03 * rng.normal(size=(3 * n_per, 3)))
    frame = pd.DataFrame(values, columns=["Income", "Poverty", "Walk"])
    frame["IncomeErr"] = frame["Income"] * moe_scale
    frame["PovertyErr"] = frame["Poverty"] * moe_scale
    features = ["Income", "Poverty", "Walk"]
    scaler = scaling.fit_scaler("minmax", frame, features)
    X = scaler.transform(frame)
    pca = fit_pca(X, {"feature_dim": 3, "num_components": 3, "mini_batch_size": len(X)})
    scores = pca.top(2).transform(X)
    labels, kmeans = fit_labels(scores, 3, seed=0)
    return frame, scaler, pca, kmeans, labels


def test_membership_confidence_tiny_errors_keep_every_county():
    frame, scaler, pca, kmeans, labels = _planted(0.001)
    result = margins.membership_confidence(frame, scaler, pca, kmeans, draws=100, seed=0)
    assert result.perturbed == {"Income": "IncomeErr", "Poverty": "PovertyErr"}
    np.testing.assert_array_equal(result.table["cluster"], labels)  # default labels: nearest centroid
    assert (result.table["confidence"] == 1.0).all()
    assert (result.table["runner_up"] == -1).all()
    assert result.uncertain().empty


def test_membership_confidence_huge_errors_lower_it():
    frame, scaler, pca, kmeans, labels = _planted(2.0)
    result = margins.membership_confidence(frame, scaler, pca, kmeans, labels=labels, draws=100, seed=0,
                                           max_rows_per_chunk=1000)
    table = result.table
    assert table["confidence"].mean() < 0.75
    assert ((table["confidence"] + table["runner_up_share"]) <= 1.0 + 1e-12).all()
    assert (table.loc[table["runner_up"] >= 0, "runner_up"] != table.loc[table["runner_up"] >= 0, "cluster"]).all()
    assert len(result.uncertain(0.8)) > len(table) / 2
    again = margins.membership_confidence(frame, scaler, pca, kmeans, labels=labels, draws=100, seed=0)
    pd.testing.assert_frame_equal(table, again.table)  # seeded, and the chunk size changes nothing


def test_membership_confidence_without_margins_is_certain():
    frame, scaler, pca, kmeans, labels = _planted(0.8)
    result = margins.membership_confidence(frame.drop(columns=["IncomeErr", "PovertyErr"]), scaler, pca, kmeans,
                                           draws=10)
    assert result.perturbed == {} and result.notes
    assert (result.table["confidence"] == 1.0).all()


def test_membership_confidence_checks_its_models():
    frame, scaler, pca, kmeans, labels = _planted(0.01)
    with pytest.raises(ValueError, match="scaler's feature"):
        margins.membership_confidence(frame.drop(columns=["Walk"]), scaler, pca, kmeans)
    with pytest.raises(ValueError, match="at least one draw"):
        margins.membership_confidence(frame, scaler, pca, kmeans, draws=0)


def test_the_recommended_preset_turns_counts_into_rates(census):
    from workbench.core import pipeline, recipes

    raw, schema = census
    recipe = margins.preset_recipe("recommended", schema.feature_columns)
    assert recipe.rates == recipes.Rates("TotalPop", ("Men", "Women", "Citizen", "Employed"))
    assert margins.preset_recipe("walkthrough", schema.feature_columns) is None
    prepared = pipeline.prepare_table(raw, features=margins.feature_preset("recommended", schema.feature_columns),
                                      recipe=recipe)
    assert {"TotalPop", "Men", "Women", "Citizen", "Employed"}.isdisjoint(prepared.features)
    assert "Women per TotalPop" in prepared.features and len(prepared.features) == 31
    with pytest.raises(ValueError, match="Unknown feature preset"):
        margins.preset_recipe("everything", schema.feature_columns)
