"""County map: a choropleth of the clusters, of any feature or of a component score, drawn
offline from the Census Bureau's county boundaries. Clicking a county selects it in Explore."""
import streamlit as st

from workbench.analysis import county_shares, geography, text
from workbench.app import chart_specs, computations, derived, names, navigation
from workbench.app.data import data_key
from workbench.app.errors import shows_errors
from workbench.charts import county_map

st.title("County map")

prep = navigation.require_prepared()
pca_run = navigation.require_pca(prep)
run = navigation.require_kmeans(pca_run)
id_column = prep.clean.schema.id_column
if not id_column:
    st.info("The map joins counties on their FIPS code, and this table has no id column (such as CensusId, FIPS "
            "or GEOID). Load a table with one on the Data page.", icon=":material/info:")
    navigation.link("data")
    navigation.stop()

table = derived.labeled(prep, pca_run, run)
labels = names.cluster_labels(run)
level = prep.clean.schema.geography
if level in county_shares.UNIT_WORDS:  # tracts or block groups: the map draws counties
    units = county_shares.UNIT_WORDS[level]
    cluster = st.selectbox(f"Colour each county by the share of its {units} in", list(range(len(labels))),
                           format_func=lambda c: labels[c], key="map_share_cluster")
    with shows_errors("The map could not be drawn"):
        shares = derived.county_shares(prep, table, id_column, level, run)
        values = derived.county_share_values(shares, cluster, labels)
        join = chart_specs.map_join(data_key(prep), tuple(values["fips"].tolist()))
        spec = chart_specs.map_spec(values, "share", "quantitative", ("units", "most units in"),
                                    f"Share of {units} in {labels[cluster]}", (0.0, 1.0))
    st.vega_lite_chart(spec, width="stretch", key="map_chart_shares")
    st.info(text.markdown(shares.note(labels[cluster])), icon=":material/info:")
    with st.expander("How the table joins the map"):
        st.text(join.summary())
    navigation.stop()
component_names = names.component_columns(pca_run)
name_columns = list(prep.clean.schema.name_columns)
# Computed on the Profiles page for this very run (its keyed cache), never an earlier run's.
confidence = computations.confidence_for(prep, run, st.session_state.get("prof_draws"))
if confidence is not None and not confidence.index.equals(table.index):
    confidence = None

LAYERS = {"cluster": "Clusters", "feature": "A feature (original units)", "component": "A component score"}
if confidence is not None:
    LAYERS["confidence"] = "Membership confidence"
if st.session_state.get("map_layer") not in LAYERS:  # the confidence layer went with its computation
    st.session_state["map_layer"] = "cluster"
layer_column, what_column = st.columns([1, 2])
layer = layer_column.radio("Colour counties by", list(LAYERS), format_func=LAYERS.get, key="map_layer")

if layer == "cluster":
    value_name, value_type = "cluster", "nominal"
elif layer == "feature":
    value_name, value_type = what_column.selectbox("Feature", list(prep.features), key="map_feature"), "quantitative"
elif layer == "component":
    if st.session_state.get("map_component") not in component_names:  # a view setting: the names may have changed
        st.session_state["map_component"] = component_names[0]
    value_name, value_type = what_column.selectbox("Component", component_names, key="map_component"), "quantitative"
else:
    value_name, value_type = "confidence", "quantitative"
    what_column.caption("Share of the margin-of-error draws that keep each county in its cluster (Profiles page).")
values = derived.map_values(table, prep.clean.frame, id_column, name_columns, labels, layer, value_name, confidence)
tooltip = tuple(c for c in ("cluster", *name_columns) if c != value_name)

with shows_errors("The map could not be drawn"):
    join = chart_specs.map_join(data_key(prep), tuple(values["fips"].tolist()))
    spec = chart_specs.map_spec(values, value_name, value_type, tooltip,
                                f"{LAYERS[layer]}: {value_name}" if layer != "cluster" else f"{len(labels)} clusters",
                                tuple(labels) if layer == "cluster" else None)
event = st.vega_lite_chart(spec, width="stretch", on_select="rerun", selection_mode=county_map.COUNTY_PARAM,
                           key="countymap_chart")
st.caption("Click a county to select it for Explore (double-click clears). Alaska and Hawaii are inset; Puerto "
           "Rico sits south-east of Florida.")

# --- The clicked county -------------------------------------------------------------------
fips = county_map.selected_fips(getattr(event, "selection", None) if event is not None else None)
picked = derived.county_for_fips(table, id_column, fips)
if picked is not None and picked != st.session_state.get("map_county"):
    st.session_state["map_county"] = picked
    st.session_state["map_county_pending"] = picked  # Explore picks it up on its next run
picked = st.session_state.get("map_county")
if picked is not None and picked in table.index:
    row = table.loc[picked]
    with st.container(border=True):
        st.markdown(f"**{text.markdown(picked)}** (FIPS {geography.fips_code(row[id_column])}) is in "
                    f"**{text.markdown(labels[int(row['cluster'])])}**.")
        navigation.link("explore", "Open it in Explore")

with st.expander("How the table joins the map"):
    st.text(join.summary())
    if not join.unmatched.empty:
        st.dataframe(join.unmatched, hide_index=True, key="map_unmatched")
