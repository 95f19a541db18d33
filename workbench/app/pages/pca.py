"""PCA: set the backend and hyperparameters, train, then read the explained variance and makeup."""
import streamlit as st

from workbench.analysis import formatting, summaries
from workbench.app import names, navigation, state, training, widgets
from workbench.app.chart_specs import chart
from workbench.app.current import current_pca, kept
from workbench.charts import stages as charts

st.title("PCA")
st.caption("Reduce the scaled features to a few principal components, largest (most variance) first.")

prep = navigation.require_prepared()
n_features = len(prep.features)

# --- Settings -----------------------------------------------------------------------------
run = widgets.training_form("pca", most=n_features, current=current_pca(prep), train=lambda: training.train_pca(prep))

if run is None:
    if st.session_state.get("pca_run") is not None:
        st.warning("The data, features or scaling changed since PCA was last trained, so its results no longer "
                   "apply.", icon=":material/history:")
    st.info(f"Press **Train PCA** to compute the components of {len(prep.X):,} counties × {n_features} features.",
            icon=":material/info:")
    navigation.stop()
if run.settings != training.pca_settings():
    st.caption(":material/warning: The settings above changed since this model was trained; press **Train PCA** "
               "to apply them.")

stage = run.stage
job = stage.job
st.success(f"**{job.job_name}** · {job.backend} backend · {stage.model.n_components} components of "
           f"{stage.model.feature_dim} features · {formatting.duration(job.seconds)}", icon=":material/check_circle:")
st.caption(f"Artifact: `{job.artifact_path}`")
if run.run_id:
    st.caption(f"Recorded as run `{run.run_id}` in the run registry (see the Runs page)"
               + (" · opened on the Runs page" if st.session_state.get("active_run_id") == run.run_id else "") + ".")

# --- Explained variance -------------------------------------------------------------------
st.subheader("Explained variance")
keep_column, total_column, share_column = st.columns([2, 1, 1])
if widgets.number("pca_top", "Components to keep", where=keep_column,
                  help="The kept components are what K-Means clusters on (the walkthrough keeps 5)."):
    navigation.stop()
top = kept(run)
variance = summaries.variance_shares(stage.explained_variance_ratio, top)
total_column.metric("Kept components explain", f"{variance.kept:.2%}")
share_column.metric("All components explain", f"{variance.total:.2%}")
component_names = names.component_columns(run)
table = summaries.variance_table(stage.explained_variance_ratio, top, component_names)
chart(charts.explained_variance_chart, table, key="pca_variance_chart")
with st.expander("Exact values"):
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "explained": st.column_config.NumberColumn("explained", format="%.6f"),
            "cumulative": st.column_config.NumberColumn("cumulative", format="%.6f"),
        },
        key="pca_variance_table",
    )

# --- Makeup -------------------------------------------------------------------------------
st.subheader("What the kept components are made of")
st.caption("Each component's strongest feature weights: a county scores high on a component when it is high on "
           "the blue features and low on the red ones.")
most = state.most_weights(n_features)
st.columns([1, 2])[0].slider("Weights shown per component", 1, most, key="makeup_n")
makeup = summaries.component_makeup(stage.model.v, prep.features, component_names,
                                    n=int(st.session_state["makeup_n"]))
chart(charts.component_makeup_chart, makeup, key="pca_makeup_chart")
navigation.link("names", "Next: name the components")
