"""workbench.core.pipeline.prepare_table: the app's one prepare.
"""
from __future__ import annotations

import numpy as np
import pytest

from workbench.core import cleaning, pipeline, scaling, schema, sources
from workbench.core.errors import DataError

# --- Preparing a loaded table -------------------------------------------------------------


def test_prepare_table_matches_the_pipeline_steps(census_prepared, census_csv):
    raw = sources.read_csv_path(census_csv)
    clean = cleaning.clean_table(raw, schema.detect_schema(raw))
    assert census_prepared.X.shape == (3218, 34) and census_prepared.X.dtype == np.float32
    assert census_prepared.features == clean.features
    assert census_prepared.fingerprint == cleaning.fingerprint(clean.frame[clean.features])
    expected = scaling.fit_scaler("minmax", clean.frame[clean.features]).transform(clean.frame[clean.features])
    np.testing.assert_array_equal(census_prepared.X, expected)
    assert census_prepared.source_description.startswith("local file")


def test_prepare_table_with_features_and_zscore(census_csv):
    prep = pipeline.prepare_table(sources.read_csv_path(census_csv), features=["Income", "Poverty"], scaler="zscore")
    assert prep.features == ["Income", "Poverty"]
    assert prep.scaler.recipe == "zscore"
    np.testing.assert_allclose(prep.X.mean(axis=0), 0, atol=1e-5)


def test_prepare_table_reports_bad_features_as_data_errors(census_csv):
    with pytest.raises(DataError, match="Unknown feature"):
        pipeline.prepare_table(sources.read_csv_path(census_csv), features=["Incme"])


def test_prepare_table_equals_pipeline_prepare(census_csv):
    expected = pipeline.prepare(str(census_csv), features=["Income", "Walk"], scaler="zscore")
    got = pipeline.prepare_table(sources.load_table(str(census_csv)), features=["Income", "Walk"], scaler="zscore")
    assert got.fingerprint == expected.fingerprint
    assert got.source_description == expected.source_description
    np.testing.assert_array_equal(got.X, expected.X)
