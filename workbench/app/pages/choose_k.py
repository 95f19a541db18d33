"""Choose k: SSE elbow, silhouette, Calinski–Harabasz, Davies–Bouldin and bootstrap stability
over a range of k, with a recommended k and the reason for it."""
import streamlit as st

from workbench.analysis import choosing_k
from workbench.app import computations, navigation, widgets
from workbench.app.current import kept, scores

st.title("Choose k")
st.caption("K-Means is fitted for every k in the range on the kept component scores, and each clustering is "
           "scored five ways. " + choosing_k.RULE)

prep = navigation.require_prepared()
pca_run = navigation.require_pca(prep)
n = len(scores(prep, pca_run))

# --- Settings -----------------------------------------------------------------------------
low, high, reps, seed = st.columns(4)
wrong = [
    widgets.number("choosek_min", "Smallest k", where=low),
    widgets.number("choosek_max", "Largest k", where=high,
                   help="2 to 15 is the usual range; each extra k adds one fit per resample."),
    widgets.number("choosek_reps", "Bootstrap resamples per k", where=reps,
                   help="For the stability criterion (0 skips it). More resamples: steadier, slower."),
    widgets.number("choosek_seed", "Seed", where=seed),
]
k_min, k_max = st.session_state["choosek_min"], st.session_state["choosek_max"]
if not any(wrong) and k_min > k_max:
    wrong.append("The smallest k must not exceed the largest k.")
    st.error(wrong[-1], icon=":material/error:")
valid = not any(wrong)
k_values = list(range(int(k_min), int(k_max) + 1)) if valid else []
n_reps, n_seed = st.session_state["choosek_reps"], st.session_state["choosek_seed"]

found = computations.on_demand(st, "Evaluate k", "choosek_run",
                               computations.k_selection_key(prep, pca_run, k_values, n_reps, n_seed),
                               lambda: computations.evaluate_k(prep, pca_run, k_values, n_reps, n_seed),
                               "Choosing k failed", disabled=not valid, primary=True)

if found is None:
    if valid:
        st.info(f"Press **Evaluate k** to score k = {k_min}…{k_max} on the {kept(pca_run)} kept components "
                f"of {n:,} counties.", icon=":material/info:")
    navigation.stop()

selection, spec = found
st.session_state["choosek_recommended"] = selection.recommended  # readable by tests and other pages


def _use_recommended():
    st.session_state["kmeans_k"] = int(selection.recommended)


st.success(f"**Recommended k = {selection.recommended}.** {selection.reason}", icon=":material/recommend:")
if selection.weak_recommendation:
    st.warning(selection.weak_recommendation, icon=":material/warning:")
if selection.knee is not None:
    st.caption(f"The SSE curve bends most at k = {selection.knee} (orange ring).")
else:
    st.caption("The SSE curve has no clear knee in this range.")
use, go = st.columns([1, 2])
use.button(f"Use k = {selection.recommended} for K-Means", key="choosek_use", on_click=_use_recommended,
           icon=":material/check:")
with go:
    navigation.link("clusters", "Then train K-Means on the Clusters page")

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
