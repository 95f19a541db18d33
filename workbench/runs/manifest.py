"""A run's manifest.json: the one versioned schema that makes a run reproducible.

Schema 2 (written by workbench.runs.writer for every run):

    schema            2
    run_id, kind      "segmentation" (PCA + K-Means), "pca" or "kmeans"
    origin            "pipeline" (CLI segment), "app", "import", "rerun" or "folder"
    created, backend, seed, parent_run_id
    source            where the data came from, for people; source_ref what reloads it
                      ("default", a path or an s3:// URI; absent for uploads)
    data_fingerprint  sha256 of the cleaned feature table (workbench.core.cleaning.fingerprint)
    features, scaler  the features trained on and the fitted scaler (recipe, parameters, transforms)
    recipe            how they were made: {"source_features": the table's columns chosen,
                      "recipe": rates and transforms (workbench.core.recipes), or null}
    geography         the data's level: state, county, tract or block group
    census_request    a Census Data API source's request (year, geography, variables; never the key)
    settings          n_components, top, k (and pca_seed, kmeans_seed for app trainings)
    top_components    = settings.top
    library_versions  python, numpy, pandas, scipy, scikit-learn, boto3, streamlit, sagemaker
    timings           seconds per stage
    pca, kmeans       per job: job_name, job_arn, region, hyperparameters, artifact (relative to
                      the folder), seconds, billable_seconds, estimated_cost_usd, imported_from

Older manifests (schema 1, written by the pipeline before the run writer existed, without
`schema`, `kind` or `settings`) are read into the same shape by `read`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.runs import folders
from workbench.runs.records import RegistryError, RunRecord

SCHEMA_VERSION = 2
ALGORITHMS = ("pca", "kmeans")


def build(run: RunRecord, **extra: Any) -> dict[str, Any]:
    """The manifest of a run as the store records it (its completed jobs only), plus `extra`."""
    manifest: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
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
        "recipe": run.recipe,
        "geography": run.geography,
        "census_request": run.source_request,
        "settings": run.settings,
        "top_components": run.top,
        "parent_run_id": run.parent_run_id,
        "library_versions": run.library_versions or folders.library_versions(),
        "timings": run.timings,
    }
    for algorithm, job in run.jobs.items():
        if job.status != "Completed":
            continue
        manifest[algorithm] = {
            "job_name": job.job_name, "job_arn": job.job_arn, "hyperparameters": job.hyperparameters,
            "artifact": job.artifact, "seconds": job.seconds, "billable_seconds": job.billable_seconds,
            "estimated_cost_usd": job.cost_usd, "region": job.region,
        }
        if job.artifact_source:
            manifest[algorithm]["imported_from"] = job.artifact_source
        if job.details.get("metrics"):
            manifest[algorithm]["metrics"] = job.details["metrics"]
    manifest.update(extra)
    return manifest


def write(folder: Path, manifest: Mapping[str, Any]) -> None:
    folders.write_json_atomic(Path(folder) / folders.MANIFEST, dict(manifest))


def read(folder: Path) -> dict[str, Any]:
    """A run folder's manifest in the schema-2 shape, whichever schema wrote it.

    Raises RegistryError for a manifest that cannot be read, is of a newer schema, or names an
    artifact outside its own folder."""
    path = Path(folder) / folders.MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"The manifest {path} cannot be read ({exc}).") from None
    if not isinstance(manifest, dict):
        raise RegistryError(f"The manifest {path} is not a JSON object.")
    schema = manifest.get("schema", 1)
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise RegistryError(f"The manifest {path} has schema {schema!r}, newer than this workbench reads "
                            f"({SCHEMA_VERSION}); update the workbench.")
    if schema < SCHEMA_VERSION:
        manifest = _upgrade(manifest)
    for algorithm in ALGORITHMS:
        part = manifest.get(algorithm)
        if isinstance(part, Mapping):
            _check_artifact(path, algorithm, part.get("artifact", f"{algorithm}/model.tar.gz"))
    return manifest


def _upgrade(manifest: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 → 2: the run's kind and settings, derived from its jobs and top_components."""
    out = dict(manifest)
    algorithms = [a for a in ALGORITHMS if isinstance(out.get(a), Mapping)]
    out.setdefault("kind", "segmentation" if len(algorithms) == 2 else (algorithms[0] if algorithms else None))
    settings = dict(out.get("settings") or {})
    if "top_components" in out:
        settings.setdefault("top", out["top_components"])
    for algorithm, key, setting in (("pca", "num_components", "n_components"), ("kmeans", "k", "k")):
        value = (out.get(algorithm) or {}).get("hyperparameters", {}).get(key)
        if value is not None:
            settings.setdefault(setting, value)
    out["settings"] = settings
    out["schema"] = SCHEMA_VERSION
    return out


def _check_artifact(path: Path, algorithm: str, artifact: Any) -> None:
    relative = PurePosixPath(str(artifact))
    if not isinstance(artifact, str) or relative.is_absolute() or ".." in relative.parts or "\\" in artifact:
        raise RegistryError(f"The manifest {path} names its {algorithm} artifact {artifact!r}, outside its own "
                            "folder; it is not read. Re-import the run from its model.tar.gz.")
