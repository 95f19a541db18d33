"""Export: the labeled counties, the component table and the centroid table as CSV files.
"""
from __future__ import annotations

import streamlit as st

from workbench.analysis import text
from workbench.app import derived, names, navigation
from workbench.app.current import kept

st.title("Export")
st.caption("The files are prepared before you press a button, so downloading never resets the session.")

prep = navigation.require_prepared()
pca_run = navigation.require_pca(prep)
run = navigation.require_kmeans(pca_run)
component_names = names.component_columns(pca_run)
labels = names.cluster_labels(run)
files = derived.export_files(prep, pca_run, run)
st.session_state["export_files"] = files  # what the buttons serve, also readable by tests
table = derived.labeled(prep, pca_run, run)

with st.container(border=True):
    st.markdown(
        f"**Source:** {text.markdown(prep.source_description)}  \n"
        f"**Counties:** {len(table):,} · **features:** {len(prep.features)} scaled with {prep.scaler.recipe}  \n"
        f"**PCA:** {pca_run.job_name}, {kept(pca_run)} of {pca_run.stage.model.n_components} components kept: "
        + ", ".join(text.markdown(name) for name in component_names) + "  \n"
        f"**K-Means:** {run.job_name}, k = {run.stage.model.k}: " + ", ".join(text.markdown(name) for name in labels)
    )

DESCRIPTIONS = {
    "clusters": ("Labeled counties", "id, state, county, the component scores under their names, cluster id and "
                 "name, and the distance to the cluster's centroid. One row per county."),
    "components": ("Component table", "Each feature's weight in each kept component (columns under their names); "
                   "the first row is each component's exact share of the variance."),
    "centroids": ("Centroid table", "Each cluster's id, name, size and centroid in component space."),
}
for filename, payload in files.items():
    kind = filename.rsplit("-", 1)[-1].removesuffix(".csv")
    title, description = DESCRIPTIONS[kind]
    with st.container(border=True):
        about, button = st.columns([4, 1], vertical_alignment="center")
        about.markdown(f"**{title}** · `{filename}` · {len(payload) / 1024:,.0f} KB  \n{description}")
        button.download_button("Download CSV", data=payload, file_name=filename, mime="text/csv",
                               key=f"export_{kind}", on_click="ignore", icon=":material/download:", width="stretch")

st.subheader("Preview of the labeled counties")
st.dataframe(table.head(50), height=320, hide_index=True, key="export_preview",
             column_config={name: st.column_config.NumberColumn(name, format="%+.3f") for name in component_names}
             | {"distance_to_cluster": st.column_config.NumberColumn("distance_to_cluster", format="%.4f")})
st.caption(f"Model artifacts: `{pca_run.stage.job.artifact_path}` and `{run.stage.job.artifact_path}`")
