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
    assert portraits.draft_portrait(profile, 0) == (
        "Cluster 0 (2 counties, 10% of population): high Hispanic 225, Poverty 150; low TotalPop 30, White 33."
    )
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


def test_markdown_report(report):
    files = portraits.markdown_report(report, images=False)
    text = files["report.md"].decode()
    assert list(files) == ["report.md"]
    assert text.startswith("# County segments <2015>")
    assert "### heartland" in text and "high Hispanic 225" in text
    assert "| cluster_name | counties |" in text and "| heartland | 4 |" in text
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
