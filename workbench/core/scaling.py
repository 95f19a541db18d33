"""Feature scaling recipes, fitted once and replayable.

A recipe is a scikit-learn scaler (MinMaxScaler, StandardScaler). Fitting one gives a
FittedScaler that keeps the learned parameters, so new rows (or a reloaded run) are
transformed exactly as the training rows were; to_dict()/from_dict() carry it through JSON
run manifests.

The fit and the transform are scikit-learn's own arithmetic written out in numpy (the same
operations in the same order, so the same bits: tests/core/test_scaling.py compares them):
importing scikit-learn costs about 0.5 s, more than the whole county run, and a CLI run or
an app start that only scales would pay it for two lines of arithmetic. `make_scaler` still
gives the scikit-learn estimator.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SCALERS", "FittedScaler", "ScalerRecipe", "ScalingError", "fit_scaler", "make_scaler"]


class ScalingError(ValueError):
    """A scaler cannot be made, fitted or applied as asked; the message says why."""


@dataclass(frozen=True)
class ScalerRecipe:
    name: str
    label: str
    description: str
    estimator: str  # the scikit-learn class in sklearn.preprocessing
    fit: Callable[[np.ndarray], dict[str, np.ndarray]]  # rows (float64) → params, as the estimator fits them
    apply: Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray]  # float64 rows, params → scaled rows
    # The fitted sklearn attributes (without the trailing "_") that define the transform.
    params: tuple[str, ...]

    def factory(self) -> Any:
        """A fresh, unfitted scikit-learn estimator of this recipe."""
        import sklearn.preprocessing

        return getattr(sklearn.preprocessing, self.estimator)()


_EPS = np.finfo(np.float64).eps


def _fit_minmax(X: np.ndarray) -> dict[str, np.ndarray]:
    """MinMaxScaler().fit(X) with feature_range (0, 1)."""
    return _minmax_params(np.nanmin(X, axis=0), np.nanmax(X, axis=0))


def _minmax_params(data_min: np.ndarray, data_max: np.ndarray) -> dict[str, np.ndarray]:
    """MinMaxScaler's parameters from each feature's extremes: a range under 10 eps counts as 1.
    Shared with the streaming fit (workbench.core.streaming), so both scale alike."""
    with np.errstate(over="ignore"):  # an overflowing range is refused by _check_finite_params
        data_range = data_max - data_min
    scale = 1.0 / np.where(data_range < 10 * _EPS, 1.0, data_range)
    return {"data_min": data_min, "data_max": data_max, "data_range": data_range, "min": 0.0 - data_min * scale,
            "scale": scale}


def _apply_minmax(X: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    X = X * params["scale"]
    X += params["min"]
    return X


def _fit_zscore(X: np.ndarray) -> dict[str, np.ndarray]:
    """StandardScaler().fit(X) on finite rows: scikit-learn's corrected two-pass variance
    (`_incremental_mean_and_var` from zero), and its near-constant test before the square root."""
    n = float(X.shape[0])
    # Overflowing sums or variances (values near the float64 limit) are refused, with a message,
    # by _check_finite_params: no numpy warning on the way.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(X, axis=0)
        mean = total / n
        centred = X - total / n
        correction = np.sum(centred, axis=0)
        centred **= 2
        var = (np.sum(centred, axis=0) - correction ** 2 / n) / n
    return _zscore_params(n, mean, var)


def _zscore_params(n: float, mean: np.ndarray, var: np.ndarray) -> dict[str, np.ndarray]:
    """StandardScaler's parameters from n, the means and the variances: scikit-learn's
    near-constant test before the square root (shared with the streaming fit)."""
    constant = var <= n * _EPS * var + (n * mean * _EPS) ** 2
    return {"mean": mean, "var": var, "scale": np.where(constant, 1.0, np.sqrt(var))}


def _apply_zscore(X: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    X = X - params["mean"]
    X /= params["scale"]
    return X


SCALERS: dict[str, ScalerRecipe] = {
    recipe.name: recipe
    for recipe in (
        ScalerRecipe(
            "minmax", "Min-max to [0, 1]",
            "Each feature mapped linearly so its training minimum is 0 and maximum 1 (the walkthrough's choice).",
            "MinMaxScaler", _fit_minmax, _apply_minmax, ("data_min", "data_max", "data_range", "min", "scale"),
        ),
        ScalerRecipe(
            "zscore", "Standardise (z-score)",
            "Each feature centred on its training mean and divided by its standard deviation.",
            "StandardScaler", _fit_zscore, _apply_zscore, ("mean", "var", "scale"),
        ),
    )
}


def _recipe(name: str) -> ScalerRecipe:
    try:
        return SCALERS[name]
    except (KeyError, TypeError):
        raise ScalingError(f"Unknown scaling recipe {name!r}; choose one of: {', '.join(SCALERS)}.") from None


def make_scaler(name: str) -> Any:
    """A fresh, unfitted scikit-learn scaler for the recipe `name`."""
    return _recipe(name).factory()


@dataclass(frozen=True, eq=False)
class FittedScaler:
    """A fitted recipe: recipe name, feature names in column order, and the fitted parameters
    (minmax: data_min, data_max, data_range, min, scale; zscore: mean, var, scale), each (n_features,)."""

    recipe: str
    features: tuple[str, ...]
    params: Mapping[str, np.ndarray]
    n_samples: int
    # {feature: "log1p" | "asinh"}: applied before the scaler, at fit and at every transform.
    transforms: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        recipe = _recipe(self.recipe)
        features = tuple(str(f) for f in self.features)
        transforms = {str(k): str(v) for k, v in dict(self.transforms or {}).items()}
        unknown = {k: v for k, v in transforms.items() if v not in TRANSFORMS or k not in features}
        if unknown:
            raise ScalingError(f"Transforms {unknown} are unknown or name no feature; use {', '.join(TRANSFORMS)} "
                               "on the scaler's features.")
        object.__setattr__(self, "transforms", transforms)
        missing = set(recipe.params) - set(self.params)
        if missing:
            raise ScalingError(f"A fitted {self.recipe} scaler needs the parameter(s) {sorted(missing)}.")
        params = {k: np.asarray(self.params[k], dtype=np.float64).reshape(-1) for k in recipe.params}
        wrong = {k: v.shape for k, v in params.items() if v.shape != (len(features),)}
        if wrong:
            raise ScalingError(f"Scaler parameters {wrong} do not match its {len(features)} features.")
        _check_finite_params(self.recipe, features, params)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "params", params)

    def transform(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Scale rows as the training rows were: float32 array (rows, len(features)).

        A DataFrame must hold every feature column (extra columns are ignored, order comes from
        self.features); an array must have exactly len(features) columns in that order."""
        X = _transformed(_feature_matrix(data, self.features), self.features, self.transforms)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = _recipe(self.recipe).apply(X, self.params).astype(np.float32)
        bad = ~np.isfinite(scaled).all(axis=0)
        if bad.any():
            raise ScalingError(
                f"Scaled {self.recipe} values of {', '.join(np.array(self.features)[bad])} fall beyond float32's "
                "±3.4e38: those rows lie far outside the rows the scaler was fitted on. Check those values, "
                "or drop the feature(s).")
        return scaled

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; floats survive a JSON round trip exactly."""
        return {
            "recipe": self.recipe,
            "features": list(self.features),
            "n_samples": int(self.n_samples),
            "params": {k: v.tolist() for k, v in self.params.items()},
            "transforms": dict(self.transforms),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FittedScaler:
        try:
            return cls(data["recipe"], tuple(data["features"]), dict(data["params"]), int(data["n_samples"]),
                       dict(data.get("transforms") or {}))
        except (KeyError, TypeError) as exc:
            raise ScalingError(f"Not a saved scaler (needs recipe, features, params and n_samples): {exc!r}.") from exc


def fit_scaler(recipe: str, data: pd.DataFrame | np.ndarray, features: Sequence[str] | None = None,
               transforms: Mapping[str, str] | None = None) -> FittedScaler:
    """Fit the recipe on the feature columns of `data`, after `transforms` ({feature: "log1p" |
    "asinh"}, see TRANSFORMS), which the fitted scaler then applies to every row it transforms.

    With a DataFrame, features defaults to all its columns (pass CleanResult.features for a cleaned
    frame, which also holds id and name columns). With an array, features names its columns
    (default x0, x1, ...). Constant columns scale to 0 rather than NaN (scikit-learn's handling)."""
    if features is None:
        features = list(data.columns) if isinstance(data, pd.DataFrame) else [f"x{i}" for i in range(np.shape(data)[-1])]
    features = tuple(str(f) for f in features)
    transforms = dict(transforms or {})
    X = _transformed(_feature_matrix(data, features), features, transforms)
    if X.shape[0] < 1:
        raise ScalingError("Cannot fit a scaler on zero rows.")
    return FittedScaler(recipe, features, _recipe(recipe).fit(X), int(X.shape[0]), transforms)


def _check_finite_params(recipe: str, features: Sequence[str], params: Mapping[str, np.ndarray]) -> None:
    """Values too large for float64 arithmetic (a range or variance past 1.8e308) give infinite
    parameters, and a scaler that would flatten the feature or return infinities: refuse it."""
    bad = ~np.all([np.isfinite(v) for v in params.values()], axis=0)
    if bad.any():
        names = ", ".join(np.array(features, dtype=object)[bad])
        raise ScalingError(
            f"Cannot {recipe}-scale {names}: its values are too large for float64 arithmetic (the "
            f"{'range' if recipe == 'minmax' else 'mean or variance'} overflows past 1.8e308). Check those values, or "
            "rescale the column (e.g. divide it by 1e6) before segmenting.")


TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"log1p": np.log1p, "asinh": np.arcsinh}


def _transformed(X: np.ndarray, features: Sequence[str], transforms: Mapping[str, str]) -> np.ndarray:
    """X with each transformed feature's column re-expressed; log1p refuses values ≤ -1."""
    if not transforms:
        return X
    X = X.copy()
    for feature, name in transforms.items():
        if name not in TRANSFORMS:
            raise ScalingError(f"Unknown transform {name!r} for {feature}; choose {', '.join(TRANSFORMS)}.")
        if feature not in features:
            raise ScalingError(f"The transform {name} names {feature!r}, which is not a feature.")
        j = list(features).index(feature)
        if name == "log1p" and (X[:, j] <= -1).any():
            raise ScalingError(f"log1p needs values above -1, and {feature} has {X[:, j].min():g}; use asinh for it.")
        X[:, j] = TRANSFORMS[name](X[:, j])
    return X


def _feature_matrix(data: pd.DataFrame | np.ndarray, features: Sequence[str]) -> np.ndarray:
    """The float64 (rows, features) matrix, with clear errors for mismatched or unusable input."""
    if isinstance(data, pd.DataFrame):
        missing = [f for f in features if f not in data.columns]
        if missing:
            raise ScalingError(
                f"The data lacks the feature column(s) {missing}; the scaler needs {list(features)}."
            )
        block = data[list(features)]
        non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(block[c])]
        if non_numeric:
            raise ScalingError(f"Feature column(s) {non_numeric} are not numeric; clean the table first.")
        X = block.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            X = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ScalingError(f"Cannot read the rows as numbers: {exc}.") from exc
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != len(features):
            raise ScalingError(
                f"Rows of shape {X.shape} do not fit a scaler of {len(features)} features ({', '.join(features)})."
            )
    if not np.isfinite(X).all():
        raise ScalingError("The rows contain missing or infinite values; clean the table first.")
    return X
