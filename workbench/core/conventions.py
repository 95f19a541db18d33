"""The workbench's conventions, each spelled once: the walkthrough's defaults, the names of
score columns and the fallback names of clusters.

Components are numbered from 1, largest first (pc1 explains the most variance); clusters
are numbered from 0, as K-Means labels them. A blank analyst name falls back to these.
"""
from __future__ import annotations

from collections.abc import Sequence

# The reference walkthrough: PCA with 33 components on its 34 features, the top 5 kept,
# K-Means with k = 7, SageMaker's PCA mini-batches of 500 rows (capped at the row count).
WALKTHROUGH_COMPONENTS = 33
WALKTHROUGH_TOP = 5
WALKTHROUGH_K = 7
PCA_MINI_BATCH = 500
DEFAULT_SEED = 0
DEFAULT_SCALER = "minmax"
# The scaling recipes' names (workbench.core.scaling holds them; named here so that a CLI's
# --help needs no scikit-learn).
SCALER_NAMES = ("minmax", "zscore")

# Columns every labeled table carries after the id, name and score columns.
CLUSTER_COLUMN = "cluster"
CLUSTER_NAME_COLUMN = "cluster_name"
DISTANCE_COLUMN = "distance_to_cluster"
RESERVED_COLUMNS = (CLUSTER_COLUMN, CLUSTER_NAME_COLUMN, DISTANCE_COLUMN)


def default_components(n_features: int) -> int:
    """The walkthrough's num_components for a table of `n_features` features: 33, or every
    component of a table with fewer features (a PCA has at most feature_dim components)."""
    return max(1, min(WALKTHROUGH_COMPONENTS, n_features))


def default_top(n_components: int) -> int:
    return max(1, min(WALKTHROUGH_TOP, n_components))


def pca_mini_batch(n_rows: int) -> int:
    return max(1, min(n_rows, PCA_MINI_BATCH))


def component_column(position: int) -> str:
    """The score column of the component at `position` (0 = the largest): pc1, pc2, …"""
    return f"pc{position + 1}"


def default_component_names(n: int) -> list[str]:
    return [component_column(i) for i in range(n)]


def is_component_column(name: str) -> bool:
    text = str(name)
    return text.startswith("pc") and text[2:].isdigit() and not text[2:].startswith("0")


def default_cluster_name(cluster: int) -> str:
    return f"cluster {cluster}"


def component_columns(n: int, names: Sequence[str] | None = None) -> list[str]:
    """Score column names, largest component first: the analyst's names, else pc1…pcN."""
    defaults = default_component_names(n)
    if not names:
        return defaults
    chosen = [(name or "").strip() or default for name, default in zip(names, defaults)]
    chosen += defaults[len(chosen):]
    if len(set(chosen)) != len(chosen):
        raise ValueError("Component names must be unique; two components share a name.")
    return chosen


def cluster_label(names: Sequence[str], cluster: int) -> str:
    """The analyst's name of a cluster, else its fallback name."""
    name = names[cluster] if 0 <= cluster < len(names) else ""
    return name or default_cluster_name(cluster)


def empty_clusters_message(empty: Sequence[int], k: int, distinct: int | None = None) -> str:
    """Why K-Means left `empty` clusters of k (the in-memory and streaming refusals share it).
    distinct: the scores' distinct rows when counted (a stream does not count them)."""
    which = ", ".join(str(c) for c in list(empty)[:10]) + ("…" if len(empty) > 10 else "")
    if distinct is not None and distinct < k:
        return (f"k = {k} asks for more clusters than the data can give: its scores have only {distinct:,} "
                f"distinct rows, so K-Means left cluster(s) {which} empty. Choose k ≤ {distinct:,}.")
    cause = "every point is nearer another centroid" if distinct is not None else (
        f"the data may have fewer than {k} distinct rows, or every point is nearer another centroid")
    return f"K-Means left cluster(s) {which} empty for k = {k}: {cause}. Choose a smaller k, or another seed."
