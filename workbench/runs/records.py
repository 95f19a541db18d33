"""What the run registry records: a run (`RunRecord`) and its training jobs (`JobRecord`),
with the kinds, statuses and columns the pages and the CLI list.
"""
from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # records are read by the CLI's --help, which must not import pandas
    import pandas as pd

from workbench.core import conventions
from workbench.runs import folders as runs

KINDS = ("segmentation", "pca", "kmeans")
EXPECTED_JOBS = {"segmentation": ("pca", "kmeans"), "pca": ("pca",), "kmeans": ("kmeans",)}
# SageMaker's training-job statuses, plus Interrupted (the writing process stopped or died),
# Incomplete (saved without every job it was meant to have) and Missing (its folder is gone).
STATUSES = ("InProgress", "Completed", "Incomplete", "Failed", "Stopped", "Interrupted", "Missing")
NAME_TARGETS = ("run", "component", "cluster")


class RegistryError(RuntimeError):
    """The registry cannot do what was asked; the message says why and what to do."""


def now() -> str:
    """UTC, to the microsecond, so edits made within a second keep their order."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _iso_utc(text: str | None) -> str:
    """A timestamp from a manifest (any ISO form, with an offset or local time) in now()'s UTC form."""
    try:
        moment = datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return now()
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def canonical_backend(name: str) -> str:
    from backends.registry import canonical_name

    return canonical_name(name)


# --------------------------------------------------------------------------- records
@dataclass
class JobRecord:
    """One training job of a run."""

    job_id: int
    run_id: str
    algorithm: str
    backend: str
    status: str
    job_name: str | None = None
    job_arn: str | None = None
    region: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    submitted_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    billable_seconds: float | None = None
    cost_usd: float | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    artifact: str | None = None  # relative to the run directory
    artifact_source: str | None = None  # where an imported artifact came from
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "JobRecord":
        data = {k: v for k, v in dict(row).items() if k in _JOB_FIELDS}  # columns of later migrations: ignored
        data["hyperparameters"] = _loads(data["hyperparameters"], {})
        data["details"] = _loads(data["details"], {})
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunRecord:
    """One run as the registry knows it, with its jobs and the analyst's current names."""

    run_id: str
    name: str
    kind: str
    origin: str
    backend: str
    status: str
    created_at: str
    updated_at: str
    parent_run_id: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    source: str | None = None
    source_ref: str | None = None
    data_fingerprint: str | None = None
    features: list[str] | None = None
    scaler: dict[str, Any] | None = None
    seed: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    library_versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    cost_usd: float | None = None
    n_counties: int | None = None
    recipe: dict[str, Any] | None = None  # {"source_features": [...], "recipe": FeatureRecipe.to_dict() or None}
    geography: str | None = None  # the data's level: state, county, tract or block group
    source_request: dict[str, Any] | None = None  # a Census Data API source's request (no key)
    run_dir: Path | None = None
    error: str | None = None
    owner_pid: int | None = None
    owner_host: str | None = None
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    component_names: list[str] = field(default_factory=list)
    cluster_names: list[str] = field(default_factory=list)

    # -- what the pages show ------------------------------------------------------------
    @property
    def display_name(self) -> str:
        return self.name or self.run_id

    @property
    def n_components(self) -> int | None:
        value = self.settings.get("n_components")
        if value is None and "pca" in self.jobs:
            value = self.jobs["pca"].hyperparameters.get("num_components")
        return int(value) if value is not None else None

    @property
    def top(self) -> int | None:
        """Components kept for clustering (None: unknown, i.e. every component)."""
        value = self.settings.get("top")
        if value is None and "kmeans" in self.jobs:
            value = self.jobs["kmeans"].hyperparameters.get("feature_dim")
        if value is None:
            return self.n_components
        return int(value)

    @property
    def kept(self) -> int | None:
        """Components kept, as a listing shows it: `top`, except for a PCA-only run that recorded none
        (an app or CLI PCA keeps nothing yet: the K-Means trained on it chooses)."""
        return self.top if self.kind != "pca" or "top" in self.settings else None

    @property
    def k(self) -> int | None:
        value = self.settings.get("k")
        if value is None and "kmeans" in self.jobs:
            value = self.jobs["kmeans"].hyperparameters.get("k")
        return int(value) if value is not None else None

    @property
    def scaler_recipe(self) -> str | None:
        return (self.scaler or {}).get("recipe")

    @property
    def source_features(self) -> list[str]:
        """The table's columns the run chose, before its recipe's rates (a recipe's outputs, such as
        "Men per TotalPop", are no columns of the table): what preparing its table again selects."""
        return list((self.recipe or {}).get("source_features") or self.features or [])

    @property
    def feature_recipe(self):
        """The run's workbench.core.recipes.FeatureRecipe (rates, transforms, scaler), or None."""
        made = (self.recipe or {}).get("recipe")
        if not made:
            return None
        from workbench.core.recipes import FeatureRecipe

        return FeatureRecipe.from_dict(made)

    def artifact_path(self, algorithm: str) -> Path | None:
        job = self.jobs.get(algorithm)
        if job is None or not job.artifact or self.run_dir is None:
            return None
        path = self.run_dir / job.artifact
        return path if path.is_file() else None

    @property
    def labels_path(self) -> Path | None:
        if self.run_dir is None:
            return None
        path = self.run_dir / runs.LABELS
        return path if path.is_file() else None

    @property
    def has_labels(self) -> bool:
        return self.labels_path is not None

    # -- loading what the run left behind --------------------------------------------------
    def _require(self, algorithm: str) -> Path:
        path = self.artifact_path(algorithm)
        if path is None:
            what = "PCA" if algorithm == "pca" else "K-Means"
            raise RegistryError(f"Run {self.run_id} has no {what} model ({self.kind} run, status {self.status}).")
        return path

    def pca_model(self):
        """The run's PCA model (components largest first), read through backends.artifacts."""
        from backends.format import models

        return models.load_pca(self._require("pca"))

    def kmeans_model(self):
        from backends.format import models

        return models.load_kmeans(self._require("kmeans"))

    def labels(self) -> pd.DataFrame:
        """The labeled counties as saved (index: county key; id/name columns, pc1…pcN, cluster,
        distance_to_cluster), without the analyst's names."""
        path = self.labels_path
        if path is None:
            raise RegistryError(
                f"Run {self.run_id} has no county labels: it has no K-Means model, or it was imported "
                "without the data it was trained on (import it again with --data)."
            )
        return runs.read_labels(path)

    def labeled(self) -> pd.DataFrame:
        """The labeled counties with the analyst's names: named component columns and, when any
        cluster is named, a cluster_name column (as `pipeline.labeled_table` writes them)."""
        table = self.labels()
        score_columns = [c for c in table.columns if conventions.is_component_column(c)]
        named = conventions.component_columns(len(score_columns), self.component_names)
        table = table.rename(columns=dict(zip(score_columns, named)))
        if any(self.cluster_names):
            names = list(self.cluster_names)
            position = table.columns.get_loc(conventions.CLUSTER_COLUMN) + 1
            cluster_name = [conventions.cluster_label(names, c) for c in table[conventions.CLUSTER_COLUMN].astype(int)]
            table.insert(position, conventions.CLUSTER_NAME_COLUMN, cluster_name)
        return table

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "jobs"}
        out["run_dir"] = str(self.run_dir) if self.run_dir else None
        out["jobs"] = {alg: job.to_dict() for alg, job in self.jobs.items()}
        out.update(display_name=self.display_name, n_components=self.n_components, top=self.top, k=self.k,
                   has_labels=self.has_labels)
        return out


_JOB_FIELDS = {f.name for f in fields(JobRecord)}
_RUN_FIELDS = {f.name for f in fields(RunRecord)} - {"jobs", "component_names", "cluster_names"}

LIST_COLUMNS = [
    "run_id", "display_name", "name", "kind", "status", "backend", "created_at", "finished_at", "seconds",
    "cost_usd", "seed", "n_components", "top", "k", "n_features", "n_counties", "scaler", "data_fingerprint",
    "pca_job", "kmeans_job", "origin", "parent_run_id", "run_dir",
]
IN_FLIGHT_COLUMNS = [
    "job_id", "run_id", "run_name", "run_status", "algorithm", "backend", "job_name", "region", "submitted_at",
    "owner_pid", "owner_host", "owner_alive", "orphaned",
]
