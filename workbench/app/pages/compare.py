"""Compare: how far two runs agree — PCA subspaces and components, cluster labels and counties.
"""
from __future__ import annotations

import streamlit as st

from workbench.analysis import text
from workbench.app import navigation
from workbench.app.errors import USER_ERRORS
from workbench.app.navigation import require_runs
from workbench.runs import compare as cmp
from workbench.runs import pickers

st.title("Compare runs")
st.caption("Pick two runs: the principal angles and component matches say how far their PCA agrees; the adjusted "
           "Rand index, the matched clusters and the counties that move say how far their clusters agree.")

reg, listed = require_runs("compare_flash")

st.toggle("Include failed runs", key="compare_show_failed",
          help="Failed runs have no models or only some: comparing them says what is missing.")
shown = pickers.visible(listed, show_failed=bool(st.session_state.get("compare_show_failed")))
if shown.empty:
    st.info("Every run so far failed. Include failed runs above to look at them, or train a new one.",
            icon=":material/info:")
    navigation.stop()
labels = pickers.labels(shown)
ids = list(labels)
defaults = pickers.compare_defaults(shown)
for key, default in (("compare_a", defaults[0]), ("compare_b", defaults[1])):
    if st.session_state.get(key) not in labels:
        st.session_state[key] = default
left, right = st.columns(2)
a = left.selectbox("Run A", ids, format_func=labels.get, key="compare_a")
b = right.selectbox("Run B", ids, format_func=labels.get, key="compare_b")
if len(ids) == 1:
    st.caption("Only one run so far: it is compared with itself. Run again (e.g. on another backend from the Runs "
               "page) to compare two.")

try:
    with st.spinner("Comparing…"):
        comparison = cmp.compare_runs(a, b, store=reg)
except USER_ERRORS as exc:
    st.error(f"**The runs could not be compared:** {text.markdown(exc)}", icon=":material/error:")
    navigation.stop()

for note in comparison.notes:
    st.info(text.markdown(note), icon=":material/info:")

km, pca = comparison.kmeans, comparison.pca
metrics = st.columns(5)
if km is not None:
    metrics[0].metric("Adjusted Rand index", f"{km.ari:.3f}", help="1 = the same partition; about 0 = unrelated.")
    metrics[1].metric("Normalized mutual information", f"{km.nmi:.3f}")
    metrics[2].metric("Counties in the same matched cluster", f"{km.agreement:.1%}")
    metrics[3].metric("Counties compared", f"{km.n_counties:,}",
                      help=f"{km.only_in_a} only in A, {km.only_in_b} only in B.")
if pca is not None:
    metrics[4].metric("Largest principal angle", f"{pca.max_angle_deg:.2f}°",
                      help="0° everywhere: both runs keep the same subspace.")
st.session_state["compare_result"] = {  # the headline numbers, also readable by tests
    "ari": km.ari if km is not None else None, "nmi": km.nmi if km is not None else None,
    "max_angle_deg": pca.max_angle_deg if pca is not None else None,
}

with st.expander("Settings side by side", expanded=False):
    st.dataframe(comparison.settings.astype(str), key="compare_settings")

st.subheader("PCA")
if pca is None:
    st.info("These runs share no comparable PCA components.", icon=":material/info:")
else:
    angles_col, matches_col = st.columns([1, 2])
    angles_col.markdown("**Principal angles** (degrees, smallest first)")
    angles_col.dataframe(pca.angles, hide_index=True, key="compare_angles",
                         column_config={"degrees": st.column_config.NumberColumn("degrees", format="%.3f"),
                                        "cosine": st.column_config.NumberColumn("cosine", format="%.4f")})
    matches_col.markdown("**Component matches** (Tucker congruence after aligning order and sign)")
    matches_col.dataframe(pca.matches, hide_index=True, key="compare_component_matches",
                          column_config={"congruence": st.column_config.NumberColumn("congruence", format="%.3f")})

st.subheader("Clusters")
if km is None:
    st.info("Both runs need labeled counties to compare their clusters.", icon=":material/info:")
else:
    st.markdown("**Matched clusters** (Hungarian matching on shared counties, with their Jaccard index)")
    st.dataframe(km.matches, hide_index=True, key="compare_cluster_matches",
                 column_config={"jaccard": st.column_config.NumberColumn("jaccard", format="%.3f")})
    st.markdown("**Contingency table** (rows: run A's clusters, columns: run B's)")
    st.dataframe(km.contingency_named(), key="compare_contingency")
    st.markdown(f"**Counties that change cluster:** {len(km.changes):,}")
    if len(km.changes):
        st.dataframe(km.changes, height=320, key="compare_changes")


def carry() -> None:
    try:
        record = cmp.carry_names(comparison, store=reg, overwrite=bool(st.session_state.get("compare_overwrite")))
    except USER_ERRORS as exc:
        st.session_state["compare_flash"] = ("error", f"**The names could not be carried over:** {text.markdown(exc)}")
        return
    components = text.markdown(", ".join(n for n in record.component_names if n)) or "none"
    clusters = text.markdown(", ".join(n for n in record.cluster_names if n)) or "none"
    st.session_state["compare_flash"] = ("success", f"Run B ({text.markdown(record.display_name)}) is now named — "
                                                    f"components: {components}; clusters: {clusters}.")


st.subheader("Names")
with st.container(border=True):
    carried = comparison.carried_names(overwrite=bool(st.session_state.get("compare_overwrite")))
    st.caption("Copy run A's component and cluster names onto their matches in run B (kept in B's names history).")
    st.checkbox("Overwrite names run B already has", key="compare_overwrite")
    if carried:
        preview = {kind: text.markdown(", ".join(n or "—" for n in names)) for kind, names in carried.items()}
        st.markdown("  \n".join(f"**{kind} after carrying:** {shown}" for kind, shown in preview.items()))
    st.button("Carry names from A to B", key="compare_carry", on_click=carry, icon=":material/content_copy:",
              disabled=a == b)
