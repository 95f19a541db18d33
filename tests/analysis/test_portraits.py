"""Segment portraits: drafting from profiles, and the Markdown / HTML reports.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest

from workbench.analysis import portraits, profiles


@pytest.fixture()
def profile():
    # Cluster 0: two counties, high Hispanic and Poverty, low White; cluster 1: the rest.
    frame = pd.DataFrame({
        "TotalPop": [100.0, 100.0, 400.0, 400.0, 500.0, 500.0],
        "Hispanic": [60.0, 60.0, 10.0, 10.0, 10.0, 10.0],
        "White": [20.0, 20.0, 80.0, 80.0, 80.0, 80.0],
        "Poverty": [30.0, 30.0, 15.0, 15.0, 15.0, 15.0],
        "Drive": [80.0, 80.0, 80.0, 80.0, 80.0, 80.0],
        "IncomeErr": [5000.0, 5000.0, 1000.0, 1000.0, 1000.0, 1000.0],
    })
    return profiles.build_profile(frame, np.array([0, 0, 1, 1, 1, 1]), names=["", "heartland"])


def test_draft_names_the_top_index_scores(profile):
    # Hispanic: 60 / 26.67 = 225; Poverty: 30 / 20 = 150; White 20 / 60 = 33; TotalPop 100/333 = 30.
    # The draft leads with rates and shares: the population (a count) is left out.
    assert portraits.draft_portrait(profile, 0) == (
        "Cluster 0 (2 counties, 10% of population): high Hispanic 225, Poverty 150; low White 33."
    )
    assert "low TotalPop 30, White 33" in portraits.draft_portrait(profile, 0, skip_counts=False)
    # Margins of error are left out unless asked for.
    assert "IncomeErr" in portraits.draft_portrait(profile, 0, skip_margins=False, n_high=5)
    assert portraits.draft_portrait(profile, 0, n_high=1, n_low=0).endswith("high Hispanic 225.")


def test_draft_for_an_average_cluster_and_names(profile):
    text = portraits.draft_portrait(profile, 1)
    assert text.startswith("Heartland (4 counties, 90% of population): ")
    assert "low Hispanic 38" in text
    drafts = portraits.draft_portraits(profile, ["Border towns"])
    assert drafts[0].startswith("Border towns (2 counties")
    with pytest.raises(ValueError):
        portraits.draft_portrait(profile, 2)


def test_draft_without_population_and_nothing_flagged():
    frame = pd.DataFrame({"Walk": [10.0, 10.0, 11.0]})
    profile = profiles.build_profile(frame, np.array([0, 0, 1]))
    assert profile.population_column is None
    assert portraits.draft_portrait(profile, 0) == (
        "Cluster 0 (2 counties, 67% of counties): close to the average on every feature "
        "(all index scores between 80 and 120)."
    )


def test_edited_portraits_win_over_drafts():
    assert portraits.portraits_or_drafts(["Mine", " ", None], ["d0", "d1", "d2", "d3"]) == ["Mine", "d1", "d2", "d3"]


@pytest.fixture()
def report(profile):
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_bar().encode(x="x:Q", y="y:Q")
    return portraits.Report(
        title="County segments <2015>",
        portraits=portraits.draft_portraits(profile),
        cluster_names=profile.names,
        intro="Seven segments.",
        facts={"k": 2, "counties": 6},
        tables={"Shares": profile.shares[["cluster_name", "counties"]]},
        charts={"Index scores": chart},
        notes=["Index scores are unweighted county means."],
    )


def test_draft_leads_with_rates_on_the_census(census_prepared):
    from backends.algorithms import pca
    from workbench.analysis import stability

    model = pca.fit_pca(census_prepared.X, {"feature_dim": 34, "num_components": 5, "mini_batch_size": 500})
    labels, _ = stability.fit_labels(model.transform(census_prepared.X), 7, 0)
    profile = profiles.build_profile(census_prepared.clean.frame, labels, features=census_prepared.features)
    assert profile.counts == ["TotalPop", "Men", "Women", "Citizen", "Employed"]
    drafts = portraits.draft_portraits(profile)
    for draft in drafts:
        assert not any(f" {count} " in draft for count in profile.counts), draft


def test_markdown_report(report):
    files = portraits.markdown_report(report, images=False)
    text = files["report.md"].decode()
    assert list(files) == ["report.md"]
    assert text.startswith("# County segments \\<2015\\>")  # escaped: shows as typed
    assert "### heartland" in text and "high Hispanic 225" in text
    assert "| cluster\\_name | counties |" in text and "| heartland | 4 |" in text
    assert "- **k**: 2" in text and "install vl-convert-python" in text


def test_markdown_report_with_png(report):
    pytest.importorskip("vl_convert")
    files = portraits.markdown_report(report, images=True)
    assert "![Index scores](charts/index-scores.png)" in files["report.md"].decode()
    assert files["charts/index-scores.png"].startswith(b"\x89PNG")


def test_html_report_offline_svg_and_fallback(report):
    pytest.importorskip("vl_convert")
    page = portraits.html_report(report, svg=True)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "County segments &lt;2015&gt;" in page  # escaped
    assert "cdn.jsdelivr" not in page and "<table" in page
    fallback = portraits.html_report(report, svg=False)
    assert "vegaEmbed('#chart-0'" in fallback and '"mark"' in fallback


def test_report_files(report):
    files = portraits.report_files(report, stem="My Run")
    assert "my-run-report.md" in files and "my-run-report.html" in files
    assert all(name.startswith("my-run-") for name in files)


HOSTILE = ['=HYPERLINK("http://x","y")', "![x](http://host/p.png)", "<!--", "**bold**", "</script><script>x()"]


@pytest.fixture()
def hostile_report(profile):
    """A report whose every name and text is something Markdown or HTML would act on."""
    names = [HOSTILE[0], HOSTILE[2]]
    shares = profile.shares.assign(cluster_name=names, population=[1.736e8, 10_040_000.0])
    chart = alt.Chart(pd.DataFrame({"cluster": names, "n": [1, 2]}), title=HOSTILE[3]).mark_bar().encode(
        x="n:Q", y=alt.Y("cluster:N", title=HOSTILE[1]), tooltip=["cluster:N"])
    return portraits.Report(
        title=HOSTILE[3], portraits=[f"{HOSTILE[1]} first", f"{HOSTILE[4]}\nsecond line"], cluster_names=names,
        intro=HOSTILE[2], facts={HOSTILE[0]: 3218, "seconds": 0.25},
        tables={HOSTILE[1]: shares[["cluster_name", "counties", "population", "population_share"]]},
        charts={HOSTILE[2]: chart}, notes=[HOSTILE[4]])


def _visible_html(page: str) -> tuple[str, list[str]]:
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.text, self.events = [], []

        def handle_starttag(self, tag, attrs):
            self.events.append(tag)

        def handle_comment(self, data):
            self.events.append("comment")

        def handle_data(self, data):
            self.text.append(data)

    reader = Reader()
    reader.feed(page)
    reader.close()
    return "".join(reader.text), reader.events


def test_markdown_report_shows_names_and_numbers_as_written(hostile_report):
    from markdown_it import MarkdownIt

    md = portraits.markdown_report(hostile_report, images=False)["report.md"].decode()
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)
    visible, tags = _visible_html(rendered)
    assert "img" not in tags and "a" not in tags and "script" not in tags and "comment" not in tags
    assert tags.count("strong") == 2  # the facts' own bold keys, nothing from a name
    visible = visible.replace("\u2060", "")
    for name in HOSTILE:
        assert name in visible, name
    # Numbers for people: no exponent, separators, shares as percentages.
    assert "173,600,000" in visible and "10,040,000" in visible and "e+" not in md
    assert "3,218" in visible and "10.0%" in visible


@pytest.mark.parametrize("svg", [True, False])
def test_html_report_shows_names_as_text_in_both_forms(hostile_report, svg):
    if svg:
        pytest.importorskip("vl_convert")
    page = portraits.html_report(hostile_report, svg=svg)
    visible, tags = _visible_html(page)
    assert "comment" not in tags and tags.count("script") == (0 if svg else 4)  # 3 loaders + 1 chart
    assert "</body>" in page and visible.rstrip().endswith(HOSTILE[4])  # nothing swallowed the end
    for name in HOSTILE:
        assert name in visible or not svg and name in _script_strings(page), name
    assert "173,600,000" in visible and "e+" not in visible


def _script_strings(page: str) -> str:
    """The strings of the charts' JSON in the fallback page (what vega-embed reads)."""
    import json
    import re

    found = []
    for payload in re.findall(r"vegaEmbed\('#chart-\d+', (.*?), \{actions: false\}\);</script>", page):
        found.append(json.dumps(json.loads(payload), ensure_ascii=False))
    return "".join(found)
