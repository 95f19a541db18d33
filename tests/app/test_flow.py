"""AppTest: the main path (train PCA → name a component → train K-Means → export), state
across pages, caching of trained models, and errors shown as messages, never tracebacks.
"""
from __future__ import annotations

import pandas as pd

from tests.support.apptest import (
    current_names,
    downloads,
    errors,
    goto,
    name_component,
    new_app,
    problems,
    seed_names,
    table,
    train_kmeans,
    train_pca,
)


def test_main_path_names_appear_in_every_export(app_env):
    at = train_pca(new_app())
    goto(at, "names")
    name_component(at, 0, "Diversity")
    name_component(at, 2, "Trades")
    assert not problems(at) and not errors(at)
    editor = at.data_editor[0].value
    assert editor["name"].tolist()[:3] == ["Diversity", "", "Trades"]
    assert any(m.value.startswith("**In use:** Diversity · pc2 · Trades") for m in at.markdown)

    train_kmeans(at)
    assert at.session_state["kmeans_run"].stage.model.k == 7  # the walkthrough's k by default
    goto(at, "export")
    assert not problems(at) and not errors(at)
    assert [b.key for b in at.download_button] == ["export_clusters", "export_components", "export_centroids"]

    files = downloads(at)
    clusters = files["counties-k7-clusters.csv"]
    assert list(clusters.columns) == ["CensusId", "State", "County", "Diversity", "pc2", "Trades", "pc4", "pc5",
                                      "cluster", "cluster_name", "distance_to_cluster"]
    assert len(clusters) == 3218
    assert set(clusters["cluster"]) == set(range(7))
    assert clusters["cluster_name"].str.startswith("cluster ").all()
    components = files["counties-k7-components.csv"]
    assert list(components.columns) == ["feature", "Diversity", "pc2", "Trades", "pc4", "pc5"]
    assert components["feature"].iloc[0] == "explained_variance"
    centroids = files["counties-k7-centroids.csv"]
    assert list(centroids.columns) == ["cluster", "cluster_name", "counties", "Diversity", "pc2", "Trades", "pc4",
                                       "pc5"]
    assert centroids["counties"].sum() == 3218
    # The preview on the page shows the same names.
    assert "Diversity" in table(at, "cluster_name").columns


def test_cluster_names_reach_the_export_and_the_explore_page(app_env):
    at = train_kmeans(train_pca(new_app()))
    seed_names(at, "cluster", ["Rural South", "", "Big cities"])
    at.run()
    assert not problems(at) and not errors(at)
    goto(at, "explore")
    options = at.selectbox(key="explore_cluster").options
    assert options[0].startswith("Rural South") and options[2].startswith("Big cities")
    goto(at, "export")
    clusters = downloads(at)["counties-k7-clusters.csv"]
    first = clusters.loc[clusters["cluster"] == 0, "cluster_name"].unique().tolist()
    assert first == ["Rural South"]
    assert clusters.loc[clusters["cluster"] == 1, "cluster_name"].unique().tolist() == ["cluster 1"]


def test_download_keeps_the_session(app_env):
    at = train_kmeans(train_pca(new_app()))
    goto(at, "export")
    before = at.session_state["kmeans_run"].job_name
    at.download_button(key="export_clusters").click().run()
    assert not problems(at)
    assert at.session_state["kmeans_run"].job_name == before
    assert len(at.download_button) == 3


def test_state_survives_moving_between_pages(app_env):
    at = train_pca(new_app())
    at.number_input(key="pca_top").set_value(4).run()
    goto(at, "clusters")
    at.number_input(key="kmeans_k").set_value(5).run()
    goto(at, "data")
    goto(at, "features")
    at.radio(key="scaler").set_value("minmax").run()
    goto(at, "clusters")
    assert at.number_input(key="kmeans_k").value == 5
    goto(at, "pca")
    assert at.number_input(key="pca_top").value == 4
    assert at.session_state["pca_run"] is not None


def test_identical_settings_reuse_the_trained_model(app_env):
    at = train_pca(new_app())
    first = at.session_state["pca_run"]
    at.button(key="pca_train").click().run()
    again = at.session_state["pca_run"]
    assert again.job_name == first.job_name and again.reused
    at.number_input(key="pca_num_components").set_value(10).run()
    at.button(key="pca_train").click().run()
    assert at.session_state["pca_run"].job_name != first.job_name


def test_component_names_persist_with_their_run(app_env):
    at = train_pca(new_app())
    first = at.session_state["pca_run"].job_name
    goto(at, "names")
    name_component(at, 0, "Diversity")
    goto(at, "pca")
    at.number_input(key="pca_num_components").set_value(12).run()
    at.button(key="pca_train").click().run()
    goto(at, "names")
    assert at.data_editor[0].value["name"].tolist()[0] == ""  # a new run starts unnamed
    goto(at, "pca")
    at.number_input(key="pca_num_components").set_value(33).run()
    at.button(key="pca_train").click().run()  # the same settings as the first run: reused
    assert at.session_state["pca_run"].job_name == first
    goto(at, "names")
    assert at.data_editor[0].value["name"].tolist()[0] == "Diversity"


def test_changed_data_makes_later_pages_ask_for_retraining(app_env):
    at = train_kmeans(train_pca(new_app()))
    goto(at, "features")
    at.radio(key="scaler").set_value("zscore").run()
    goto(at, "clusters")
    assert any("Train PCA again" in i.value for i in at.info)
    goto(at, "export")
    assert any("Train PCA" in i.value for i in at.info)
    assert not problems(at)


def test_duplicate_component_names_show_an_error_and_are_not_used(app_env):
    at = train_pca(new_app())
    goto(at, "names")
    editor_key = at.data_editor[0].key
    at.session_state[editor_key] = {"edited_rows": {0: {"name": "Same"}, 1: {"name": "Same"}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    assert any("unique" in e for e in errors(at)), errors(at)
    assert not problems(at)
    assert current_names(at, "component")[:2] != ["Same", "Same"]


def test_editor_edits_become_names(app_env):
    at = train_pca(new_app())
    goto(at, "names")
    editor_key = at.data_editor[0].key
    at.session_state[editor_key] = {"edited_rows": {1: {"name": "Work"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not errors(at) and not problems(at)
    assert current_names(at, "component")[1] == "Work"


def test_suggestions_fill_blank_names(app_env):
    at = train_pca(new_app())
    goto(at, "names")
    name_component(at, 0, "Diversity")
    at.button(key="names_fill").click().run()
    names = current_names(at, "component")[:5]
    assert names[0] == "Diversity" and all(names)
    at.button(key="names_clear").click().run()
    assert not any(current_names(at, "component")[:5])
    assert not problems(at)


def test_bad_upload_shows_the_data_error(app_env):
    at = new_app()
    at.radio(key="source_kind").set_value("upload").run()
    at.file_uploader(key="source_upload").upload("counties.csv", b"just one column\n1\n2\n", "text/csv")
    at.run()
    assert not problems(at)
    assert any("single column" in e for e in errors(at)), errors(at)


def test_good_upload_is_used_by_later_pages(app_env, census_csv):
    at = new_app()
    at.radio(key="source_kind").set_value("upload").run()
    frame = pd.read_csv(census_csv).head(400)
    at.file_uploader(key="source_upload").upload("small.csv", frame.to_csv(index=False).encode(), "text/csv")
    at.run()
    assert not problems(at) and not errors(at)
    assert {m.label: m.value for m in at.metric}["Rows read"] == "400"
    train_pca(at)
    assert at.session_state["pca_run"].stage.model is not None
    assert len(at.session_state["pca_run"].stage.job.hyperparameters) > 0


def test_missing_path_shows_the_data_error(app_env, tmp_path):
    at = new_app()
    at.radio(key="source_kind").set_value("path").run()
    at.text_input(key="source_path").input(str(tmp_path / "nope.csv"))
    at.button(key="source_load").click().run()
    assert not problems(at)
    assert any("File not found" in e for e in errors(at)), errors(at)
    goto(at, "pca")  # the pages after Data say what is wrong instead of failing
    assert not problems(at) and any("nope.csv" in e for e in errors(at)), errors(at)
    assert not any("No features are chosen" in e for e in errors(at))


def test_a_typed_path_outside_the_allowed_folders_is_refused(app_env, census_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_ALLOWED_ROOTS", str(tmp_path / "only-here"))
    at = new_app()
    at.radio(key="source_kind").set_value("path").run()
    at.text_input(key="source_path").input(str(census_csv))
    at.button(key="source_load").click().run()
    assert not problems(at)
    assert any("outside the folders this app reads files from" in e and "WORKBENCH_ALLOWED_ROOTS" in e
               for e in errors(at)), errors(at)


def test_bad_pca_hyperparameter_shows_the_library_message(app_env):
    at = goto(new_app(), "pca")
    at.number_input(key="pca_hp_extra_components").set_value(-5).run()
    at.button(key="pca_train").click().run()
    assert not problems(at)
    assert any("extra_components" in e for e in errors(at)), errors(at)


def test_bad_kmeans_hyperparameter_shows_the_library_message(app_env):
    at = train_pca(new_app())
    goto(at, "clusters")
    at.text_input(key="kmeans_hp_extra_center_factor").input("lots").run()
    at.button(key="kmeans_train").click().run()
    assert not problems(at)
    assert any("extra_center_factor" in e for e in errors(at)), errors(at)


def test_county_lookup_finds_its_cluster(app_env):
    at = train_kmeans(train_pca(new_app()))
    goto(at, "explore")
    at.selectbox(key="lookup_county").select("Alabama-Autauga").run()
    assert not problems(at)
    run = at.session_state["kmeans_run"]
    labeled = table(at, "County", "distance_to_cluster")
    assert len(labeled) == run.stage.cluster_sizes[0]
    assert any("Autauga, Alabama" in m.value for m in at.markdown)
    at.button(key="lookup_browse").click().run()
    cluster = at.session_state["explore_cluster"]
    members = table(at, "County", "distance_to_cluster")
    assert "Autauga" in members["County"].tolist()
    assert len(members) == run.stage.cluster_sizes[cluster]
    at.text_input(key="explore_search").input("Autauga").run()
    assert table(at, "County", "distance_to_cluster")["County"].tolist() == ["Autauga"]
    distances = members["distance_to_cluster"].tolist()
    assert distances == sorted(distances)
