"""A run's manifest.json: what makes it reproducible (seed, data fingerprint, features, scaler,
settings, library versions, jobs and their hyperparameters).
"""
from __future__ import annotations

import functools
from typing import Any

from workbench.runs import folders as runs
from workbench.runs.records import RunRecord


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict[str, str]:
    """runs.library_versions(), read once per process (reading package metadata takes ~15 ms)."""
    return runs.library_versions()


def manifest_for(run: RunRecord, **extra: Any) -> dict[str, Any]:
    """A manifest.json for a run written by the registry (an import or a re-attached job), in the
    pipeline's layout plus `kind`, `origin` and `settings`."""
    manifest: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": run.kind,
        "origin": run.origin,
        "created": run.created_at,
        "backend": run.backend,
        "seed": run.seed,
        "source": run.source,
        "source_ref": run.source_ref,
        "data_fingerprint": run.data_fingerprint,
        "features": run.features,
        "scaler": run.scaler,
        "settings": run.settings,
        "top_components": run.top,
        "parent_run_id": run.parent_run_id,
        "library_versions": run.library_versions or _library_versions(),
        "timings": run.timings,
    }
    for alg, job in run.jobs.items():
        if job.status != "Completed":
            continue
        manifest[alg] = {"job_name": job.job_name, "job_arn": job.job_arn, "hyperparameters": job.hyperparameters,
                         "artifact": job.artifact, "seconds": job.seconds, "billable_seconds": job.billable_seconds,
                         "estimated_cost_usd": job.cost_usd, "region": job.region}
        if job.artifact_source:
            manifest[alg]["imported_from"] = job.artifact_source
    manifest.update(extra)
    return manifest
