"""workbench.core.recipes: counts as rates of a total, transforms, the scaler, replayed.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.tables import table
from workbench.core import pipeline, recipes, scaling, sources
from workbench.core.errors import DataError
from workbench.core.scaling import ScalingError

COUNTS = ("Men", "Women", "Citizen", "Employed")


def test_counts_become_rates_in_their_place_and_the_total_goes(census_raw):
    recipe = recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", COUNTS))
    prepared = pipeline.prepare_table(census_raw, recipe=recipe)
    assert prepared.features[:3] == ["Men per TotalPop", "Women per TotalPop", "Hispanic"]
    assert "TotalPop" not in prepared.features and len(prepared.features) == 33
    frame = prepared.clean.frame
    assert np.allclose(frame["Men per TotalPop"], frame["Men"] / frame["TotalPop"])
    assert np.allclose(frame["Men per TotalPop"] + frame["Women per TotalPop"], 1.0)
    assert prepared.source_features[:4] == ["TotalPop", "Men", "Women", "Hispanic"]


def test_the_total_can_be_kept_and_rates_scaled_per_hundred(census_raw):
    recipe = recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", ("Employed",), keep_total=True, per=100))
    prepared = pipeline.prepare_table(census_raw, features=["TotalPop", "Employed", "Income"], recipe=recipe)
    assert prepared.features == ["TotalPop", "Income", "Employed per TotalPop"]  # table order
    assert prepared.clean.frame["Employed per TotalPop"].between(0, 100).all()


def test_rows_without_a_total_are_dropped_and_reported():
    raw = table("""\
        CensusId,State,County,TotalPop,Men,Income
        1001,Alabama,Autauga,100,40,51281
        1003,Alabama,Baldwin,0,0,50254
        1005,Alabama,Barbour,300,150,32964
        1007,Alabama,Bibb,50,60,38678
    """)
    prepared = pipeline.prepare_table(raw, recipe=recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", ("Men",))))
    report = prepared.clean.report
    assert report.drop("zero_total").examples == ["Alabama-Baldwin (TotalPop=0)"] and report.rows_clean == 3
    assert [w.kind for w in report.warnings] == ["rate_above_total"]  # Bibb: 60 men of 50 people
    assert prepared.X.shape == (3, 2)


def test_a_rate_with_one_value_in_every_row_is_dropped_and_reported_as_a_constant_count_is():
    raw = table("""\
        CensusId,State,County,TotalPop,Men,Income
        1001,Alabama,Autauga,100,50,51281
        1003,Alabama,Baldwin,300,150,50254
        1005,Alabama,Barbour,40,20,32964
    """)
    prepared = pipeline.prepare_table(raw, recipe=recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", ("Men",))))
    dropped = prepared.clean.report.drop("constant_column")
    assert dropped is not None and dropped.columns == ["Men per TotalPop"]
    assert prepared.features == ["Income"] and prepared.X.shape == (3, 1)


def test_rates_keep_the_parsing_notes_and_screen_the_new_features(census_raw):
    plain = pipeline.prepare_table(census_raw)
    assert any("TotalPop" in w.columns for w in plain.clean.report.warnings if w.kind == "near_duplicate")
    prepared = pipeline.prepare_table(census_raw, recipe=recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", COUNTS)))
    report = prepared.clean.report
    assert report.parsing == plain.clean.report.parsing
    near = [w for w in report.warnings if w.kind == "near_duplicate"]
    assert all(set(w.columns) <= set(prepared.features) for w in near)  # no TotalPop, Men …
    assert any(set(w.columns) == {"Men per TotalPop", "Women per TotalPop"} and w.value < -0.99 for w in near)


def test_rates_keep_a_semicolon_files_parsing_notes():
    raw = sources.read_csv_bytes(
        b"CensusId;State;County;TotalPop;Men;Income\n1001;Alabama;Autauga;100;40;51281,5\n"
        b"1003;Alabama;Baldwin;200;90;50254,25\n1005;Alabama;Barbour;300;150;32964,75\n")
    prepared = pipeline.prepare_table(raw, recipe=recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", ("Men",))))
    assert prepared.clean.report.parsing.get("notes")
    assert prepared.clean.report.parsing == pipeline.prepare_table(raw).clean.report.parsing


def test_transforms_are_part_of_the_scaler_and_replayed(census_raw):
    recipe = recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", COUNTS, keep_total=True),
                                   transforms={"TotalPop": "log1p", "Income": "asinh"}, scaler="zscore")
    prepared = pipeline.prepare_table(census_raw, recipe=recipe)
    column = prepared.features.index("TotalPop")
    logged = np.log1p(prepared.clean.frame["TotalPop"].to_numpy())
    assert np.allclose(prepared.X[:, column], (logged - logged.mean()) / logged.std(), atol=1e-5)
    assert prepared.clean.frame["TotalPop"].max() > 1e6  # the cleaned table keeps original units

    record = json.loads(json.dumps(prepared.recipe_record()))
    again = pipeline.prepare_table(census_raw, features=record["source_features"],
                                   recipe=recipes.FeatureRecipe.from_dict(record["recipe"]))
    assert again.fingerprint == prepared.fingerprint and np.array_equal(again.X, prepared.X)
    replayed = scaling.FittedScaler.from_dict(json.loads(json.dumps(prepared.scaler.to_dict())))
    assert replayed.transforms == {"TotalPop": "log1p", "Income": "asinh"}
    assert np.array_equal(replayed.transform(prepared.clean.frame), prepared.X)


def test_log1p_refuses_values_below_minus_one():
    fitted = scaling.fit_scaler("minmax", np.array([[0.0], [5.0], [9.0]]), transforms={"x0": "log1p"})
    with pytest.raises(ScalingError, match="use asinh"):
        fitted.transform(np.array([[-2.0]]))
    assert scaling.fit_scaler("minmax", np.array([[-5.0], [0.0], [5.0]]), transforms={"x0": "asinh"}).n_samples == 3


@pytest.mark.parametrize("make, message", [
    (lambda: recipes.Rates("TotalPop", ()), "at least one count"),
    (lambda: recipes.Rates("TotalPop", ("TotalPop",)), "count of itself"),
    (lambda: recipes.Rates("TotalPop", ("Men",), per=0), "positive number"),
    (lambda: recipes.FeatureRecipe(transforms={"Income": "sqrt"}), "Unknown transform"),
    (lambda: recipes.FeatureRecipe(scaler="robust"), "Unknown scaler"),
    (lambda: recipes.FeatureRecipe.from_dict({"rates": {"total": "T"}}), "Not a saved feature recipe"),
])
def test_bad_recipes_are_refused(make, message):
    with pytest.raises(DataError, match=message):
        make()


def test_a_recipe_must_fit_the_chosen_features(census_raw):
    with pytest.raises(DataError, match="among the chosen features"):
        pipeline.prepare_table(census_raw, features=["Men", "Income"],
                               recipe=recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", ("Men",))))
    with pytest.raises(ValueError, match="not among the features"):
        pipeline.prepare_table(census_raw, recipe=recipes.FeatureRecipe(transforms={"Nope": "log1p"}))
    with pytest.raises(ValueError, match="contradicts"):
        pipeline.prepare_table(census_raw, scaler="minmax", recipe=recipes.FeatureRecipe(scaler="zscore"))


def test_recipe_dict_round_trip():
    recipe = recipes.FeatureRecipe(rates=recipes.Rates("TotalPop", COUNTS, per=100), transforms={"Income": "log1p"})
    data = json.loads(json.dumps(recipe.to_dict()))
    assert data == {"rates": {"total": "TotalPop", "counts": list(COUNTS), "keep_total": False, "per": 100},
                    "transforms": {"Income": "log1p"}, "scaler": "minmax"}
    assert recipes.FeatureRecipe.from_dict(data) == recipe
    assert recipes.FeatureRecipe.from_dict(None) == recipes.FeatureRecipe()


def test_skewed_features_are_suggested_a_transform(census_raw):
    suggested = recipes.suggest_transforms(census_raw, ["TotalPop", "Income", "Drive", "Men"])
    assert suggested["TotalPop"] == "log1p" and suggested["Men"] == "log1p"
    assert "Drive" not in suggested  # close to symmetric


def test_recommended_rates_of_the_walkthrough_columns(census_raw):
    assert recipes.recommended_rates(census_raw.columns) == recipes.Rates("TotalPop", COUNTS)
    assert recipes.recommended_rates(["Income", "Poverty"]) is None
