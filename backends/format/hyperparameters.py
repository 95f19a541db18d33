"""SageMaker's PCA and K-Means hyperparameters, declared once as data.

Every name, default, valid range and one-line meaning below is SageMaker's own, from the
developer guide pages "PCA Hyperparameters" and "K-Means Hyperparameters" (and, for the
K-Means defaults, the container's `default-input.json` as printed in real training logs).
Values may arrive typed (`33`, `True`, `["msd"]`) or as the strings SageMaker keeps in
`hyperparameters.json` (`"33"`, `"True"`, `'["ssd","msd"]'`); `validate_*` turn either
into typed values with the defaults filled in, and `to_sagemaker_strings` goes back.

Every backend validates through this module (see `backends/base.py`), so all of them
accept and reject exactly the same settings.
"""
from __future__ import annotations

import difflib
import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

AUTO = "auto"


class HyperparameterError(ValueError):
    """A hyperparameter is unknown, missing or invalid; the message says which and why.

    `problems` holds one line per problem found (all of them are reported at once).
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    kind is one of: "int", "float", "bool", "choice", "int_or_auto", "metrics".
    For numbers, `minimum`/`maximum` are inclusive bounds. `meaning` is SageMaker's own
    one-line description of the parameter.
    """

    name: str
    kind: str
    meaning: str
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def valid_values(self) -> str:
        """What SageMaker accepts, in words."""
        if self.kind == "int":
            if self.name == "extra_components":
                return "a non-negative integer or -1"
            if self.minimum is not None and self.maximum is not None:
                return f"an integer from {self.minimum:g} to {self.maximum:g}"
            return f"an integer ≥ {self.minimum:g}" if self.minimum is not None else "an integer"
        if self.kind == "float":
            if self.minimum is not None and self.maximum is not None:
                return f"a number in [{self.minimum:g}, {self.maximum:g}]"
            return "a number"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "int_or_auto":
            return f"'auto' or an integer ≥ {self.minimum:g}"
        if self.kind == "metrics":
            return 'a JSON list of metric names drawn from "msd" and "ssd", e.g. ["msd"] or ["msd","ssd"]'
        raise AssertionError(self.kind)

    def describe(self) -> str:
        return f"{self.name} is {self.meaning!r} It must be {self.valid_values}."


# --- PCA ------------------------------------------------------------------------------------
PCA_PARAMS: tuple[Param, ...] = (
    Param("feature_dim", "int", "Input dimension.", required=True, minimum=1),
    Param("mini_batch_size", "int", "Number of rows in a mini-batch.", required=True, minimum=1),
    Param("num_components", "int", "The number of principal components to compute.", required=True, minimum=1),
    Param(
        "algorithm_mode", "choice", "Mode for computing the principal components.",
        default="regular", choices=("regular", "randomized"),
    ),
    Param(
        "subtract_mean", "bool",
        "Indicates whether the data should be unbiased both during training and at inference.",
        default=True,
    ),
    Param(
        "extra_components", "int",
        "As the value increases, the solution becomes more accurate but the runtime and memory "
        "consumption increase linearly. The default, -1, means the maximum of 10 and num_components. "
        "Valid for randomized mode only.",
        default=-1, minimum=-1,
    ),
)

# --- K-Means --------------------------------------------------------------------------------
_LLOYD = "Lloyd's expectation-maximization (EM) procedure used to build the final model containing k centers."
KMEANS_PARAMS: tuple[Param, ...] = (
    Param("feature_dim", "int", "The number of features in the input data.", required=True, minimum=1),
    Param("k", "int", "The number of required clusters.", required=True, minimum=1),
    Param("epochs", "int", "The number of passes done over the training data.", default=1, minimum=1),
    Param(
        "eval_metrics", "metrics",
        "A JSON list of metric types used to report a score for the model. Allowed values are msd for "
        "Means Square Deviation and ssd for Sum of Square Distance.",
        default=("msd",), choices=("msd", "ssd"),
    ),
    Param(
        "extra_center_factor", "int_or_auto",
        "The algorithm creates K centers = num_clusters * extra_center_factor as it runs and reduces "
        "the number of centers from K to k when finalizing the model.",
        default=AUTO, minimum=1,
    ),
    Param(
        "half_life_time_size", "int",
        "Used to determine the weight given to an observation when computing a cluster mean. This "
        "weight decays exponentially as more points are observed; after observing half_life_time_size "
        "points its weight is 1/2. If set to 0, there is no decay.",
        default=0, minimum=0,
    ),
    Param(
        "init_method", "choice", "Method by which the algorithm chooses the initial cluster centers.",
        default="random", choices=("random", "kmeans++"),
    ),
    Param(
        "local_lloyd_init_method", "choice", "The initialization method for " + _LLOYD,
        default="kmeans++", choices=("kmeans++", "random"),
    ),
    Param("local_lloyd_max_iter", "int", "The maximum number of iterations for " + _LLOYD, default=300, minimum=1),
    Param(
        "local_lloyd_num_trials", "int_or_auto",
        "The number of times the Lloyd's expectation-maximization (EM) procedure with the least loss "
        "is run when building the final model containing k centers.",
        default=AUTO, minimum=1,
    ),
    Param(
        "local_lloyd_tol", "float", "The tolerance for change in loss for early stopping of " + _LLOYD,
        default=0.0001, minimum=0.0, maximum=1.0,
    ),
    Param(
        "mini_batch_size", "int", "The number of observations per mini-batch for the data iterator.",
        default=5000, minimum=1,
    ),
    # Not in SageMaker's table, but the SageMaker Python SDK always sends force_dense="True" for
    # K-Means, so real hyperparameters.json files carry it. Accepted so they can be replayed.
    Param(
        "force_dense", "bool",
        "Sent as 'True' by the SageMaker Python SDK for every K-Means job; the input is treated as dense.",
        default=True,
    ),
)

SPECS: dict[str, dict[str, Param]] = {
    "pca": {p.name: p for p in PCA_PARAMS},
    "kmeans": {p.name: p for p in KMEANS_PARAMS},
}
_TITLES = {"pca": "PCA", "kmeans": "K-Means"}


# --- parsing --------------------------------------------------------------------------------
class _Invalid(Exception):
    pass


def _parse_int(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise _Invalid
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if math.isfinite(value) and float(value).is_integer():
            return int(value)
        raise _Invalid
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Invalid from None
    raise _Invalid


def whole_number(value: Any, name: str, minimum: int | None = None) -> int:
    """`value` as an int (an int, an integral float or its digits as text), at least `minimum`;
    else a ValueError saying `name must be a whole number…` or `name must be at least…`."""
    try:
        number = _parse_int(value)
    except _Invalid:
        raise ValueError(f"{name} must be a whole number, got {str(value)[:40]!r}.") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}.")
    return number


def _parse_float(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise _Invalid
    if isinstance(value, numbers.Real):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise _Invalid from None
    else:
        raise _Invalid
    if not math.isfinite(result):
        raise _Invalid
    return result


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid


def _parse_choice(value: Any, choices: tuple[str, ...]) -> str:
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    raise _Invalid


def _parse_metrics(value: Any, choices: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise _Invalid from None
        else:  # a bare name, as the older SageMaker docs allowed ("msd")
            value = [text]
    if not isinstance(value, (list, tuple)) or not value:
        raise _Invalid
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or item.strip().lower() not in choices:
            raise _Invalid
        if item.strip().lower() not in out:
            out.append(item.strip().lower())
    return tuple(out)


def _parse(param: Param, value: Any) -> Any:
    kind = param.kind
    if kind == "int":
        result = _parse_int(value)
    elif kind == "float":
        result = _parse_float(value)
    elif kind == "bool":
        return _parse_bool(value)
    elif kind == "choice":
        return _parse_choice(value, param.choices)
    elif kind == "metrics":
        return _parse_metrics(value, param.choices)
    elif kind == "int_or_auto":
        if isinstance(value, str) and value.strip().lower() == AUTO:
            return AUTO
        result = _parse_int(value)
    else:  # pragma: no cover - the table above is the only source of kinds
        raise AssertionError(kind)
    if param.minimum is not None and result < param.minimum:
        raise _Invalid
    if param.maximum is not None and result > param.maximum:
        raise _Invalid
    return result


def _validate(algorithm: str, hp: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(hp, Mapping):
        raise HyperparameterError(f"{_TITLES[algorithm]} hyperparameters must be a mapping of name → value, got {type(hp).__name__}.")
    spec = SPECS[algorithm]
    problems: list[str] = []
    for name in hp:
        if name not in spec:
            close = difflib.get_close_matches(str(name), list(spec), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"Unknown {_TITLES[algorithm]} hyperparameter {name!r}{hint}; "
                f"valid names are: {', '.join(spec)}."
            )
    out: dict[str, Any] = {}
    for name, param in spec.items():
        value = hp.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if param.required:
                problems.append(f"{name} is required: {param.describe()}")
            else:
                out[name] = param.default
            continue
        try:
            out[name] = _parse(param, value)
        except _Invalid:
            problems.append(f"{name}={value!r} is invalid: {param.describe()}")
    if problems:
        raise HyperparameterError(problems)
    return out


def validate_pca(hp: Mapping[str, Any]) -> dict[str, Any]:
    """Typed PCA hyperparameters with SageMaker's defaults filled in.

    Raises HyperparameterError listing every unknown name, missing required value and
    invalid value (each with SageMaker's meaning of the parameter). Idempotent: validating
    the output again gives the same dict.
    """
    return _validate("pca", hp)


def validate_kmeans(hp: Mapping[str, Any]) -> dict[str, Any]:
    """Typed K-Means hyperparameters with SageMaker's defaults filled in (see validate_pca).

    `eval_metrics` comes back as a tuple of names; `extra_center_factor` and
    `local_lloyd_num_trials` stay the string "auto" unless set.
    """
    return _validate("kmeans", hp)


def to_sagemaker_strings(hp: Mapping[str, Any]) -> dict[str, str]:
    """The string-to-string map SageMaker's CreateTrainingJob takes (hyperparameters.json).

    Booleans become "True"/"False" (as the SageMaker Python SDK writes them), metric lists
    become JSON ('["msd"]'), numbers their shortest decimal form; strings pass through.
    """
    out: dict[str, str] = {}
    for name, value in hp.items():
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)):
            out[name] = "True" if value else "False"
        elif isinstance(value, str):
            out[name] = value
        elif isinstance(value, numbers.Integral):
            out[name] = str(int(value))
        elif isinstance(value, numbers.Real):
            out[name] = repr(float(value))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps([str(v) for v in value], separators=(",", ":"))
        else:
            raise HyperparameterError(f"{name}={value!r} has no SageMaker string form (type {type(value).__name__}).")
    return out


# --- checks that need the data's shape ------------------------------------------------------
def _describe(algorithm: str, name: str) -> str:
    return SPECS[algorithm][name].describe()


def check_pca_against_data(hp: Mapping[str, Any], n_rows: int, n_features: int) -> None:
    """Raise HyperparameterError when validated PCA hyperparameters do not fit an (n_rows, n_features) matrix."""
    problems: list[str] = []
    if hp["feature_dim"] != n_features:
        problems.append(
            f"feature_dim={hp['feature_dim']} does not match the data, which has {n_features} feature "
            f"column(s): {_describe('pca', 'feature_dim')}"
        )
    if hp["num_components"] > n_features:
        problems.append(
            f"num_components={hp['num_components']} is more than the {n_features} feature(s): a PCA of "
            f"{n_features} features has at most {n_features} components. {_describe('pca', 'num_components')}"
        )
    if n_rows < 2:
        problems.append(f"PCA needs at least 2 rows of data; got {n_rows}.")
    elif hp["algorithm_mode"] == "randomized" and hp["num_components"] > min(n_rows, n_features):
        problems.append(
            f"num_components={hp['num_components']} is more than min(rows, features) = "
            f"{min(n_rows, n_features)}, the most a randomized PCA can compute."
        )
    if problems:
        raise HyperparameterError(problems)


def check_kmeans_against_data(hp: Mapping[str, Any], n_rows: int, n_features: int) -> None:
    """Raise HyperparameterError when validated K-Means hyperparameters do not fit an (n_rows, n_features) matrix."""
    problems: list[str] = []
    if hp["feature_dim"] != n_features:
        problems.append(
            f"feature_dim={hp['feature_dim']} does not match the data, which has {n_features} feature "
            f"column(s): {_describe('kmeans', 'feature_dim')}"
        )
    if n_rows < 2:
        problems.append(f"K-Means needs at least 2 rows of data; got {n_rows}.")
    if hp["k"] > n_rows:
        problems.append(
            f"k={hp['k']} is more than the {n_rows} row(s) of data: every cluster needs at least one row. "
            f"{_describe('kmeans', 'k')}"
        )
    if problems:
        raise HyperparameterError(problems)


# --- the random seed ------------------------------------------------------------------------
# SageMaker's integer fields (such as a tuning job's RandomSeed) are 32-bit, and the registry
# stores the seed as SQLite's 64-bit INTEGER: a non-negative int32 fits everywhere.
MAX_SEED = 2**31 - 1


def validate_seed(seed: Any) -> int:
    """The seed as an int in 0..MAX_SEED, else HyperparameterError (one line)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        try:
            seed = _parse_int(seed)
        except _Invalid:
            raise HyperparameterError(f"The seed must be a whole number from 0 to {MAX_SEED:,}, "
                                      f"not {str(seed)[:40]!r}.") from None
    if not 0 <= int(seed) <= MAX_SEED:
        raise HyperparameterError(f"The seed must be a whole number from 0 to {MAX_SEED:,}; "
                                  f"{str(int(seed))[:40]}{'…' if len(str(int(seed))) > 40 else ''} is out of range.")
    return int(seed)
