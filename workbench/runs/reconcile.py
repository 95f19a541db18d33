"""Settling a run store after a crash or a restart, and rebuilding it from the run folders.

`RunStore.reconcile()` (this mixin's) finishes what a stopped process left behind: runs whose
writer died, half-finished deletions, folders the store does not know (a lost registry is
rebuilt from each folder's manifest and names.json), and folders that disappeared.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backends import registry as backends_registry
from backends.base import TrainingJob
from workbench.runs import folders, owners
from workbench.runs import manifest as manifest_mod
from workbench.runs.records import NAME_TARGETS, RegistryError, _number


class ReconcileMixin:
    """RunStore's recovery: see the module's docstring."""

    def reconcile(self) -> dict[str, list[str]]:
        """Settle what a stopped process left behind; returns what changed, by kind of change.

        - runs whose writer is gone: Completed when their folder made it into place, still
          InProgress while a cloud job can be re-attached, else Interrupted (staging removed);
        - half-finished deletions (`.trash-*` folders) are finished;
        - run folders the registry does not know (a lost or new registry) are registered from
          their manifest and names.json;
        - Completed runs whose folder has disappeared become Missing.
        """
        report: dict[str, list[str]] = {"completed": [], "interrupted": [], "in_flight": [], "registered": [],
                                        "deleted": [], "missing": []}
        if self.read_only:  # nothing can be settled in a registry that cannot be written
            return report
        known = {r["run_id"]: dict(r) for r in self._rows("SELECT run_id, status, run_dir, owner_pid, owner_host FROM runs")}
        if self.runs_dir.is_dir():
            for trash in self.runs_dir.glob(f"{folders.TRASH_PREFIX}*"):
                run_id = trash.name[len(folders.TRASH_PREFIX):].rsplit("-", 1)[0]
                if run_id in known:
                    with self._transaction() as conn:
                        conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                    known.pop(run_id)
                report["deleted"].append(run_id)
                shutil.rmtree(trash, ignore_errors=True)
        for run_id, row in known.items():
            if row["status"] != "InProgress" or owners.pid_alive(row["owner_pid"], row["owner_host"]) is not False:
                continue
            final = self.runs_dir / run_id
            if (final / folders.MANIFEST).is_file():
                self.published(run_id, final)
                report["completed"].append(run_id)
                continue
            run = self.get(run_id)
            if any(j.status == "InProgress" and j.job_name and backends_registry.spec(j.backend).reattachable
                   for j in run.jobs.values()):
                report["in_flight"].append(run_id)
                continue
            self.end_run(run_id, "Interrupted", f"The process that was writing it (pid {row['owner_pid']}) "
                                                "stopped before the run was saved.")
            for staging in folders.staging_dirs(self.runs_dir, run_id):
                shutil.rmtree(staging, ignore_errors=True)
            report["interrupted"].append(run_id)
        if self.runs_dir.is_dir():
            for folder in sorted(self.runs_dir.iterdir()):
                if folder.name.startswith(".") or not (folder / folders.MANIFEST).is_file() or folder.name in known:
                    continue
                try:
                    self._register_folder(folder)
                except (ValueError, KeyError, TypeError, OSError, RegistryError) as exc:  # foreign or damaged
                    report.setdefault("skipped", []).append(f"{folder.name}: {exc}")
                    continue
                report["registered"].append(folder.name)
        for run_id, row in known.items():
            if row["status"] in ("Completed", "Incomplete"):
                folder = self._load_path(row["run_dir"])
                if folder is None or not folder.is_dir():
                    self.end_run(run_id, "Missing", f"Its folder {folder} is gone.", fail_open_jobs=False)
                    report["missing"].append(run_id)
        return report

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._connect() as conn:
            return conn.execute(sql, params).fetchall()

    def _register_folder(self, folder: Path) -> str:
        """Register a run folder from its manifest (and names.json), e.g. after losing the registry."""
        manifest = manifest_mod.read(folder)
        run_id = str(manifest.get("run_id") or folder.name)
        if run_id != folder.name:
            raise ValueError(f"its manifest names run {run_id}")
        algorithms = [a for a in manifest_mod.ALGORITHMS if isinstance(manifest.get(a), Mapping)]
        if not algorithms:
            raise ValueError("its manifest names no PCA or K-Means job")
        saved = _read_names(folder / folders.NAMES)  # checked before anything is registered
        kind = manifest.get("kind") or ("segmentation" if len(algorithms) == 2 else algorithms[0])
        settings_ = dict(manifest.get("settings") or {})
        scaler = manifest.get("scaler")
        self.begin_run(run_id, kind=kind, backend=manifest.get("backend") or "embedded",
                       origin=manifest.get("origin") or "folder", source=manifest.get("source"),
                       source_ref=manifest.get("source_ref"), data_fingerprint=manifest.get("data_fingerprint"),
                       features=manifest.get("features"), scaler=scaler, seed=manifest.get("seed"),
                       settings=settings_, library_versions=manifest.get("library_versions") or {},
                       parent_run_id=manifest.get("parent_run_id"), created_at=manifest.get("created"),
                       recipe=manifest.get("recipe"), geography=manifest.get("geography"),
                       source_request=manifest.get("census_request"))
        try:
            for alg in algorithms:
                part = manifest[alg]
                details = {k: v for k, v in part.items() if k not in ("job_name", "hyperparameters", "artifact")}
                artifact = part.get("artifact", f"{alg}/model.tar.gz")
                job = TrainingJob(alg, manifest.get("backend") or "embedded", part.get("job_name") or "",
                                  part.get("hyperparameters") or {}, folder / artifact,
                                  _number(part.get("seconds")) or 0.0, details)
                self.job_finished(run_id, job, artifact, artifact_source=part.get("imported_from"))
            labels = folder / folders.LABELS
            n_counties = None
            if labels.is_file():
                with labels.open() as handle:
                    n_counties = max(sum(1 for _ in handle) - 1, 0)
            timings = manifest.get("timings") or {}
            self.published(run_id, folder, timings=timings, n_counties=n_counties,
                           seconds=sum(timings.values()) if timings else None)
            if saved is not None:
                with self._transaction() as conn:
                    for edit in saved.get("history") or []:
                        conn.execute("INSERT INTO names (run_id, target, position, name, edited_at) "
                                     "VALUES (?, ?, ?, ?, ?)",
                                     (run_id, edit["target"], edit["position"], edit["name"], edit["edited_at"]))
                    if saved.get("run"):
                        conn.execute("UPDATE runs SET name = ? WHERE run_id = ?", (saved["run"], run_id))
        except BaseException:
            # Nothing half-registered stays behind: only the row this call began goes (InProgress, or
            # Completed when names.json failed); a row another process registered meanwhile, which
            # made begin_run fail, is not this call's to delete.
            with self._transaction() as conn:
                conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            raise
        return run_id


def _read_names(path: Path) -> dict[str, Any] | None:
    """A run folder's names.json, its shape checked (ValueError saying what is wrong); None when absent."""
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"its {folders.NAMES} cannot be read ({exc})") from None
    if not isinstance(saved, dict):
        raise ValueError(f"its {folders.NAMES} is not a JSON object")
    if not isinstance(saved.get("run") or "", str):
        raise ValueError(f"its {folders.NAMES} gives a run name that is not text")
    history = saved.get("history") or []
    if not isinstance(history, list):
        raise ValueError(f"its {folders.NAMES} history is not a list")
    for number, edit in enumerate(history, 1):
        if not isinstance(edit, dict):
            raise ValueError(f"its {folders.NAMES} edit {number} is not an object")
        position = edit.get("position")
        if (edit.get("target") not in NAME_TARGETS or isinstance(position, bool) or not isinstance(position, int)
                or position < 0 or not isinstance(edit.get("name"), str)
                or not isinstance(edit.get("edited_at"), str)):
            raise ValueError(f"its {folders.NAMES} edit {number} is not a target ({', '.join(NAME_TARGETS)}), "
                             "a position (a whole number from 0), a name and a time")
    return saved
