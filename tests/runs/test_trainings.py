"""workbench.recorded_training: an app training recorded as a run, atomically, failures included.
"""
from __future__ import annotations

import pandas as pd
import pytest

from workbench.core import pipeline
from workbench.runs import folders as runs
from workbench.runs import recorded_training
from workbench.runs.store import Registry


@pytest.fixture(scope="module")
def small(census_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("recorded")
    subset = root / "subset.csv"
    pd.read_csv(census_csv).head(400).to_csv(subset, index=False)
    return pipeline.prepare(str(subset)), str(subset)


def _pca_fit(prep):
    def fit(output_dir, progress):
        return pipeline.train_pca(prep.X, 6, seed=0, output_dir=output_dir, progress=progress)
    return fit


def test_pca_then_segmentation_are_recorded_with_the_pca_cost_counted_once(small, tmp_path):
    prep, source = small
    reg = Registry(workspace=tmp_path / "ws")
    lines = []
    pca, pca_id, pca_dir = recorded_training.fit_recorded(
        reg, "pca", "embedded", recorded_training.Recipe("pca", prep, 0, {"n_components": 6}, source_ref=source),
        _pca_fit(prep), lines.append)
    assert pca.job.artifact_path == pca_dir / "pca" / "model.tar.gz" and pca.job.artifact_path.is_file()
    assert (pca_dir / runs.MANIFEST).is_file() and any(pca_id in line for line in lines)
    record = reg.get(pca_id)
    assert (record.status, record.kind, record.data_fingerprint) == ("Completed", "pca", prep.fingerprint)

    pca.job.details = {**(pca.job.details or {}), "estimated_cost_usd": 1.25}  # as a cloud job would carry
    scores = pipeline.project(pca, prep.X, 3)

    def fit_kmeans(output_dir, progress):
        return pipeline.train_kmeans(scores, 4, seed=0, output_dir=output_dir, progress=progress)

    def finish(staging, stage):
        runs.write_labels(pipeline.labeled_table(prep, scores, stage), staging / runs.LABELS)

    recipe = recorded_training.Recipe("segmentation", prep, 0, {"n_components": 6, "top": 3, "k": 4},
                                      source_ref=source, parent_run_id=pca_id, parent_job=pca.job, finish=finish,
                                      names=lambda r, run_id: r.set_names(run_id, clusters=["a", "b", "c", "d"]))
    kmeans, seg_id, seg_dir = recorded_training.fit_recorded(reg, "kmeans", "embedded", recipe, fit_kmeans,
                                                             lines.append)
    seg = reg.get(seg_id)
    assert (seg.status, seg.kind, seg.parent_run_id, seg.k) == ("Completed", "segmentation", pca_id, 4)
    assert (seg_dir / "pca" / "model.tar.gz").read_bytes() == pca.job.artifact_path.read_bytes()
    assert seg.cluster_names == ["a", "b", "c", "d"] and len(seg.labeled()) == len(prep.X)
    assert seg.jobs["pca"].cost_usd == 0.0  # the copy is free: its cost stays with the PCA run
    assert seg.jobs["pca"].details["cost_recorded_in_run"] == pca_id


def test_a_failed_training_is_recorded_failed_and_leaves_no_run_folder(small, tmp_path):
    prep, source = small
    reg = Registry(workspace=tmp_path / "ws")

    def broken(output_dir, progress):
        raise ValueError("num_components=99 is more than the 37 features")

    with pytest.raises(ValueError, match="num_components"):
        recorded_training.fit_recorded(reg, "pca", "embedded",
                                       recorded_training.Recipe("pca", prep, 0, {"n_components": 99}), broken,
                                       lambda _m: None)
    (failed,) = [reg.get(run_id) for run_id in reg.list_runs()["run_id"]]
    assert failed.status == "Failed" and "num_components" in failed.error
    assert failed.run_dir is None and not (reg.runs_dir / failed.run_id).exists()
    assert not [p for p in reg.runs_dir.iterdir() if p.name.startswith(runs.STAGING_PREFIX)]


def test_a_parent_whose_model_is_gone_is_refused_with_what_to_do(small, tmp_path):
    prep, _ = small
    reg = Registry(workspace=tmp_path / "ws")
    pca = pipeline.train_pca(prep.X, 6, seed=0, output_dir=tmp_path / "job")
    pca.job.artifact_path.unlink()
    recipe = recorded_training.Recipe("segmentation", prep, 0, {"k": 4}, parent_run_id="gone", parent_job=pca.job)
    with pytest.raises(FileNotFoundError, match="train PCA again"):
        recorded_training.fit_recorded(reg, "kmeans", "embedded", recipe, lambda *_: None, lambda _m: None)
