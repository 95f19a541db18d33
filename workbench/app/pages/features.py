"""Features: choose the features and the scaling recipe, then check the scaled summary."""
import streamlit as st

from workbench.analysis import margins, summaries
from workbench.app import navigation
from workbench.app.chart_specs import chart
from workbench.charts import stages as charts
from workbench.core import scaling

st.title("Features")
st.caption("Choose which numeric columns describe a county, and how to put them on one scale.")

clean = navigation.require_data()
all_features = list(clean.features)


def _select(features):
    st.session_state["feature_select"] = list(features)


st.multiselect("Features", all_features, key="feature_select",
               help="Every numeric column of the cleaned table is available; all are used by default.")
every, recommended, counts = st.columns([1, 1, 4], vertical_alignment="center")
every.button("Walkthrough preset", key="features_all", on_click=_select, args=(all_features,), width="stretch",
             help=margins.PRESETS["walkthrough"])
recommended.button("Recommended preset", key="features_recommended", on_click=_select,
                   args=(margins.feature_preset("recommended", all_features),), width="stretch",
                   help=margins.PRESETS["recommended"])
counts.caption(f"{len(st.session_state['feature_select'])} of {len(all_features)} features chosen.")
if not st.session_state["feature_select"]:
    st.error("Choose at least one feature: PCA and everything after it need some.", icon=":material/error:")
    st.stop()

st.radio(
    "Scaling recipe",
    list(scaling.SCALERS),
    format_func=lambda name: scaling.SCALERS[name].label,
    horizontal=True,
    key="scaler",
)
st.caption(scaling.SCALERS[st.session_state["scaler"]].description)

prep = navigation.require_prepared()
report = prep.clean.report
if report.rows_clean != clean.report.rows_clean or report.drops != clean.report.drops:
    st.info(f"With these features, {report.rows_clean:,} of {report.rows_raw:,} rows are kept.",
            icon=":material/filter_alt:")
dropped = sorted(set(st.session_state["feature_select"]) - set(prep.features))
if dropped:
    st.info(f"Cleaning dropped the feature(s) {', '.join(dropped)} (blank or constant).", icon=":material/filter_alt:")

st.subheader("Scaled summary")
summary = summaries.scaled_summary(prep.X, prep.features)
if prep.scaler.recipe == "minmax":
    st.caption("Min-max scaling: every feature now runs from exactly 0 to 1.")
else:
    st.caption("Z-score scaling: every feature now has mean 0 and standard deviation 1.")
table_column, chart_column = st.columns([2, 3])
table_column.dataframe(
    summary,
    hide_index=True,
    height=min(38 + 35 * len(summary), 760),
    column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("min", "mean", "std", "max")},
    key="features_summary",
)
chart(charts.scaled_range_chart, summary, key="features_chart", where=chart_column)
navigation.link("pca", "Next: train PCA")
