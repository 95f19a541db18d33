"""AppTest: every page of the Streamlit app renders on the census data, says what to do
first when its prerequisites are missing, and keys every widget.

The helpers here (`new_app`, `goto`, `train_pca`, `train_kmeans`, `problems`) are shared
with tests/test_app_flow.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apptest import (
    PAGES,
    all_widgets,
    errors,
    goto,
    infos,
    new_app,
    problems,
    table,
    train_kmeans,
    train_pca,
)

# --- Every page renders -------------------------------------------------------------------


def test_data_page_renders_cleaning_report_preview_and_feature_view(app_env):
    at = new_app()
    assert not problems(at)
    assert at.title[0].value == "Data"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows read"] == "3,220"
    assert metrics["Rows kept"] == "3,218"
    assert metrics["Numeric features"] == "34"
    assert any("missing values" in w.value for w in at.warning)  # the two blank rows, reported
    preview = table(at, "CensusId", "Income")
    assert len(preview) == 100 and {"CensusId", "State", "County", "Income"} <= set(preview.columns)
    assert at.selectbox(key="hist_feature").value == "TotalPop"
    stats = table(at, "statistic", "value").set_index("statistic")["value"]
    assert stats["max"] == "10,038,388" and "e+" not in " ".join(stats)  # numbers for people, not 1.004e+07
    at.selectbox(key="hist_feature").select("Income").run()
    stats = table(at, "statistic", "value").set_index("statistic")["value"]
    assert stats["count"] == "3,218" and stats["missing"] == "0"
    assert not problems(at)


def test_features_page_minmax_runs_from_zero_to_one(app_env):
    at = goto(new_app(), "features")
    assert not problems(at)
    assert len(at.multiselect(key="feature_select").value) == 34
    summary = table(at, "feature", "min", "max")
    assert summary["min"].abs().max() < 1e-6
    assert (summary["max"] - 1).abs().max() < 1e-6
    at.radio(key="scaler").set_value("zscore").run()
    summary = table(at, "feature", "min", "max")
    assert summary["mean"].abs().max() < 1e-4
    assert not problems(at)


def test_features_page_subset_changes_what_pca_trains_on(app_env):
    at = goto(new_app(), "features")
    at.multiselect(key="feature_select").set_value(["Income", "Poverty", "Unemployment"]).run()
    assert len(table(at, "feature", "min", "max")) == 3
    train_pca(at)
    assert at.number_input(key="pca_num_components").value == 3  # clamped to the 3 features
    run = at.session_state["pca_run"]
    assert run.stage.model.feature_dim == 3


def test_features_page_presets_drop_and_restore_the_margins_of_error(app_env):
    at = goto(new_app(), "features")
    at.button(key="features_recommended").click().run()
    chosen = at.multiselect(key="feature_select").value
    assert len(chosen) == 32 and not [f for f in chosen if f.endswith("Err")]
    scaled = list(table(at, "feature", "min", "max")["feature"])
    # …and its counts become rates of the population, which is no longer a feature itself.
    assert len(scaled) == 31 and "Men per TotalPop" in scaled and "TotalPop" not in scaled and "Men" not in scaled
    assert at.session_state["recipe_total"] == "TotalPop"
    at.button(key="features_all").click().run()
    assert len(at.multiselect(key="feature_select").value) == 34 and not at.session_state["recipe_total"]
    assert len(table(at, "feature", "min", "max")) == 34
    assert not problems(at)


@pytest.mark.parametrize("page", ["features", "pca", "names", "clusters", "explore", "export"])
def test_every_page_renders_on_a_fresh_session(app_env, page):
    at = goto(new_app(), page)
    assert not problems(at)
    assert at.title[0].value


@pytest.mark.parametrize("page", ["names", "clusters"])
def test_pages_after_pca_say_to_train_pca_first(app_env, page):
    at = goto(new_app(), page)
    assert any("Train PCA first" in text for text in infos(at)), infos(at)
    assert not problems(at)


@pytest.mark.parametrize("page", ["explore", "export"])
def test_pages_after_kmeans_say_to_train_kmeans_first(app_env, page):
    at = new_app()
    train_pca(at)
    goto(at, page)
    assert any("Train K-Means first" in text for text in infos(at)), infos(at)
    assert not problems(at)


def test_pca_page_trains_and_shows_exact_explained_variance(app_env):
    at = train_pca(new_app())
    run = at.session_state["pca_run"]
    variance = table(at, "explained", "cumulative")
    assert len(variance) == 33
    ratios = run.stage.explained_variance_ratio
    assert variance["explained"].tolist() == pytest.approx(ratios.tolist())
    assert variance["cumulative"].iloc[-1] == pytest.approx(float(ratios.sum()))
    assert variance["explained"].is_monotonic_decreasing  # largest first
    assert variance["kept"].sum() == 5  # the walkthrough keeps 5
    assert at.number_input(key="pca_top").value == 5
    at.number_input(key="pca_top").set_value(3).run()
    assert table(at, "explained", "cumulative")["kept"].sum() == 3
    # The job's artifact lives in its recorded run's folder under the workspace.
    assert Path(run.stage.job.artifact_path) == app_env / "runs" / run.run_id / "pca" / "model.tar.gz"
    assert Path(run.stage.job.artifact_path).is_file()
    assert not problems(at)


@pytest.mark.parametrize("page", ["names", "clusters"])
def test_pages_after_pca_render(app_env, page):
    at = train_pca(new_app())
    goto(at, page)
    assert not problems(at) and not errors(at)


def test_pages_after_kmeans_render(app_env):
    at = train_kmeans(train_pca(new_app()))
    for page in ("clusters", "explore", "export", "data", "features", "pca", "names"):
        goto(at, page)
        assert not problems(at) and not errors(at), page


def test_every_widget_has_an_explicit_key(app_env):
    at = train_kmeans(train_pca(new_app()))
    seen = 0
    for page in PAGES:
        goto(at, page)
        for widget in all_widgets(at):
            seen += 1
            assert widget.key, f"{page}: a {widget.type} labelled {getattr(widget, 'label', '?')!r} has no key"
    assert seen > 40


def test_data_page_log_histogram(app_env):
    at = new_app()
    at.checkbox(key="hist_log").check().run()
    assert not problems(at) and not errors(at)
