"""What a run picker shows: one line that says what a run is, the runs worth comparing first, and
the SageMaker attempts that failed before any job was submitted.

Works on the table `RunStore.list_runs` returns (newest first), so the Runs and Compare pages
describe runs the same way (the CLI's `runs list` builds its own table).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from backends import registry
from workbench.analysis import formatting


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and value is not pd.NA


def describe(row: pd.Series | dict[str, Any], now: datetime | None = None) -> str:
    """`Fresno group · segmentation · k = 7 · 5 of 33 components · 34 features · embedded · 2 h ago`.

    Plain text, for a select box's options; the run id follows when the run has a name of its own."""
    get = row.get
    parts = [str(get("display_name") or get("run_id"))]
    if get("status") not in (None, "Completed"):
        parts.append(str(get("status")))
    parts.append(str(get("kind") or "run"))
    if _given(get("k")):
        parts.append(f"k = {int(get('k'))}")
    if _given(get("top")):
        total = f" of {int(get('n_components'))}" if _given(get("n_components")) else ""
        parts.append(f"{int(get('top'))}{total} components")
    elif _given(get("n_components")):  # none kept yet (a PCA run: K-Means chooses)
        parts.append(f"{int(get('n_components'))} components")
    if _given(get("n_features")):
        parts.append(f"{int(get('n_features'))} features")
    parts.append(str(get("backend") or "?"))
    parts.append(formatting.age(get("created_at"), now=now))
    if get("display_name") and get("display_name") != get("run_id"):
        parts.append(str(get("run_id")))
    return " · ".join(parts)


def labels(listed: pd.DataFrame, now: datetime | None = None) -> dict[str, str]:
    """run id → its description, in the table's order (newest first)."""
    return {row["run_id"]: describe(row, now=now) for _, row in listed.iterrows()}


def _submits_jobs(backend: Any) -> bool:
    try:
        found = registry.spec(str(backend))
    except ValueError:
        return False
    return found.needs_aws or found.needs_docker


def unsubmitted_attempts(listed: pd.DataFrame) -> list[str]:
    """Runs on a SageMaker backend that failed before any job was submitted (no credentials, no
    region, no Docker): nothing was trained and nothing was billed, so they can be cleared."""
    if listed.empty:
        return []
    no_job = listed["pca_job"].isna() & listed["kmeans_job"].isna()
    failed = listed["status"].eq("Failed")
    on_sagemaker = listed["backend"].map(_submits_jobs).astype(bool)
    return listed.loc[failed & no_job & on_sagemaker, "run_id"].tolist()


def visible(listed: pd.DataFrame, *, show_failed: bool = True, show_unsubmitted: bool = True) -> pd.DataFrame:
    """The runs a picker lists: Failed ones only when asked, unsubmitted attempts only when asked."""
    keep = pd.Series(True, index=listed.index)
    if not show_failed:
        keep &= ~listed["status"].eq("Failed")
    if not show_unsubmitted:
        keep &= ~listed["run_id"].isin(unsubmitted_attempts(listed))
    return listed[keep]


def comparable(listed: pd.DataFrame) -> pd.DataFrame:
    """Completed segmentation runs, newest first: the ones a comparison can use in full."""
    return listed[listed["status"].eq("Completed") & listed["kind"].eq("segmentation")]


def compare_defaults(listed: pd.DataFrame) -> tuple[str, str] | None:
    """The two latest completed segmentation runs (A the older, B the newer), else the two
    latest runs of any kind; None with no runs."""
    for candidates in (comparable(listed), listed[~listed["status"].eq("Failed")], listed):
        ids = candidates["run_id"].tolist()
        if len(ids) >= 2:
            return ids[1], ids[0]
    ids = listed["run_id"].tolist()
    return (ids[0], ids[0]) if ids else None


def latest_matching(listed: pd.DataFrame, needs: str) -> str | None:
    """The newest completed run that holds what a page needs: "pca" (a PCA model) or "kmeans"
    (a PCA model and clusters)."""
    if listed.empty:
        return None
    done = listed["status"].eq("Completed")
    has = listed["pca_job"].notna() | listed["kind"].isin(["pca", "segmentation"])
    if needs == "kmeans":
        has = listed["kind"].eq("segmentation")
    found = listed.loc[done & has, "run_id"]
    return found.iloc[0] if len(found) else None


def shown_table(listed: pd.DataFrame, now: datetime | None = None) -> pd.DataFrame:
    """The runs list for people: name, what the run is, when (local time and age), how long it
    took and what it cost, newest first; the run id last."""
    def cost(value: Any) -> str:
        return f"${float(value):.4f}" if _given(value) else formatting.MISSING

    def whole(value: Any) -> str:
        return str(int(value)) if _given(value) else formatting.MISSING

    return pd.DataFrame({
        "name": listed["display_name"].astype(str),
        "status": listed["status"],
        "kind": listed["kind"],
        "k": listed["k"].map(whole),
        "kept": listed["top"].map(whole),
        "components": listed["n_components"].map(whole),
        "features": listed["n_features"].map(whole),
        "backend": listed["backend"],
        "created": listed["created_at"].map(lambda v: formatting.when(v, now=now)),
        "took": listed["seconds"].map(lambda v: formatting.duration(v) if _given(v) else formatting.MISSING),
        "cost": listed["cost_usd"].map(cost),
        "origin": listed["origin"],
        "run id": listed["run_id"],
    })
