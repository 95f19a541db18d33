"""workbench.runs.trainings: the app's trainings recorded as runs, atomically, failures included."""
from __future__ import annotations

import pandas as pd
import pytest

from backends.registry import create_backend
from workbench.core import pipeline
from workbench.runs import folders, trainings
from workbench.runs.store import RunStore


@pytest.fixture(scope="module")
def small(census_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("recorded")
    subset = root / "subset.csv"
    pd.read_csv(census_csv).head(400).to_csv(subset, index=False)
    return pipeline.prepare(str(subset)), str(subset)


def test_pca_then_segmentation_are_recorded_with_the_pca_cost_counted_once(small, tmp_path):
    prep, source = small
    store = RunStore(workspace=tmp_path / "ws")
    backend = create_backend("embedded")
    lines = []
    pca = trainings.train_pca_run(store, prep, backend=backend, backend_name="embedded", n_components=6, seed=0,
                                  source_ref=source, progress=lines.append)
    pca_dir = store.runs_dir / pca.run_id
    assert pca.stage.job.artifact_path == pca_dir / "pca" / "model.tar.gz" and pca.stage.job.artifact_path.is_file()
    assert (pca_dir / folders.MANIFEST).is_file() and any(pca.run_id in line for line in lines)
    record = store.get(pca.run_id)
    assert (record.status, record.kind, record.data_fingerprint) == ("Completed", "pca", prep.fingerprint)
    assert record.source_ref == source and record.settings == {"n_components": 6}
    # It keeps nothing yet (the K-Means on it chooses): listed and shown alike, not as "kept 6".
    assert record.kept is None and pd.isna(store.list_runs().set_index("run_id").loc[pca.run_id, "top"])
    from workbench.cli.runs_commands import run_text
    assert "components 6, kept —" in run_text(record)

    pca.stage.job.details = {**(pca.stage.job.details or {}), "estimated_cost_usd": 1.25}  # as a cloud job would carry
    scores = pipeline.project(pca.stage, prep.X, 3)
    seg = trainings.train_segmentation_run(
        store, prep, pca.stage, pca_run_id=pca.run_id, pca_seed=0, top=3, scores=scores, backend=backend,
        backend_name="embedded", k=4, seed=0, source_ref=source, component_names=["Wealth", "", "Age"],
        progress=lines.append)
    record = store.get(seg.run_id)
    seg_dir = store.runs_dir / seg.run_id
    assert (record.status, record.kind, record.parent_run_id, record.k, record.top) == (
        "Completed", "segmentation", pca.run_id, 4, 3)
    assert (seg_dir / "pca" / "model.tar.gz").read_bytes() == pca.stage.job.artifact_path.read_bytes()
    assert record.component_names == ["Wealth", "", "Age"] and len(record.labeled()) == len(prep.X)
    assert list(record.labeled().columns[:5]) == ["CensusId", "State", "County", "Wealth", "pc2"]
    assert record.jobs["pca"].cost_usd == 0.0  # the copy is free: its cost stays with the PCA run
    assert record.jobs["pca"].details["cost_recorded_in_run"] == pca.run_id
    assert seg.stage.job.artifact_path == seg_dir / "kmeans" / "model.tar.gz"


def test_a_failed_training_is_recorded_failed_and_leaves_no_run_folder(small, tmp_path):
    prep, source = small
    store = RunStore(workspace=tmp_path / "ws")
    with pytest.raises(ValueError, match="num_components"):
        trainings.train_pca_run(store, prep, backend=create_backend("embedded"), backend_name="embedded",
                                n_components=99, seed=0)
    (failed,) = [store.get(run_id) for run_id in store.list_runs()["run_id"]]
    assert failed.status == "Failed" and "num_components" in failed.error
    assert failed.run_dir is None and not (store.runs_dir / failed.run_id).exists()
    assert not [p for p in store.runs_dir.iterdir() if p.name.startswith(folders.STAGING_PREFIX)]


def test_a_parent_whose_model_is_gone_is_refused_with_what_to_do(small, tmp_path):
    prep, _ = small
    store = RunStore(workspace=tmp_path / "ws")
    pca = pipeline.train_pca(prep.X, 6, seed=0, output_dir=tmp_path / "job")
    pca.job.artifact_path.unlink()
    scores = pipeline.project(pca, prep.X, 3)
    with pytest.raises(FileNotFoundError, match="train it again"):
        trainings.train_segmentation_run(store, prep, pca, pca_run_id="gone", pca_seed=0, top=3, scores=scores,
                                         backend=create_backend("embedded"), backend_name="embedded", k=4, seed=0)
    (failed,) = [store.get(run_id) for run_id in store.list_runs()["run_id"]]
    assert failed.status == "Failed" and "is gone" in failed.error
