"""Altair charts for the insight views: choosing k, index scores, box plots, stability and
membership confidence. Pure functions from the tables of choosing_k, profiles, stability
and margins to charts; no Streamlit. (The county map is geo.county_choropleth.)
"""
from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from workbench.analysis import choosing_k, profiles, stability

__all__ = [
    "box_plot_chart",
    "confidence_histogram",
    "confidence_bins",
    "index_heatmap",
    "k_selection_chart",
    "separation_chart",
    "stability_chart",
]

RECOMMENDED = "#d62728"
KNEE = "#ff7f0e"
LINE = "#1f77b4"
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
    every row, and the reason as the subtitle."""
    long = selection.long()
    order = list(dict.fromkeys(long["label"]))
    base = alt.Chart()
    ks = long["k"] if not long.empty else pd.Series([2, 3])
    x = alt.X("k:Q", title="k (number of clusters)", axis=alt.Axis(tickMinStep=1),
              scale=alt.Scale(domain=[int(ks.min()), int(ks.max())], nice=False, zero=False))
    y = alt.Y("value:Q", title=None, scale=alt.Scale(zero=False))
    tooltip = [alt.Tooltip("label:N", title="metric"), alt.Tooltip("k:Q"),
               alt.Tooltip("value:Q", format=",.4~g"), alt.Tooltip("better:N", title="better when")]
    line = base.mark_line(color=LINE).encode(x=x, y=y)
    points = base.mark_point(color=LINE, filled=True, size=30).encode(x=x, y=y, tooltip=tooltip)
    rule = base.mark_rule(color=RECOMMENDED, strokeDash=[4, 3]).encode(x=x).transform_filter("datum.is_recommended")
    chosen = base.mark_point(color=RECOMMENDED, size=120, shape="diamond", filled=True) \
        .encode(x=x, y=y, tooltip=tooltip).transform_filter("datum.is_recommended")
    knee = base.mark_point(color=KNEE, size=200, shape="circle", strokeWidth=2.5) \
        .encode(x=x, y=y, tooltip=tooltip).transform_filter("datum.is_knee && datum.metric === 'sse'")
    title = alt.Title(
        f"Choosing k: recommended k = {selection.recommended}"
        + (f", SSE knee at k = {selection.knee}" if selection.knee is not None else ""),
        subtitle=_wrap(selection.reason, 110),
        anchor="start",
    )
    return (
        alt.layer(rule, line, points, knee, chosen, data=long)
        .properties(width=width, height=110)
        .facet(row=alt.Row("label:N", sort=order, title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
               title=title)
        .resolve_scale(y="independent")
    )


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


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


def index_heatmap(
    scores: pd.DataFrame, *, features: Sequence[str] | None = None, cell_width: int = 34
) -> alt.LayerChart:
    """Clusters × features coloured by index-score band (≤ 50, 50–80, 80–120, 120–200,
    ≥ 200), each cell labelled with its index; flagged cells (≥ 120 or ≤ 80) outlined."""
    data = scores if features is None else scores[scores["feature"].isin(list(features))]
    data = data[["cluster", "cluster_name", "feature", "cluster_mean", "overall_mean", "index", "flag"]].copy()
    data["band"] = [_index_band(v) for v in data["index"]]
    data["label"] = [f"{v:.0f}" if np.isfinite(v) else "" for v in data["index"]]
    feature_order = list(dict.fromkeys(data["feature"]))
    name_order = list(dict.fromkeys(data["cluster_name"]))
    x = alt.X("feature:N", sort=feature_order, title=None, axis=alt.Axis(labelAngle=-50))
    y = alt.Y("cluster_name:N", sort=name_order, title=None)
    tooltip = [alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("feature:N"),
               alt.Tooltip("index:Q", format=".0f"), alt.Tooltip("cluster_mean:Q", format=",.4~g"),
               alt.Tooltip("overall_mean:Q", format=",.4~g"), alt.Tooltip("flag:N")]
    cells = alt.Chart().mark_rect().encode(
        x=x, y=y, tooltip=tooltip,
        color=alt.Color("band:N", title="index score",
                        scale=alt.Scale(domain=[b[0] for b in INDEX_BANDS] + ["n/a"],
                                        range=[b[3] for b in INDEX_BANDS] + ["#ffffff"])),
        stroke=alt.condition("datum.flag !== ''", alt.value("#333333"), alt.value(None)),
        strokeWidth=alt.condition("datum.flag !== ''", alt.value(1.2), alt.value(0)),
    )
    text = alt.Chart().mark_text(fontSize=10).encode(
        x=x, y=y, text="label:N",
        color=alt.condition("datum.index >= 200 || datum.index <= 50", alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, text, data=data).properties(
        width=cell_width * len(feature_order), height=28 * len(name_order),
        title=alt.Title("Index scores (cluster mean / overall mean × 100)",
                        subtitle="Outlined: flagged, at or above 120 or at or below 80."),
    )


def box_plot_chart(boxes: pd.DataFrame, feature: str, *, width: int = 420) -> alt.LayerChart:
    """Box plots of one feature per cluster in original units, from profiles.box_stats:
    whiskers (Tukey, 1.5 IQR), the box from q1 to q3, the median as a white tick, and the
    overall mean as a dashed rule when the table has it."""
    data = boxes[(boxes["feature"] == feature) & (boxes["count"] > 0)].copy()
    if data.empty:
        raise ValueError(f"No box-plot numbers for feature {feature!r}.")
    order = list(dict.fromkeys(data["cluster_name"]))
    y = alt.Y("cluster_name:N", sort=order, title=None)
    color = alt.Color("cluster_name:N", sort=order, legend=None)
    tooltip = [alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("count:Q", title="counties")] + [
        alt.Tooltip(f"{c}:Q", format=",.4~g") for c in ("lower_whisker", "q1", "median", "q3", "upper_whisker", "mean")
    ] + [alt.Tooltip("outliers:Q", title="beyond whiskers")]
    whisker = alt.Chart().mark_rule(color="#555555").encode(
        y=y, x=alt.X("lower_whisker:Q", title=feature, scale=alt.Scale(zero=False)), x2="upper_whisker:Q")
    box = alt.Chart().mark_bar(size=16).encode(y=y, x="q1:Q", x2="q3:Q", color=color, tooltip=tooltip)
    median = alt.Chart().mark_tick(color="white", thickness=2, size=16).encode(y=y, x="median:Q")
    return alt.layer(whisker, box, median, data=data).properties(
        width=width, height=26 * len(order) + 20, title=f"{feature} by cluster (original units)")


def stability_chart(per_cluster: pd.DataFrame, *, width: int = 420) -> alt.LayerChart:
    """Mean bootstrap Jaccard per cluster as bars over the bands (red < 0.6 unstable, amber
    0.6–0.75 doubtful, green ≥ 0.75 stable), with rules at 0.6 and 0.75.
    per_cluster: StabilityResult.per_cluster or .with_names(names)."""
    data = per_cluster.copy()
    if "cluster_name" not in data:
        data["cluster_name"] = [f"cluster {c}" for c in data["cluster"]]
    order = list(dict.fromkeys(data["cluster_name"]))
    bands = pd.DataFrame([{"band": name, "low": low, "high": high, "meaning": meaning}
                          for name, low, high, meaning in stability.BANDS])
    x = alt.X("mean_jaccard:Q", title="mean bootstrap Jaccard", scale=alt.Scale(domain=[0, 1]))
    background = alt.Chart(bands).mark_rect(opacity=0.6).encode(
        x=alt.X("low:Q", scale=alt.Scale(domain=[0, 1])), x2="high:Q",
        color=alt.Color("band:N", title="band", scale=alt.Scale(domain=list(BAND_COLORS), range=list(BAND_COLORS.values()))),
        tooltip=[alt.Tooltip("band:N"), alt.Tooltip("meaning:N")],
    )
    rules = alt.Chart(pd.DataFrame({"at": [stability.UNSTABLE, stability.STABLE]})).mark_rule(
        color="#555555", strokeDash=[4, 3]).encode(x="at:Q")
    tooltip = [alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("mean_jaccard:Q", format=".2f"),
               alt.Tooltip("band:N")]
    for column, title in (("size", "counties"), ("recovered", "share recovered (J ≥ 0.75)"),
                          ("dissolved", "share dissolved (J ≤ 0.5)")):
        if column in data:
            tooltip.append(alt.Tooltip(f"{column}:Q", title=title, format=".0%" if column != "size" else ","))
    bars = alt.Chart(data).mark_bar(size=14, color="#3b5b92").encode(
        y=alt.Y("cluster_name:N", sort=order, title=None), x=x, tooltip=tooltip)
    labels = alt.Chart(data).mark_text(align="left", dx=4, fontSize=10).encode(
        y=alt.Y("cluster_name:N", sort=order), x=x, text=alt.Text("mean_jaccard:Q", format=".2f"))
    return alt.layer(background, rules, bars, labels).properties(
        width=width, height=26 * len(order) + 20,
        title=alt.Title("Cluster stability (bootstrap Jaccard)",
                        subtitle="Below 0.6 unstable, 0.6–0.75 doubtful, 0.75 and above stable."),
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


def confidence_histogram(
    confidence: pd.DataFrame, names: Sequence[str] | None = None, *, threshold: float = 0.8, bins: int = 20,
    width: int = 480, log: bool = False,
) -> alt.LayerChart:
    """How many counties keep their cluster in what share of the error draws (stacked by
    cluster), from margins.MembershipConfidence.table; a rule marks `threshold`, below which
    a membership counts as uncertain. log: a symlog count axis, so the few uncertain
    counties show beside the many certain ones."""
    data = confidence_bins(confidence, names, bins)
    uncertain = int((confidence["confidence"] < threshold).sum())
    order = list(data.sort_values("cluster", kind="stable")["cluster_name"].drop_duplicates())
    bars = alt.Chart(data).mark_bar(binSpacing=1).encode(
        x=alt.X("bin_start:Q", bin="binned", title="share of draws kept in the cluster",
                scale=alt.Scale(domain=[0, 1])),
        x2="bin_end:Q",
        y=alt.Y("sum(counties):Q", title="counties" + (" (symlog scale)" if log else ""), stack=True,
                scale=alt.Scale(type="symlog") if log else alt.Scale()),
        color=alt.Color("cluster_name:N", sort=order, title="cluster"),
        tooltip=[alt.Tooltip("cluster_name:N", title="cluster"), alt.Tooltip("bin_start:Q", title="from", format=".2f"),
                 alt.Tooltip("bin_end:Q", title="to", format=".2f"), alt.Tooltip("sum(counties):Q", title="counties")],
    )
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(color=RECOMMENDED, strokeDash=[4, 3]) \
        .encode(x="threshold:Q")
    return alt.layer(bars, rule).properties(
        width=width, height=240,
        title=alt.Title("Membership confidence",
                        subtitle=f"{uncertain} of {len(confidence)} counties stay in their cluster in fewer "
                                 f"than {threshold:.0%} of the draws."),
    )


def separation_chart(separation: pd.DataFrame, *, top: int | None = 15, width: int = 420) -> alt.Chart:
    """R² (share of each feature's variance the clusters explain) per feature, strongest
    first, from profiles.separating_variables."""
    data = separation.head(top) if top else separation
    data = data.copy()
    order = list(data["feature"])
    return alt.Chart(data).mark_bar(color=LINE).encode(
        y=alt.Y("feature:N", sort=order, title=None),
        x=alt.X("r2:Q", title="R² (between-cluster / total sum of squares)", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("r2:Q", format=".3f"),
                 alt.Tooltip("f_statistic:Q", title="ANOVA F", format=",.1f"),
                 alt.Tooltip("p_value:Q", title="p", format=".2g")],
    ).properties(width=width, height=20 * len(order) + 20, title="Variables that separate the clusters most")
