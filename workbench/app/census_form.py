"""The Data page's Census Data API form: a year, a geography, a state and a preset become a request,
fetched with its progress shown, then the session's table (workbench.core.census)."""
from __future__ import annotations

import streamlit as st

from workbench.app import session
from workbench.app.errors import shows_errors
from workbench.app.source import Source
from workbench.core import census, census_presets


def census_form() -> None:
    with st.form("census_form", border=True):
        year, geography, state, preset = st.columns(4)
        year.number_input("Year (ACS 5-year)", step=1, key="census_year",
                          help="The last year of the 5-year estimates, e.g. 2022 for 2018–2022 (2010 on).")
        geography.selectbox("Geography", census.GEOGRAPHIES, key="census_geography")
        state.text_input("State", key="census_state", placeholder="MN or 27",
                         help="USPS or FIPS code; blank for every state (counties only).")
        preset.selectbox("Variables", sorted(census_presets.PRESETS), key="census_preset",
                         help="walkthrough: the 2015 table's 34 features; recommended: rates and shares only "
                              "(docs/census.md lists every variable).")
        refresh = st.checkbox("Fetch again instead of reading the cache", key="census_refresh")
        fetch = st.form_submit_button("Fetch", type="primary", icon=":material/cloud_download:")
    if not fetch:
        return
    with shows_errors("The Census Data API request cannot be made"):
        request = census.CensusRequest.create(st.session_state["census_year"], st.session_state["census_geography"],
                                              state=st.session_state["census_state"].strip() or None,
                                              preset=st.session_state["census_preset"])
        bar = st.progress(0.0, text=f"Fetching {request.describe()}…")
        census.fetch_table(request, refresh=refresh,
                           progress=lambda done, total, message: bar.progress(min(1.0, done / max(total, 1)), message))
        bar.progress(1.0, text="Fetched.")
    session.set_source(Source("census", request.to_uri()))
