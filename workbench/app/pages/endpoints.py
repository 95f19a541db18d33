"""Endpoints: the live SageMaker endpoints the workbench created (they cost money while they run),
with a delete action.
"""
from __future__ import annotations

import streamlit as st

from workbench.analysis import text
from workbench.app import navigation
from workbench.app.errors import USER_ERRORS, shows_errors

st.title("Endpoints")
st.caption("The workbench creates no endpoint by default, but an interrupted endpoint run can leave one behind, "
           "billed by the hour. Only endpoints tagged as the workbench's are listed or deleted.")

try:
    from backends import sagemaker_endpoints
except ImportError as exc:  # the SageMaker SDK is not installed
    st.info(f"The SageMaker backends are not available here ({text.markdown(exc)}); there are no endpoints to manage.",
            icon=":material/info:")
    navigation.stop()

region_column, profile_column, refresh_column = st.columns([2, 2, 1])
region_column.text_input("AWS region", key="endpoints_region", placeholder="default: AWS_REGION / your profile's")
profile_column.text_input("AWS profile", key="endpoints_profile", placeholder="default: the standard credential chain")
where = {"region": st.session_state["endpoints_region"].strip() or None,
         "profile": st.session_state["endpoints_profile"].strip() or None}
where_key = (where["region"], where["profile"])


def _list() -> None:
    try:
        found = sagemaker_endpoints.list_workbench_endpoints(**where)
        st.session_state["endpoints_list"] = {"where": where_key, "items": [e.to_dict() for e in found], "error": None}
    except USER_ERRORS as exc:
        st.session_state["endpoints_list"] = {"where": where_key, "items": [], "error": str(exc) or type(exc).__name__}


refresh = refresh_column.button("Refresh", key="endpoints_refresh", icon=":material/refresh:")
listing = st.session_state.get("endpoints_list")
if refresh or listing is None or listing["where"] != where_key:
    with st.spinner("Asking SageMaker for the workbench's endpoints…"):
        _list()
    listing = st.session_state["endpoints_list"]

if listing["error"]:
    st.error(f"**The endpoints could not be listed:** {text.markdown(listing['error'])}", icon=":material/cloud_off:")
    st.caption("Set a region and credentials (environment variables, `~/.aws` or a profile above), then press "
               "**Refresh**. The embedded backend needs none of this.")
    navigation.stop()

items = listing["items"]
if not items:
    st.success("No live endpoints created by the workbench in this region: nothing is being billed.",
               icon=":material/check_circle:")
    navigation.stop()

total = sum(item["hourly_cost_usd"] or 0 for item in items)
st.warning(f"{len(items)} live endpoint(s), about **${total:,.2f} per hour** together.", icon=":material/payments:")
st.dataframe(items, hide_index=True, key="endpoints_table", column_config={
    "hourly_cost_usd": st.column_config.NumberColumn("$/hour (est.)", format="$%.3f")})

names = [item["name"] for item in items]
if st.session_state.get("endpoints_delete_name") not in names:
    st.session_state["endpoints_delete_name"] = names[0]
pick, confirm, delete = st.columns([2, 1, 1])
name = pick.selectbox("Endpoint", names, key="endpoints_delete_name")
sure = confirm.checkbox("I am sure", key="endpoints_confirm")
if delete.button("Delete", key="endpoints_delete", type="primary", disabled=not sure, icon=":material/delete:"):
    with shows_errors("The endpoint could not be deleted", stop=False):
        deleted = sagemaker_endpoints.delete_workbench_endpoint(name, **where)
        st.success("Deleted " + ", ".join(deleted) + ".", icon=":material/check_circle:")
        _list()
