"""AppTest: the insight pages (Choose k, Profiles, County map, Endpoints) on the census data.

One app session is trained once (PCA + K-Means, the walkthrough's settings) and shared by the
tests of this module, to keep them fast; each test navigates to its page.
"""
from __future__ import annotations

import pytest

from tests.support.apptest import errors, goto, infos, new_app, problems, train_kmeans, train_pca

INSIGHT_PAGES = {
    "choose_k": "app/pages/choose_k.py",
    "profiles": "app/pages/profiles.py",
    "map": "app/pages/county_map.py",
    "endpoints": "app/pages/endpoints.py",
}


def go(at, page):
    if page in INSIGHT_PAGES:
        return at.switch_page(INSIGHT_PAGES[page]).run()
    return goto(at, page)


def _no_aws(mp: pytest.MonkeyPatch, tmp) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN"):
        mp.delenv(name, raising=False)
    mp.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def trained(census_csv, tmp_path_factory, persistent_cache):
    """An app session with PCA and K-Means trained on the census. The county geometry (about
    10-30 s to build, deterministic and versioned in its file name) is cached in pytest's cache
    folder, so only the first run builds it."""
    if not census_csv.is_file():
        pytest.fail(f"The census data {census_csv} is missing.")
    tmp = tmp_path_factory.mktemp("insight-app")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_DEFAULT_DATA", str(census_csv))
        mp.setenv("WORKBENCH_WORKSPACE", str(tmp / "workspace"))
        mp.setenv("WORKBENCH_CACHE_DIR", str(persistent_cache("workbench-geometry")))
        _no_aws(mp, tmp)
        at = train_kmeans(train_pca(new_app()))
        yield at


def test_pages_say_what_to_do_first_on_a_fresh_session(census_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_DEFAULT_DATA", str(census_csv))
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path / "workspace"))
    at = new_app()
    go(at, "choose_k")
    assert not problems(at) and any("Train PCA first" in text for text in infos(at)), infos(at)
    for page in ("profiles", "map"):
        go(at, page)
        assert not problems(at) and any("first" in text for text in infos(at)), (page, infos(at))


def test_choose_k_recommends_a_k(trained):
    at = go(trained, "choose_k")
    assert not problems(at) and not errors(at)
    assert at.number_input(key="choosek_reps").value == 5 and at.number_input(key="choosek_max").value == 12
    at.number_input(key="choosek_max").set_value(4).run()
    at.number_input(key="choosek_reps").set_value(1).run()
    at.button(key="choosek_run").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    recommended = at.session_state["choosek_recommended"]
    assert recommended in (2, 3, 4)
    assert any(f"Recommended k = {recommended}" in s.value for s in at.success)
    # A rerun reuses the cached result without pressing the button.
    at.run()
    assert at.session_state["choosek_recommended"] == recommended
    at.button(key="choosek_use").click().run()
    assert at.session_state["kmeans_k"] == recommended
    # An unrelated setting (K-Means' seed, another page) changes nothing here: the result is still
    # the cached one, shown without the button (which is what computes; it was not pressed).
    go(at, "clusters")
    at.session_state["kmeans_seed"] = 5
    go(at, "choose_k")
    assert any(f"Recommended k = {recommended}" in s.value for s in at.success)
    at.session_state["kmeans_seed"] = 0
    # A bad range says so instead of failing.
    at.number_input(key="choosek_min").set_value(5).run()
    assert not problems(at) and any("must not exceed" in e for e in errors(at))
    at.number_input(key="choosek_min").set_value(2).run()
    at.session_state["kmeans_k"] = 7  # back to the trained k for the other tests
    at.run()


def test_profiles_page_shows_index_scores_stability_and_confidence(trained):
    at = go(trained, "profiles")
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    index = next(frame.value for frame in at.dataframe if "Income" in frame.value.columns and len(frame.value) == 7)
    assert index["Income"].notna().all() and (index["Income"] > 0).all()
    assert len(at.text_area) == 7 and all(t.value for t in at.text_area)  # drafted portraits
    at.number_input(key="prof_reps").set_value(2).run()
    at.button(key="prof_stability_run").click().run()
    assert not problems(at) and not errors(at)
    assert any("Mean stability" in m.value for m in at.markdown)
    at.number_input(key="prof_draws").set_value(10).run()
    at.button(key="prof_confidence_run").click().run()
    assert not problems(at) and not errors(at)
    assert any("counties stay in their cluster in fewer than" in m.value for m in at.markdown)
    uncertain = next(frame.value for frame in at.dataframe if "confidence" in frame.value.columns)
    assert uncertain["confidence"].between(0, 1).all()
    # An edited portrait reaches the report.
    first = at.text_area[0]
    first.set_value("Rural and older.").run()
    at.button(key="prof_report_run").click().run()
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    report = at.session_state["report_files"]
    assert b"Rural and older." in report["html"]
    assert len(at.download_button) == 2
    at.text_area[0].set_value("Rural, older and poorer.").run()  # the prepared report no longer says this
    assert not problems(at) and not errors(at) and len(at.download_button) == 0


def test_map_page_renders_every_layer_and_hands_a_county_to_explore(trained):
    at = go(trained, "map")
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    for layer in ("component", "cluster"):
        at.radio(key="map_layer").set_value(layer).run()
        assert not problems(at) and not errors(at), layer
    # A click on the map (its selection) is stored for Explore, which then looks the county up.
    at.session_state["map_county_pending"] = "Alabama-Autauga"
    go(at, "explore")
    assert not problems(at)
    assert at.selectbox(key="lookup_county").value == "Alabama-Autauga"


def test_county_for_fips_finds_the_row():
    import pandas as pd

    from workbench.app import derived

    table = pd.DataFrame({"CensusId": [1001, 1003]}, index=["Alabama-Autauga", "Alabama-Baldwin"])
    assert derived.county_for_fips(table, "CensusId", "01003") == "Alabama-Baldwin"
    assert derived.county_for_fips(table, "CensusId", "99999") is None
    assert derived.county_for_fips(table, "CensusId", None) is None


def test_endpoints_page_says_what_is_missing_without_aws(trained):
    at = go(trained, "endpoints")
    assert not problems(at)
    messages = errors(at) + infos(at)
    assert any("could not be listed" in m or "not available" in m for m in messages), messages
    assert any("region" in m.lower() or "credential" in m.lower() for m in messages), messages


def test_backend_settings_form_appears_for_sagemaker_and_keeps_secrets_out_of_settings(trained):
    at = go(trained, "pca")
    pytest.importorskip("backends.sagemaker_common")
    if "sagemaker" not in at.selectbox(key="pca_backend").options:
        pytest.skip("the sagemaker backend is not available")
    at.selectbox(key="pca_backend").select("sagemaker").run()
    assert not problems(at)
    at.text_input(key="sm_role").input("arn:aws:iam::111122223333:role/Secret").run()
    assert "arn:aws" not in repr(common_settings(at))
    goto(at, "clusters")  # the value survives leaving the page
    assert at.session_state["sm_role"] == "arn:aws:iam::111122223333:role/Secret"
    goto(at, "pca")
    assert at.text_input(key="sm_role").value == "arn:aws:iam::111122223333:role/Secret"
    at.selectbox(key="pca_backend").select("embedded").run()
    assert not problems(at)


def common_settings(at):
    """What a PCA run would record as its settings (must never hold a secret)."""
    from backends import registry

    state = at.session_state
    config = {"backend": state["pca_backend"]}
    values = {spec["name"]: state["sm_" + spec["name"]] for spec in registry.settings_fields("sagemaker")
              if not spec.get("secret") and "sm_" + spec["name"] in state}
    return config, values


def test_new_pages_key_every_widget(trained):
    from tests.support.apptest import all_widgets

    for page in INSIGHT_PAGES:
        at = go(trained, page)
        for widget in all_widgets(at):
            assert widget.key, f"{page}: a {widget.type} labelled {getattr(widget, 'label', '?')!r} has no key"
