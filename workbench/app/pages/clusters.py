"""Clusters: train K-Means on the kept components, name the clusters, read their profiles."""
from __future__ import annotations

import streamlit as st

from workbench.analysis import formatting, naming, profiles, summaries, text
from workbench.app import derived, names, navigation, training, widgets
from workbench.app.chart_specs import chart
from workbench.app.current import current_kmeans, kept, scores
from workbench.charts import stages as charts

st.title("Clusters")

prep = navigation.require_prepared()
pca_run = navigation.require_pca(prep)
top = kept(pca_run)
component_names = names.component_columns(pca_run)
component_scores = scores(prep, pca_run)
st.caption(f"K-Means groups the {len(component_scores):,} counties by their scores on the {top} kept components: "
           + ", ".join(f"**{text.markdown(name)}**" for name in component_names) + ".")

# --- Settings -----------------------------------------------------------------------------
run = widgets.training_form("kmeans", most=len(component_scores), current=current_kmeans(pca_run),
                            train=lambda: training.train_kmeans(pca_run, top, component_scores, prep))

if run is None:
    if st.session_state.get("kmeans_run") is not None:
        st.warning("The PCA run or the number of kept components changed since K-Means was last trained, so its "
                   "clusters no longer apply.", icon=":material/history:")
    st.info("Press **Train K-Means** to cluster the counties.", icon=":material/info:")
    navigation.stop()
if run.settings != training.kmeans_settings():
    st.caption(":material/warning: The settings above changed since these clusters were trained; press "
               "**Train K-Means** to apply them.")

stage = run.stage
st.success(f"**{stage.job.job_name}** · k = {stage.model.k} · SSE {formatting.number(stage.sse)} · "
           f"{formatting.duration(stage.job.seconds)}",
           icon=":material/check_circle:")
st.caption(f"Artifact: `{stage.job.artifact_path}`")
if run.run_id:
    st.caption(f"Recorded as run `{run.run_id}` in the run registry (see the Runs page)"
               + (" · opened on the Runs page" if st.session_state.get("active_run_id") == run.run_id else "") + ".")

# --- Names --------------------------------------------------------------------------------
st.subheader("Name the clusters")
st.caption("Blank names stay “cluster 0”, “cluster 1”, …; names must be unique. Suggestions come from the "
           "features on which each cluster differs most from all counties (rates and shares, not raw counts).")
cluster_table = derived.profiles(prep, run)
suggestions = naming.suggest_cluster_names_from_profiles(
    cluster_table, skip=profiles.count_columns(prep.clean.frame, prep.features))
sizes = summaries.cluster_sizes(stage.labels, stage.model.k, names.cluster_names(run))


names.editor(
    names.CLUSTER, run, sizes.assign(share=sizes["share"] * 100, suggested=suggestions), count=stage.model.k,
    suggestions=suggestions, disabled=["cluster", "counties", "share", "suggested"], buttons_key="clusters",
    column_config={
        "cluster": st.column_config.NumberColumn("cluster", width="small"),
        "name": st.column_config.TextColumn("name", help="Your name for this cluster", max_chars=60),
        "counties": st.column_config.NumberColumn("counties", format="%d"),
        "share": st.column_config.NumberColumn("share", format="%.1f%%"),
        "suggested": st.column_config.TextColumn("suggested"),
    },
)

labels = names.cluster_labels(run)

# --- Sizes and centroids ------------------------------------------------------------------
sizes_column, heatmap_column = st.columns(2)
chart(charts.cluster_sizes_chart, summaries.cluster_sizes(stage.labels, stage.model.k, labels),
      key="clusters_sizes_chart", where=sizes_column)
chart(charts.centroid_heatmap, summaries.centroid_long(stage.model.centroids, component_names, labels),
      key="clusters_heatmap", where=heatmap_column)

# --- Profiles -----------------------------------------------------------------------------
st.subheader("Cluster profiles in original units")
st.caption("Each cluster's mean of every feature against the mean of all counties. Bars are in standard "
           "deviations so that dollars, counts and percentages compare; the table gives the original units.")
pick, how_many = st.columns([2, 1])
cluster = pick.selectbox("Cluster", list(range(stage.model.k)), key="profile_cluster",
                         format_func=lambda i: f"{labels[i]} ({sizes['counties'][i]:,} counties)")
shown = widgets.how_many("profile_features", "Features shown", len(prep.features), where=how_many)
profile = summaries.cluster_profile(cluster_table, cluster)
chart_column, table_column = st.columns([1, 1])
chart(charts.profile_chart, profile, labels[cluster], top=shown, key="clusters_profile_chart", where=chart_column)
table_column.dataframe(  # values as numbers for people: separators, no exponent, whole digits kept
    formatting.formatted_table(profile.head(shown), columns=["cluster_mean", "overall_mean", "difference"]),
    hide_index=True,
    column_order=["feature", "cluster_mean", "overall_mean", "difference", "difference_sd"],
    column_config={
        "cluster_mean": st.column_config.TextColumn("cluster mean"),
        "overall_mean": st.column_config.TextColumn("overall mean"),
        "difference": st.column_config.TextColumn("difference"),
        "difference_sd": st.column_config.NumberColumn("SDs", format="%+.2f"),
    },
    key="clusters_profile_table",
)
with st.expander("All clusters at once"):
    chart(charts.profile_heatmap, cluster_table, tuple(prep.features), key="clusters_profile_heatmap")
navigation.link("explore", "Next: explore the counties")
