"""Altair chart builders for the pipeline pages: pure functions from tables (see
workbench.analysis.summaries) to charts. No Streamlit here.

Every builder gets its data already aggregated (a few dozen to k × features rows) and sizes
itself from it (see layout.py): a row height per category, every category label shown in
full (long names wrapped), numbers without exponents. Heatmaps put the longer of their two
lists down the chart, so that the columns across stay few enough to be labelled at any
container width from about 400 px.
"""
from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from workbench.charts import layout

POSITIVE = "#1f77b4"
NEGATIVE = "#d62728"
KEPT = "#1f77b4"
DROPPED = "#c7c7c7"
CUMULATIVE = "#ff7f0e"
DIVERGING = "redblue"
PLOT_HEIGHT = 240  # px: the plot of a chart with a value axis up the side
CELL_TEXT_MIN = 36  # px: a heatmap writes its values in the cells when a column is at least this wide


def _sign_color(field: str = "direction") -> alt.Color:
    return alt.Color(
        f"{field}:N",
        scale=alt.Scale(domain=["positive", "negative"], range=[POSITIVE, NEGATIVE]),
        legend=None,
    )


def histogram(bins: pd.DataFrame, feature: str, *, log: bool = False) -> alt.Chart:
    """Counties per bin of one feature; `bins` from summaries.histogram_bins (log: log-spaced bins)."""
    scale = alt.Scale(type="log") if log else alt.Scale()
    return (
        alt.Chart(layout.inline(bins), title=layout.title(f"Distribution of {feature}" + (" (log scale)" if log else "")))
        .mark_bar(color=POSITIVE, binSpacing=1)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=feature, scale=scale,
                    axis=alt.Axis(format=layout.NUMBER, labelFontSize=layout.LABEL_FONT, labelFlush=False)),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="counties", axis=alt.Axis(format=",d", tickMinStep=1)),
            tooltip=[
                alt.Tooltip("bin_start:Q", title="from", format=layout.NUMBER_TIP),
                alt.Tooltip("bin_end:Q", title="to", format=layout.NUMBER_TIP),
                alt.Tooltip("count:Q", title="counties", format=","),
            ],
        )
        .properties(height=260, padding=layout.PADDING)
    )


def scaled_range_chart(summary: pd.DataFrame) -> alt.LayerChart:
    """Each scaled feature's min–max range with its mean; `summary` from summaries.scaled_summary."""
    features = [str(f) for f in summary["feature"]]
    y = alt.Y("feature:N", sort=features, title=None, axis=layout.band_axis(features))
    rule = alt.Chart().mark_rule(color=DROPPED, strokeWidth=6).encode(
        y=y, x=alt.X("min:Q", title="scaled value"), x2="max:Q",
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("min:Q", format=".3f"),
                 alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("max:Q", format=".3f")],
    )
    mean = alt.Chart().mark_tick(color=POSITIVE, thickness=3, size=14).encode(y=y, x="mean:Q")
    return alt.LayerChart(data=layout.inline(summary), layer=[rule, mean],
                          title=layout.title("Scaled features: range (grey) and mean (blue)")) \
        .properties(height={"step": layout.row_step(features)}, padding=layout.PADDING)


def explained_variance_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Bars: each component's exact share of the variance; line: the cumulative share.

    `table` from summaries.variance_table; kept components are coloured, the rest grey. The
    components run across, largest first, their names upright (all 33 of the walkthrough's
    fit a 700 px page; slanted, they would need half as much room again).
    """
    data = table.assign(status=table["kept"].map({True: "kept", False: "not kept"}))
    order = [str(n) for n in data["name"]]
    x = alt.X("name:N", sort=order, title="component (largest first)",
              axis=layout.band_axis(order, angle=-90, title="component (largest first)"))
    tooltip = [
        alt.Tooltip("component:N"),
        alt.Tooltip("name:N"),
        alt.Tooltip("explained:Q", format=".2%", title="explained"),
        alt.Tooltip("cumulative:Q", format=".2%", title="cumulative"),
    ]
    bars = alt.Chart().mark_bar().encode(
        x=x,
        y=alt.Y("explained:Q", title="share of variance", axis=alt.Axis(format="%")),
        color=alt.Color("status:N", scale=alt.Scale(domain=["kept", "not kept"], range=[KEPT, DROPPED]),
                        legend=alt.Legend(title=None, orient="top", labelFontSize=layout.LABEL_FONT)),
        tooltip=tooltip,
    )
    line = alt.Chart().mark_line(point=True, color=CUMULATIVE).encode(x=x, y=alt.Y("cumulative:Q"), tooltip=tooltip)
    return alt.LayerChart(data=layout.inline(data), layer=[bars, line],
                          title=layout.title("Explained variance: per component (bars) and cumulative (line)")
                          ).properties(height=PLOT_HEIGHT + layout.slanted_extent(order, angle=-90) + 90)


def component_makeup_chart(makeup: pd.DataFrame, columns: int | None = None, *, width: int = 700) -> alt.FacetChart:
    """One panel per component: its strongest positive and negative feature weights.

    `makeup` from summaries.component_makeup (component, order, feature, weight, direction).
    Facets keep their own size, so the panels are laid out to fit `width` px (the
    container's width; columns: how many panels across, by default as many as fit).
    """
    order = list(dict.fromkeys(str(c) for c in makeup.sort_values("order", kind="stable")["component"]))
    features = [str(f) for f in makeup["feature"]]
    panel = 200
    panel_total = panel + layout.label_width(features) + 24
    columns = columns or max(1, min(len(order) or 1, width // panel_total))
    per_panel = int(makeup.groupby("component").size().max()) if len(makeup) else 1
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("weight:Q", title="weight", axis=alt.Axis(tickCount=4)),
        y=alt.Y("feature:N", sort=alt.EncodingSortField("weight", order="descending"), title=None,
                axis=layout.band_axis(features)),
        color=_sign_color(),
        tooltip=[alt.Tooltip("component:N"), alt.Tooltip("feature:N"), alt.Tooltip("weight:Q", format="+.3f")],
    ).properties(width=panel, height=layout.ROW * per_panel)
    header = alt.Header(labelLimit=panel_total, labelFontSize=layout.LABEL_FONT, labelAnchor="start",
                        labelExpr="split(datum.label, '\\n')", labelLineHeight=layout.LINE_HEIGHT)
    data = makeup.assign(component=[layout.wrap(c, 30) for c in makeup["component"]])
    return (
        alt.FacetChart(data=layout.inline(data), spec=bars,
                       facet=alt.Facet("component:N", sort=[layout.wrap(c, 30) for c in order], title=None,
                                       header=header),
                       columns=columns)
        .resolve_scale(y="independent")
    )


def cluster_sizes_chart(sizes: pd.DataFrame) -> alt.Chart:
    """Counties per cluster, one row per cluster; `sizes` from summaries.cluster_sizes."""
    names = layout.wrapped_names(sizes["name"])
    data = sizes.assign(label=[names[str(n)] for n in sizes["name"]])
    order = list(names.values())
    return (
        alt.Chart(layout.inline(data), title=layout.title("Cluster sizes"))
        .mark_bar(color=POSITIVE)
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=layout.band_axis(order)),
            x=alt.X("counties:Q", title="counties", axis=alt.Axis(format=",d", tickMinStep=1)),
            tooltip=[alt.Tooltip("cluster:O"), alt.Tooltip("name:N"), alt.Tooltip("counties:Q", format=","),
                     alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height={"step": layout.row_step(order)}, padding=layout.PADDING)
    )


def _cell_text(field: str, fmt: str, color: alt.Color | alt.ColorValue, x: alt.X, y: alt.Y) -> alt.Chart:
    """The value written in each cell, only when the columns are wide enough to hold it."""
    text = alt.expr(f"bandwidth('x') >= {CELL_TEXT_MIN} ? format(datum['{field}'], '{fmt}') : ''")
    return alt.Chart().mark_text(fontSize=11, text=text).encode(x=x, y=y, color=color)


def centroid_heatmap(centroids: pd.DataFrame) -> alt.LayerChart:
    """Clusters × components, coloured by the centroid's coordinate (diverging around 0).

    `centroids` from summaries.centroid_long; axes carry the analyst's names. The longer of
    the two lists (usually the clusters) runs down the chart.
    """
    components = list(dict.fromkeys(str(c) for c in centroids.sort_values("order", kind="stable")["component"]))
    clusters = list(dict.fromkeys(str(c) for c in centroids.sort_values("cluster", kind="stable")["cluster_name"]))
    extent = layout.symmetric_extent(centroids["value"])
    data = centroids.assign(label_color=["white" if abs(v) > 0.6 * extent else "black" for v in centroids["value"]])
    data, x, y, step, padding = layout.heatmap_layout(data, ("cluster_name", clusters), ("component", components), least=28)
    cells = alt.Chart().mark_rect().encode(
        x=x, y=y,
        color=alt.Color("value:Q", title="centroid",
                        scale=alt.Scale(scheme=DIVERGING, domain=[-extent, extent], reverse=True),
                        legend=layout.gradient_legend("centroid", extent)),
        tooltip=[alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("component:N"),
                 alt.Tooltip("value:Q", format="+.3f")],
    )
    text = _cell_text("value", "+.2f", alt.Color("label_color:N", scale=alt.Scale(
        domain=["black", "white"], range=["black", "white"]), legend=None), x, y)
    columns = ["cluster", "cluster_name", "component", "value", "row", "column", "label_color"]
    return alt.LayerChart(data=layout.inline(data, columns), layer=[cells, text],
                          title=layout.title("Cluster centroids in component space")) \
        .properties(height={"step": step}, padding=padding)


def profile_chart(profile: pd.DataFrame, cluster_name: str, top: int | None = None) -> alt.Chart:
    """One cluster against all counties: each feature's difference in overall standard deviations.

    `profile` from summaries.cluster_profile (most distinctive first); the tooltip gives the
    cluster mean and overall mean in original units.
    """
    data = profile.head(top) if top else profile
    data = data.assign(direction=(data["difference_sd"] >= 0).map({True: "positive", False: "negative"}))
    order = [str(f) for f in data["feature"]]
    return (
        alt.Chart(layout.inline(data), title=layout.title(f"{cluster_name}: mean vs all counties (in standard deviations)"))
        .mark_bar()
        .encode(
            y=alt.Y("feature:N", sort=order, title=None, axis=layout.band_axis(order)),
            x=alt.X("difference_sd:Q", title="cluster mean − overall mean (SDs)"),
            color=_sign_color(),
            tooltip=[
                alt.Tooltip("feature:N"),
                alt.Tooltip("cluster_mean:Q", format=layout.NUMBER_TIP, title="cluster mean"),
                alt.Tooltip("overall_mean:Q", format=layout.NUMBER_TIP, title="overall mean"),
                alt.Tooltip("difference:Q", format="+" + layout.NUMBER_TIP, title="difference"),
                alt.Tooltip("difference_sd:Q", format="+.2f", title="difference (SDs)"),
            ],
        )
        .properties(height={"step": layout.row_step(order)}, padding=layout.PADDING)
    )


def profile_heatmap(profiles: pd.DataFrame, features: Sequence[str] | None = None) -> alt.LayerChart:
    """Every cluster × feature, coloured by the difference from the overall mean in SDs
    (the colours stop at ±3). The longer list (the features, unless k is larger) runs down
    the chart, one row each; the other across the top."""
    data = profiles if features is None else profiles[profiles["feature"].isin(list(features))]
    order = [str(f) for f in (list(features) if features is not None else dict.fromkeys(data["feature"]))]
    clusters = list(dict.fromkeys(str(c) for c in data.sort_values("cluster", kind="stable")["cluster_name"]))
    extent = layout.symmetric_extent(data["difference_sd"], cap=3.0)
    data = data.assign(label_color=["white" if abs(v) > 0.6 * extent else "black" for v in data["difference_sd"]])
    data, x, y, step, padding = layout.heatmap_layout(data, ("feature", order), ("cluster_name", clusters))
    cells = alt.Chart().mark_rect().encode(
        x=x, y=y,
        color=alt.Color("difference_sd:Q", title="SDs",
                        scale=alt.Scale(scheme=DIVERGING, domain=[-extent, extent], reverse=True, clamp=True),
                        legend=layout.gradient_legend("SDs from the mean", extent, clamped=True)),
        tooltip=[
            alt.Tooltip("cluster_name:N", title="cluster"),
            alt.Tooltip("feature:N"),
            alt.Tooltip("cluster_mean:Q", format=layout.NUMBER_TIP, title="cluster mean"),
            alt.Tooltip("overall_mean:Q", format=layout.NUMBER_TIP, title="overall mean"),
            alt.Tooltip("difference_sd:Q", format="+.2f", title="difference (SDs)"),
        ],
    )
    text = _cell_text("difference_sd", "+.1f", alt.Color("label_color:N", scale=alt.Scale(
        domain=["black", "white"], range=["black", "white"]), legend=None), x, y)
    columns = ["cluster", "cluster_name", "feature", "cluster_mean", "overall_mean", "difference_sd", "row", "column",
               "label_color"]
    return alt.LayerChart(data=layout.inline(data, columns), layer=[cells, text],
                          title=layout.title("Cluster profiles: difference from the overall mean (SDs)")) \
        .properties(height={"step": step}, padding=padding)


def distance_histogram(bins: pd.DataFrame, cluster_name: str) -> alt.Chart:
    """How far a cluster's counties sit from its centroid; `bins` from summaries.histogram_bins."""
    return (
        alt.Chart(layout.inline(bins), title=layout.title(f"{cluster_name}: distance to the centroid"))
        .mark_bar(color=POSITIVE, binSpacing=1)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title="distance to centroid",
                    axis=alt.Axis(format=".2~f", labelFontSize=layout.LABEL_FONT, labelFlush=False)),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="counties", axis=alt.Axis(format=",d", tickMinStep=1)),
            tooltip=[alt.Tooltip("bin_start:Q", format=".3f", title="from"),
                     alt.Tooltip("bin_end:Q", format=".3f", title="to"), alt.Tooltip("count:Q", format=",")],
        )
        .properties(height=230, padding=layout.PADDING)
    )
