"""The app process's run store: opened and reconciled once per workspace, with background threads
that resume following the cloud jobs a previous process left in flight."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import streamlit as st

from workbench.core import settings
from workbench.runs.reattach import reattach
from workbench.runs.store import RunStore


class RunsHandle:
    """One workspace's run store for the app's process. A damaged registry does not break the app:
    `error` says what is wrong, and the pages that need the store show it."""

    def __init__(self, workspace: Path):
        self.workspace = workspace
        self.store: RunStore | None = None
        self.reconciled: dict[str, list[str]] = {}
        self.reattached: dict[int, str] = {}  # job id -> what happened (for the Runs page)
        self.error: str | None = None
        try:
            self.store = RunStore(workspace=workspace)
            self.reconciled = self.store.reconcile()
            in_flight = self.store.in_flight_jobs()
        except Exception as exc:  # noqa: BLE001 - a damaged registry must not break the app
            self.error = str(exc) or type(exc).__name__
            return
        if len(in_flight):  # resume polling only when a previous process left cloud jobs running
            for job_id in in_flight[in_flight["orphaned"]]["job_id"].tolist():
                self._resume(int(job_id))

    def _resume(self, job_id: int) -> None:
        def follow() -> None:
            def progress(message: Any) -> None:
                self.reattached[job_id] = f"following: {message}"

            try:
                run = reattach(self.store, job_id, progress=progress)
                self.reattached[job_id] = f"done: run {run.run_id} is {run.status}"
            except Exception as exc:  # noqa: BLE001 - shown on the Runs page, never as a traceback
                self.reattached[job_id] = f"failed: {exc}"

        self.reattached[job_id] = "re-attaching…"
        threading.Thread(target=follow, name=f"reattach-{job_id}", daemon=True).start()


@st.cache_resource(show_spinner=False, max_entries=8)
def _handle(workspace: str) -> RunsHandle:
    return RunsHandle(Path(workspace))


def runs_handle() -> RunsHandle:
    """The current workspace's handle (created, reconciled and re-attached once per process)."""
    return _handle(str(settings.workspace_dir()))


def run_store() -> RunStore:
    """The current workspace's run store; a RegistryError saying what is wrong when it cannot be opened."""
    from workbench.runs.records import RegistryError

    handle = runs_handle()
    if handle.store is None:
        raise RegistryError(f"The run registry could not be opened: {handle.error}")
    return handle.store


def start() -> None:
    """Called by the entry point on every rerun: the first call per workspace reconciles and resumes.
    A handle that could not open the registry is not kept: each rerun tries again, so moving a
    damaged registry.sqlite3 away (as the Runs page advises) works without restarting the app."""
    workspace = str(settings.workspace_dir())
    if _handle(workspace).error:
        _handle.clear(workspace)
        _handle(workspace)
