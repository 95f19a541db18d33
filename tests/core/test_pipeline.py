"""The whole walkthrough on the shared census CSV, checked against what it reports.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backends.format import models
from backends.algorithms.pca import total_variance as pca_total
from workbench.core import pipeline
from workbench.runs import manifest, segment


@pytest.fixture(scope="module")
def walkthrough(census_csv, tmp_path_factory):
    return segment.run_segmentation(census_csv, workspace=tmp_path_factory.mktemp("ws"), seed=0)


def test_walkthrough_keeps_3218_counties_and_34_features(walkthrough):
    summary = walkthrough.summary()
    assert (summary["rows_raw"], summary["rows_clean"]) == (3220, 3218)
    assert len(summary["features"]) == 34
    assert sum(drop["count"] for drop in summary["dropped"]) == 2


def test_top_five_components_explain_about_72_percent(walkthrough):
    ratios = walkthrough.summary()["explained_variance_ratio"]
    assert len(ratios) == 5
    assert ratios == sorted(ratios, reverse=True)
    assert 0.71 < sum(ratios) < 0.73


def test_explained_variance_is_a_share_of_the_total_not_of_the_kept_components(walkthrough):
    X = walkthrough.prepared.X.astype(np.float64)
    total = ((X - X.mean(0)) ** 2).sum()
    first = walkthrough.pca.model.s[0].astype(np.float64) ** 2 / total
    assert walkthrough.pca.explained_variance_ratio[0] == pytest.approx(first, rel=1e-5)
    # 33 of 34 components: all but the smallest, so the ratios sum to just under 1.
    assert 0.99 < walkthrough.pca.explained_variance_ratio.sum() < 1.0


def test_fresno_and_yuma_fall_in_the_same_cluster(walkthrough):
    labeled = walkthrough.labeled()
    assert labeled.loc["California-Fresno", "cluster"] == labeled.loc["Arizona-Yuma", "cluster"]


def test_labeled_table_columns_and_distances(walkthrough):
    labeled = walkthrough.labeled()
    assert list(labeled.columns) == ["CensusId", "State", "County", "pc1", "pc2", "pc3", "pc4", "pc5",
                                     "cluster", "distance_to_cluster"]
    centroids = walkthrough.kmeans.model.centroids
    row = labeled.iloc[10]
    expected = np.linalg.norm(row[["pc1", "pc2", "pc3", "pc4", "pc5"]].to_numpy(float) - centroids[row["cluster"]])
    assert row["distance_to_cluster"] == pytest.approx(expected, rel=1e-4)
    assert walkthrough.kmeans.sse == pytest.approx((labeled["distance_to_cluster"] ** 2).sum(), rel=1e-6)


def test_named_components_and_clusters_appear_in_the_labeled_table(walkthrough):
    labeled = walkthrough.labeled(component_names=["Poverty", "", "Commute"], cluster_names=["Rural"])
    assert list(labeled.columns[3:8]) == ["Poverty", "pc2", "Commute", "pc4", "pc5"]
    assert set(labeled.loc[labeled["cluster"] == 0, "cluster_name"]) == {"Rural"}
    assert set(labeled.loc[labeled["cluster"] == 1, "cluster_name"]) == {"cluster 1"}


def test_duplicate_component_names_are_refused(walkthrough):
    with pytest.raises(ValueError, match="unique"):
        walkthrough.labeled(component_names=["Poverty", "Poverty"])


def test_run_directory_holds_artifacts_and_a_reproducible_manifest(walkthrough):
    run_dir = walkthrough.run_dir
    written = manifest.read(run_dir)
    assert written["seed"] == 0
    assert written["data_fingerprint"] == walkthrough.prepared.fingerprint
    assert written["pca"]["hyperparameters"]["num_components"] == 33
    assert written["kmeans"]["hyperparameters"]["k"] == 7
    assert {"numpy", "scikit-learn", "pandas", "python"} <= set(written["library_versions"])
    assert written["scaler"]["recipe"] == "minmax"
    assert models.load_pca(run_dir / written["pca"]["artifact"]).n_components == 33
    assert models.load_kmeans(run_dir / written["kmeans"]["artifact"]).k == 7
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".staging")]


def test_same_seed_reproduces_the_clustering(census_csv, walkthrough, tmp_path):
    again = segment.run_segmentation(census_csv, workspace=tmp_path, seed=0)
    np.testing.assert_array_equal(again.kmeans.labels, walkthrough.kmeans.labels)
    assert again.prepared.fingerprint == walkthrough.prepared.fingerprint


def test_a_failed_run_leaves_no_half_written_run(census_csv, tmp_path, monkeypatch):
    # segment refuses a k larger than the rows up front; without that check the K-Means job fails mid-run.
    monkeypatch.setattr(segment, "check_kmeans_against_data", lambda *args: None)
    with pytest.raises(ValueError, match="k"):
        segment.run_segmentation(census_csv, workspace=tmp_path, k=5000)
    assert list((tmp_path / "runs").iterdir()) == []


def test_top_larger_than_components_is_refused(census_csv, tmp_path):
    with pytest.raises(ValueError, match="--top"):
        segment.run_segmentation(census_csv, workspace=tmp_path, n_components=3, top=4)


def test_feature_subset_and_zscore(census_csv, tmp_path):
    result = segment.run_segmentation(census_csv, workspace=tmp_path, features=["Income", "Poverty", "Unemployment"],
                                       scaler="zscore", n_components=3, top=2, k=3)
    assert result.prepared.features == ["Income", "Poverty", "Unemployment"]
    np.testing.assert_allclose(result.prepared.X.mean(0), 0, atol=1e-5)
    # Only Texas-Loving lacks one of these three; Hawaii-Kalawao lacks ChildPoverty alone and stays.
    assert result.scores.shape == (3219, 2)


def test_2017_style_table_runs_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    n = 60
    table = pd.DataFrame({
        "CountyId": np.arange(1001, 1001 + n),
        "State": ["Alabama"] * n,
        "County": [f"Place {i} County" for i in range(n)],
        "TotalPop": rng.integers(1000, 100000, n),
        "VotingAgeCitizen": rng.integers(500, 50000, n),
        "Income": rng.normal(50000, 8000, n),
        "Poverty": rng.uniform(5, 30, n),
    })
    path = tmp_path / "acs2017.csv"
    table.to_csv(path, index=False)
    result = segment.run_segmentation(path, workspace=tmp_path / "ws", n_components=4, top=2, k=3)
    labeled = result.labeled()
    assert list(labeled.columns[:3]) == ["CountyId", "State", "County"]
    assert len(labeled) == n


@pytest.mark.parametrize("bad", ["CensusId", "County", "cluster", "distance_to_cluster", "a\x1bb"])
def test_labeled_table_refuses_names_that_would_break_the_export(census_prepared, tmp_path, bad):
    from workbench.core.names import InvalidName

    X = census_prepared.X
    pca = pipeline.train_pca(X, 3, output_dir=tmp_path / "pca")
    scores = pipeline.project(pca, X, 2)
    kmeans = pipeline.train_kmeans(scores, 3, output_dir=tmp_path / "kmeans")
    with pytest.raises(InvalidName):
        pipeline.labeled_table(census_prepared, scores, kmeans, component_names=["Wealth", bad])
    with pytest.raises(InvalidName):
        pipeline.labeled_table(census_prepared, scores, kmeans, cluster_names=[bad])
    table = pipeline.labeled_table(census_prepared, scores, kmeans, component_names=["=Wealth"], cluster_names=["+a"])
    assert list(table.columns[:5]) == ["CensusId", "State", "County", "=Wealth", "pc2"]


def test_k_above_the_distinct_rows_is_refused_not_left_with_empty_clusters(tmp_path):
    from workbench.core.errors import DataError

    scores = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32), 10, axis=0)
    with pytest.raises(DataError, match=r"only 3 distinct rows, so K-Means left cluster\(s\) 3, 4 empty. Choose k ≤ 3"):
        pipeline.train_kmeans(scores, 5, output_dir=tmp_path / "kmeans")
    assert pipeline.train_kmeans(scores, 3, output_dir=tmp_path / "three").cluster_sizes == [10, 10, 10]


@pytest.mark.parametrize("given, message", [
    (dict(component_names=[5]), "must be text"),
    (dict(component_names=[" a\n"]), "control character"),
    (dict(component_names=["a", "b", "c"]), "3 component names were given for 2 components"),
    (dict(cluster_names=["a", "b", "c", "d"]), "4 cluster names were given for 3 clusters"),
])
def test_labeled_table_checks_names_before_using_them(census_prepared, tmp_path, given, message):
    from workbench.core.names import InvalidName

    X = census_prepared.X
    pca = pipeline.train_pca(X, 3, output_dir=tmp_path / "pca")
    scores = pipeline.project(pca, X, 2)
    kmeans = pipeline.train_kmeans(scores, 3, output_dir=tmp_path / "kmeans")
    with pytest.raises(InvalidName, match=message):
        pipeline.labeled_table(census_prepared, scores, kmeans, **given)
    table = pipeline.labeled_table(census_prepared, scores, kmeans, component_names=[" Wealth "], cluster_names=["a"])
    assert list(table.columns[3:5]) == ["Wealth", "pc2"] and set(table["cluster_name"]) == {"a", "cluster 1", "cluster 2"}


def test_the_empty_cluster_refusal_names_the_real_reason():
    from workbench.core import conventions

    assert "only 3 distinct rows" in conventions.empty_clusters_message([3, 4], 5, 3)
    spread = conventions.empty_clusters_message([6], 7, 100)
    assert "nearer another centroid" in spread and "distinct" not in spread
    unknown = conventions.empty_clusters_message([4], 5)  # a stream: distinct rows not counted
    assert "may have fewer than 5 distinct rows" in unknown and "Choose a smaller k" in unknown


def test_pipeline_labels_and_scores_are_the_models_own(walkthrough):
    """The pipeline's chunked, threaded projection and assignment give what PCAModel.transform
    and KMeansModel.assign give, and the PCA's total variance is the separate pass's."""
    X = walkthrough.prepared.X
    top = walkthrough.pca.model.top(5)
    np.testing.assert_allclose(walkthrough.scores, top.transform(X), rtol=0, atol=1e-6)
    labels, distances = walkthrough.kmeans.model.assign(walkthrough.scores)
    assert np.array_equal(walkthrough.kmeans.labels, labels)
    np.testing.assert_allclose(walkthrough.kmeans.distances, distances, rtol=1e-6, atol=1e-7)
    assert walkthrough.pca.job.details["training_total_variance"] == pytest.approx(
        pca_total(X, walkthrough.pca.model.mean), rel=1e-9)


def test_pipeline_measures_the_total_variance_when_the_backend_does_not(census_csv, tmp_path):
    prepared = pipeline.prepare(census_csv)
    stage = pipeline.train_pca(prepared.X, 33, hyperparameters={"algorithm_mode": "randomized"},
                               output_dir=tmp_path / "pca")
    assert "training_total_variance" not in stage.job.details
    X = prepared.X.astype(np.float64)
    assert stage.explained_variance_ratio[0] == pytest.approx(
        float(stage.model.s[0]) ** 2 / ((X - stage.model.mean) ** 2).sum(), rel=1e-5)
