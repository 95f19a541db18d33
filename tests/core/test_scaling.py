"""Scaling recipes and replayable fitted scalers.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from workbench.core import cleaning, sources
from workbench.core.scaling import SCALERS, FittedScaler, ScalingError, fit_scaler, make_scaler


@pytest.fixture(scope="session")
def census(census_csv) -> cleaning.CleanResult:
    return cleaning.clean_table(sources.read_csv_path(census_csv))


def test_registry_lists_the_recipes():
    assert list(SCALERS) == ["minmax", "zscore"]
    assert isinstance(make_scaler("minmax"), MinMaxScaler)
    assert isinstance(make_scaler("zscore"), StandardScaler)
    assert make_scaler("minmax") is not make_scaler("minmax")


def test_unknown_recipe_lists_the_choices():
    with pytest.raises(ScalingError, match="Unknown scaling recipe 'robust'; choose one of: minmax, zscore"):
        make_scaler("robust")
    with pytest.raises(ScalingError, match="minmax, zscore"):
        fit_scaler("robust", pd.DataFrame({"a": [1.0, 2.0]}))


def test_minmax_output_is_in_the_unit_interval_per_column(census):
    scaled = fit_scaler("minmax", census.frame, census.features).transform(census.frame)
    assert scaled.dtype == np.float32 and scaled.shape == (3218, 34)
    np.testing.assert_array_equal(scaled.min(axis=0), np.zeros(34, np.float32))
    np.testing.assert_array_equal(scaled.max(axis=0), np.ones(34, np.float32))


def test_minmax_matches_the_walkthrough(census):
    expected = MinMaxScaler().fit_transform(census.feature_frame.to_numpy()).astype(np.float32)
    scaled = fit_scaler("minmax", census.frame, census.features).transform(census.frame)
    np.testing.assert_array_equal(scaled, expected)


@pytest.mark.parametrize("recipe", list(SCALERS))
def test_fit_and_transform_are_scikit_learns_to_the_bit(census, recipe):
    """The recipes run scikit-learn's arithmetic in numpy (importing scikit-learn costs more than a
    county run): the same parameters and scaled rows, bit for bit, on the census and on columns
    that are constant, near-constant or huge."""
    rng = np.random.default_rng(5)
    odd = np.column_stack([np.full(50, 7.0), 1e9 + rng.random(50) * 1e-7, rng.normal(size=50) * 1e12,
                           np.r_[np.zeros(49), 1e-300]])
    for X in (census.feature_frame.to_numpy(), odd, np.asfortranarray(odd)):
        theirs = make_scaler(recipe).fit(X)
        ours = fit_scaler(recipe, X)
        for key in SCALERS[recipe].params:
            np.testing.assert_array_equal(ours.params[key], getattr(theirs, key + "_"), err_msg=key)
        np.testing.assert_array_equal(ours.transform(X), theirs.transform(X).astype(np.float32))


def test_zscore_centres_and_standardises(census):
    scaled = fit_scaler("zscore", census.frame, census.features).transform(census.frame).astype(np.float64)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-5)


@pytest.mark.parametrize("recipe", list(SCALERS))
def test_round_trip_through_json_transforms_identically(census, recipe):
    fitted = fit_scaler(recipe, census.frame, census.features)
    restored = FittedScaler.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert restored.recipe == recipe and restored.features == tuple(census.features)
    assert restored.n_samples == 3218
    for key in fitted.params:
        np.testing.assert_array_equal(restored.params[key], fitted.params[key])
    np.testing.assert_array_equal(restored.transform(census.frame), fitted.transform(census.frame))


@pytest.mark.parametrize("recipe", list(SCALERS))
def test_new_rows_transform_like_the_training_rows(census, recipe):
    fitted = fit_scaler(recipe, census.frame, census.features)
    everything = fitted.transform(census.frame)
    some = census.frame.iloc[[5, 1, 99]]
    np.testing.assert_array_equal(fitted.transform(some), everything[[5, 1, 99]])
    np.testing.assert_array_equal(fitted.transform(some[census.features].to_numpy()), everything[[5, 1, 99]])


def test_frame_columns_are_matched_by_name(census):
    fitted = fit_scaler("minmax", census.frame, census.features)
    shuffled = census.frame[census.features[::-1]]
    np.testing.assert_array_equal(fitted.transform(shuffled), fitted.transform(census.frame))


@pytest.mark.parametrize("recipe", list(SCALERS))
def test_constant_columns_scale_to_finite_values(recipe):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "flat": [7.0, 7.0, 7.0]})
    fitted = fit_scaler(recipe, frame)
    scaled = fitted.transform(frame)
    assert np.isfinite(scaled).all()
    np.testing.assert_array_equal(scaled[:, 1], [0, 0, 0])
    assert np.isfinite(fitted.transform(np.array([[2.0, 9.0]]))).all()


def test_missing_feature_columns_are_named(census):
    fitted = fit_scaler("minmax", census.frame, census.features)
    with pytest.raises(ScalingError, match=r"lacks the feature column\(s\) \['Income'\]"):
        fitted.transform(census.frame.drop(columns="Income"))


def test_arrays_of_the_wrong_width_are_refused():
    fitted = fit_scaler("minmax", pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0]}))
    with pytest.raises(ScalingError, match=r"shape \(2, 3\) do not fit a scaler of 2 features \(a, b\)"):
        fitted.transform(np.zeros((2, 3)))


def test_non_numeric_and_non_finite_rows_are_refused():
    fitted = fit_scaler("zscore", pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0]}))
    with pytest.raises(ScalingError, match="not numeric"):
        fitted.transform(pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]}))
    with pytest.raises(ScalingError, match="missing or infinite"):
        fitted.transform(np.array([[1.0, np.nan]]))


def test_fit_on_an_array_names_its_columns():
    fitted = fit_scaler("minmax", np.array([[0.0, 10.0], [1.0, 20.0]]))
    assert fitted.features == ("x0", "x1")
    np.testing.assert_array_equal(fitted.transform(np.array([[0.5, 15.0]])), [[0.5, 0.5]])


def test_malformed_saved_scalers_are_refused():
    good = fit_scaler("minmax", pd.DataFrame({"a": [1.0, 2.0]})).to_dict()
    with pytest.raises(ScalingError, match="Not a saved scaler"):
        FittedScaler.from_dict({"recipe": "minmax"})
    with pytest.raises(ScalingError, match="needs the parameter"):
        FittedScaler.from_dict({**good, "params": {"min": [0.0]}})
    with pytest.raises(ScalingError, match="do not match its 2 features"):
        FittedScaler.from_dict({**good, "features": ["a", "b"]})
    with pytest.raises(ScalingError, match="Unknown scaling recipe"):
        FittedScaler.from_dict({**good, "recipe": "log"})


def test_huge_values_are_refused_not_flattened():
    column = np.array([[-1e308], [0.0], [1e308]])
    with pytest.raises(ScalingError, match=r"minmax-scale x0.*too large"):
        fit_scaler("minmax", column)
    with pytest.raises(ScalingError, match=r"zscore-scale big.*too large"):
        fit_scaler("zscore", pd.DataFrame({"small": [1.0, 2.0, 3.0], "big": [-1e300, 0.0, 1e300]}))


def test_scaled_values_beyond_float32_are_refused():
    fitted = fit_scaler("minmax", pd.DataFrame({"a": [0.0, 1.0], "b": [0.0, 1e-10]}))
    assert np.isfinite(fitted.transform(pd.DataFrame({"a": [0.5], "b": [5e-11]}))).all()
    with pytest.raises(ScalingError, match=r"values of b fall beyond float32"):
        fitted.transform(pd.DataFrame({"a": [0.5], "b": [1e30]}))
