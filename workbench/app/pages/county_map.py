"""County map: a choropleth of the clusters, of any feature or of a component score, drawn
offline from the Census Bureau's county boundaries. Clicking a county selects it in Explore.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.analysis import geography
from workbench.app import common
from workbench.charts import county_map

st.title("County map")

prep = common.require_prepared()
pca_run = common.require_pca(prep)
run = common.require_kmeans(pca_run)
id_column = prep.clean.schema.id_column
if not id_column:
    st.info("The map joins counties on their FIPS code, and this table has no id column (such as CensusId, FIPS "
            "or GEOID). Load a table with one on the Data page.", icon=":material/info:")
    common.link("data")
    st.stop()

table = common.labeled(prep, pca_run, run)
labels = common.cluster_labels(run)
component_names = common.component_columns(pca_run)
name_columns = list(prep.clean.schema.name_columns)
confidence = st.session_state.get("membership_confidence")
if confidence is not None and not confidence.index.equals(table.index):
    confidence = None

LAYERS = {"cluster": "Clusters", "feature": "A feature (original units)", "component": "A component score"}
if confidence is not None:
    LAYERS["confidence"] = "Membership confidence"
if st.session_state.get("map_layer") not in LAYERS:
    st.session_state["map_layer"] = "cluster"
layer_column, what_column = st.columns([1, 2])
layer = layer_column.radio("Colour counties by", list(LAYERS), format_func=LAYERS.get, key="map_layer")

values = pd.DataFrame({"fips": table[id_column].to_numpy()}, index=table.index)
for column in name_columns:
    values[column] = table[column].to_numpy()
values["cluster"] = [labels[c] for c in table["cluster"]]
if layer == "cluster":
    value_name, value_type = "cluster", "nominal"
elif layer == "feature":
    features = list(prep.features)
    if st.session_state.get("map_feature") not in features:
        st.session_state["map_feature"] = features[0]
    value_name = what_column.selectbox("Feature", features, key="map_feature")
    values[value_name] = prep.clean.frame[value_name].to_numpy()
    value_type = "quantitative"
elif layer == "component":
    if st.session_state.get("map_component") not in component_names:
        st.session_state["map_component"] = component_names[0]
    value_name = what_column.selectbox("Component", component_names, key="map_component")
    values[value_name] = table[value_name].to_numpy()
    value_type = "quantitative"
else:
    value_name, value_type = "confidence", "quantitative"
    values[value_name] = confidence["confidence"].to_numpy()
    what_column.caption("Share of the margin-of-error draws that keep each county in its cluster (Profiles page).")
tooltip = tuple(c for c in ("cluster", *name_columns) if c != value_name)

with common.shows_errors("The map could not be drawn"):
    join = common.map_join(common.data_key(prep), tuple(values["fips"].tolist()))
    spec = common.map_spec(values.reset_index(drop=True), value_name, value_type, tooltip,
                           f"{LAYERS[layer]}: {value_name}" if layer != "cluster" else f"{len(labels)} clusters",
                           tuple(labels) if layer == "cluster" else None)
event = st.vega_lite_chart(spec, width="stretch", on_select="rerun", selection_mode=county_map.COUNTY_PARAM,
                           key="countymap_chart")
st.caption("Click a county to select it for Explore (double-click clears). Alaska and Hawaii are inset; Puerto "
           "Rico sits south-east of Florida.")

# --- The clicked county -------------------------------------------------------------------
fips = county_map.selected_fips(getattr(event, "selection", None) if event is not None else None)
picked = common.county_for_fips(table, id_column, fips)
if picked is not None and picked != st.session_state.get("map_county"):
    st.session_state["map_county"] = picked
    st.session_state["map_county_pending"] = picked  # Explore picks it up on its next run
picked = st.session_state.get("map_county")
if picked is not None and picked in table.index:
    row = table.loc[picked]
    with st.container(border=True):
        st.markdown(f"**{picked}** (FIPS {geography.fips_code(row[id_column])}) is in **{labels[int(row['cluster'])]}**.")
        common.link("explore", "Open it in Explore")

with st.expander("How the table joins the map"):
    st.text(join.summary())
    if not join.unmatched.empty:
        st.dataframe(join.unmatched, hide_index=True, key="map_unmatched")
