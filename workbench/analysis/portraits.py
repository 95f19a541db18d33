"""Segment portraits: a plain-words description of each cluster, drafted from its profile
for the analyst to edit, and the Markdown and HTML reports that carry them with the charts.

A draft reads, for example:

    Cluster 3 (412 counties, 9% of population): high Hispanic 310, Poverty 145, ChildPoverty
    140, Unemployment 125; low White 60, Income 78.

— the cluster's highest index scores at or above 120 and its lowest at or below 80, most
extreme first (see profiles.py). The draft leads with rates and shares: count columns
(TotalPop, Men, Employed, …; profiles.count_columns) are left out, since they say how big
the counties are, which the size already says; so are margin-of-error columns (`*Err`),
which describe the precision of the estimates, not the counties.

Reports
-------
`markdown_report` returns the Markdown text and, when vl-convert-python is installed, a PNG
per chart (`charts/<slug>.png`, linked from the text), as file name → bytes, ready to zip
with the CSV. `html_report` returns one self-contained HTML page: charts as inline SVG
(rendered offline by vl-convert-python), or, without it, as Vega-Lite specs with
vega-embed loaded from a CDN (which needs a network to view). No network is used to build
either report.

Every name and text in a report is plain text (text.markdown / text.html / text.script_json),
and every number is written for people (formatting): 173,631,000, not 1.736e+08.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.analysis import formatting, margins, profiles, text

__all__ = [
    "Report",
    "draft_portrait",
    "draft_portraits",
    "html_report",
    "markdown_report",
    "png_available",
    "portraits_or_drafts",
    "report_files",
]


def draft_portrait(
    profile: profiles.ClusterProfile,
    cluster: int,
    *,
    n_high: int = 4,
    n_low: int = 2,
    skip_margins: bool = True,
    skip_counts: bool = True,
    name: str | None = None,
) -> str:
    """One cluster's draft description from its profile (see the module doc)."""
    if not 0 <= cluster < profile.k:
        raise ValueError(f"cluster must be between 0 and {profile.k - 1}; got {cluster}.")
    name = (name or "").strip() or profile.names[cluster]
    label = name[0].upper() + name[1:] if name else f"Cluster {cluster}"
    share = profile.shares.iloc[cluster]
    counties = int(share["counties"])
    size = f"{counties:,} {'county' if counties == 1 else 'counties'}"
    if profile.population_column and np.isfinite(share["population_share"]):
        size += f", {formatting.percent(share['population_share'])} of population"
    else:
        size += f", {formatting.percent(share['county_share'])} of counties"
    scores = profile.index[(profile.index["cluster"] == cluster) & profile.index["index"].notna()]
    if skip_margins:
        scores = scores[~scores["feature"].map(margins.is_margin)]
    if skip_counts:
        scores = scores[~scores["feature"].isin(profile.counts)]
    high = scores[scores["index"] >= profiles.HIGH].sort_values("index", ascending=False, kind="stable").head(n_high)
    low = scores[scores["index"] <= profiles.LOW].sort_values("index", ascending=True, kind="stable").head(n_low)
    parts = []
    if len(high):
        parts.append("high " + ", ".join(f"{r.feature} {r.index:.0f}" for r in high.itertuples()))
    if len(low):
        parts.append("low " + ", ".join(f"{r.feature} {r.index:.0f}" for r in low.itertuples()))
    if not parts:
        if counties == 0:
            return f"{label} ({size}): no counties."
        return f"{label} ({size}): close to the average on every feature (all index scores between 80 and 120)."
    return f"{label} ({size}): " + "; ".join(parts) + "."


def draft_portraits(profile: profiles.ClusterProfile, names: Sequence[str] | None = None, **kwargs) -> list[str]:
    """A draft for every cluster (names: the analyst's cluster names, blank for the default)."""
    names = list(names or [])
    names += [""] * (profile.k - len(names))
    return [draft_portrait(profile, c, name=names[c], **kwargs) for c in range(profile.k)]


def portraits_or_drafts(edited: Sequence[str] | None, drafts: Sequence[str]) -> list[str]:
    """The analyst's edited descriptions, with the draft wherever one is blank or missing."""
    edited = list(edited or [])
    edited += [""] * (len(drafts) - len(edited))
    return [(text or "").strip() or draft for text, draft in zip(edited, drafts)]


# --------------------------------------------------------------------------- reports


@dataclass
class Report:
    """What a report holds, in order: a title, an intro, the segment portraits (one per
    cluster, with its name), tables and charts (title → object), and notes."""

    title: str
    portraits: Sequence[str]
    cluster_names: Sequence[str] = ()
    intro: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"k": 7, "features": 28, "rows": 3218}
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    charts: Mapping[str, Any] = field(default_factory=dict)  # title -> altair chart
    notes: Sequence[str] = ()


def _slug(title: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "-", title.lower()).strip("-")
    return slug or "chart"


def _fact(value: Any) -> str:
    """A fact's value for people: numbers with separators (3,218), text as it is."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    return formatting.number(value)


def png_available() -> bool:
    """Whether charts can be rendered to PNG/SVG offline (vl-convert-python is installed)."""
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return False
    return True


def _chart_spec(chart: Any) -> dict[str, Any]:
    return chart.to_dict() if hasattr(chart, "to_dict") else dict(chart)


def _markdown_table(frame: pd.DataFrame, max_rows: int = 50) -> str:
    frame = formatting.formatted_table(frame.head(max_rows))

    def cell(value: Any) -> str:
        return text.markdown(value)  # escapes "|" too

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def markdown_report(report: Report, *, images: bool | None = None, image_dir: str = "charts") -> dict[str, bytes]:
    """{"report.md": …, "charts/<slug>.png": …}. images: True renders the charts as PNG
    (needs vl-convert-python), False leaves them out (a note lists them), None = when available."""
    images = png_available() if images is None else images
    files: dict[str, bytes] = {}
    md = text.markdown
    lines = [f"# {md(report.title)}", ""]
    if report.intro:
        lines += [text.markdown_block(report.intro), ""]
    if report.facts:
        lines += [f"- **{md(key)}**: {md(_fact(value))}" for key, value in report.facts.items()] + [""]
    lines += ["## Segment portraits", ""]
    names = list(report.cluster_names) + [""] * (len(report.portraits) - len(report.cluster_names))
    for i, portrait in enumerate(report.portraits):
        lines += [f"### {md(names[i] or f'cluster {i}')}", "", text.markdown_block(portrait), ""]
    for title, chart in report.charts.items():
        lines += [f"## {md(title)}", ""]
        if images:
            import vl_convert

            name = f"{image_dir}/{_slug(title)}.png"
            files[name] = vl_convert.vegalite_to_png(json.dumps(_chart_spec(chart)), scale=2)
            lines += [f"![{md(title)}]({name})", ""]
        else:
            lines += [("*(Chart not included: install vl-convert-python to export charts as images, "
                      "or use the HTML report.)*"), ""]
    for title, table in report.tables.items():
        lines += [f"## {md(title)}", "", _markdown_table(table), ""]
    if report.notes:
        lines += ["## Notes", ""] + [f"- {md(note)}" for note in report.notes] + [""]
    files = {"report.md": "\n".join(lines).encode("utf-8"), **files}
    return files


_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
.portrait { border-left: 4px solid #1f77b4; padding: .3em .9em; margin: .6em 0; background: #f7f9fc; }
.portrait h3 { margin: .2em 0; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0 2em; overflow-x: auto; }
"""


def html_report(report: Report, *, svg: bool | None = None) -> str:
    """One HTML page: intro, facts, portraits, charts, tables, notes. svg: True renders each
    chart as inline SVG (offline; needs vl-convert-python); False embeds Vega-Lite specs for
    vega-embed from a CDN; None = SVG when available."""
    svg = png_available() if svg is None else svg
    esc = text.html
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(report.title)}</title>",
             f"<style>{_CSS}</style>"]
    if not svg and report.charts:
        parts += ["<script src='https://cdn.jsdelivr.net/npm/vega@6'></script>",
                  "<script src='https://cdn.jsdelivr.net/npm/vega-lite@6'></script>",
                  "<script src='https://cdn.jsdelivr.net/npm/vega-embed@7'></script>"]
    parts += ["</head><body>", f"<h1>{esc(report.title)}</h1>"]
    if report.intro:
        parts += [f"<p>{esc(p)}</p>" for p in report.intro.strip().split("\n\n")]
    if report.facts:
        parts.append("<ul>" + "".join(f"<li><b>{esc(k)}</b>: {esc(_fact(v))}</li>" for k, v in report.facts.items())
                     + "</ul>")
    parts.append("<h2>Segment portraits</h2>")
    names = list(report.cluster_names) + [""] * (len(report.portraits) - len(report.cluster_names))
    for i, portrait in enumerate(report.portraits):
        body = "<br>".join(esc(line.strip()) for line in portrait.strip().splitlines())
        parts.append(f"<div class='portrait'><h3>{esc(names[i] or f'cluster {i}')}</h3><p>{body}</p></div>")
    for n, (title, chart) in enumerate(report.charts.items()):
        parts.append(f"<h2>{esc(title)}</h2><figure>")
        spec = _chart_spec(chart)
        if svg:
            import vl_convert

            parts.append(vl_convert.vegalite_to_svg(json.dumps(spec)))
        else:
            div = f"chart-{n}"
            parts.append(f"<div id='{div}'></div><script>vegaEmbed('#{div}', {text.script_json(spec)}, "
                         "{actions: false});</script>")
        parts.append("</figure>")
    for title, table in report.tables.items():
        parts += [f"<h2>{esc(title)}</h2>", formatting.formatted_table(table).to_html(index=False, na_rep="", border=0)]
    if report.notes:
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{esc(note)}</li>" for note in report.notes] + ["</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def report_files(report: Report, *, stem: str = "segments", formats: Sequence[str] = ("md", "html")) -> dict[str, bytes]:
    """The report files to export beside the CSV, file name → bytes: `<stem>-report.md` with
    its PNGs under `<stem>-charts/`, and/or `<stem>-report.html`."""
    stem = _slug(stem)
    files: dict[str, bytes] = {}
    if "md" in formats:
        md = markdown_report(report, image_dir=f"{stem}-charts")
        files[f"{stem}-report.md"] = md.pop("report.md")
        files.update(md)
    if "html" in formats:
        files[f"{stem}-report.html"] = html_report(report).encode("utf-8")
    return files
