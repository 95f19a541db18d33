"""A training recorded as a run: what the app's PCA and Clusters pages do when they train.

The run is in the registry (InProgress) before anything is written or submitted, its folder is
assembled in a staging folder and renamed into place complete (`runs.staged_run`), and a
training that fails is recorded Failed with its error. No Streamlit here: the pages pass in what
they know (the prepared data, the source, the parent PCA run) and get the stage back.
"""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core import pipeline
from workbench.runs import folders as runs
from workbench.runs import manifest, writer


@dataclass
class Recipe:
    """How one training is recorded: the run's kind and settings, and what its folder gets besides
    the new job's artifact."""

    kind: str  # "pca" or "segmentation"
    prep: pipeline.PreparedData
    seed: int
    run_settings: dict[str, Any]
    source_ref: str | None = None  # what reloads the data: "default", a path, s3://…; None for uploads
    parent_run_id: str | None = None  # segmentation: the PCA run…
    parent_job: Any = None  # …and its TrainingJob, whose artifact is copied in
    finish: Callable[[Path, Any], None] | None = None  # (staging folder, stage): labels…
    names: Callable[[Any, str], None] | None = None  # (registry, run_id): the analyst's names


def copied_job(job: Any, artifact: Path, parent_run_id: str) -> Any:
    """The parent's PCA job as the segmentation run records it: its cost stays with the parent run,
    so adding up runs' costs counts each job once."""
    details = {**(job.details or {}), "copied_from_run": parent_run_id, "estimated_cost_usd": 0.0,
               "cost_recorded_in_run": parent_run_id}
    return replace(job, artifact_path=artifact, details=details)


def fit_recorded(reg: Any, algorithm: str, backend: str, recipe: Recipe,
                 fit: Callable[[Path, Callable[[str], None]], Any],
                 progress: Callable[[str], None]) -> tuple[Any, str, Path]:
    """Train `algorithm` with fit(output_dir, progress) as a new run of `reg`: (stage, run_id, run folder)."""
    run_id = runs.new_run_id()
    timings: dict[str, float] = {}
    record = writer.recording(reg.workspace, run_id, backend=backend, kind=recipe.kind, prepared=recipe.prep,
                              registry=reg, origin="app", source_ref=recipe.source_ref, seed=recipe.seed,
                              settings=recipe.run_settings, timings=timings, parent_run_id=recipe.parent_run_id)
    with record as recorder, runs.staged_run(reg.workspace, run_id) as (_, staging), recorder.submissions():
        progress(f"Run `{run_id}` (recorded in the run registry)")
        if recipe.parent_job is not None:
            source_artifact = Path(recipe.parent_job.artifact_path)
            if not source_artifact.is_file():
                raise FileNotFoundError(f"The PCA model {source_artifact} is gone (was its run deleted?); train PCA "
                                        "again first.")
            target = staging / "pca" / "model.tar.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source_artifact, target)
            recorder.job_finished(copied_job(recipe.parent_job, target, recipe.parent_run_id), "pca/model.tar.gz")
        started = time.perf_counter()
        stage = fit(staging / algorithm, progress)
        timings[algorithm] = time.perf_counter() - started
        recorder.job_finished(stage.job, f"{algorithm}/model.tar.gz")
        if recipe.finish is not None:
            recipe.finish(staging, stage)
        if recipe.names is not None:
            recipe.names(reg, run_id)
        runs.write_json_atomic(staging / runs.MANIFEST, manifest.manifest_for(reg.get(run_id), timings=timings))
    run_dir = reg.runs_dir / run_id
    stage.job.artifact_path = run_dir / algorithm / "model.tar.gz"  # the artifact's final home, not staging
    return stage, run_id, run_dir
