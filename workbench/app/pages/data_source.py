"""Data: choose the source, read the cleaning report, preview the table, look at any feature."""
import streamlit as st

from workbench.analysis import formatting, summaries, text
from workbench.app import data, navigation, session
from workbench.app import source as source_mod
from workbench.app.census_form import census_form
from workbench.app.chart_specs import chart
from workbench.app.errors import shows_errors
from workbench.charts import stages as charts

st.title("Data")
st.caption("Choose the table to segment. Every later page works on the table loaded here.")

# --- Source -------------------------------------------------------------------------------
kind = st.radio(
    "Source", list(source_mod.SOURCE_LABELS), format_func=source_mod.SOURCE_LABELS.get, horizontal=True,
    key="source_kind",
)
if kind == "default":
    session.set_source(source_mod.Source("default"))
elif kind == "upload":
    uploaded = st.file_uploader("CSV file, one row per county", type=["csv", "tsv", "txt"], key="source_upload")
    if uploaded is not None:
        with shows_errors("The upload cannot be used"):
            session.set_source(data.remember_upload(uploaded))
    elif st.session_state["uploaded"]:
        kept = st.session_state["uploaded"]
        st.caption(f"Using the file uploaded earlier: **{text.markdown(kept['name'])}**.")
        session.set_source(source_mod.Source("upload", kept["name"], kept["digest"]))
    else:
        st.info("Upload a CSV file to continue.", icon=":material/upload_file:")
        navigation.stop()
elif kind == "census":
    census_form()
    if data.current_source().kind != "census":
        st.info("Choose the year, geography and variables, then press **Fetch**.", icon=":material/cloud_download:")
        navigation.stop()
else:
    path_column, button_column = st.columns([5, 1], vertical_alignment="bottom")
    path_column.text_input(
        "File path or S3 URI", key="source_path", placeholder="/data/counties.csv or s3://bucket/key.csv"
    )
    if button_column.button("Load", key="source_load", type="primary", width="stretch"):
        with shows_errors("This path cannot be used"):
            session.set_source(data.typed_source(st.session_state["source_path"]))
    if data.current_source().kind != "path":
        st.info("Enter a path or an s3:// URI and press **Load**.", icon=":material/folder_open:")
        navigation.stop()

source = data.current_source()
loaded, reload = st.columns([6, 1], vertical_alignment="center")
if source.kind not in ("upload", "census"):
    reload.button("Reload", key="source_reload", on_click=data.reload_data, icon=":material/refresh:",
                  help="Read the source again (e.g. after the file changed or a network error).", width="stretch")
with shows_errors(f"Could not load {text.markdown(source.label)}"):
    raw = data.raw_table()
    clean = data.clean_table()
report = clean.report
loaded.caption(f"Loaded {text.markdown(raw.attrs.get('source_description', source.label))}.")

# --- Cleaning report ----------------------------------------------------------------------
st.subheader("Cleaning report")
rows, kept_rows, features, dropped = st.columns(4)
rows.metric("Rows read", formatting.count(report.rows_raw))
kept_rows.metric("Rows kept", formatting.count(report.rows_clean))
features.metric("Numeric features", len(clean.features))
dropped.metric("Rows dropped", formatting.count(report.rows_dropped))
schema = clean.schema
st.markdown("  \n".join(data.schema_lines(schema)))
if not report.drops and not report.warnings:
    st.success("Nothing was dropped: every row and feature is usable.", icon=":material/check_circle:")
for drop in report.drops:
    st.warning(f"{text.markdown(drop.detail)}  \nColumns: {text.markdown(', '.join(drop.columns))}.  \n"
               f"Examples: {text.markdown('; '.join(drop.examples))}.", icon=":material/filter_alt:")
for warning in report.warnings:
    st.warning(text.markdown(warning.detail), icon=":material/content_copy:")
for note in report.parsing.get("notes", []):
    st.info(text.markdown(note), icon=":material/text_fields:")

# --- Preview ------------------------------------------------------------------------------
st.subheader("Preview")
st.caption(f"The first 100 of {formatting.count(report.rows_clean)} cleaned rows. Click a column header to sort.")
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
stats_column.dataframe(formatting.formatted_table(summaries.summary_statistics(clean.frame[feature])),
                       hide_index=True, key="data_feature_stats")
navigation.link("features", "Next: choose features and scaling")
