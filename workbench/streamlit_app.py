"""The County Segmentation Workbench app: `streamlit run workbench/streamlit_app.py`.

The entry point runs on every rerun: it makes the repository importable, initialises the
session's shared state, draws the sidebar's pipeline status and runs the chosen page.
"""
from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run workbench/streamlit_app.py` puts workbench/ on sys.path, not the repository root.
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import streamlit as st  # noqa: E402

from workbench.app import common  # noqa: E402

st.set_page_config(page_title="County Segmentation Workbench", page_icon=":material/map:", layout="wide")
common.init_state()
common.start_registry()

pages = common.pages()
navigation = st.navigation(
    {
        "Prepare": [pages["data"], pages["features"]],
        "Reduce": [pages["pca"], pages["names"]],
        "Segment": [pages["clusters"], pages["explore"], pages["export"]],
        "Understand": [pages["choose_k"], pages["profiles"], pages["map"]],
        "Runs": [pages["runs"], pages["compare"]],
        "Cloud": [pages["endpoints"]],
    }
)

with st.sidebar:
    status = st.empty()
common.show_status(status)

navigation.run()
