"""Altair chart builders for the app: pure functions from tables (see insight.py) to charts.

No Streamlit here. Every builder gets its data already aggregated, so the chart carries a
few dozen rows, not the whole table, and renders fast in the browser and in tests.
"""
from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

POSITIVE = "#1f77b4"
NEGATIVE = "#d62728"
KEPT = "#1f77b4"
DROPPED = "#c7c7c7"
CUMULATIVE = "#ff7f0e"
DIVERGING = "redblue"


def _sign_color(field: str = "direction") -> alt.Color:
    return alt.Color(
        f"{field}:N",
        scale=alt.Scale(domain=["positive", "negative"], range=[POSITIVE, NEGATIVE]),
        legend=None,
    )


def histogram(bins: pd.DataFrame, feature: str, *, log: bool = False) -> alt.Chart:
    """Counties per bin of one feature; `bins` from insight.histogram_bins (log: log-spaced bins)."""
    scale = alt.Scale(type="log") if log else alt.Scale()
    return (
        alt.Chart(bins, title=f"Distribution of {feature}" + (" (log scale)" if log else ""))
        .mark_bar(color=POSITIVE, binSpacing=1)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=feature, scale=scale),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="counties"),
            tooltip=[
                alt.Tooltip("bin_start:Q", title="from", format=",.4~g"),
                alt.Tooltip("bin_end:Q", title="to", format=",.4~g"),
                alt.Tooltip("count:Q", title="counties"),
            ],
        )
        .properties(height=260)
    )


def scaled_range_chart(summary: pd.DataFrame) -> alt.LayerChart:
    """Each scaled feature's min–max range with its mean; `summary` from insight.scaled_summary."""
    y = alt.Y("feature:N", sort=list(summary["feature"]), title=None, axis=alt.Axis(labelOverlap=False))
    rule = alt.Chart().mark_rule(color=DROPPED, strokeWidth=6).encode(
        y=y, x=alt.X("min:Q", title="scaled value"), x2="max:Q",
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("min:Q", format=".3f"),
                 alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("max:Q", format=".3f")],
    )
    mean = alt.Chart().mark_tick(color=POSITIVE, thickness=3, size=14).encode(y=y, x="mean:Q")
    return alt.LayerChart(data=summary, layer=[rule, mean], title="Scaled features: range (grey) and mean (blue)") \
        .properties(height=70 + 20 * len(summary))


def explained_variance_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Bars: each component's exact share of the variance; line: the cumulative share.

    `table` from insight.variance_table; kept components are coloured, the rest grey.
    """
    data = table.assign(status=table["kept"].map({True: "kept", False: "not kept"}))
    order = list(data["name"])
    x = alt.X("name:N", sort=order, title="component (largest first)", axis=alt.Axis(labelAngle=-45, labelLimit=140))
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
                        legend=alt.Legend(title=None, orient="top-right")),
        tooltip=tooltip,
    )
    line = alt.Chart().mark_line(point=True, color=CUMULATIVE).encode(x=x, y=alt.Y("cumulative:Q"), tooltip=tooltip)
    return alt.LayerChart(data=data, layer=[bars, line],
                          title="Explained variance: per component (bars) and cumulative (line)").properties(height=300)


def component_makeup_chart(makeup: pd.DataFrame, columns: int = 3) -> alt.FacetChart:
    """One panel per component: its strongest positive and negative feature weights.

    `makeup` from insight.component_makeup (component, order, feature, weight, direction).
    """
    order = list(dict.fromkeys(makeup.sort_values("order", kind="stable")["component"]))
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("weight:Q", title="weight"),
        y=alt.Y("feature:N", sort=alt.EncodingSortField("weight", order="descending"), title=None,
                axis=alt.Axis(labelOverlap=False)),
        color=_sign_color(),
        tooltip=[alt.Tooltip("component:N"), alt.Tooltip("feature:N"), alt.Tooltip("weight:Q", format="+.3f")],
    ).properties(width=220, height=190)
    return (
        alt.FacetChart(data=makeup, spec=bars, facet=alt.Facet("component:N", sort=order, title=None),
                       columns=columns)
        .resolve_scale(y="independent")
    )


def cluster_sizes_chart(sizes: pd.DataFrame) -> alt.Chart:
    """Counties per cluster; `sizes` from insight.cluster_sizes."""
    order = list(sizes["name"])
    return (
        alt.Chart(sizes, title="Cluster sizes")
        .mark_bar(color=POSITIVE)
        .encode(
            y=alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)),
            x=alt.X("counties:Q", title="counties"),
            tooltip=[alt.Tooltip("cluster:O"), alt.Tooltip("name:N"), alt.Tooltip("counties:Q"),
                     alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=60 + 30 * len(sizes))
    )


def centroid_heatmap(centroids: pd.DataFrame) -> alt.LayerChart:
    """Clusters × components, coloured by the centroid's coordinate (diverging around 0).

    `centroids` from insight.centroid_long; axes carry the analyst's names.
    """
    components = list(dict.fromkeys(centroids.sort_values("order", kind="stable")["component"]))
    clusters = list(dict.fromkeys(centroids.sort_values("cluster", kind="stable")["cluster_name"]))
    extent = float(centroids["value"].abs().max() or 1.0)
    # Label colour in the data (white on dark cells) rather than a conditional encoding.
    data = centroids.assign(label_color=["white" if abs(v) > 0.6 * extent else "black" for v in centroids["value"]])
    x = alt.X("component:N", sort=components, title=None, axis=alt.Axis(labelAngle=-30, labelLimit=180, orient="top"))
    y = alt.Y("cluster_name:N", sort=clusters, title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False))
    cells = alt.Chart().mark_rect().encode(
        x=x, y=y,
        color=alt.Color("value:Q", title="centroid",
                        scale=alt.Scale(scheme=DIVERGING, domain=[-extent, extent], reverse=True)),
        tooltip=[alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("component:N"),
                 alt.Tooltip("value:Q", format="+.3f")],
    )
    text = alt.Chart().mark_text(fontSize=11).encode(
        x=x,
        y=y,
        text=alt.Text("value:Q", format="+.2f"),
        color=alt.Color("label_color:N", scale=alt.Scale(domain=["black", "white"], range=["black", "white"]),
                        legend=None),
    )
    return alt.LayerChart(data=data, layer=[cells, text], title="Cluster centroids in component space") \
        .properties(height=80 + 36 * len(clusters))


def profile_chart(profile: pd.DataFrame, cluster_name: str, top: int | None = None) -> alt.Chart:
    """One cluster against all counties: each feature's difference in overall standard deviations.

    `profile` from insight.cluster_profile (most distinctive first); the tooltip gives the
    cluster mean and overall mean in original units.
    """
    data = profile.head(top) if top else profile
    data = data.assign(direction=(data["difference_sd"] >= 0).map({True: "positive", False: "negative"}))
    order = list(data["feature"])
    return (
        alt.Chart(data, title=f"{cluster_name}: mean vs all counties (in standard deviations)")
        .mark_bar()
        .encode(
            y=alt.Y("feature:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)),
            x=alt.X("difference_sd:Q", title="cluster mean − overall mean (SDs)"),
            color=_sign_color(),
            tooltip=[
                alt.Tooltip("feature:N"),
                alt.Tooltip("cluster_mean:Q", format=",.4~g", title="cluster mean"),
                alt.Tooltip("overall_mean:Q", format=",.4~g", title="overall mean"),
                alt.Tooltip("difference:Q", format="+,.4~g", title="difference"),
                alt.Tooltip("difference_sd:Q", format="+.2f", title="difference (SDs)"),
            ],
        )
        .properties(height=70 + 22 * len(data))
    )


def profile_heatmap(profiles: pd.DataFrame, features: Sequence[str] | None = None) -> alt.Chart:
    """Every cluster × feature, coloured by the difference from the overall mean in SDs."""
    data = profiles if features is None else profiles[profiles["feature"].isin(list(features))]
    order = list(features) if features is not None else list(dict.fromkeys(data["feature"]))
    clusters = list(dict.fromkeys(data.sort_values("cluster", kind="stable")["cluster_name"]))
    extent = float(min(3.0, data["difference_sd"].abs().max() or 1.0))
    return (
        alt.Chart(data, title="Cluster profiles: difference from the overall mean (SDs)")
        .mark_rect()
        .encode(
            x=alt.X("feature:N", sort=order, title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("cluster_name:N", sort=clusters, title=None, axis=alt.Axis(labelLimit=220)),
            color=alt.Color("difference_sd:Q", title="SDs",
                            scale=alt.Scale(scheme=DIVERGING, domain=[-extent, extent], reverse=True, clamp=True)),
            tooltip=[
                alt.Tooltip("cluster_name:N", title="cluster"),
                alt.Tooltip("feature:N"),
                alt.Tooltip("cluster_mean:Q", format=",.4~g", title="cluster mean"),
                alt.Tooltip("overall_mean:Q", format=",.4~g", title="overall mean"),
                alt.Tooltip("difference_sd:Q", format="+.2f", title="difference (SDs)"),
            ],
        )
        .properties(height=120 + 30 * len(clusters))
    )


def distance_histogram(bins: pd.DataFrame, cluster_name: str) -> alt.Chart:
    """How far a cluster's counties sit from its centroid; `bins` from insight.histogram_bins."""
    return (
        alt.Chart(bins, title=f"{cluster_name}: distance to the centroid")
        .mark_bar(color=POSITIVE, binSpacing=1)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title="distance to centroid"),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="counties"),
            tooltip=[alt.Tooltip("bin_start:Q", format=".3f", title="from"),
                     alt.Tooltip("bin_end:Q", format=".3f", title="to"), alt.Tooltip("count:Q")],
        )
        .properties(height=230)
    )
