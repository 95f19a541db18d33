"""workbench.open_run: a recorded run's models read back, its data checked, its stages rebuilt.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.core import sources
from workbench.runs import importer, segment
from workbench.runs import opening as open_run
from workbench.runs.opening import OpenRunError
from workbench.runs.store import Registry

SMALL = {"n_components": 6, "top": 3, "k": 4}


@pytest.fixture(scope="module")
def recorded(census_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("open-run")
    subset = root / "subset.csv"
    pd.read_csv(census_csv).head(600).to_csv(subset, index=False)
    result = segment.run_segmentation(subset, workspace=root / "ws", seed=0, **SMALL)
    return Registry(workspace=root / "ws"), result, subset


def test_the_models_and_stages_come_back_as_trained(recorded):
    reg, result, subset = recorded
    record = reg.get(result.run_id)
    models = open_run.load_models(reg, record)
    assert models.top == 3 and models.kmeans.k == 4 and models.pca.n_components == 6
    assert models.pca_job.job_name == result.pca.job.job_name
    assert open_run.recorded_source(record) == ("path", str(subset.resolve()))
    raw = sources.load_table(str(subset))
    assert open_run.check_data(record, raw, "the subset") == result.prepared.fingerprint
    pca_stage, kmeans_stage, scores = open_run.stages(models, result.prepared.X)
    np.testing.assert_array_equal(kmeans_stage.labels, result.kmeans.labels)
    np.testing.assert_allclose(scores, result.scores, rtol=1e-6)
    np.testing.assert_allclose(pca_stage.explained_variance_ratio, result.pca.explained_variance_ratio)


def test_changed_or_different_data_is_refused_with_the_reason(recorded, census_csv):
    reg, result, subset = recorded
    record = reg.get(result.run_id)
    whole = sources.load_table(str(census_csv))
    with pytest.raises(OpenRunError, match="fingerprint"):
        open_run.check_data(record, whole, "the census table")
    with pytest.raises(OpenRunError, match="lacks the feature"):
        open_run.check_data(record, whole.drop(columns=["Income"]), "a narrower table")
    models = open_run.load_models(reg, record)
    with pytest.raises(OpenRunError, match="takes 34 features"):
        open_run.stages(models, np.zeros((5, 3), dtype=np.float32))


def test_damaged_missing_and_unfinished_runs_are_refused(recorded, tmp_path):
    reg, result, _ = recorded
    record = reg.get(result.run_id)
    damaged = record.run_dir / "kmeans" / "model.tar.gz"
    original = damaged.read_bytes()
    try:
        damaged.write_bytes(b"\x1f\x8b garbage")
        with pytest.raises(OpenRunError, match="cannot be read"):
            open_run.load_models(reg, record)
        damaged.unlink()
        with pytest.raises(OpenRunError, match="K-Means model is missing"):
            open_run.load_models(reg, record)
    finally:
        damaged.write_bytes(original)
    record.status = "InProgress"
    with pytest.raises(OpenRunError, match="still being written"):
        open_run.load_models(reg, record)


def test_imports_open_as_far_as_they_can(sagemaker_fixtures, tmp_path):
    reg = Registry(workspace=tmp_path)
    pca = importer.import_model(sagemaker_fixtures / "pca-census-33" / "model.tar.gz", registry=reg)
    models = open_run.load_models(reg, pca)
    assert models.kmeans is None and models.feature_dim == 34 and models.top == 33
    assert not open_run.knows_its_data(pca) and open_run.recorded_source(pca) is None
    assert "imported without the data" in open_run.data_problem(pca, [])

    kmeans = importer.import_model(sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz", registry=reg)
    with pytest.raises(OpenRunError, match="without the PCA"):
        open_run.load_models(reg, kmeans)
    child = importer.import_model(sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz", registry=reg,
                                  pca_run=pca.run_id)
    models = open_run.load_models(reg, child)
    assert models.kmeans.k == 8 and models.pca.n_components == 33 and models.top == models.kmeans.feature_dim
