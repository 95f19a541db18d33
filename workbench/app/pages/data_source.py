"""Data: choose the source, read the cleaning report, preview the table, look at any feature.
"""
from __future__ import annotations

import streamlit as st

from workbench.analysis import summaries
from workbench.app import data, navigation, session
from workbench.app import source as source_mod
from workbench.app.chart_specs import chart
from workbench.app.errors import shows_errors
from workbench.charts import stages as charts

st.title("Data")
st.caption("Choose the county table to segment. Every later page works on the table loaded here.")

# --- Source -------------------------------------------------------------------------------
kind = st.radio(
    "Source", list(source_mod.SOURCE_LABELS), format_func=source_mod.SOURCE_LABELS.get, horizontal=True, key="source_kind"
)
if kind == "default":
    session.set_source(source_mod.Source("default"))
elif kind == "upload":
    uploaded = st.file_uploader("CSV file, one row per county", type=["csv", "tsv", "txt"], key="source_upload")
    if uploaded is not None:
        session.set_source(data.remember_upload(uploaded))
    elif st.session_state["uploaded"]:
        kept = st.session_state["uploaded"]
        st.caption(f"Using the file uploaded earlier: **{kept['name']}**.")
        session.set_source(source_mod.Source("upload", kept["name"], kept["digest"]))
    else:
        st.info("Upload a CSV file to continue.", icon=":material/upload_file:")
        st.stop()
else:
    path_column, button_column = st.columns([5, 1], vertical_alignment="bottom")
    path_column.text_input(
        "File path or S3 URI", key="source_path", placeholder="/data/counties.csv or s3://bucket/key.csv"
    )
    if button_column.button("Load", key="source_load", type="primary", width="stretch"):
        session.set_source(source_mod.Source("path", st.session_state["source_path"].strip()))
    if data.current_source().kind != "path":
        st.info("Enter a path or an s3:// URI and press **Load**.", icon=":material/folder_open:")
        st.stop()

source = data.current_source()
loaded, reload = st.columns([6, 1], vertical_alignment="center")
if source.kind != "upload":
    reload.button("Reload", key="source_reload", on_click=data.reload_data, icon=":material/refresh:",
                  help="Read the source again (e.g. after the file changed or a network error).", width="stretch")
with shows_errors(f"Could not load {source.label}"):
    raw = data.raw_table()
    clean = data.clean_table()
report = clean.report
loaded.caption(f"Loaded {raw.attrs.get('source_description', source.label)}.")

# --- Cleaning report ----------------------------------------------------------------------
st.subheader("Cleaning report")
rows, kept_rows, features, dropped = st.columns(4)
rows.metric("Rows read", f"{report.rows_raw:,}")
kept_rows.metric("Counties kept", f"{report.rows_clean:,}")
features.metric("Numeric features", len(clean.features))
dropped.metric("Rows dropped", f"{report.rows_dropped:,}")
schema = clean.schema
st.markdown(
    f"Id column: **{schema.id_column or '—'}** · name columns: **{', '.join(schema.name_columns) or '—'}**"
    + (f" · ignored text columns: {', '.join(schema.ignored_columns)}" if schema.ignored_columns else "")
)
if not report.drops:
    st.success("Nothing was dropped: every row and feature is usable.", icon=":material/check_circle:")
for drop in report.drops:
    examples = "; ".join(drop.examples)
    st.warning(f"{drop.detail}  \nColumns: {', '.join(drop.columns)}.  \nExamples: {examples}.",
               icon=":material/filter_alt:")

# --- Preview ------------------------------------------------------------------------------
st.subheader("Preview")
st.caption(f"The first 100 of {report.rows_clean:,} cleaned rows. Click a column header to sort.")
st.dataframe(clean.frame.head(100), height=280, hide_index=True, key="data_preview")

# --- One feature --------------------------------------------------------------------------
st.subheader("A feature up close")
choose, bins_column, log_column = st.columns([3, 2, 1], vertical_alignment="bottom")
feature = choose.selectbox("Feature", clean.features, key="hist_feature")
bins = bins_column.slider("Bins", 5, 100, key="hist_bins")
log = log_column.checkbox("Log scale", key="hist_log", help="Bins of equal width in log10: for skewed counts "
                          "such as population. Zero and negative values are left out.")
chart_column, stats_column = st.columns([3, 1])
chart(charts.histogram, summaries.histogram_bins(clean.frame[feature], bins, log=log), feature, log=log,
             key="data_histogram", where=chart_column)
stats_column.dataframe(
    summaries.summary_statistics(clean.frame[feature]),
    hide_index=True,
    column_config={"value": st.column_config.NumberColumn(format="%.4g")},
    key="data_feature_stats",
)
navigation.link("features", "Next: choose features and scaling")
