"""The County Segmentation Workbench app: `streamlit run workbench/streamlit_app.py`.

The entry point runs on every rerun: it makes the repository importable, sets up the session's
declared state, opens the run named in the address (?run=<id>) when the session does not have
it yet, runs the chosen page, and then draws the sidebar's pipeline status from what is current
and puts the current recorded run in the address. A page that ends early raises
navigation.PageStop (navigation.stop()), caught here, so the status and the address are still
drawn: st.stop() would make every later st.* call in the rerun stop too, leaving both undone.
"""
from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run workbench/streamlit_app.py` puts workbench/ on sys.path, not the repository root.
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import streamlit as st  # noqa: E402
from streamlit import config as streamlit_config  # noqa: E402

from workbench.app import navigation, opening, runs_handle, session, status  # noqa: E402

# .streamlit/config.toml applies only when the app starts from the repository (as ./run does):
# started from elsewhere, unexpected errors still show no traceback unless a setting asks for one.
if streamlit_config.get_where_defined("client.showErrorDetails") == streamlit_config.ConfigOption.DEFAULT_DEFINITION:
    st.set_option("client.showErrorDetails", "none")
st.set_page_config(page_title="County Segmentation Workbench", page_icon=":material/map:", layout="wide")
session.start()
runs_handle.start()
opening.from_address()
page = navigation.navigation()
with st.sidebar:
    status_slot = st.empty()
session.show_notices()
try:
    page.run()
except navigation.PageStop:  # a page ended early (navigation.stop(), never st.stop()): the rest still runs
    pass
finally:  # the status and the address show what this rerun left current, however the page ended
    status.draw(status_slot)
    opening.keep_in_address()
