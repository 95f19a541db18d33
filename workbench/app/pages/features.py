"""Features: choose the features and the feature recipe — counts as rates, skewed features
re-expressed, the scaling — then check the scaled summary."""
import streamlit as st

from workbench.analysis import margins, summaries, text
from workbench.app import data, navigation
from workbench.app.chart_specs import chart
from workbench.app.errors import shows_errors
from workbench.charts import stages as charts
from workbench.core import recipes, scaling

st.title("Features")
st.caption("Choose which numeric columns describe a county, and how to put them on one scale.")

clean = navigation.require_data()
all_features = list(clean.features)


def _preset(name: str) -> None:
    st.session_state["feature_select"] = margins.feature_preset(name, all_features)
    recipe = margins.preset_recipe(name, all_features)
    rates = recipe.rates if recipe is not None else None
    st.session_state["recipe_total"] = rates.total if rates else ""
    st.session_state["recipe_counts"] = list(rates.counts) if rates else []
    st.session_state["recipe_keep_total"] = bool(rates.keep_total) if rates else False


def _suggest_transforms() -> None:
    suggested = recipes.suggest_transforms(clean.frame, st.session_state["feature_select"])
    st.session_state["recipe_log1p"] = sorted(f for f, how in suggested.items() if how == "log1p")
    st.session_state["recipe_asinh"] = sorted(f for f, how in suggested.items() if how == "asinh")


st.multiselect("Features", all_features, key="feature_select",
               help="Every numeric column of the cleaned table is available; all are used by default.")
every, recommended, counts = st.columns([1, 1, 4], vertical_alignment="center")
every.button("Walkthrough preset", key="features_all", on_click=_preset, args=("walkthrough",), width="stretch",
             help=margins.PRESETS["walkthrough"])
recommended.button("Recommended preset", key="features_recommended", on_click=_preset, args=("recommended",),
                   width="stretch", help=margins.PRESETS["recommended"] + " Counts become rates of the population.")
counts.caption(f"{len(st.session_state['feature_select'])} of {len(all_features)} features chosen.")
chosen = list(st.session_state["feature_select"])
if not chosen:
    st.error("Choose at least one feature: PCA and everything after it need some.", icon=":material/error:")
    navigation.stop()

with st.expander("Feature recipe: counts as rates, skewed features re-expressed",
                 expanded=bool(st.session_state["recipe_total"] or st.session_state["recipe_log1p"]
                               or st.session_state["recipe_asinh"])):
    st.caption("Geodemographic classifications turn counts into rates of a total, so a county's size does not "
               "dominate, and pull in long tails before scaling. The recipe is recorded with each run and applied "
               "again when the run is reopened.")
    total, made, keep = st.columns([1, 2, 1], vertical_alignment="bottom")
    total.selectbox("Rates of", ["", *chosen], key="recipe_total", format_func=lambda c: c or "(no rates)")
    made.multiselect("Counts made rates (“Men per TotalPop”)",
                     [c for c in chosen if c != st.session_state["recipe_total"]], key="recipe_counts",
                     disabled=not st.session_state["recipe_total"])
    keep.checkbox("Keep the total as a feature", key="recipe_keep_total",
                  disabled=not st.session_state["recipe_total"])
    logs, sinhs, suggest = st.columns([2, 2, 1], vertical_alignment="bottom")
    logs.multiselect("log1p (non-negative, right-skewed)", chosen, key="recipe_log1p",
                     help=recipes.TRANSFORMS["log1p"])
    sinhs.multiselect("asinh (also for zero and negatives)", chosen, key="recipe_asinh",
                      help=recipes.TRANSFORMS["asinh"])
    suggest.button("Suggest for skewed features", key="recipe_suggest", on_click=_suggest_transforms,
                   width="stretch")

st.radio(
    "Scaling recipe",
    list(scaling.SCALERS),
    format_func=lambda name: scaling.SCALERS[name].label,
    horizontal=True,
    key="scaler",
)
st.caption(scaling.SCALERS[st.session_state["scaler"]].description)

with shows_errors("This recipe cannot be used"):
    data.feature_recipe()
prep = navigation.require_prepared()
report = prep.clean.report
if report.rows_clean != clean.report.rows_clean or report.drops != clean.report.drops:
    st.info(f"With these features, {report.rows_clean:,} of {report.rows_raw:,} rows are kept.",
            icon=":material/filter_alt:")
dropped = sorted(set(chosen) - set(prep.features) - set(prep.recipe.inputs if prep.recipe else ()))
if dropped:
    st.info(f"Cleaning dropped the feature(s) {text.markdown(', '.join(dropped))} (blank, constant or a copy of "
            "another).", icon=":material/filter_alt:")

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
