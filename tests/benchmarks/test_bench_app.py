"""benchmarks/bench_app.py's page list: every sidebar page is timed or named as left out."""
from __future__ import annotations

from benchmarks import bench_app
from workbench.app.navigation import PAGE_FILES


def test_every_sidebar_page_is_timed_or_named_as_left_out():
    titles = {title for _path, title, _icon in PAGE_FILES.values()}
    assert set(bench_app.SKIPPED) <= titles  # a renamed page cannot quietly stop being left out
    assert set(bench_app.page_paths()) | set(bench_app.SKIPPED) == titles
    assert not set(bench_app.page_paths()) & set(bench_app.SKIPPED)
