"""The county choropleth: an Altair map of the clusters, a feature or a component score,
drawn from the packaged, pre-projected county topology of `analysis.geography`.

What a draw sends
-----------------
The geometry is in albersUsa screen pixels already (Vega-Lite's `identity` projection, fitted
to the chart's size), so the browser projects nothing. `choropleth_spec` returns the final
Vega-Lite dict. With `geometry=GEOMETRY_URL` (what the app uses) the spec names the topology
by URL — Streamlit's static serving hands workbench/static/us-counties.topo.json to the
browser once, and its HTTP cache keeps it — and carries only the values, joined by FIPS id:
about 0.1 MB a draw on the census. With `geometry="inline"` (vl-convert, tests, anything
without a server) the parsed topology rides in the spec's datasets (about 0.7 MB more).
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from altair.utils import schemapi

from workbench.analysis.geography import (
    BORDERS_ID,
    STATE_FIPS,
    _current,
    county_geometry,
    fips_code,
)
from workbench.charts import layout

COUNTY_PARAM = "county_pick"  # the choropleth's click-selection parameter; its value is [{"id": FIPS}]
# Where Streamlit's static serving (server.enableStaticServing) publishes the packaged topology,
# relative to the app's pages: workbench/static/ sits beside workbench/streamlit_app.py.
GEOMETRY_URL = "app/static/us-counties.topo.json"
_INLINE = "__workbench_county_topology__"  # placeholder for the parsed topology in inline specs
_STATES = [{"state_fips": code, "state": name} for code, (_, name) in sorted(STATE_FIPS.items())]


# --------------------------------------------------------------------------- chart


def _values_frame(values_by_fips: Any, value_name: str, fips_column: str) -> pd.DataFrame:
    if isinstance(values_by_fips, pd.DataFrame):
        if fips_column not in values_by_fips.columns:
            raise ValueError(f"The values table needs a {fips_column!r} column of FIPS codes.")
        if value_name not in values_by_fips.columns:
            raise ValueError(f"The values table has no column {value_name!r}.")
        frame = values_by_fips.copy()
    else:
        series = values_by_fips if isinstance(values_by_fips, pd.Series) else pd.Series(dict(values_by_fips))
        frame = pd.DataFrame({fips_column: series.index.to_numpy(), value_name: series.to_numpy()})
    frame[fips_column] = [_current(fips_code(v)) for v in frame[fips_column]]
    frame = frame[frame[fips_column].notna()].drop_duplicates(fips_column)
    return frame


def _jsonable(frame: pd.DataFrame) -> pd.DataFrame:
    """Object/strings for text columns and plain floats, so the spec serialises small and clean."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]) or pd.api.types.is_numeric_dtype(out[column]):
            continue
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def _value_type(series: pd.Series, value_type: str) -> str:
    if value_type == "auto":
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        integer_like = numeric and np.all(np.mod(series.dropna().to_numpy(dtype=np.float64), 1) == 0)
        value_type = "nominal" if not numeric or (integer_like and series.nunique() <= 20) else "quantitative"
    if value_type not in ("nominal", "quantitative", "ordinal"):
        raise ValueError(f"value_type must be 'nominal', 'ordinal', 'quantitative' or 'auto'; got {value_type!r}.")
    return value_type

MISSING_COLOR = "#e0e0e0"  # a county without a value


def _color(frame: pd.DataFrame, value_name: str, value_type: str, scheme, domain) -> Any:
    scale_args: dict[str, Any] = {}
    if scheme:
        scale_args["scheme"] = scheme
    elif value_type == "quantitative":
        scale_args["scheme"] = "viridis"
    elif value_type == "nominal":
        scale_args["scheme"] = "tableau20" if frame[value_name].nunique() > 10 else "tableau10"
    if domain is not None:
        scale_args["domain"] = list(domain)
    # The test picks grey before any scale: with the mark's invalid="show", a county without a
    # value is drawn, not filtered out, and a colour ramp never maps its null to a colour.
    return alt.condition(
        f"!isValid(datum[{json.dumps(value_name)}])",
        alt.value(MISSING_COLOR),
        alt.Color(field=layout.field(value_name), type=value_type, title=value_name, scale=alt.Scale(**scale_args),
                  legend=alt.Legend(orient="right")),
    )


def _tooltips(frame: pd.DataFrame, value_name: str, value_type: str, extra: list[str]) -> list[alt.Tooltip]:
    tips = [alt.Tooltip("properties.name:N", title="county"), alt.Tooltip("state:N", title="state"),
            alt.Tooltip("id:N", title="FIPS"),
            alt.Tooltip(field=layout.field(value_name), type=value_type, title=value_name,
                        **({"format": ",.4~g"} if value_type == "quantitative" else {}))]
    return tips + [alt.Tooltip(field=layout.field(c), title=str(c),
                               type="quantitative" if pd.api.types.is_numeric_dtype(frame[c]) else "nominal")
                   for c in extra]


def county_choropleth(
    values_by_fips: Mapping[Any, Any] | pd.Series | pd.DataFrame,
    value_name: str,
    *,
    value_type: str = "auto",
    title: str | None = None,
    fips_column: str = "fips",
    tooltip: Sequence[str] = (),
    scheme: str | None = None,
    domain: Sequence[Any] | None = None,
    selected: Any = None,
    width: int | str = 720,
    height: int = 440,
    geometry: str = "inline",
) -> alt.LayerChart:
    """A county choropleth of one value (cluster, feature, component score, confidence…).

    values_by_fips: a Series or mapping FIPS → value, or a DataFrame with `fips_column` and
        `value_name` (its other columns named in `tooltip` show on hover).
    value_type: "nominal" (clusters: categorical colours), "quantitative" (a colour ramp), or
        "auto": nominal for text, booleans and integers with at most 20 distinct values.
    selected: a FIPS code to show as selected (e.g. the county chosen in Explore).
    geometry: "inline" (the topology in the spec; `choropleth_spec` fills it in) or a URL the
        browser fetches it from (GEOMETRY_URL in the app).
    The chart carries the click-selection parameter COUNTY_PARAM ("county_pick"): clicking a
    county selects it (value [{"id": "01001"}]); a double click clears it. Counties without a
    value are drawn light grey. Alaska and Hawaii are inset and Puerto Rico drawn south-east of
    Florida (see analysis.geography).
    """
    frame = _values_frame(values_by_fips, value_name, fips_column)
    keep = [fips_column, value_name, *[c for c in tooltip if c in frame.columns and c not in (fips_column, value_name)]]
    frame = _jsonable(frame[keep])
    value_type = _value_type(frame[value_name], value_type)
    if value_type == "nominal" and pd.api.types.is_numeric_dtype(frame[value_name]):
        # Integers as text, so a legend reads "3", not "3.0", and the lookup keeps them categorical.
        frame[value_name] = [None if pd.isna(v) else str(int(v)) if float(v).is_integer() else str(v)
                             for v in frame[value_name]]
    topojson = alt.DataFormat(type="topojson", feature="counties")
    data = (alt.InlineData(values=_INLINE, format=topojson) if geometry == "inline"
            else alt.UrlData(url=geometry, format=topojson))
    selector = alt.selection_point(
        name=COUNTY_PARAM, fields=["id"], on="click", clear="dblclick", empty=False, toggle=False,
        value=[{"id": _current(fips_code(selected))}] if fips_code(selected) else alt.Undefined,
    )
    counties = (
        alt.Chart(data)
        # Counties without a value stay drawn, grey (_color): Vega-Lite's default filters them out of a
        # colour ramp, and the map would lose them unseen.
        .mark_geoshape(stroke="white", invalid="show")
        .transform_filter(f"datum.id !== '{BORDERS_ID}'")
        .transform_calculate(state_fips="substring(datum.id, 0, 2)")
        .transform_lookup(lookup="state_fips", from_=alt.LookupData(data=pd.DataFrame(_STATES), key="state_fips",
                                                                    fields=["state"]))
        .transform_lookup(lookup="id", from_=alt.LookupData(data=frame, key=layout.field(fips_column),
                                                              fields=[layout.field(c) for c in keep[1:]]))
        .encode(
            color=_color(frame, value_name, value_type, scheme, domain),
            strokeWidth=alt.condition(selector, alt.value(2.5), alt.value(0.15)),
            stroke=alt.condition(selector, alt.value("black"), alt.value("white")),
            tooltip=_tooltips(frame, value_name, value_type, keep[2:]),
        )
        .add_params(selector)
    )
    outlines = (alt.Chart(data).transform_filter(f"datum.id === '{BORDERS_ID}'")
                .mark_geoshape(filled=False, stroke="#555555", strokeWidth=0.6))
    chart = alt.layer(counties, outlines).project(type="identity").properties(width=width, height=height)
    return chart.properties(title=title) if title else chart


def choropleth_spec(
    values_by_fips: Mapping[Any, Any] | pd.Series | pd.DataFrame,
    value_name: str,
    *,
    geometry: str = GEOMETRY_URL,
    width: int | str = "container",
    **options: Any,
) -> dict:
    """county_choropleth's final Vega-Lite dict, ready for st.vega_lite_chart (no theme config).

    With geometry="inline" the packaged topology goes in as parsed JSON (Streamlit leaves a
    TopoJSON object to Vega, but would try to make a table of a JSON string); the dict then
    shares that object with geography's cache: do not modify it.
    """
    # Altair validates every object as it is made, then the whole spec again: once is enough
    # (half the time of a 3,220-county spec).
    with schemapi.debug_mode(False):
        chart = county_choropleth(values_by_fips, value_name, geometry=geometry, width=width, **options)
    spec = chart.to_dict()
    spec.pop("config", None)
    if geometry == "inline":
        topology = county_geometry()
        for name, value in list(spec.get("datasets", {}).items()):
            if value == _INLINE:
                spec["datasets"][name] = topology
        for part in [spec, *spec.get("layer", [])]:
            if isinstance(part.get("data"), dict) and part["data"].get("values") == _INLINE:
                part["data"]["values"] = topology
    return spec


def selected_fips(selection: Any) -> str | None:
    """The FIPS code a click selected, from the chart's selection state as Streamlit returns
    it (event.selection, or its COUNTY_PARAM entry): {"county_pick": [{"id": "01001"}]}."""
    if selection is None:
        return None
    value = selection.get(COUNTY_PARAM, selection) if isinstance(selection, Mapping) else selection
    if isinstance(value, Mapping):
        value = [value]
    if isinstance(value, (list, tuple)) and value:
        first = value[0]
        if isinstance(first, Mapping):
            return fips_code(first.get("id"))
    return None
