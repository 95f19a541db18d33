"""The run store: every PCA and K-Means run, recorded in SQLite beside the runs themselves.

It only stores. It holds the records, the names history, the schema and its migrations,
listings, and the recovery after a crash (workbench/runs/reconcile.py); it runs no pipeline,
builds no backend and reads no source data. Run folders are written by
workbench/runs/writer.py, the only writer; the store itself only writes a folder's names.json
(a copy of the names) and deletes folders.

One SQLite file (WORKBENCH_REGISTRY, else `<workspace>/registry.sqlite3`) holds:
- `runs`: one row per run — kind (segmentation = PCA + K-Means, or a lone pca / kmeans run),
  backend, status, data fingerprint, features, scaler parameters, seed, settings (n_components,
  top, k), library versions, timings, cost, the run directory, and who is writing it (pid, host);
- `jobs`: one row per training job of a run — algorithm, backend, job name and ARN, region,
  status, hyperparameters, submitted/finished times, seconds, billable seconds, estimated cost,
  the artifact's place in the run directory (and where an imported one came from);
- `names`: the analyst's run, component and cluster names, as an append-only history; the
  latest edit of each (run, target, position) is the current name.

A run's status: InProgress (recorded before its first write or job submission) → Completed
(its folder is in place) or Incomplete (saved without a job it was meant to have); Failed
(an error), Stopped, Interrupted (its process stopped or died; cloud jobs may still be
re-attached, workbench/runs/reattach.py), Missing (its folder disappeared).

Connections are short-lived (one per call, or one per `session`: a RunWriter holds one for the
run it writes), in WAL mode with a busy timeout, so the app's
threads, the CLI and a crashed process never see a half-applied change; a registry that cannot
be written is opened read-only (workbench/runs/database.py).
"""
from __future__ import annotations

import csv
import os
import secrets
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from backends import registry as backends_registry
from workbench.core import conventions, names, settings
from workbench.runs import folders, migrations, owners
from workbench.runs.database import RegistryDatabase
from workbench.runs.reconcile import ReconcileMixin
from workbench.runs.records import (
    _RUN_FIELDS,
    EXPECTED_JOBS,
    IN_FLIGHT_COLUMNS,
    KINDS,
    LIST_COLUMNS,
    NAME_TARGETS,
    STATUSES,
    JobRecord,
    RegistryError,
    RunRecord,
    _as_list,
    _dumps,
    _iso_utc,
    _loads,
    _number,
    canonical_backend,
    now,
)


def _key_columns(run: RunRecord) -> list[str]:
    """The id and name columns of a run's labeled counties (labels.csv's header before the scores),
    which no component or cluster name may take."""
    path = run.labels_path
    if path is None:
        return []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    return [c for c in header[1:] if not conventions.is_component_column(c) and c not in conventions.RESERVED_COLUMNS]


class RunStore(ReconcileMixin):
    """The run store of one workspace. Cheap to create: a call opens its own connection, unless
    made inside a `session` (a run being written), whose calls share one."""

    def __init__(self, path: str | os.PathLike | None = None, *, workspace: str | os.PathLike | None = None):
        self.workspace = (Path(workspace) if workspace else settings.workspace_dir()).expanduser()
        self.path = Path(path).expanduser() if path else migrations.registry_path(self.workspace)
        self.runs_dir = self.workspace / "runs"
        self._db = RegistryDatabase(self.path)
        self._db.migrate()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r}, workspace={str(self.workspace)!r})"

    # -- connections (workbench/runs/database.py) ------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._db.read_only

    def _connect(self):
        return self._db.connect()

    def _transaction(self):
        return self._db.transaction()

    def session(self):
        """A context in which this thread's registry calls share one connection (a run's life)."""
        return self._db.session()

    def schema_version(self) -> int:
        with self._connect() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    # -- paths ---------------------------------------------------------------------------------
    # Run folders under the registry file's folder (the usual workspace layout) are stored relative
    # to it, so a workspace can be moved or copied whole; others are stored absolute.
    def _store_path(self, path: Path | None) -> str | None:
        if path is None:
            return None
        path = Path(path)
        try:
            return path.relative_to(self.path.parent).as_posix()
        except ValueError:
            return str(path)

    def _load_path(self, text: str | None) -> Path | None:
        if not text:
            return None
        path = Path(text)
        return path if path.is_absolute() else self.path.parent / path

    # -- reading ---------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """A run id from an id, a run's name, a unique id prefix, or a unique prefix of a name."""
        ref = str(ref).strip()
        if not ref:
            raise RegistryError("Give a run id (or a unique prefix of one, or the run's name).")
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
                return ref
            # A name before an id prefix: a run named like another's id prefix cannot shadow
            # it (names are checked against ids), and an exact name is what the analyst typed.
            found = [r[0] for r in conn.execute(
                "SELECT run_id FROM runs WHERE name = ? COLLATE NOCASE ORDER BY run_id", (ref,))]
            if not found:
                found = [r[0] for r in conn.execute(
                    "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? ORDER BY run_id", (len(ref), ref))]
            if not found:
                found = [r[0] for r in conn.execute(
                    "SELECT run_id FROM runs WHERE name != '' AND lower(substr(name, 1, ?)) = lower(?) "
                    "ORDER BY run_id", (len(ref), ref))]
        if len(found) == 1:
            return found[0]
        if found:
            raise RegistryError(f"{ref!r} matches {len(found)} runs ({', '.join(found[:5])}); give more of the id.")
        raise RegistryError(f"No run {ref!r} in the registry {self.path}; `python -m workbench runs list` shows them.")

    def exists(self, run_id: str) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None

    def get(self, ref: str | RunRecord) -> RunRecord:
        run_id = ref.run_id if isinstance(ref, RunRecord) else self.resolve(ref)
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RegistryError(f"No run {run_id!r} in the registry {self.path}.")
            jobs = [JobRecord.from_row(j) for j in conn.execute(
                "SELECT * FROM jobs WHERE run_id = ? ORDER BY job_id", (run_id,))]
            current = self._current_names(conn, run_id)
        return self._record(row, jobs, current)

    def _record(self, row: sqlite3.Row, jobs: list[JobRecord], current: dict[tuple[str, int], str]) -> RunRecord:
        data = {k: v for k, v in dict(row).items() if k in _RUN_FIELDS}
        for key, default in (("features", None), ("scaler", None), ("settings", {}), ("library_versions", {}),
                             ("timings", {}), ("recipe", None), ("source_request", None)):
            data[key] = _loads(data[key], default)
        data["run_dir"] = self._load_path(data["run_dir"])
        record = RunRecord(**data, jobs={j.algorithm: j for j in jobs})
        record.component_names = self._name_list(current, "component", record.top)
        record.cluster_names = self._name_list(current, "cluster", record.k)
        return record

    @staticmethod
    def _name_list(current: dict[tuple[str, int], str], target: str, count: int | None) -> list[str]:
        positions = [p for (t, p) in current if t == target]
        size = max([count or 0, *(p + 1 for p in positions)])
        return [current.get((target, i), "") for i in range(size)]

    def list_runs(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        backend: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        kind: str | Sequence[str] | None = None,
        data_fingerprint: str | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Runs, newest first, as a table ready to show (LIST_COLUMNS). Filters take one value or
        a list; `filters` is the same as keyword arguments (e.g. a page's widget values)."""
        given = dict(filters or {})
        unknown = set(given) - {"backend", "status", "kind", "data_fingerprint", "search", "limit"}
        if unknown:
            raise ValueError(f"Unknown run filter(s): {', '.join(sorted(unknown))}.")
        backend = given.get("backend", backend)
        status = given.get("status", status)
        kind = given.get("kind", kind)
        data_fingerprint = given.get("data_fingerprint", data_fingerprint)
        search = given.get("search", search)
        limit = given.get("limit", limit)

        where, params = [], []
        for column, value in (("backend", backend), ("status", status), ("kind", kind)):
            values = _as_list(value)
            if values:
                if column == "backend":  # an unknown backend is refused, not "no runs"
                    values = [canonical_backend(v) for v in values]
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += values
        if data_fingerprint:
            where.append("substr(data_fingerprint, 1, ?) = ?")
            params += [len(data_fingerprint), data_fingerprint]
        if search:
            where.append("(instr(lower(run_id), lower(?)) > 0 OR instr(lower(name), lower(?)) > 0)")
            params += [search, search]
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
            ids = [r["run_id"] for r in rows]
            jobs: dict[str, list[JobRecord]] = {i: [] for i in ids}
            current: dict[str, dict[tuple[str, int], str]] = {i: {} for i in ids}
            if ids:
                marks = ", ".join("?" * len(ids))
                for j in conn.execute(f"SELECT * FROM jobs WHERE run_id IN ({marks})", ids):
                    jobs[j["run_id"]].append(JobRecord.from_row(j))
                for n in self._latest_names(conn, ids):
                    current[n["run_id"]][(n["target"], n["position"])] = n["name"]
        records = [self._record(r, jobs[r["run_id"]], current[r["run_id"]]) for r in rows]
        table = pd.DataFrame([{
            "run_id": r.run_id, "display_name": r.display_name, "name": r.name, "kind": r.kind,
            "status": r.status, "backend": r.backend, "created_at": r.created_at, "finished_at": r.finished_at,
            "seconds": r.seconds, "cost_usd": r.cost_usd, "seed": r.seed, "n_components": r.n_components,
            "top": r.kept, "k": r.k, "n_features": len(r.features) if r.features else None,
            "n_counties": r.n_counties, "scaler": r.scaler_recipe, "data_fingerprint": r.data_fingerprint,
            "pca_job": r.jobs["pca"].job_name if "pca" in r.jobs else None,
            "kmeans_job": r.jobs["kmeans"].job_name if "kmeans" in r.jobs else None,
            "origin": r.origin, "parent_run_id": r.parent_run_id,
            "run_dir": str(r.run_dir) if r.run_dir else None,
        } for r in records], columns=LIST_COLUMNS)
        for column in ("seed", "n_components", "top", "k", "n_features", "n_counties"):
            table[column] = table[column].astype("Int64")
        for column in ("seconds", "cost_usd"):
            table[column] = table[column].astype("Float64")
        return table

    def in_flight_jobs(self) -> pd.DataFrame:
        """Cloud jobs recorded as InProgress (IN_FLIGHT_COLUMNS). `orphaned` ones have no process
        following them any more (the app or CLI stopped): resume them with `reattach(job_id)`."""
        reattachable = [name for name, spec in backends_registry.REGISTRY.items() if spec.reattachable]
        placeholders = ", ".join("?" * len(reattachable))
        with self._connect() as conn:
            rows = conn.execute(
                f"""SELECT j.job_id, j.run_id, r.name AS run_name, r.status AS run_status, j.algorithm, j.backend,
                           j.job_name, j.region, j.submitted_at, r.owner_pid, r.owner_host
                    FROM jobs j JOIN runs r USING (run_id)
                    WHERE j.status = 'InProgress' AND j.job_name IS NOT NULL AND j.backend IN ({placeholders})
                    ORDER BY j.submitted_at, j.job_id""", reattachable).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            alive = owners.pid_alive(item["owner_pid"], item["owner_host"]) if item["run_status"] == "InProgress" else False
            item["owner_alive"] = alive
            item["orphaned"] = alive is False
            out.append(item)
        return pd.DataFrame(out, columns=IN_FLIGHT_COLUMNS)

    def job(self, ref: int | str) -> JobRecord:
        """A job by its job_id or its (cloud) job name."""
        with self._connect() as conn:
            if isinstance(ref, int) or str(ref).isdigit():
                row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (int(ref),)).fetchone()
            else:
                row = conn.execute("SELECT * FROM jobs WHERE job_name = ? ORDER BY job_id DESC", (str(ref),)).fetchone()
        if row is None:
            raise RegistryError(f"No job {ref!r} in the registry {self.path}.")
        return JobRecord.from_row(row)

    # -- names -------------------------------------------------------------------------------------
    @staticmethod
    def _latest_names(conn: sqlite3.Connection, run_ids: Sequence[str]) -> list[sqlite3.Row]:
        marks = ", ".join("?" * len(run_ids))
        return conn.execute(
            f"""SELECT run_id, target, position, name FROM names
                WHERE edit_id IN (SELECT max(edit_id) FROM names WHERE run_id IN ({marks})
                                  GROUP BY run_id, target, position)""", list(run_ids)).fetchall()

    def _current_names(self, conn: sqlite3.Connection, run_id: str) -> dict[tuple[str, int], str]:
        return {(r["target"], r["position"]): r["name"] for r in self._latest_names(conn, [run_id])}

    def rename(self, ref: str, name: str) -> RunRecord:
        """Give a run a display name ("" clears it); the edit is kept in the names history."""
        run_id = self.resolve(ref)
        with self._connect() as conn:
            others = [r[0] for r in conn.execute("SELECT run_id FROM runs WHERE run_id != ?", (run_id,))]
        name = names.check_run_name(name or "", others)
        with self._transaction() as conn:
            self._record_edits(conn, run_id, [("run", 0, name)])
            conn.execute("UPDATE runs SET name = ?, updated_at = ? WHERE run_id = ?", (name, now(), run_id))
        self._write_names_file(run_id)
        return self.get(run_id)

    def set_names(
        self,
        ref: str,
        *,
        components: Sequence[str | None] | Mapping[int, str] | None = None,
        clusters: Sequence[str | None] | Mapping[int, str] | None = None,
    ) -> RunRecord:
        """Name components (position 0 = pc1, the largest) and clusters (by cluster number).

        A list names positions 0, 1, …; None in it (or a missing key of a mapping) leaves that
        name alone and "" clears it. Only real changes are added to the history, each with its time.
        Component names must be unique (they become column names).
        """
        run = self.get(ref)
        edits: list[tuple[str, int, str]] = []
        for target, given, count in (("component", components, run.top), ("cluster", clusters, run.k)):
            if given is None:
                continue
            items = given.items() if isinstance(given, Mapping) else enumerate(given)
            for position, name in items:
                if name is None:
                    continue
                position = int(position)
                if position < 0 or (count is not None and position >= count):
                    what = "components kept" if target == "component" else "clusters"
                    raise ValueError(f"Run {run.run_id} has {count} {what}; there is no {target} {position}.")
                edits.append((target, position, str(name).strip()))
        keys = _key_columns(run)
        for target, current, count, check in (("component", run.component_names, run.top, names.check_component_names),
                                               ("cluster", run.cluster_names, run.k, names.check_cluster_names)):
            proposed = dict(enumerate(current))
            proposed.update({p: n for t, p, n in edits if t == target})
            size = max([count or 0, *(p + 1 for p in proposed)])
            check([proposed.get(i, "") for i in range(size)], key_columns=keys)
        with self._transaction() as conn:
            changed = self._record_edits(conn, run.run_id, edits)
            if changed:
                conn.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", (now(), run.run_id))
        if changed:
            self._write_names_file(run.run_id)
        return self.get(run.run_id)

    def _record_edits(self, conn: sqlite3.Connection, run_id: str, edits: list[tuple[str, int, str]]) -> int:
        current = self._current_names(conn, run_id)
        changed = 0
        for target, position, name in edits:
            if target not in NAME_TARGETS:
                raise ValueError(f"Unknown name target {target!r}; one of {', '.join(NAME_TARGETS)}.")
            if current.get((target, position), "") == name:
                continue
            conn.execute("INSERT INTO names (run_id, target, position, name, edited_at) VALUES (?, ?, ?, ?, ?)",
                         (run_id, target, position, name, now()))
            current[(target, position)] = name
            changed += 1
        return changed

    def names_history(self, ref: str | None = None) -> pd.DataFrame:
        """Every name edit, oldest first: run_id, target (run/component/cluster), position, name, edited_at."""
        columns = ["run_id", "target", "position", "name", "edited_at"]
        with self._connect() as conn:
            if ref is None:
                rows = conn.execute(f"SELECT {', '.join(columns)} FROM names ORDER BY edit_id").fetchall()
            else:
                rows = conn.execute(f"SELECT {', '.join(columns)} FROM names WHERE run_id = ? ORDER BY edit_id",
                                    (self.resolve(ref),)).fetchall()
        return pd.DataFrame([dict(r) for r in rows], columns=columns)

    def _write_names_file(self, run_id: str) -> None:
        """A copy of the names in the run folder, so a registry rebuilt from the folders keeps them."""
        run = self.get(run_id)
        if run.run_dir is None or not run.run_dir.is_dir():
            return
        history = self.names_history(run_id).drop(columns="run_id").to_dict("records")
        folders.write_json_atomic(run.run_dir / folders.NAMES, {
            "run": run.name, "components": run.component_names, "clusters": run.cluster_names, "history": history,
        })

    # -- writing runs and jobs -------------------------------------------------------------------------
    def begin_run(
        self,
        run_id: str,
        *,
        kind: str = "segmentation",
        backend: str,
        origin: str = "pipeline",
        name: str = "",
        parent_run_id: str | None = None,
        source: str | None = None,
        source_ref: str | None = None,
        data_fingerprint: str | None = None,
        features: Sequence[str] | None = None,
        scaler: Mapping[str, Any] | None = None,
        seed: int | None = None,
        settings: Mapping[str, Any] | None = None,
        library_versions: Mapping[str, str] | None = None,
        created_at: str | None = None,
        recipe: Mapping[str, Any] | None = None,
        geography: str | None = None,
        source_request: Mapping[str, Any] | None = None,
    ) -> str:
        """Record a run as InProgress, owned by this process, before anything is written or submitted."""
        if kind not in KINDS:
            raise ValueError(f"Unknown run kind {kind!r}; one of {', '.join(KINDS)}.")
        backend = canonical_backend(backend)
        stamp = now()
        created = _iso_utc(created_at) if created_at else stamp
        with self._transaction() as conn:
            conn.execute(
                """INSERT INTO runs (run_id, name, kind, origin, backend, status, parent_run_id, created_at,
                       updated_at, source, source_ref, data_fingerprint, features, scaler, seed, settings,
                       library_versions, timings, owner_pid, owner_host, recipe, geography, source_request)
                   VALUES (?, ?, ?, ?, ?, 'InProgress', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, ?, ?)""",
                (run_id, (name or "").strip(), kind, origin, backend, parent_run_id, created, stamp, source,
                 source_ref, data_fingerprint, _dumps(list(features) if features is not None else None),
                 _dumps(dict(scaler) if scaler is not None else None), seed, _dumps(dict(settings or {})),
                 _dumps(dict(library_versions if library_versions is not None else folders.library_versions())),
                 *owners.this_process(), _dumps(dict(recipe) if recipe is not None else None), geography,
                 _dumps(dict(source_request) if source_request is not None else None)))
            if name:
                self._record_edits(conn, run_id, [("run", 0, name.strip())])
        return run_id

    def take_over(self, run_id: str) -> None:
        """This process now writes the run (re-attaching an interrupted one): InProgress, owned here."""
        pid, host = owners.this_process()
        with self._transaction() as conn:
            conn.execute("UPDATE runs SET status = 'InProgress', error = NULL, owner_pid = ?, owner_host = ?, "
                         "updated_at = ? WHERE run_id = ?", (pid, host, now(), run_id))

    def job_submitted(self, run_id: str, record: Mapping[str, Any]) -> int:
        """A cloud job's record (from the backend's on_submit hook), as InProgress, before it is submitted."""
        algorithm = record["algorithm"]
        values = {
            "backend": canonical_backend(record.get("backend") or self.get(run_id).backend),
            "status": "InProgress",
            "job_name": record.get("job_name"),
            "region": record.get("region"),
            "submitted_at": record.get("submitted") or now(),
            "instance_type": record.get("instance_type"),
            "instance_count": record.get("instance_count"),
            "details": _dumps(dict(record)),
        }
        job_id = self._upsert_job(run_id, algorithm, values)
        folders.checkpoint("job-submitted")
        return job_id

    def job_finished(self, run_id: str, job: Any, artifact: str | None, *, artifact_source: str | None = None,
                     status: str | None = None) -> int:
        """A finished `backends.base.TrainingJob`; `artifact` is its model.tar.gz relative to the run folder."""
        details = dict(job.details or {})
        backend = canonical_backend(job.backend)
        cost = _number(details.get("estimated_cost_usd"))
        if cost is None and backends_registry.spec(backend).runs_locally:
            cost = 0.0  # runs on this machine: no AWS bill
        values = {
            "backend": backend,
            "status": status or ("Completed" if details.get("status") in (None, "Completed") else details["status"]),
            "job_name": job.job_name or None,
            "job_arn": details.get("job_arn") or details.get("training_job_arn") or details.get("TrainingJobArn"),
            "region": details.get("region"),
            "hyperparameters": _dumps(dict(job.hyperparameters or {})),
            "finished_at": now(),
            "seconds": _number(job.seconds),
            "billable_seconds": _number(details.get("billable_seconds")),
            "cost_usd": cost,
            "instance_type": details.get("instance_type"),
            "instance_count": details.get("instance_count"),
            "artifact": artifact,
            "artifact_source": artifact_source,
            "details": _dumps(details),
            "error": None,
        }
        return self._upsert_job(run_id, job.algorithm, {k: v for k, v in values.items() if v is not None or k in (
            "error", "artifact")})

    def update_job(self, run_id: str, algorithm: str, **values: Any) -> int:
        """Change a recorded job's fields (e.g. its artifact or status)."""
        return self._upsert_job(run_id, algorithm, values)

    def _upsert_job(self, run_id: str, algorithm: str, values: Mapping[str, Any]) -> int:
        if algorithm not in EXPECTED_JOBS["segmentation"]:
            raise ValueError(f"Unknown algorithm {algorithm!r}; one of pca, kmeans.")
        with self._transaction() as conn:
            row = conn.execute("SELECT job_id FROM jobs WHERE run_id = ? AND algorithm = ?",
                               (run_id, algorithm)).fetchone()
            if row is None:
                columns = ["run_id", "algorithm", *values]
                conn.execute(f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             [run_id, algorithm, *values.values()])
                job_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            else:
                job_id = row["job_id"]
                sets = ", ".join(f"{k} = ?" for k in values)
                conn.execute(f"UPDATE jobs SET {sets} WHERE job_id = ?", [*values.values(), job_id])
            conn.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", (now(), run_id))
        return job_id

    def published(self, run_id: str, run_dir: Path, *, timings: Mapping[str, float] | None = None,
                  n_counties: int | None = None, seconds: float | None = None) -> RunRecord:
        """The run folder is in place: Completed (or Incomplete when a job it expects is missing)."""
        folders.checkpoint("run-published")
        run = self.get(run_id)
        run_dir = Path(run_dir)
        complete = all(
            alg in run.jobs and run.jobs[alg].status == "Completed" and run.jobs[alg].artifact
            and (run_dir / run.jobs[alg].artifact).is_file()
            for alg in EXPECTED_JOBS[run.kind]
        )
        stamp = now()
        if seconds is None:
            seconds = (datetime.fromisoformat(stamp) - datetime.fromisoformat(run.created_at)).total_seconds()
        with self._transaction() as conn:
            cost = conn.execute("SELECT sum(cost_usd), count(cost_usd) FROM jobs WHERE run_id = ?", (run_id,)).fetchone()
            conn.execute(
                """UPDATE runs SET status = ?, run_dir = ?, finished_at = ?, updated_at = ?, seconds = ?,
                       timings = ?, n_counties = coalesce(?, n_counties), cost_usd = ?, error = NULL
                   WHERE run_id = ?""",
                ("Completed" if complete else "Incomplete", self._store_path(run_dir), stamp, stamp, seconds,
                 _dumps(dict(timings or run.timings)), n_counties, cost[0] if cost[1] else None, run_id))
        if run.name or any(run.component_names) or any(run.cluster_names):
            self._write_names_file(run_id)
        return self.get(run_id)

    def end_run(self, run_id: str, status: str, error: str | None = None, *, fail_open_jobs: bool = True) -> None:
        """A run that will not be published: Failed, Stopped or Interrupted. Open jobs are failed
        too, unless `fail_open_jobs` is false (an interruption: cloud jobs keep running, re-attachable)."""
        if status not in STATUSES:
            raise ValueError(f"Unknown status {status!r}; one of {', '.join(STATUSES)}.")
        stamp = now()
        with self._transaction() as conn:
            conn.execute("UPDATE runs SET status = ?, error = ?, finished_at = ?, updated_at = ? WHERE run_id = ?",
                         (status, error, stamp, stamp, run_id))
            if fail_open_jobs:
                conn.execute("UPDATE jobs SET status = ?, error = ?, finished_at = ? "
                             "WHERE run_id = ? AND status = 'InProgress'", (status, error, stamp, run_id))

    # -- deleting ---------------------------------------------------------------------------------------
    def delete(self, ref: str, *, force: bool = False) -> None:
        """Remove a run: its folder (moved aside atomically, then erased), its jobs and its names."""
        run = self.get(ref)
        if not force and run.status == "InProgress" and owners.pid_alive(run.owner_pid, run.owner_host) is not False:
            raise RegistryError(f"Run {run.run_id} is still being written by process {run.owner_pid} on "
                                f"{run.owner_host}; wait for it, or delete with force.")
        open_jobs = [j.job_name for j in run.jobs.values()
                     if j.status == "InProgress" and j.job_name and backends_registry.spec(j.backend).reattachable]
        if open_jobs and not force:
            raise RegistryError(f"Run {run.run_id} has cloud job(s) still in flight ({', '.join(open_jobs)}); "
                                "re-attach or stop them first, or delete with force (the jobs keep running).")
        trash = None
        if run.run_dir is not None and run.run_dir.exists():
            if run.run_dir.parent.resolve() != self.runs_dir.resolve() or run.run_dir.name != run.run_id:
                raise RegistryError(f"Refusing to delete {run.run_dir}: it is not run {run.run_id}'s folder "
                                    f"in {self.runs_dir}.")
            trash = self.runs_dir / f"{folders.TRASH_PREFIX}{run.run_id}-{secrets.token_hex(3)}"
            os.replace(run.run_dir, trash)
        folders.checkpoint("run-trashed")
        with self._transaction() as conn:
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
        for leftover in [*([trash] if trash else []), *folders.staging_dirs(self.runs_dir, run.run_id)]:
            shutil.rmtree(leftover, ignore_errors=True)

