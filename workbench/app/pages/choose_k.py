"""Choose k: SSE elbow, silhouette, Calinski–Harabasz, Davies–Bouldin and bootstrap stability
over a range of k, with a recommended k and the reason for it.
"""
from __future__ import annotations

import streamlit as st

from workbench.analysis import choosing_k
from workbench.app import common

st.title("Choose k")
st.caption("K-Means is fitted for every k in the range on the kept component scores, and each clustering is "
           "scored five ways. " + choosing_k.RULE)

prep = common.require_prepared()
pca_run = common.require_pca(prep)
n = len(common.scores(prep, pca_run))

# --- Settings -----------------------------------------------------------------------------
common.clamp("choosek_min", 2, max(2, n - 1))
common.clamp("choosek_max", 2, max(2, n - 1))
low, high, reps, seed = st.columns(4)
low.number_input("Smallest k", min_value=2, max_value=max(2, n - 1), step=1, key="choosek_min")
high.number_input("Largest k", min_value=2, max_value=max(2, n - 1), step=1, key="choosek_max",
                  help="2 to 15 is the usual range; each extra k adds one fit per resample.")
reps.number_input("Bootstrap resamples per k", min_value=0, max_value=100, step=1, key="choosek_reps",
                  help="For the stability criterion (0 skips it). More resamples: steadier, slower "
                       "(about 30 s for k = 2…15 with 10 resamples on the census).")
seed.number_input("Seed", min_value=0, step=1, key="choosek_seed")

k_min, k_max = int(st.session_state["choosek_min"]), int(st.session_state["choosek_max"])
k_values = list(range(k_min, k_max + 1))
n_reps, n_seed = int(st.session_state["choosek_reps"]), int(st.session_state["choosek_seed"])
valid = k_min <= k_max
if not valid:
    st.error("The smallest k must not exceed the largest k.", icon=":material/error:")

key = common.k_selection_key(pca_run, k_values, n_reps, n_seed)
found = common.cached_k_selection(key) if valid else None
if st.button("Evaluate k", key="choosek_run", type="primary", icon=":material/play_arrow:", disabled=not valid):
    with common.shows_errors("Choosing k failed"):
        found = common.evaluate_k(prep, pca_run, k_values, n_reps, n_seed)

if found is None:
    st.info(f"Press **Evaluate k** to score k = {k_min}…{k_max} on the {common.kept(pca_run)} kept components "
            f"of {n:,} counties.", icon=":material/info:")
    st.stop()

selection, spec = found
st.session_state["choosek_recommended"] = selection.recommended  # readable by tests and other pages


def _use_recommended():
    st.session_state["kmeans_k"] = int(selection.recommended)


st.success(f"**Recommended k = {selection.recommended}.** {selection.reason}", icon=":material/recommend:")
if selection.knee is not None:
    st.caption(f"The SSE curve bends most at k = {selection.knee} (orange ring).")
else:
    st.caption("The SSE curve has no clear knee in this range.")
use, go = st.columns([1, 2])
use.button(f"Use k = {selection.recommended} for K-Means", key="choosek_use", on_click=_use_recommended,
           icon=":material/check:")
with go:
    common.link("clusters", "Then train K-Means on the Clusters page")

st.vega_lite_chart(spec, width="stretch", key="choosek_chart")
st.subheader("The numbers")
st.dataframe(
    selection.table.drop(columns=["is_knee"], errors="ignore"),
    hide_index=True,
    column_config={
        "sse": st.column_config.NumberColumn("SSE", format="%.4g"),
        "silhouette": st.column_config.NumberColumn("silhouette ↑", format="%.3f"),
        "calinski_harabasz": st.column_config.NumberColumn("Calinski–Harabasz ↑", format="%.1f"),
        "davies_bouldin": st.column_config.NumberColumn("Davies–Bouldin ↓", format="%.3f"),
        "stability": st.column_config.NumberColumn("stability ↑", format="%.3f"),
        "stability_min": st.column_config.NumberColumn("least stable cluster", format="%.3f"),
        "elbow": st.column_config.NumberColumn("elbow distance", format="%.3f"),
        "is_recommended": st.column_config.CheckboxColumn("recommended"),
    },
    key="choosek_table",
)
with st.expander("How each k ranked"):
    st.dataframe(selection.ranking, hide_index=True, key="choosek_ranking")
