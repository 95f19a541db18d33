"""Altair charts for the insight views: choosing k, index scores, box plots, stability and
membership confidence. Pure functions from the tables of choosing_k, profiles, stability
and margins to charts; no Streamlit. (The county map is charts.county_map.) Sized from
their data as the pipeline charts are (see layout.py): a row per cluster or feature, every
category label shown in full, data inline (no row limit).
"""
from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from workbench.analysis import choosing_k, profiles, stability
from workbench.charts import layout

__all__ = [
    "box_plot_chart",
    "confidence_bins",
    "confidence_histogram",
    "index_heatmap",
    "k_selection_chart",
    "separation_chart",
    "stability_chart",
]

RECOMMENDED = "#d62728"
KNEE = "#ff7f0e"
LINE = "#1f77b4"
SMALL_MULTIPLES = 24  # clusters: up to this many, membership confidence is one small histogram each
LOG_FOOT = 0.5  # counties: the foot of a log count axis, so that a bar of one county shows
CELL_TEXT_MIN = 28  # px: a heatmap writes the index in its cells when a column is at least this wide
BAND_COLORS = {"unstable": "#f4c7c3", "doubtful": "#fce8b2", "stable": "#b7e1cd"}
# Index-score bands: (label, lower bound, upper bound, colour)
INDEX_BANDS: tuple[tuple[str, float, float, str], ...] = (
    ("≤ 50: far below", -np.inf, 50, "#2166ac"),
    ("50–80: below", 50, profiles.LOW, "#92c5de"),
    ("80–120: about average", profiles.LOW, profiles.HIGH, "#f7f7f7"),
    ("120–200: above", profiles.HIGH, 200, "#f4a582"),
    ("≥ 200: far above", 200, np.inf, "#b2182b"),
)


def k_selection_chart(selection: choosing_k.KSelection, *, width: int = 520) -> alt.FacetChart:
    """Every metric against k in one faceted chart (one row per metric, its own y scale):
    the knee marked on the SSE curve (orange), the recommended k as a red rule and point in
    every row, and the reason as the subtitle (with the small-sample warning when there is
    one). Every evaluated k is labelled on the x axis while they fit `width` px."""
    long = selection.long()
    order = list(dict.fromkeys(long["label"]))
    base = alt.Chart()
    ks = sorted({int(k) for k in long["k"]}) if not long.empty else [2, 3]
    every_k = len(ks) * 24 <= width
    x = alt.X("k:Q", title="k (number of clusters)",
              axis=alt.Axis(tickMinStep=1, values=ks if every_k else alt.Undefined, format="d",
                            labelFontSize=layout.LABEL_FONT, labelOverlap=not every_k, labelFlush=False),
              scale=alt.Scale(domain=[ks[0], ks[-1]], nice=False, zero=False))
    y = alt.Y("value:Q", title=None, scale=alt.Scale(zero=False), axis=alt.Axis(format=layout.NUMBER, tickCount=4))
    tooltip = [alt.Tooltip("label:N", title="metric"), alt.Tooltip("k:Q"),
               alt.Tooltip("value:Q", format=layout.NUMBER_TIP), alt.Tooltip("better:N", title="better when")]
    line = base.mark_line(color=LINE).encode(x=x, y=y)
    points = base.mark_point(color=LINE, filled=True, size=30).encode(x=x, y=y, tooltip=tooltip)
    rule = base.mark_rule(color=RECOMMENDED, strokeDash=[4, 3]).encode(x=x).transform_filter("datum.is_recommended")
    chosen = base.mark_point(color=RECOMMENDED, size=120, shape="diamond", filled=True) \
        .encode(x=x, y=y, tooltip=tooltip).transform_filter("datum.is_recommended")
    knee = base.mark_point(color=KNEE, size=200, shape="circle", strokeWidth=2.5) \
        .encode(x=x, y=y, tooltip=tooltip).transform_filter("datum.is_knee && datum.metric === 'sse'")
    heading = (f"Choosing k: recommended k = {selection.recommended}"
               + (f", SSE knee at k = {selection.knee}" if selection.knee is not None else ""))
    subtitle = [selection.reason] + ([selection.weak_recommendation] if selection.weak_recommendation else [])
    # Each metric's name above its row (beside it, the names would widen the chart past its container).
    header = alt.Header(labelAngle=0, labelAnchor="start", labelFontSize=layout.LABEL_FONT, labelLimit=0,
                        labelOrient="top")
    return (
        alt.layer(rule, line, points, knee, chosen, data=layout.inline(long))
        .properties(width=width, height=110)
        .facet(row=alt.Row("label:N", sort=order, title=None, header=header),
               title=layout.title(heading, subtitle, width=max(layout.TITLE_WRAP, (width + 40) // 10)))
        .resolve_scale(y="independent")
    )


def _index_band(value: float) -> str:
    """The band of an index score, consistent with profiles' flags (≤ 80 low, ≥ 120 high)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    labels = [band[0] for band in INDEX_BANDS]
    if value <= 50:
        return labels[0]
    if value <= profiles.LOW:
        return labels[1]
    if value < profiles.HIGH:
        return labels[2]
    if value < 200:
        return labels[3]
    return labels[4]


def index_heatmap(scores: pd.DataFrame, *, features: Sequence[str] | None = None) -> alt.LayerChart:
    """Clusters × features coloured by index-score band (≤ 50, 50–80, 80–120, 120–200,
    ≥ 200), each cell labelled with its index when the columns are wide enough; flagged
    cells (≥ 120 or ≤ 80) outlined. The longer list (the features, unless k is larger) runs
    down the chart, one row each; the other across, slanted."""
    data = scores if features is None else scores[scores["feature"].isin(list(features))]
    data = data[["cluster", "cluster_name", "feature", "cluster_mean", "overall_mean", "index", "flag"]].copy()
    data["band"] = [_index_band(v) for v in data["index"]]
    data["label"] = [f"{v:.0f}" if np.isfinite(v) else "" for v in data["index"]]
    feature_order = list(dict.fromkeys(str(f) for f in data["feature"]))
    name_order = list(dict.fromkeys(str(n) for n in data["cluster_name"]))
    data, x, y, step, padding = layout.heatmap_layout(data, ("feature", feature_order), ("cluster_name", name_order), least=24)
    tooltip = [alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("feature:N"),
               alt.Tooltip("index:Q", format=".0f"), alt.Tooltip("cluster_mean:Q", format=layout.NUMBER_TIP),
               alt.Tooltip("overall_mean:Q", format=layout.NUMBER_TIP), alt.Tooltip("flag:N")]
    cells = alt.Chart().mark_rect().encode(
        x=x, y=y, tooltip=tooltip,
        color=alt.Color("band:N", title="index score",
                        scale=alt.Scale(domain=[b[0] for b in INDEX_BANDS] + ["n/a"],
                                        range=[b[3] for b in INDEX_BANDS] + ["#ffffff"]),
                        legend=alt.Legend(labelFontSize=layout.LABEL_FONT, labelLimit=0)),
        stroke=alt.condition("datum.flag !== ''", alt.value("#333333"), alt.value(None)),
        strokeWidth=alt.condition("datum.flag !== ''", alt.value(1.2), alt.value(0)),
    )
    text = alt.Chart().mark_text(fontSize=10, text=alt.expr(
        f"bandwidth('x') >= {CELL_TEXT_MIN} ? datum.label : ''")).encode(
        x=x, y=y,
        color=alt.condition("datum.index >= 200 || datum.index <= 50", alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, text, data=layout.inline(data)).properties(
        height={"step": step}, padding=padding,
        title=layout.title("Index scores (cluster mean / overall mean × 100)",
                           "Outlined: flagged, at or above 120 or at or below 80."),
    )


def _cluster_rows(data: pd.DataFrame, least: int = 26) -> tuple[pd.DataFrame, alt.Y, int]:
    """One row per cluster down the chart: names wrapped, every one shown."""
    names = layout.wrapped_names(data["cluster_name"])
    data = data.assign(cluster_label=[names[str(n)] for n in data["cluster_name"]])
    order = list(names.values())
    y = alt.Y("cluster_label:N", sort=order, title=None, axis=layout.band_axis(order))
    return data, y, layout.row_step(order, least=least)


def box_plot_chart(boxes: pd.DataFrame, feature: str, *, width: int = 420) -> alt.LayerChart:
    """Box plots of one feature per cluster in original units, from profiles.box_stats:
    whiskers (Tukey, 1.5 IQR), the box from q1 to q3, the median as a white tick; one row
    per cluster, tall enough that boxes never touch."""
    data = boxes[(boxes["feature"] == feature) & (boxes["count"] > 0)].copy()
    if data.empty:
        raise ValueError(f"No box-plot numbers for feature {feature!r}.")
    data, y, step = _cluster_rows(data)
    box_size = max(8, int(step * 0.6))
    color = alt.Color("cluster_name:N", sort=list(dict.fromkeys(data["cluster_name"])), legend=None)
    tooltip = [alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("count:Q", title="counties", format=",")] + [
        alt.Tooltip(f"{c}:Q", format=layout.NUMBER_TIP)
        for c in ("lower_whisker", "q1", "median", "q3", "upper_whisker", "mean")
    ] + [alt.Tooltip("outliers:Q", title="beyond whiskers", format=",")]
    whisker = alt.Chart().mark_rule(color="#555555").encode(
        y=y, x=alt.X("lower_whisker:Q", title=feature, scale=alt.Scale(zero=False),
                     axis=alt.Axis(format=layout.NUMBER, labelFontSize=layout.LABEL_FONT)), x2="upper_whisker:Q")
    box = alt.Chart().mark_bar(size=box_size).encode(y=y, x="q1:Q", x2="q3:Q", color=color, tooltip=tooltip)
    median = alt.Chart().mark_tick(color="white", thickness=2, size=box_size).encode(y=y, x="median:Q")
    return alt.layer(whisker, box, median, data=layout.inline(data)).properties(
        width=width, height={"step": step}, padding=layout.PADDING,
        title=layout.title(f"{feature} by cluster (original units)"))


def stability_chart(per_cluster: pd.DataFrame, *, width: int = 420) -> alt.LayerChart:
    """Mean bootstrap Jaccard per cluster as bars over the bands (red < 0.6 unstable, amber
    0.6–0.75 doubtful, green ≥ 0.75 stable), with rules at 0.6 and 0.75; one row per cluster.
    per_cluster: StabilityResult.per_cluster or .with_names(names)."""
    data = per_cluster.copy()
    if "cluster_name" not in data:
        data["cluster_name"] = [f"cluster {c}" for c in data["cluster"]]
    data, y, step = _cluster_rows(data)
    bands = pd.DataFrame([{"band": name, "low": low, "high": high, "meaning": meaning}
                          for name, low, high, meaning in stability.BANDS])
    x = alt.X("mean_jaccard:Q", title="mean bootstrap Jaccard", scale=alt.Scale(domain=[0, 1]))
    background = alt.Chart(layout.inline(bands)).mark_rect(opacity=0.6).encode(
        x=alt.X("low:Q", scale=alt.Scale(domain=[0, 1])), x2="high:Q",
        color=alt.Color("band:N", title="band", scale=alt.Scale(domain=list(BAND_COLORS), range=list(BAND_COLORS.values())),
                        legend=alt.Legend(labelFontSize=layout.LABEL_FONT)),
        tooltip=[alt.Tooltip("band:N"), alt.Tooltip("meaning:N")],
    )
    rules = alt.Chart(layout.inline(pd.DataFrame({"at": [stability.UNSTABLE, stability.STABLE]}))).mark_rule(
        color="#555555", strokeDash=[4, 3]).encode(x="at:Q")
    tooltip = [alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("mean_jaccard:Q", format=".2f"),
               alt.Tooltip("band:N")]
    for column, name in (("size", "counties"), ("recovered", "share recovered (J ≥ 0.75)"),
                         ("dissolved", "share dissolved (J ≤ 0.5)")):
        if column in data:
            tooltip.append(alt.Tooltip(f"{column}:Q", title=name, format=".0%" if column != "size" else ","))
    rows = layout.inline(data)
    bars = alt.Chart(rows).mark_bar(size=max(8, int(step * 0.55)), color="#3b5b92").encode(y=y, x=x, tooltip=tooltip)
    labels = alt.Chart(rows).mark_text(align="left", dx=4, fontSize=11).encode(
        y=y, x=x, text=alt.Text("mean_jaccard:Q", format=".2f"))
    return alt.layer(background, rules, bars, labels).properties(
        width=width, height={"step": step}, padding=layout.PADDING,
        title=layout.title("Cluster stability (bootstrap Jaccard)",
                           "Below 0.6 unstable, 0.6–0.75 doubtful, 0.75 and above stable."),
    )


def confidence_bins(confidence: pd.DataFrame, names: Sequence[str] | None = None, bins: int = 20) -> pd.DataFrame:
    """Counties per confidence bin (0–1 in `bins` equal steps) and cluster: bin_start,
    bin_end, cluster, cluster_name, counties. The last bin includes 1.0."""
    values = confidence["confidence"].to_numpy(dtype=np.float64)
    clusters = confidence["cluster"].to_numpy(dtype=np.int64)
    k = int(clusters.max()) + 1 if clusters.size else 0
    names = list(names or [])
    names += [""] * (k - len(names))
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.floor(values * bins).astype(np.int64), 0, bins - 1)
    counts = np.zeros((bins, k), dtype=np.int64)
    np.add.at(counts, (which, clusters), 1)
    rows = [{"bin_start": edges[b], "bin_end": edges[b + 1], "cluster": c, "cluster_name": names[c] or f"cluster {c}",
             "counties": int(counts[b, c])}
            for b in range(bins) for c in range(k) if counts[b, c]]
    return pd.DataFrame(rows, columns=["bin_start", "bin_end", "cluster", "cluster_name", "counties"])


def _log_ticks(largest: float) -> list[int]:
    """1, 10, 100, … up to the largest count: the ticks of a log count axis."""
    ticks, tick = [], 1
    while tick <= max(1.0, largest):
        ticks.append(tick)
        tick *= 10
    return ticks


def confidence_histogram(
    confidence: pd.DataFrame, names: Sequence[str] | None = None, *, threshold: float = 0.8, bins: int = 20,
    width: int = 480, log: bool = True,
) -> alt.FacetChart:
    """How many counties keep their cluster in what share of the error draws, from
    margins.MembershipConfidence.table: one small histogram per cluster (up to
    SMALL_MULTIPLES clusters; beyond, one histogram of all counties), bars below `threshold`
    (uncertain memberships) in red. log: a log count axis (1, 10, 100, …; the default), so
    that the few uncertain counties show beside the many certain ones; else linear."""
    data = confidence_bins(confidence, names, bins)
    uncertain = int((confidence["confidence"] < threshold).sum())
    k = int(confidence["cluster"].nunique())
    together = k > SMALL_MULTIPLES
    if together:
        data = data.groupby(["bin_start", "bin_end"], as_index=False)["counties"].sum()
        data["cluster"], data["cluster_name"] = -1, "all clusters"
    data["kept"] = np.where(data["bin_end"] <= threshold + 1e-12, "uncertain", "sure")
    names_in_order = list(dict.fromkeys(data.sort_values("cluster", kind="stable")["cluster_name"]))
    wrapped = layout.wrapped_names(names_in_order, width=60)
    data["panel"] = [wrapped[str(n)] for n in data["cluster_name"]]
    largest = float(data["counties"].max()) if len(data) else 1.0
    scale = alt.Scale(type="log", domain=[LOG_FOOT, max(2.0, largest * 1.5)], nice=False) if log else alt.Scale()
    bars = alt.Chart().mark_bar(binSpacing=1).encode(
        x=alt.X("bin_start:Q", bin="binned", title="share of draws kept in the cluster",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%", labelFontSize=layout.LABEL_FONT)),
        x2="bin_end:Q",
        y=alt.Y("counties:Q", title="counties" + (" (log)" if log else ""), scale=scale,
                axis=alt.Axis(values=_log_ticks(largest) if log else alt.Undefined, format=",d",
                              labelFontSize=layout.LABEL_FONT, tickCount=3)),
        # On a log axis a bar has no zero to start from: it starts at the foot of the axis.
        y2=alt.datum(LOG_FOOT) if log else alt.Undefined,
        color=alt.Color("kept:N", title=None, scale=alt.Scale(domain=["uncertain", "sure"],
                                                              range=[RECOMMENDED, LINE]),
                        legend=alt.Legend(orient="top", labelFontSize=layout.LABEL_FONT)),
        tooltip=[alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("bin_start:Q", title="from", format=".0%"),
                 alt.Tooltip("bin_end:Q", title="to", format=".0%"), alt.Tooltip("counties:Q", format=",")],
    )
    rule = alt.Chart().mark_rule(color=RECOMMENDED, strokeDash=[4, 3]).encode(x=alt.datum(threshold))
    header = alt.Header(labelOrient="top", labelAnchor="start", labelAngle=0, labelFontSize=layout.LABEL_FONT,
                        labelLimit=0, labelExpr="split(datum.label, '\\n')", labelLineHeight=layout.LINE_HEIGHT)
    subtitle = [(f"{uncertain:,} of {len(confidence):,} counties stay in their cluster in fewer than "
                f"{threshold:.0%} of the draws.")]
    if together:
        subtitle.append(f"All {k} clusters together: more than {SMALL_MULTIPLES} are too many for a histogram each.")
    return (
        alt.layer(bars, rule, data=layout.inline(data)).properties(width=width, height=70)
        .facet(row=alt.Row("panel:N", sort=[wrapped[n] for n in names_in_order], title=None, header=header),
               title=layout.title("Membership confidence", subtitle))
        .resolve_scale(y="independent" if not log else "shared")
    )


def separation_chart(separation: pd.DataFrame, *, top: int | None = 15, width: int = 420) -> alt.Chart:
    """R² (share of each feature's variance the clusters explain) per feature, strongest
    first, from profiles.separating_variables; one row per feature."""
    data = separation.head(top) if top else separation
    data = data.copy()
    order = [str(f) for f in data["feature"]]
    return alt.Chart(layout.inline(data)).mark_bar(color=LINE).encode(
        y=alt.Y("feature:N", sort=order, title=None, axis=layout.band_axis(order)),
        x=alt.X("r2:Q", title="R² (between-cluster / total sum of squares)", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("r2:Q", format=".3f"),
                 alt.Tooltip("f_statistic:Q", title="ANOVA F", format=",.1f"),
                 alt.Tooltip("p_value:Q", title="p", format=".2g")],
    ).properties(width=width, height={"step": layout.row_step(order)}, padding=layout.PADDING,
                 title=layout.title("Variables that separate the clusters most"))
