"""The county choropleth: an Altair map of the clusters, a feature or a component score,
drawn from the county topology of `analysis.geography`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbench.analysis.geography import BORDERS_ID, DEFAULT_TOLERANCE, _current, county_topojson_text, fips_code

COUNTY_PARAM = "county_pick"  # the choropleth's click-selection parameter; its value is [{"id": FIPS}]


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
        if pd.api.types.is_bool_dtype(out[column]):
            continue
        if pd.api.types.is_numeric_dtype(out[column]):
            continue
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


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
    tolerance: float = DEFAULT_TOLERANCE,
    cache_dir: str | os.PathLike | None = None,
) -> alt.LayerChart:
    """A county choropleth of one value (cluster, feature, component score, confidence…).

    values_by_fips: a Series or mapping FIPS → value, or a DataFrame with `fips_column` and
        `value_name` (its other columns named in `tooltip` show on hover).
    value_type: "nominal" (clusters: categorical colours), "quantitative" (a colour ramp), or
        "auto": nominal for text, booleans and integers with at most 20 distinct values.
    selected: a FIPS code to show as selected (e.g. the county chosen in Explore).
    The chart carries the click-selection parameter COUNTY_PARAM ("county_pick"): clicking a
    county selects it (value [{"id": "01001"}]); a double click clears it. Counties without a
    value are drawn light grey. Projection: albersUsa (Alaska and Hawaii inset; Puerto Rico
    drawn in its own inset, see the module doc).
    """
    topology = county_topojson_text(tolerance=tolerance, cache_dir=cache_dir)
    frame = _values_frame(values_by_fips, value_name, fips_column)
    keep = [fips_column, value_name, *[c for c in tooltip if c in frame.columns and c not in (fips_column, value_name)]]
    frame = _jsonable(frame[keep])
    series = frame[value_name]
    if value_type == "auto":
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        integer_like = numeric and np.all(np.mod(series.dropna().to_numpy(dtype=np.float64), 1) == 0)
        value_type = "nominal" if not numeric or (integer_like and series.nunique() <= 20) else "quantitative"
    if value_type not in ("nominal", "quantitative", "ordinal"):
        raise ValueError(f"value_type must be 'nominal', 'ordinal', 'quantitative' or 'auto'; got {value_type!r}.")
    if value_type == "nominal" and pd.api.types.is_numeric_dtype(series):
        # Integers as text, so a legend reads "3", not "3.0", and the lookup keeps them categorical.
        frame[value_name] = [None if pd.isna(v) else str(int(v)) if float(v).is_integer() else str(v) for v in series]
    # The topology goes in as one JSON string (Vega parses it): Altair then consolidates the two
    # layers' copies into one dataset and does not walk a million numbers on every to_dict().
    # Both layers read it in the same format (Vega-Lite refuses one dataset in two formats).
    data = alt.InlineData(values=topology, format=alt.DataFormat(type="topojson", feature="counties"))
    selector = alt.selection_point(
        name=COUNTY_PARAM, fields=["id"], on="click", clear="dblclick", empty=False, toggle=False,
        value=[{"id": _current(fips_code(selected))}] if fips_code(selected) else alt.Undefined,
    )
    scale_args: dict[str, Any] = {}
    if scheme:
        scale_args["scheme"] = scheme
    elif value_type == "quantitative":
        scale_args["scheme"] = "viridis"
    elif value_type == "nominal":
        scale_args["scheme"] = "tableau20" if series.nunique() > 10 else "tableau10"
    if domain is not None:
        scale_args["domain"] = list(domain)
    color = alt.condition(
        f"isValid(datum[{json.dumps(value_name)}])",
        alt.Color(f"{value_name}:{value_type[0].upper()}", title=value_name, scale=alt.Scale(**scale_args),
                  legend=alt.Legend(orient="right")),
        alt.value("#e0e0e0"),
    )
    tips = [alt.Tooltip("properties.name:N", title="county"), alt.Tooltip("properties.state:N", title="state"),
            alt.Tooltip("id:N", title="FIPS"),
            alt.Tooltip(f"{value_name}:{value_type[0].upper()}", title=value_name,
                        **({"format": ",.4~g"} if value_type == "quantitative" else {}))]
    tips += [alt.Tooltip(f"{c}:N" if not pd.api.types.is_numeric_dtype(frame[c]) else f"{c}:Q", title=c)
             for c in keep[2:]]
    counties = (
        alt.Chart(data)
        .mark_geoshape(stroke="white")
        .transform_filter(f"datum.id !== '{BORDERS_ID}'")
        .transform_lookup(lookup="id", from_=alt.LookupData(data=frame, key=fips_column, fields=keep[1:]))
        .encode(
            color=color,
            strokeWidth=alt.condition(selector, alt.value(2.5), alt.value(0.15)),
            stroke=alt.condition(selector, alt.value("black"), alt.value("white")),
            tooltip=tips,
        )
        .add_params(selector)
    )
    outlines = (alt.Chart(data).transform_filter(f"datum.id === '{BORDERS_ID}'")
                .mark_geoshape(filled=False, stroke="#555555", strokeWidth=0.6))
    chart = alt.layer(counties, outlines).project(type="albersUsa").properties(width=width, height=height)
    if title:
        chart = chart.properties(title=title)
    return chart


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
