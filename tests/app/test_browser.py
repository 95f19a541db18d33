"""A real browser against `streamlit run workbench/streamlit_app.py`: the main path, with a screenshot
of every page in test-artifacts/screenshots/ and no exception shown anywhere.

Needs Debian's chromium (`apt-get install chromium`: /usr/bin/chromium; `./run` installs it when
it can), found on PATH as `./run` looks for it; skipped otherwise, and failed instead when
WORKBENCH_REQUIRE_BROWSER=1 (as CI sets it in .ci/run).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, IDLE, browser_missing, start_streamlit, stop

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 2200}  # tall: Streamlit scrolls inside the page, not the document


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, census_csv):
    missing = browser_missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"WORKBENCH_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    workspace = tmp_path_factory.mktemp("browser-workspace")
    try:
        process, url = start_streamlit(workspace, census_csv, timeout=60)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield url
    finally:
        stop(process, timeout=10)


@pytest.fixture(scope="module")
def browser_page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def wait_idle(page) -> None:
    """Until the script run has finished and its output has been drawn."""
    page.wait_for_timeout(400)
    page.wait_for_function(IDLE, timeout=90_000)
    page.wait_for_timeout(600)


def assert_no_exception(page, where: str) -> None:
    """No exception box and no traceback printed anywhere on the page."""
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        pytest.fail(f"{where} shows an exception:\n{exceptions.first.inner_text()}")
    text = page.locator('[data-testid="stApp"]').inner_text()
    if "Traceback (most recent call last)" in text:
        pytest.fail(f"{where} shows a traceback:\n{text[-2000:]}")


def snapshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def open_page(page, title: str, heading: str | None = None) -> None:
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title)
    if not link.count():  # beyond the first pages the sidebar folds the rest behind "View more"
        page.locator('[data-testid="stSidebarNavViewButton"]').click()
    link.first.click()
    page.get_by_role("heading", name=heading or title, exact=True).wait_for()
    wait_idle(page)


def test_main_path_in_a_real_browser(browser_page, app_url):
    page = browser_page

    # Data: the default dataset loads and its cleaning report shows.
    page.goto(app_url)
    page.get_by_text("Cleaning report").wait_for()
    wait_idle(page)
    assert_no_exception(page, "Data")
    assert page.get_by_text("3,218").first.is_visible()
    snapshot(page, "1-data")

    open_page(page, "Features")
    assert_no_exception(page, "Features")
    snapshot(page, "2-features")

    # PCA: train with visible progress, then the explained variance.
    open_page(page, "PCA")
    page.get_by_role("button", name="Train PCA").click()
    page.get_by_role("heading", name="Explained variance").wait_for()
    wait_idle(page)
    assert_no_exception(page, "PCA")
    assert page.get_by_text("Kept components explain").is_visible()
    snapshot(page, "3-pca")

    # Name components: type a name into the editor's first "name" cell.
    open_page(page, "Name components")
    grid = page.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 30, box["y"] + 35 + 17)  # row 1, column "component"
    page.keyboard.press("ArrowRight")  # → "name"
    page.keyboard.press("Enter")  # open the cell editor
    page.locator("textarea, input.gdg-input").first.wait_for()
    page.keyboard.type("Diversity", delay=30)
    page.keyboard.press("Enter")
    page.get_by_text("In use:").wait_for()
    page.wait_for_function("() => document.body.innerText.includes('In use: Diversity')", timeout=30_000)
    wait_idle(page)
    assert_no_exception(page, "Name components")
    snapshot(page, "4-name-components")

    # Clusters: train K-Means; the component name is carried over.
    open_page(page, "Clusters")
    page.get_by_role("button", name="Train K-Means").click()
    page.get_by_role("heading", name="Name the clusters").wait_for()
    wait_idle(page)
    assert_no_exception(page, "Clusters")
    assert "Diversity" in page.locator('[data-testid="stMain"]').inner_text()
    snapshot(page, "5-clusters")

    open_page(page, "Explore")
    assert_no_exception(page, "Explore")
    snapshot(page, "6-explore")

    # Export: the download carries the name, and downloading keeps the session.
    open_page(page, "Export")
    assert_no_exception(page, "Export")
    snapshot(page, "7-export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").first.click()
    download = download_info.value
    assert download.suggested_filename == "counties-k7-clusters.csv"
    header = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()[0]  # Excel's UTF-8 (BOM)
    assert header.startswith("CensusId,State,County,Diversity,pc2,pc3,pc4,pc5,cluster,cluster_name")
    wait_idle(page)
    assert page.get_by_role("heading", name="Export", exact=True).is_visible()
    assert page.get_by_role("button", name="Download CSV").count() == 3
    assert page.get_by_text("K-Means: k = 7").is_visible()  # the sidebar: still trained
    assert_no_exception(page, "Export after the download")

    # County map: the clusters drawn over the counties, offline (the first run builds the geometry).
    open_page(page, "County map")
    page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for(
        timeout=120_000)
    wait_idle(page)
    page.wait_for_timeout(1500)  # let Vega finish painting the 3,000 shapes
    assert_no_exception(page, "County map")
    snapshot(page, "8-county-map")


def test_the_insight_pages_in_a_real_browser(browser_page, app_url):
    """Choose k and Profiles on the clusters the main path trained (runs after it)."""
    page = browser_page
    open_page(page, "Choose k")
    page.get_by_role("button", name="Evaluate k").click()
    page.get_by_text("Recommended k =").first.wait_for(timeout=120_000)
    wait_idle(page)
    assert_no_exception(page, "Choose k")
    snapshot(page, "8b-choose-k")

    open_page(page, "Profiles")
    page.get_by_role("button", name="Compute stability").click()
    page.get_by_text("Mean stability").first.wait_for(timeout=120_000)
    wait_idle(page)
    assert_no_exception(page, "Profiles")
    snapshot(page, "8c-profiles")


def test_a_recorded_run_opens_in_a_new_session(browser_page, app_url):
    """Tomorrow's analyst: a new session (a reload) opens the run the main path recorded, and
    Explore and Export show it with its names. Runs after test_main_path_in_a_real_browser."""
    page = browser_page
    page.goto(app_url)  # a reload is a new Streamlit session: nothing trained in it
    page.get_by_text("Cleaning report").wait_for()
    wait_idle(page)
    open_page(page, "Explore")
    assert "distance to centroid" not in page.locator('[data-testid="stMain"]').inner_text()  # no clusters yet

    open_page(page, "Runs")
    assert_no_exception(page, "Runs")
    main = page.locator('[data-testid="stMain"]')
    assert "segmentation" in main.inner_text()  # the newest run, selected by default: PCA + K-Means
    page.get_by_role("button", name="Open run").click()
    page.get_by_text("is open").first.wait_for()
    wait_idle(page)
    assert_no_exception(page, "Runs, after opening")
    snapshot(page, "9-runs-open")

    open_page(page, "Explore")
    assert_no_exception(page, "Explore, opened run")
    assert "distance to centroid" in main.inner_text()  # the opened run's clusters
    open_page(page, "Export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").first.click()
    header = Path(download_info.value.path()).read_text(encoding="utf-8-sig").splitlines()[0]  # Excel's UTF-8 (BOM)
    assert header.startswith("CensusId,State,County,Diversity,pc2,pc3,pc4,pc5,cluster")
    assert_no_exception(page, "Export, opened run")

    # The open run is in the address: a reload (a new session) opens it again, names and all.
    assert "run=" in page.url
    page.reload()
    page.get_by_role("heading", name="Export", exact=True).wait_for()
    wait_idle(page)
    assert_no_exception(page, "Export, after a reload")
    assert page.get_by_text("K-Means: k = 7").is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").first.click()
    header = Path(download_info.value.path()).read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("CensusId,State,County,Diversity,pc2")

    for title, heading, name in (("Compare", "Compare runs", "10-compare"), ("Endpoints", None, "11-endpoints")):
        open_page(page, title, heading)
        assert_no_exception(page, title)
        snapshot(page, name)
