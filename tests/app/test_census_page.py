"""The Data page's Census Data API form, against the stand-in API on localhost."""
from __future__ import annotations

from tests.support.apptest import errors, goto, new_app, problems, train_kmeans, train_pca
from tests.support.census_api import Unit


def test_the_census_form_fetches_a_table_that_segments(app_env, census_api):
    census_api.units = [Unit(f"27{i:03d}", f"County {i} County, Minnesota") for i in range(1, 120, 2)]
    at = goto(new_app(), "data")
    at.radio(key="source_kind").set_value("census").run()
    assert not problems(at)
    at.text_input(key="census_state").input("MN")
    at.button[0].click().run()  # the form's Fetch button sends its fields
    assert not problems(at) and not errors(at), (problems(at), errors(at))
    source = at.session_state["source"]
    assert source.kind == "census" and "year=2022" in source.location and "geography=county" in source.location
    report = " ".join(m.value for m in at.markdown)
    assert "GEOID" in report and "county level" in report, report
    assert all(request["key"] == "stand-in-key-0123456789" for request in census_api.requests)
    at = train_kmeans(train_pca(at))
    assert "GEOID" not in at.session_state["pca_run"].stage.job.hyperparameters  # the id is never a feature
    run = at.session_state["kmeans_run"]
    assert run.run_id and len(at.session_state["feature_select"]) > 5


def test_a_bad_census_request_is_an_error_at_the_form(app_env, census_api):
    at = goto(new_app(), "data")
    at.radio(key="source_kind").set_value("census").run()
    at.number_input(key="census_year").set_value(2031)
    at.button[0].click().run()  # the form sends its fields with the press
    assert not problems(at)
    assert any("2031" in e for e in errors(at)), errors(at)
    assert at.session_state["source"].kind == "default"  # the session's table is left as it was
