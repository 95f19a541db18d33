"""SageMaker's PCA and K-Means hyperparameter spec: names, defaults, ranges, string forms, messages.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from backends.format import hyperparameters as hpmod
from backends.format.hyperparameters import (
    HyperparameterError,
    check_kmeans_against_data,
    check_pca_against_data,
    to_sagemaker_strings,
    validate_kmeans,
    validate_pca,
)

PCA_REQUIRED = {"feature_dim": 34, "mini_batch_size": 500, "num_components": 33}
KMEANS_REQUIRED = {"k": 7, "feature_dim": 5}

# name → (default or REQUIRED, [(given, typed value)], [invalid values])
REQUIRED = object()
PCA_CASES = {
    "feature_dim": (REQUIRED, [(34, 34), ("34", 34), (np.int64(34), 34), (34.0, 34)], [0, -1, "abc", 3.5, True, "3.5"]),
    "mini_batch_size": (REQUIRED, [(500, 500), (" 500 ", 500)], [0, "-5", [500]]),
    "num_components": (REQUIRED, [(33, 33), ("33", 33)], [0, "0", "many"]),
    "algorithm_mode": ("regular", [("randomized", "randomized"), ("Regular", "regular")], ["fast", 1]),
    "subtract_mean": (True, [(False, False), ("False", False), ("true", True), (np.bool_(False), False)], ["yes", 1, 0]),
    "extra_components": (-1, [(0, 0), ("20", 20), (-1, -1)], [-2, "x", 1.5]),
}
KMEANS_CASES = {
    "feature_dim": (REQUIRED, [(7, 7), ("7", 7)], [0, "seven"]),
    "k": (REQUIRED, [(8, 8), ("8", 8), (1, 1)], [0, -3, "8.5", False]),
    "epochs": (1, [(3, 3), ("3", 3)], [0, "-1"]),
    "eval_metrics": (
        ("msd",),
        [(["ssd"], ("ssd",)), ('["ssd","msd"]', ("ssd", "msd")), ('["msd", "ssd"]', ("msd", "ssd")), ("msd", ("msd",)),
         (("msd", "msd"), ("msd",))],
        ['["rmse"]', [], "[]", "[msd", ["msd", 3], 3],
    ),
    "extra_center_factor": ("auto", [(4, 4), ("4", 4), ("auto", "auto"), ("AUTO", "auto")], [0, "many", -1]),
    "half_life_time_size": (0, [(100, 100), ("100", 100), (0, 0)], [-1, "soon"]),
    "init_method": ("random", [("kmeans++", "kmeans++"), ("random", "random")], ["k-means++", "forgy"]),
    "local_lloyd_init_method": ("kmeans++", [("random", "random"), ("kmeans++", "kmeans++")], ["pca"]),
    "local_lloyd_max_iter": (300, [(50, 50), ("50", 50)], [0, "lots"]),
    "local_lloyd_num_trials": ("auto", [(5, 5), ("5", 5), ("auto", "auto")], [0, "few"]),
    "local_lloyd_tol": (0.0001, [(0.5, 0.5), ("0.5", 0.5), (0, 0.0), ("1", 1.0), ("1e-06", 1e-06)], [1.5, -0.1, "nan", "inf", "tiny"]),
    "mini_batch_size": (5000, [(100, 100), ("100", 100)], [0, "big"]),
    "force_dense": (True, [("True", True), (False, False)], ["maybe"]),
}
ALGORITHMS = {
    "pca": (validate_pca, PCA_REQUIRED, PCA_CASES),
    "kmeans": (validate_kmeans, KMEANS_REQUIRED, KMEANS_CASES),
}


def _cases(kind):
    return list(_iter_cases(kind))


def _iter_cases(kind):
    for algorithm, (_, _, cases) in ALGORITHMS.items():
        for name, (default, valid, invalid) in cases.items():
            if kind == "default":
                yield pytest.param(algorithm, name, default, id=f"{algorithm}-{name}")
            elif kind == "valid":
                for given, typed in valid:
                    yield pytest.param(algorithm, name, given, typed, id=f"{algorithm}-{name}-{given!r}")
            else:
                for given in invalid:
                    yield pytest.param(algorithm, name, given, id=f"{algorithm}-{name}-{given!r}")


def test_spec_declares_exactly_sagemakers_names():
    assert list(hpmod.SPECS["pca"]) == list(PCA_CASES)
    assert set(hpmod.SPECS["kmeans"]) == set(KMEANS_CASES)
    for spec in hpmod.SPECS.values():
        for param in spec.values():
            assert param.meaning.strip().endswith("."), param.name
            assert param.required == (param.default is None)


@pytest.mark.parametrize("algorithm,name,default", _cases("default"))
def test_every_parameter_default_or_required(algorithm, name, default):
    validate, required, _ = ALGORITHMS[algorithm]
    if default is REQUIRED:
        hp = {key: value for key, value in required.items() if key != name}
        with pytest.raises(HyperparameterError) as err:
            validate(hp)
        message = str(err.value)
        assert f"{name} is required" in message
        assert hpmod.SPECS[algorithm][name].meaning in message
    else:
        assert validate(required)[name] == default
        # An empty SageMaker string or None means "not set".
        assert validate({**required, name: None})[name] == default
        assert validate({**required, name: ""})[name] == default


@pytest.mark.parametrize("algorithm,name,given,typed", _cases("valid"))
def test_every_parameter_accepts_valid_values_typed_or_as_strings(algorithm, name, given, typed):
    validate, required, _ = ALGORITHMS[algorithm]
    out = validate({**required, name: given})
    assert out[name] == typed
    assert type(out[name]) is type(typed)


@pytest.mark.parametrize("algorithm,name,given", _cases("invalid"))
def test_every_parameter_rejects_invalid_values_with_its_meaning(algorithm, name, given):
    validate, required, _ = ALGORITHMS[algorithm]
    with pytest.raises(HyperparameterError) as err:
        validate({**required, name: given})
    message = str(err.value)
    param = hpmod.SPECS[algorithm][name]
    assert message.startswith(f"{name}={given!r} is invalid: {name} is ")
    assert param.meaning in message
    assert f"It must be {param.valid_values}." in message


def test_invalid_message_reads_as_sagemaker_explains_the_parameter():
    with pytest.raises(HyperparameterError) as err:
        validate_pca({**PCA_REQUIRED, "num_components": 0})
    assert str(err.value) == (
        "num_components=0 is invalid: num_components is 'The number of principal components to compute.' "
        "It must be an integer ≥ 1."
    )


def test_unknown_names_list_the_valid_ones_and_suggest_a_fix():
    with pytest.raises(HyperparameterError) as err:
        validate_kmeans({**KMEANS_REQUIRED, "num_clusters": 3})
    message = str(err.value)
    assert "Unknown K-Means hyperparameter 'num_clusters'" in message
    for name in KMEANS_CASES:
        assert name in message
    with pytest.raises(HyperparameterError, match="did you mean 'num_components'"):
        validate_pca({**PCA_REQUIRED, "num_component": 3})


def test_all_problems_are_reported_at_once():
    with pytest.raises(HyperparameterError) as err:
        validate_pca({"feature_dim": "x", "num_components": 0, "colour": "red"})
    assert len(err.value.problems) == 4  # unknown name, two invalid values, one missing
    assert "mini_batch_size is required" in str(err.value)


def test_non_mapping_is_rejected():
    with pytest.raises(HyperparameterError, match="mapping"):
        validate_pca([("feature_dim", 3)])


def test_validation_is_idempotent():
    for validate, required, _ in ALGORITHMS.values():
        once = validate(required)
        assert validate(once) == once


def test_real_hyperparameters_json_validates():
    # What the walkthrough's K-Means job received (SageMaker SDK: strings, plus force_dense).
    hp = validate_kmeans({"feature_dim": "7", "k": "8", "force_dense": "True"})
    assert hp["k"] == 8 and hp["feature_dim"] == 7 and hp["force_dense"] is True
    assert hp["mini_batch_size"] == 5000 and hp["eval_metrics"] == ("msd",)


def test_to_sagemaker_strings_gives_sagemakers_forms():
    strings = to_sagemaker_strings(validate_kmeans({**KMEANS_REQUIRED, "eval_metrics": ["ssd", "msd"]}))
    assert all(isinstance(value, str) for value in strings.values())
    assert strings["k"] == "7"
    assert strings["extra_center_factor"] == "auto"
    assert strings["local_lloyd_tol"] == "0.0001"
    assert strings["force_dense"] == "True"
    assert json.loads(strings["eval_metrics"]) == ["ssd", "msd"]
    assert to_sagemaker_strings(validate_kmeans(KMEANS_REQUIRED))["eval_metrics"] == '["msd"]'
    pca = to_sagemaker_strings(validate_pca(PCA_REQUIRED))
    assert pca == {
        "feature_dim": "34", "mini_batch_size": "500", "num_components": "33",
        "algorithm_mode": "regular", "subtract_mean": "True", "extra_components": "-1",
    }


def test_strings_round_trip():
    for validate, required, cases in ALGORITHMS.values():
        for name, (_, valid, _) in cases.items():
            for given, _ in valid:
                typed = validate({**required, name: given})
                assert validate(to_sagemaker_strings(typed)) == typed


def test_to_sagemaker_strings_rejects_values_without_a_string_form():
    with pytest.raises(HyperparameterError, match="no SageMaker string form"):
        to_sagemaker_strings({"k": object()})


# --- checks against the data -----------------------------------------------------------------
def test_pca_feature_dim_must_match_the_columns():
    hp = validate_pca(PCA_REQUIRED)
    check_pca_against_data(hp, 3218, 34)
    with pytest.raises(HyperparameterError, match="feature_dim=34 does not match the data, which has 30"):
        check_pca_against_data(hp, 3218, 30)


def test_pca_num_components_at_most_feature_dim():
    hp = validate_pca({**PCA_REQUIRED, "feature_dim": 5, "num_components": 6})
    with pytest.raises(HyperparameterError) as err:
        check_pca_against_data(hp, 100, 5)
    assert "num_components=6 is more than the 5 feature(s)" in str(err.value)
    assert "at most 5 components" in str(err.value)


def test_pca_needs_two_rows_and_randomized_needs_enough_rows():
    with pytest.raises(HyperparameterError, match="at least 2 rows"):
        check_pca_against_data(validate_pca(PCA_REQUIRED), 1, 34)
    hp = validate_pca({**PCA_REQUIRED, "num_components": 10, "algorithm_mode": "randomized"})
    with pytest.raises(HyperparameterError, match="min\\(rows, features\\) = 8"):
        check_pca_against_data(hp, 8, 34)
    # Regular mode is exact whatever the rows: components beyond the rank have s = 0.
    check_pca_against_data(validate_pca({**PCA_REQUIRED, "num_components": 10}), 8, 34)


def test_kmeans_k_at_most_rows():
    hp = validate_kmeans({**KMEANS_REQUIRED, "k": 8})
    check_kmeans_against_data(hp, 8, 5)
    with pytest.raises(HyperparameterError, match="k=8 is more than the 5 row"):
        check_kmeans_against_data(hp, 5, 5)


def test_kmeans_feature_dim_and_row_count():
    hp = validate_kmeans({**KMEANS_REQUIRED, "k": 1})
    with pytest.raises(HyperparameterError, match="feature_dim=5 does not match the data, which has 4"):
        check_kmeans_against_data(hp, 10, 4)
    with pytest.raises(HyperparameterError, match="at least 2 rows"):
        check_kmeans_against_data(hp, 1, 5)


@pytest.mark.parametrize("seed, expected", [(0, 0), (7, 7), ("42", 42), (np.int64(5), 5), (2**31 - 1, 2**31 - 1)])
def test_seeds_within_range_are_accepted(seed, expected):
    assert hpmod.validate_seed(seed) == expected


@pytest.mark.parametrize("seed", [-1, 2**31, 10**30, "lots", 1.5, True, None])
def test_seeds_out_of_range_are_one_line_errors(seed):
    with pytest.raises(hpmod.HyperparameterError, match="seed must be a whole number from 0 to 2,147,483,647") as info:
        hpmod.validate_seed(seed)
    assert "\n" not in str(info.value) and len(str(info.value)) < 160
