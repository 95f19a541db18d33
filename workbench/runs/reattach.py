"""Re-attaching to a cloud job that an interrupted process left in flight, and saving its run.

After a restart, `RunStore.in_flight_jobs()` lists the jobs no process follows any more;
`reattach(store, job_id)` follows one to its end through its backend (which must declare the
`reattachable` capability in backends.registry) and records the run through the run writer:
the job's artifact lands in the run's folder together with any sibling artifact the
interrupted process had already brought home; the run is Completed when every job it expects
is there, else Incomplete (e.g. K-Means never started: re-run it).
"""
from __future__ import annotations

import shutil

from backends import registry as backends_registry
from workbench.runs import apply, folders, owners
from workbench.runs.records import RegistryError, RunRecord
from workbench.runs.store import RunStore
from workbench.runs.writer import RunWriter, artifact_path


def reattach(store: RunStore, job_ref: int | str, *, progress=None, force: bool = False,
             backend_settings: dict | None = None) -> RunRecord:
    """Follow the job (its id, or its cloud job name) to its end and save its run."""
    job = store.job(job_ref)
    run = store.get(job.run_id)
    if not job.job_name:
        raise RegistryError(f"Job {job.job_id} has no cloud job name to re-attach to.")
    if not force and run.status == "InProgress" and owners.pid_alive(run.owner_pid, run.owner_host) is not False:
        raise RegistryError(f"Run {run.run_id} is still followed by process {run.owner_pid} on {run.owner_host}.")
    if (store.runs_dir / run.run_id).exists():
        raise RegistryError(f"Run {run.run_id} already has its folder {store.runs_dir / run.run_id}; nothing to "
                            "re-attach into.")
    if not backends_registry.spec(job.backend).reattachable:
        raise RegistryError(f"The {job.backend} backend cannot re-attach to job {job.job_name}; re-run the run.")
    backend = backends_registry.create_backend(job.backend, **dict(backend_settings or {}))
    leftovers = folders.staging_dirs(store.runs_dir, run.run_id)
    with RunWriter.resume(store, run) as writer:
        for sibling in run.jobs.values():
            if sibling.algorithm == job.algorithm or sibling.status != "Completed" or not sibling.artifact:
                continue
            found = next((d / sibling.artifact for d in leftovers if (d / sibling.artifact).is_file()), None)
            if found is not None:
                writer.path(sibling.artifact).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(found, writer.path(sibling.artifact))
            elif sibling.job_name and sibling.backend == job.backend:
                # The interrupted process lost it with its staging folder: fetch it again.
                fetched = backend.attach(sibling.job_name, output_dir=writer.path(sibling.algorithm), progress=progress)
                store.update_job(run.run_id, sibling.algorithm, artifact=artifact_path(fetched.algorithm))
            else:
                store.update_job(run.run_id, sibling.algorithm, status="Missing", artifact=None)
        writer.add_job(backend.attach(job.job_name, output_dir=writer.path(job.algorithm), progress=progress))
        labels = apply.relabel_from_source(store, store.get(run.run_id), writer.staging)
        if labels is not None:
            writer.write_labels(labels)
        writer.manifest_extra.update(recovered=True, labeled=labels is not None)
    for staging in leftovers:
        shutil.rmtree(staging, ignore_errors=True)
    return writer.record
