"""Explore: look up a county's cluster, browse a cluster's counties with their scores and distances.
"""
from __future__ import annotations

import streamlit as st

from workbench.analysis import formatting, summaries, text
from workbench.app import derived, names, navigation
from workbench.app.chart_specs import chart
from workbench.charts import stages as charts

st.title("Explore")

prep = navigation.require_prepared()
pca_run = navigation.require_pca(prep)
run = navigation.require_kmeans(pca_run)
stage = run.stage
labels = names.cluster_labels(run)
component_names = names.component_columns(pca_run)
table = derived.labeled(prep, pca_run, run)
name_columns = list(prep.clean.schema.name_columns)
id_column = prep.clean.schema.id_column
search_columns = [c for c in (id_column, *name_columns) if c]
score_format = {name: st.column_config.NumberColumn(name, format="%+.3f") for name in component_names}
score_format["distance_to_cluster"] = st.column_config.NumberColumn("distance", format="%.3f")


def _show_cluster(cluster: int) -> None:
    st.session_state["explore_cluster"] = cluster


# --- Look up a county ---------------------------------------------------------------------
st.subheader("Look up a county")
if not search_columns:
    st.info("This table has no id or place-name columns (such as CensusId, GEOID, State or County), so places "
            "are listed by their row label in the cleaned table. Load a table with them on the Data page to look "
            "places up by name.", icon=":material/info:")
counties = dict(zip(table.index, summaries.county_labels(table, name_columns)))
from_map = st.session_state.pop("map_county_pending", None)  # a county clicked on the County map
if from_map in counties:
    st.session_state["lookup_county"] = from_map
    st.toast(f"Selected on the map: {text.markdown(counties[from_map])}", icon=":material/map:")
if st.session_state.get("lookup_county") not in counties:
    st.session_state["lookup_county"] = None
choice = st.selectbox("County", list(counties), index=None, key="lookup_county", format_func=counties.get,
                      placeholder="Type a county or state…")
if choice is not None:
    row = table.loc[choice]
    cluster = int(row["cluster"])
    with st.container(border=True):
        st.markdown(f"**{text.markdown(counties[choice])}** is in **{text.markdown(labels[cluster])}** (cluster "
                    f"{cluster}), at distance {formatting.number(row['distance_to_cluster'])} from its centroid.")
        st.markdown("**Its census values**, in original units, beside its cluster's mean and the mean of all counties")
        st.dataframe(
            formatting.formatted_table(summaries.county_in_units(prep.clean.frame, prep.features, stage.labels, choice)),
            hide_index=True, key="lookup_values")
        st.markdown("**Its component scores** beside its cluster's centroid")
        st.dataframe(
            summaries.county_vs_centroid(row, stage.model.centroids[cluster], component_names),
            hide_index=True,
            column_config={name: st.column_config.NumberColumn(name, format="%+.3f") for name in component_names},
            key="lookup_scores",
        )
        st.button(f"Browse {text.markdown(labels[cluster])}", key="lookup_browse", on_click=_show_cluster, args=(cluster,),
                  icon=":material/arrow_downward:")

# --- Browse a cluster ---------------------------------------------------------------------
st.subheader("Browse a cluster")
sizes = stage.cluster_sizes
pick, search = st.columns([1, 1])
cluster = pick.selectbox("Cluster", list(range(stage.model.k)), key="explore_cluster",
                         format_func=lambda i: f"{labels[i]} ({sizes[i]:,} counties)")
query = search.text_input("Search in this cluster", key="explore_search", placeholder="County, state or id")
members = summaries.cluster_members(table, cluster, query, search_columns)
st.caption(f"{len(members):,} of {sizes[cluster]:,} counties, closest to the centroid first. Click a column "
           "header to sort; the table's search icon finds text in any column.")
st.dataframe(
    members.drop(columns=["cluster", "cluster_name"], errors="ignore"),
    height=420,
    hide_index=True,
    column_config=score_format,
    key="explore_members",
)
distances = table.loc[table["cluster"] == cluster, "distance_to_cluster"]
chart(charts.distance_histogram, summaries.histogram_bins(distances, 25), labels[cluster],
             key="explore_distance_chart")
navigation.link("export", "Next: export")
