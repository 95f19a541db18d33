"""Name components: the analyst names each kept component; names follow into every later chart and export."""
import streamlit as st

from workbench.analysis import naming, summaries, text
from workbench.app import names, navigation
from workbench.app.chart_specs import chart
from workbench.app.current import kept
from workbench.charts import stages as charts

st.title("Name components")
st.caption("Give each kept component a name that says what a high score means. Blank names stay pc1, pc2, …; "
           "names must be unique. They are kept with this PCA run and used on every page after this one.")

prep = navigation.require_prepared()
run = navigation.require_pca(prep)
top = kept(run)
stage = run.stage
suggestions = names.suggested_component_names(prep, run)


table = naming.naming_table(stage.model.v, prep.features, stage.explained_variance_ratio,
                            names.component_names(run), suggestions)
names.editor(
    names.COMPONENT, run, table.assign(variance=table["variance"] * 100), count=top, suggestions=suggestions,
    disabled=["component", "suggested", "strongest weights", "variance"], buttons_key="names",
    column_config={
        "component": st.column_config.TextColumn("component", width="small"),
        "name": st.column_config.TextColumn("name", help="Your name for this component", max_chars=60),
        "suggested": st.column_config.TextColumn("suggested", help="From the strongest positive and negative weights"),
        "strongest weights": st.column_config.TextColumn("strongest weights"),
        "variance": st.column_config.NumberColumn("variance", format="%.2f%%",
                                                  help="The component's exact share of the total variance"),
    },
)

component_names = names.component_columns(run)
st.markdown("**In use:** " + " · ".join(text.markdown(name) for name in component_names))

st.subheader("The components, as named")
makeup = summaries.component_makeup(stage.model.v, prep.features, component_names,
                                    n=int(st.session_state["makeup_n"]))
chart(charts.component_makeup_chart, makeup, key="names_makeup_chart")
navigation.link("clusters", "Next: cluster the counties")
