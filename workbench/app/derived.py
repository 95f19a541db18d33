"""Tables derived from the current runs, each cached on the run, the data it is shown on and the
analyst's names (a run imported without its data is shown on whichever table is current, so its
job name alone does not say which data the table is of)."""
from __future__ import annotations

import streamlit as st

from workbench.analysis import exports, summaries
from workbench.app.current import TrainedRun, scores
from workbench.app.data import data_key
from workbench.app.names import cluster_labels, component_columns
from workbench.core import pipeline


@st.cache_resource(show_spinner=False, max_entries=16)
def _labeled(job: str, data: tuple, component_cols: tuple[str, ...], labels: tuple[str, ...], _prep, _scores, _kmeans):
    return pipeline.labeled_table(_prep, _scores, _kmeans, component_names=list(component_cols),
                                  cluster_names=list(labels))


def labeled(prep: pipeline.PreparedData, pca_run: TrainedRun, kmeans_run: TrainedRun):
    """The labeled counties (read-only: shared by reruns), with the analyst's names."""
    return _labeled(kmeans_run.job_name, data_key(prep), tuple(component_columns(pca_run)),
                    tuple(cluster_labels(kmeans_run)), prep, scores(prep, pca_run), kmeans_run.stage)


@st.cache_resource(show_spinner=False, max_entries=16)
def _profiles(job: str, data: tuple, labels: tuple[str, ...], _prep, _kmeans):
    return summaries.cluster_profiles(_prep.clean.frame, _prep.features, _kmeans.labels, list(labels))


def profiles(prep: pipeline.PreparedData, kmeans_run: TrainedRun):
    return _profiles(kmeans_run.job_name, data_key(prep), tuple(cluster_labels(kmeans_run)), prep, kmeans_run.stage)


@st.cache_data(show_spinner="Preparing the files…", max_entries=8)
def _exports(job: str, data: tuple, component_cols: tuple[str, ...], labels: tuple[str, ...], stem: str,
             _labeled_frame, _components, _centroids) -> dict[str, bytes]:
    return exports.export_files(_labeled_frame, _components, _centroids, stem=stem)


def export_files(prep, pca_run: TrainedRun, kmeans_run: TrainedRun) -> dict[str, bytes]:
    """The three downloads as bytes, prepared before any button is pressed."""
    columns = component_columns(pca_run)
    labels = cluster_labels(kmeans_run)
    ratios = pca_run.stage.explained_variance_ratio
    components = summaries.component_table(pca_run.stage.model.v, prep.features, columns, ratios)
    centroids = summaries.centroid_table(kmeans_run.stage.model.centroids, columns, labels,
                                         kmeans_run.stage.cluster_sizes)
    stem = f"counties-k{kmeans_run.stage.model.k}"
    return _exports(kmeans_run.job_name, data_key(prep), tuple(columns), tuple(labels), stem,
                    labeled(prep, pca_run, kmeans_run), components, centroids)


@st.cache_resource(show_spinner="Profiling the clusters…", max_entries=16)
def _cluster_profile(job: str, data: tuple, labels: tuple[str, ...], _prep, _kmeans):
    from workbench.analysis import profiles as profiles_mod

    return profiles_mod.build_profile(_prep.clean.frame, _kmeans.labels, features=list(_prep.features),
                                      k=_kmeans.model.k, names=list(labels))


def cluster_profile(prep: pipeline.PreparedData, kmeans_run: TrainedRun):
    """profiles.build_profile of the run's clusters in original units (cached on the run and names)."""
    return _cluster_profile(kmeans_run.job_name, data_key(prep), tuple(cluster_labels(kmeans_run)), prep,
                            kmeans_run.stage)


@st.cache_resource(show_spinner=False, max_entries=8)
def _reliability_summary(key: tuple, _frame):
    from workbench.analysis import margins

    return margins.reliability_summary(_frame)


def reliability_summary(prep: pipeline.PreparedData):
    return _reliability_summary(data_key(prep), prep.clean.frame)


def county_for_fips(table, id_column: str, fips: str | None):
    """The row label of the county with this FIPS code in `table` (None when none has it)."""
    from workbench.analysis import geography

    if not fips or id_column not in table.columns:
        return None
    codes = geography.fips_codes(table[id_column].tolist())
    hits = [label for label, code in zip(table.index, codes) if code == fips]
    return hits[0] if hits else None


def map_values(table, frame, id_column: str, name_columns: list[str], labels: list[str], layer: str,
               value_name: str, confidence=None):
    """The county map's rows: FIPS, names, cluster name, and the value the chosen layer shows."""
    import pandas as pd

    values = pd.DataFrame({"fips": table[id_column].to_numpy()})
    for column in name_columns:
        values[column] = table[column].to_numpy()
    values["cluster"] = [labels[c] for c in table["cluster"]]
    if layer == "feature":
        values[value_name] = frame[value_name].to_numpy()
    elif layer == "component":
        values[value_name] = table[value_name].to_numpy()
    elif layer == "confidence":
        values[value_name] = confidence["confidence"].to_numpy()
    return values


@st.cache_resource(show_spinner="Counting each county's units by cluster…", max_entries=8)
def _county_shares(data: tuple, job: str, id_column: str, level: str, _table, k: int):
    from workbench.analysis.county_shares import county_shares as shares_of

    return shares_of(_table[id_column].tolist(), _table["cluster"].to_numpy(), level, k=k)


def county_shares(prep: pipeline.PreparedData, table, id_column: str, level: str, kmeans_run: TrainedRun):
    """For a table of tracts or block groups: each county's units and each cluster's share of them
    (cached on the data's key too: one imported run may be shown on two tables)."""
    return _county_shares(data_key(prep), kmeans_run.job_name, id_column, level, table, kmeans_run.stage.model.k)


def county_share_values(shares, cluster: int, labels: list[str]):
    """The county map's rows for a table of smaller units: county FIPS, the share of its units in
    `cluster` (0..1), how many units it has, and the cluster most of them are in."""
    import pandas as pd

    table = shares.table
    return pd.DataFrame({"fips": table.index.to_numpy(), "share": shares.share_of(cluster).to_numpy(),
                         "units": table["units"].to_numpy(),
                         "most units in": [labels[c] for c in table["top_cluster"].to_numpy()]})
