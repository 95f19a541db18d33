"""The run registry's SQLite file: short-lived connections (one per call, or one per `session`,
such as a run being written) in WAL mode with a busy timeout, one-up-front write transactions, the schema brought up to date on opening, and a
read-only mode for a workspace that cannot be written (a read-only mount, a shared archive):
runs can then be listed, shown, compared and exported, never changed."""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from workbench.runs import migrations
from workbench.runs.records import RegistryError


def _writable(path: Path) -> bool:
    """Whether the registry file (or, before it exists, its folder) can be written."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    return folder is not None and os.access(folder, os.W_OK)


class RegistryDatabase:
    """One registry file. `read_only` when it exists but cannot be written."""

    def __init__(self, path: Path):
        self.path = path
        self.read_only = path.is_file() and not _writable(path)
        self._held = threading.local()  # the connection of this thread's open session, if any

    @contextmanager
    def session(self) -> Iterator[None]:
        """Calls made inside share one connection (in this thread): a run's dozen registry calls
        then open, set up and close (a WAL checkpoint) one connection, not one each."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with self.connect() as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        held = getattr(self._held, "conn", None)
        if held is not None:
            with self._reported():
                yield held
            return
        try:
            if self.read_only:  # immutable: no -wal or -shm file is created or read
                self._refuse_unread_log()
                conn = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro&immutable=1", uri=True, timeout=30,
                                       isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise RegistryError(f"Cannot open the run registry {self.path}: {exc}. "
                                f"Set {migrations.ENV_REGISTRY} or WORKBENCH_WORKSPACE to a writable place.") from exc
        try:
            with self._reported():
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")  # WAL: consistent after any crash; fsync at checkpoints
                yield conn
        finally:
            conn.close()

    def _refuse_unread_log(self) -> None:
        """An immutable read ignores the write-ahead log: runs committed there (a writer that
        stopped before its checkpoint, a workspace copied while in use) would be silently missing."""
        log = self.path.with_name(self.path.name + "-wal")
        if log.is_file() and log.stat().st_size > 0:
            raise RegistryError(
                f"The run registry {self.path} is read-only, and its last writes are still in {log.name}, "
                "which a read-only registry cannot read: its list would leave them out. Open the workspace "
                "once where it can be written (the log is then folded in), or copy it somewhere writable.")

    @contextmanager
    def _reported(self) -> Iterator[None]:
        """SQLite's errors as a RegistryError that says what to do."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            damaged = any(word in str(exc) for word in ("not a database", "malformed", "corrupt"))
            hint = (" The file is damaged: move it away and `runs list` rebuilds the registry from the run "
                    "folders." if damaged else "")
            raise RegistryError(f"The run registry {self.path} failed: {exc}.{hint}") from exc

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (BEGIN IMMEDIATE) so writers queue, never deadlock."""
        if self.read_only:
            raise RegistryError(f"The run registry {self.path} is read-only: runs can be listed, shown, compared "
                                "and exported, not recorded or changed. Set WORKBENCH_WORKSPACE to a writable "
                                "folder to record runs.")
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")  # inside: a failed COMMIT (a deferred foreign key, a full disk) rolls back
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def migrate(self) -> None:
        with self.connect() as conn:
            if not self.read_only:
                migrations.migrate(conn, self.path)
                return
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != len(migrations.MIGRATIONS):
                raise RegistryError(f"The run registry {self.path} is read-only and has schema version {version}, "
                                    f"not this workbench's {len(migrations.MIGRATIONS)}: open it from a writable "
                                    "copy of the workspace.")
