"""The run store's SQLite schema: where the file is, and the migrations that build and upgrade it.

The schema is versioned with SQLite's `user_version`; MIGRATIONS[i] takes a database from
version i to i + 1, in one transaction, so a crash never leaves a half-applied change and two
processes opening an old file at once upgrade it once.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from workbench.core import settings
from workbench.runs.records import RegistryError

ENV_REGISTRY = "WORKBENCH_REGISTRY"
REGISTRY_FILE = "registry.sqlite3"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs, jobs, names history
    (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL CHECK (kind IN ('segmentation', 'pca', 'kmeans')),
            origin TEXT NOT NULL DEFAULT 'pipeline',
            backend TEXT NOT NULL,
            status TEXT NOT NULL,
            parent_run_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT,
            seconds REAL,
            source TEXT,
            source_ref TEXT,
            data_fingerprint TEXT,
            features TEXT,
            scaler TEXT,
            seed INTEGER,
            settings TEXT NOT NULL DEFAULT '{}',
            library_versions TEXT NOT NULL DEFAULT '{}',
            timings TEXT NOT NULL DEFAULT '{}',
            cost_usd REAL,
            n_counties INTEGER,
            run_dir TEXT,
            error TEXT,
            owner_pid INTEGER,
            owner_host TEXT
        )""",
        "CREATE INDEX runs_by_backend_status ON runs (backend, status)",
        "CREATE INDEX runs_by_created ON runs (created_at)",
        """CREATE TABLE jobs (
            job_id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            algorithm TEXT NOT NULL CHECK (algorithm IN ('pca', 'kmeans')),
            backend TEXT NOT NULL,
            status TEXT NOT NULL,
            job_name TEXT,
            job_arn TEXT,
            region TEXT,
            hyperparameters TEXT NOT NULL DEFAULT '{}',
            submitted_at TEXT,
            finished_at TEXT,
            seconds REAL,
            billable_seconds REAL,
            cost_usd REAL,
            instance_type TEXT,
            instance_count INTEGER,
            artifact TEXT,
            artifact_source TEXT,
            details TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            UNIQUE (run_id, algorithm)
        )""",
        "CREATE INDEX jobs_by_status ON jobs (status)",
        "CREATE INDEX jobs_by_name ON jobs (job_name)",
        """CREATE TABLE names (
            edit_id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            target TEXT NOT NULL CHECK (target IN ('run', 'component', 'cluster')),
            position INTEGER NOT NULL CHECK (position >= 0),
            name TEXT NOT NULL,
            edited_at TEXT NOT NULL
        )""",
        "CREATE INDEX names_by_run ON names (run_id, target, position, edit_id)",
    ),
    # 2: the feature recipe (the table's columns chosen, and the rates and transforms made of them),
    # the data's geography level, and a Census Data API source's request (never its key)
    (
        "ALTER TABLE runs ADD COLUMN recipe TEXT",
        "ALTER TABLE runs ADD COLUMN geography TEXT",
        "ALTER TABLE runs ADD COLUMN source_request TEXT",
    ),
)


def registry_path(workspace: Path | None = None) -> Path:
    """The registry file: WORKBENCH_REGISTRY, else registry.sqlite3 in the workspace."""
    value = os.environ.get(ENV_REGISTRY, "").strip()
    if value:
        return Path(value).expanduser()
    return (Path(workspace) if workspace else settings.workspace_dir()).expanduser() / REGISTRY_FILE


def migrate(conn: sqlite3.Connection, path: Path, migrations=None) -> None:
    """Bring the database on `conn` up to the newest schema (WAL mode, one transaction a step)."""
    migrations = MIGRATIONS if migrations is None else migrations
    conn.execute("PRAGMA journal_mode = WAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise RegistryError(
            f"The run registry {path} has schema version {version}, newer than this workbench "
            f"knows ({len(migrations)}). Update the workbench, or point {ENV_REGISTRY} elsewhere."
        )
    while version < len(migrations):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            if version < len(migrations):
                for statement in migrations[version]:
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
