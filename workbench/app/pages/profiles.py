"""Profiles: each cluster in plain terms — index scores, shares, separating variables, box plots,
stability, membership confidence — and editable portraits exported as a report.
"""
from __future__ import annotations

import io
import zipfile

import streamlit as st

from workbench.analysis import formatting, portraits, stability, text
from workbench.analysis import profiles as profiles_mod
from workbench.app import computations, derived, names, navigation, widgets
from workbench.app.chart_specs import chart
from workbench.app.current import kept
from workbench.app.data import data_key
from workbench.app.errors import shows_errors
from workbench.charts import insight as insight_charts

st.title("Profiles")

prep = navigation.require_prepared()
pca_run = navigation.require_pca(prep)
run = navigation.require_kmeans(pca_run)
stage = run.stage
k = stage.model.k
labels = names.cluster_labels(run)
profile = derived.cluster_profile(prep, run)

# --- Shares -------------------------------------------------------------------------------
st.subheader("Size of each cluster")
shares = profile.shares.copy()
share_columns = {
    "county_share": st.column_config.ProgressColumn("share of counties", format="percent", min_value=0, max_value=1),
    "population_share": st.column_config.ProgressColumn("share of population", format="percent", min_value=0,
                                                        max_value=1),
    "population": st.column_config.NumberColumn("population", format="localized"),
}
st.dataframe(shares, hide_index=True, column_config=share_columns, key="prof_shares")
if profile.population_column is None:
    st.caption("The table has no population column, so only county shares are shown.")

# --- Index scores -------------------------------------------------------------------------
st.subheader("Index scores")
st.caption(f"Cluster mean ÷ mean of all counties × 100, in original units. 100 is average; at or above "
           f"{profiles_mod.HIGH:.0f} is high (red), at or below {profiles_mod.LOW:.0f} is low (blue).")
matrix = profiles_mod.index_matrix(profile.index)
st.dataframe(matrix.style.map(profiles_mod.index_colour).format("{:.0f}", na_rep="n/a"), key="prof_index")
with st.expander("Index scores as a heatmap"):
    chart(insight_charts.index_heatmap, profile.index, key="prof_index_chart")

# --- Separating variables and box plots ---------------------------------------------------
st.subheader("What separates the clusters")
separation_column, box_column = st.columns(2)
chart(insight_charts.separation_chart, profile.separation, key="prof_separation_chart",
                     where=separation_column)
features = list(profile.features)
if st.session_state.get("prof_feature") not in features:  # a view setting: the most separating feature
    st.session_state["prof_feature"] = profile.separation["feature"].iloc[0] if len(profile.separation) else features[0]
feature = box_column.selectbox("Feature for the box plot", features, key="prof_feature")
chart(insight_charts.box_plot_chart, profile.boxes, feature, key="prof_box_chart", where=box_column)
with st.expander("Separation table (R², ANOVA F)"):
    st.dataframe(profile.separation, hide_index=True, key="prof_separation_table")

# --- Stability ----------------------------------------------------------------------------
st.subheader("How stable is each cluster?")
st.caption("Counties are resampled with replacement, reclustered with the same k, and each cluster matched to "
           "its best bootstrap counterpart (Jaccard). Below 0.6 unstable, 0.75 and above stable.")
reps_column, stab_button = st.columns([1, 2])
wrong = widgets.number("prof_reps", "Resamples", where=reps_column)
reps = st.session_state["prof_reps"]
seed = computations.PROFILES_SEED
stab = computations.on_demand(stab_button, "Compute stability", "prof_stability_run",
                              computations.stability_key(prep, run, reps, seed),
                              lambda: computations.bootstrap_stability(prep, pca_run, run, reps, seed),
                              "Stability failed", disabled=bool(wrong))
if stab is not None:
    per_cluster = stab.with_names(labels)
    st.markdown(f"Mean stability **{stab.mean:.2f}** ({stability.stability_band(stab.mean)}), "
                f"least stable cluster {stab.minimum:.2f}.")
    chart(insight_charts.stability_chart, per_cluster, key="prof_stability_chart")
else:
    st.caption("Press **Compute stability** (a few seconds for 5 resamples).")

# --- Membership confidence ----------------------------------------------------------------
st.subheader("How sure is each county's membership?")
st.caption("Each county's ACS estimates are redrawn from their 90% margins of error (SE = MOE / 1.645), and each "
           "draw goes through the same scaling, PCA and nearest centroid. Confidence = share of draws that keep "
           "the county in its cluster.")
draws_column, threshold_column, conf_button = st.columns([1, 1, 1])
wrong = widgets.number("prof_draws", "Draws per county", where=draws_column, step=10)
threshold_column.slider("Uncertain below", 0.5, 1.0, step=0.05, key="prof_threshold")
draws = st.session_state["prof_draws"]
threshold = float(st.session_state["prof_threshold"])
confidence = computations.on_demand(conf_button, "Compute confidence", "prof_confidence_run",
                                    computations.confidence_key(prep, run, draws, seed),
                                    lambda: computations.membership_confidence(prep, pca_run, run, draws, seed),
                                    "Membership confidence failed", disabled=bool(wrong))
if confidence is not None:
    for note in confidence.notes:
        st.warning(note, icon=":material/warning:")
    chart(insight_charts.confidence_histogram, confidence.table, tuple(labels), threshold=threshold,
          key="prof_confidence_chart")
    uncertain = confidence.uncertain(threshold)
    table = derived.labeled(prep, pca_run, run)
    name_columns = [c for c in (prep.clean.schema.id_column, *prep.clean.schema.name_columns) if c]
    shown = table.loc[uncertain.index, name_columns].join(uncertain)
    shown["cluster_name"] = [labels[c] for c in shown["cluster"]]
    shown["runner_up_name"] = [labels[c] if c >= 0 else "" for c in shown["runner_up"]]
    st.markdown(f"**{len(uncertain):,}** of {len(confidence.table):,} counties stay in their cluster in fewer than "
                f"{threshold:.0%} of the draws.")
    st.dataframe(shown, column_config={
        "confidence": st.column_config.NumberColumn("confidence", format="%.2f"),
        "runner_up_share": st.column_config.NumberColumn("runner-up share", format="%.2f")},
        key="prof_uncertain")
else:
    st.caption("Press **Compute confidence** (a few seconds for 100 draws).")
with st.expander("Reliability of the estimates (coefficient of variation)"):
    st.caption("CV = SE / estimate: up to 12% reliable, 12–40% use with caution, above 40% unreliable.")
    st.dataframe(derived.reliability_summary(prep), hide_index=True, key="prof_reliability")

# --- Portraits and report -----------------------------------------------------------------
st.subheader("Segment portraits")
st.caption("A draft per cluster from its highest and lowest index scores. Edit freely; a blank description "
           "falls back on the draft.")
drafts = portraits.draft_portraits(profile, labels)
texts = []
for cluster, (label, draft) in enumerate(zip(labels, drafts)):
    key = f"prof_portrait_{run.job_name[-12:]}_{cluster}"
    if key not in st.session_state:
        st.session_state[key] = draft
    texts.append(st.text_area(f"{text.markdown(label)} (cluster {cluster})", key=key, height=80))
final = portraits.portraits_or_drafts(texts, drafts)


def _report() -> portraits.Report:
    charts = {
        "Index scores": insight_charts.index_heatmap(profile.index),
        "Variables that separate the clusters": insight_charts.separation_chart(profile.separation),
    }
    if stab is not None:
        charts["Cluster stability"] = insight_charts.stability_chart(stab.with_names(labels))
    notes = [f"Index = cluster mean / overall mean × 100; flagged at or above {profiles_mod.HIGH:.0f} and at or "
             f"below {profiles_mod.LOW:.0f}."]
    return portraits.Report(
        title=f"County segments (k = {k})",
        portraits=final,
        cluster_names=labels,
        intro=f"{len(prep.clean.frame):,} counties from {prep.source_description}, {len(prep.features)} features "
              f"scaled with {prep.scaler.recipe}; PCA {pca_run.job_name} ({kept(pca_run)} components kept); "
              f"K-Means {run.job_name}.",
        facts={"k": k, "counties": len(prep.clean.frame), "features": len(prep.features)},
        tables={"Cluster sizes": shares, "Index scores": formatting.formatted_table(matrix.round(0).reset_index(), by_name=False)},
        charts=charts,
        notes=notes,
    )


# What the report shows: a report prepared before the names or portraits changed is not offered as current.
report_key = (data_key(prep), run.job_name, tuple(labels), tuple(final))
if st.button("Prepare the report", key="prof_report_run", icon=":material/description:"):
    with shows_errors("The report could not be built", stop=False):
        with st.spinner("Rendering the report and its charts…"):
            stem = f"segments-k{k}"
            files = portraits.report_files(_report(), stem=stem)
            csv = derived.export_files(prep, pca_run, run)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, payload in {**csv, **{n: b for n, b in files.items() if not n.endswith(".html")}}.items():
                    archive.writestr(name, payload)
            html_name = f"{stem}-report.html"
            st.session_state["report_files"] = {"zip": buffer.getvalue(), "html": files.get(html_name, b""),
                                                "html_name": html_name, "stem": stem,
                                                "run": report_key}
report = st.session_state.get("report_files")
# An earlier run's report, this run's on another table, or one with other names or portraits, is not offered.
if report and report.get("run") == report_key:
    left, right = st.columns(2)
    left.download_button("Download the Markdown report with the CSVs (zip)", report["zip"],
                         file_name=f"{report['stem']}.zip", mime="application/zip", key="prof_download_zip",
                         icon=":material/folder_zip:")
    right.download_button("Download the HTML report", report["html"], file_name=report["html_name"],
                          mime="text/html", key="prof_download_html", icon=":material/html:")
navigation.link("map", "Next: see the clusters on the map")
