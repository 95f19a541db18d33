"""workbench.runs.apply: a recorded run's models read back, its data checked, its models applied to it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.core import pipeline, sources
from workbench.runs import apply, importer, segment
from workbench.runs.apply import ApplyError
from workbench.runs.store import RunStore

SMALL = {"n_components": 6, "top": 3, "k": 4}


@pytest.fixture(scope="module")
def recorded(census_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("open-run")
    subset = root / "subset.csv"
    pd.read_csv(census_csv).head(600).to_csv(subset, index=False)
    result = segment.run_segmentation(subset, workspace=root / "ws", seed=0, **SMALL)
    return RunStore(workspace=root / "ws"), result, subset


def test_the_models_and_stages_come_back_as_trained(recorded):
    reg, result, subset = recorded
    record = reg.get(result.run_id)
    models = apply.load_models(reg, record)
    assert models.top == 3 and models.kmeans.k == 4 and models.pca.n_components == 6
    assert models.pca_job.job_name == result.pca.job.job_name
    assert record.source_ref == str(subset.resolve())
    prepared = apply.prepare_like(sources.load_table(str(subset)), record, "the subset")
    assert prepared.fingerprint == result.prepared.fingerprint
    np.testing.assert_array_equal(prepared.X, result.prepared.X)
    apply.check_fits(record, result.prepared)
    applied = apply.apply(models, prepared)
    np.testing.assert_array_equal(applied.kmeans.labels, result.kmeans.labels)
    np.testing.assert_allclose(applied.scores, result.scores, rtol=1e-6)
    np.testing.assert_allclose(applied.pca.explained_variance_ratio, result.pca.explained_variance_ratio)
    pd.testing.assert_frame_equal(applied.labeled(), result.labeled())


def test_changed_or_different_data_is_refused_with_the_reason(recorded, census_csv):
    reg, result, subset = recorded
    record = reg.get(result.run_id)
    whole = sources.load_table(str(census_csv))
    with pytest.raises(ApplyError, match="fingerprint"):
        apply.prepare_like(whole, record, "The census table")
    with pytest.raises(ApplyError, match="lacks the feature"):
        apply.prepare_like(whole.drop(columns=["Income"]), record, "A narrower table")
    narrow = pipeline.prepare_table(sources.load_table(str(subset)), features=["Income", "Poverty", "White"])
    with pytest.raises(ApplyError, match="takes 34 features"):
        apply.apply(apply.load_models(reg, record), narrow)
    with pytest.raises(ApplyError, match="not the 34"):
        apply.check_fits(record, narrow)
    rescaled = pipeline.prepare_table(sources.load_table(str(subset)), scaler="zscore")
    with pytest.raises(ApplyError, match="scaled differently"):
        apply.check_fits(record, rescaled)


def test_damaged_missing_and_unfinished_runs_are_refused(recorded, tmp_path):
    reg, result, _ = recorded
    record = reg.get(result.run_id)
    damaged = record.run_dir / "kmeans" / "model.tar.gz"
    original = damaged.read_bytes()
    try:
        damaged.write_bytes(b"\x1f\x8b garbage")
        with pytest.raises(ApplyError, match="cannot be read"):
            apply.load_models(reg, record)
        damaged.unlink()
        with pytest.raises(ApplyError, match="K-Means model is missing"):
            apply.load_models(reg, record)
    finally:
        damaged.write_bytes(original)
    record.status = "InProgress"
    with pytest.raises(ApplyError, match="still being written"):
        apply.load_models(reg, record)


def test_imports_open_as_far_as_they_can(sagemaker_fixtures, tmp_path):
    reg = RunStore(workspace=tmp_path)
    pca = importer.import_model(sagemaker_fixtures / "pca-census-33" / "model.tar.gz", store=reg)
    models = apply.load_models(reg, pca)
    assert models.kmeans is None and models.feature_dim == 34 and models.top == 33
    assert not apply.knows_its_data(pca) and pca.source_ref is None
    assert "imported without the data" in apply.data_problem(pca, [])

    kmeans = importer.import_model(sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz", store=reg)
    with pytest.raises(ApplyError, match="without the PCA"):
        apply.load_models(reg, kmeans)
    child = importer.import_model(sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz", store=reg,
                                  pca_run=pca.run_id)
    models = apply.load_models(reg, child)
    assert models.kmeans.k == 8 and models.pca.n_components == 33 and models.top == models.kmeans.feature_dim


def test_a_run_with_a_feature_recipe_is_recorded_and_reapplied_identically(census_csv, tmp_path):
    """Counts as rates of TotalPop and a log-transformed income, then z-scores: the manifest records the
    recipe, the run reopens on the raw table exactly, and a re-run repeats it."""
    from workbench.core.recipes import FeatureRecipe, Rates
    from workbench.runs import manifest

    recipe = FeatureRecipe(rates=Rates("TotalPop", ("Men", "Women", "Employed")), transforms={"Income": "log1p"},
                           scaler="zscore")
    store = RunStore(workspace=tmp_path)
    result = segment.run_segmentation(census_csv, recipe=recipe, store=store, **SMALL)
    record = store.get(result.run_id)
    assert "Men per TotalPop" in record.features and "Men" not in record.features
    written = manifest.read(record.run_dir)
    assert written["recipe"]["recipe"] == recipe.to_dict() and "Men" in written["recipe"]["source_features"]
    assert written["geography"] == "county" and written["scaler"]["recipe"] == "zscore"
    again = apply.prepare_like(sources.load_table(str(census_csv)), record)
    np.testing.assert_array_equal(again.X, result.prepared.X)
    applied = apply.apply(apply.load_models(store, record), again)
    np.testing.assert_array_equal(applied.kmeans.labels, result.kmeans.labels)
    settings = segment.rerun_settings(store, result.run_id)
    assert settings["recipe"] == recipe and settings["scaler"] is None
    rerun = segment.rerun(result.run_id, backend="embedded", store=store)
    np.testing.assert_array_equal(rerun.kmeans.labels, result.kmeans.labels)
