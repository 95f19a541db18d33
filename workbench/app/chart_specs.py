"""Drawing the chart builders' charts (workbench.charts), their specs cached on their inputs.

Altair validates a chart against the Vega-Lite schema each time it is serialised, which costs
tens of milliseconds; the spec is cached on the chart's inputs instead, so a rerun with
unchanged inputs only hashes them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st


@st.cache_data(show_spinner=False, max_entries=256)
def _spec(module: str, builder: str, args: tuple, kwargs: dict) -> dict:
    import importlib

    spec = getattr(importlib.import_module(module), builder)(*args, **kwargs).to_dict()
    spec.pop("config", None)  # Altair's default theme fixes a 300 px view; Streamlit sizes the chart itself
    return spec


def chart(builder: Callable[..., Any], *args: Any, key: str, where: Any = None, **kwargs: Any) -> None:
    """Draw `builder(*args, **kwargs)` (a workbench.charts builder) at full width."""
    spec = _spec(builder.__module__, builder.__name__, args, kwargs)
    (where or st).vega_lite_chart(spec, width="stretch", key=key)


@st.cache_resource(show_spinner="Joining the counties to the map…", max_entries=8)
def map_join(key: tuple, ids: tuple) -> Any:
    from workbench.analysis import geography

    return geography.join_report(ids)


@st.cache_data(show_spinner="Drawing the map…", max_entries=16)
def map_spec(values, value_name: str, value_type: str, tooltip: tuple[str, ...], title: str,
             domain: tuple | None = None) -> dict:
    """The county choropleth's Vega-Lite spec, cached on what it shows (the geometry is named by
    URL and served once by Streamlit's static serving: only the values travel with a draw)."""
    from workbench.charts import county_map

    # Without static serving (the app started outside the repository, so without its
    # .streamlit/config.toml) the geometry goes inside the spec instead of by URL.
    geometry = county_map.GEOMETRY_URL if st.get_option("server.enableStaticServing") else "inline"
    return county_map.choropleth_spec(values, value_name, value_type=value_type, tooltip=tooltip, title=title,
                                      domain=list(domain) if domain else None, geometry=geometry)
