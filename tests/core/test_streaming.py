"""Segmenting a Parquet file in chunks (workbench/streaming.py) and the streaming pieces of
backends/algorithms.py: it must give the in-memory answer, in bounded memory.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.cluster import MiniBatchKMeans
from threadpoolctl import threadpool_limits

from backends.algorithms import kmeans, kmeans_steps, pca, refine
from backends.format import models
from backends.format.hyperparameters import validate_kmeans
from backends.format.models import KMeansModel
from workbench.core import scaling, streaming
from workbench.runs import segment

FRESNO, YUMA_AZ = 6019, 4027


@pytest.fixture(scope="module")
def census_parquet(census_csv, tmp_path_factory):
    path = tmp_path_factory.mktemp("parquet") / "census.parquet"
    pd.read_csv(census_csv).to_parquet(path, row_group_size=500)  # 7 row groups; 2 rows have blanks
    return path


@pytest.fixture(scope="module")
def in_memory(census_csv, tmp_path_factory):
    return segment.run_segmentation(census_csv, workspace=tmp_path_factory.mktemp("ws"), seed=0)


@pytest.fixture(scope="module")
def streamed(census_parquet, tmp_path_factory):
    out = tmp_path_factory.mktemp("stream")
    result = streaming.segment_parquet(
        census_parquet, batch_rows=400, labels_out=out / "labels.parquet", output_dir=out / "artifacts"
    )
    return result


def test_streaming_gives_the_in_memory_pipeline_answer(streamed, in_memory):
    assert (streamed.rows_read, streamed.rows_used, streamed.rows_dropped) == (3220, 3218, 2)
    assert streamed.features == in_memory.prepared.features and streamed.id_column == "CensusId"
    for name, value in in_memory.prepared.scaler.params.items():
        np.testing.assert_allclose(streamed.scaler.params[name], value, rtol=1e-12, atol=1e-12)
    ours, theirs = streamed.pca, in_memory.pca.model
    np.testing.assert_allclose(ours.mean, theirs.mean, atol=1e-6)
    np.testing.assert_allclose(ours.s[:20], theirs.s[:20], rtol=1e-5)
    np.testing.assert_allclose(np.abs(np.sum(ours.v[:, :20] * theirs.v[:, :20], axis=0)), 1.0, atol=1e-5)
    np.testing.assert_allclose(streamed.explained_variance_ratio[:5], in_memory.pca.explained_variance_ratio[:5],
                               rtol=1e-5)
    assert streamed.sse <= in_memory.kmeans.sse * 1.005


def test_streaming_sse_beats_minibatch_kmeans_on_the_same_scores(streamed, in_memory):
    scores = in_memory.scores
    with threadpool_limits(1):
        best = min(
            refine._sse(scores, MiniBatchKMeans(7, random_state=seed, n_init=3).fit(scores).cluster_centers_)
            for seed in range(3)
        )
    assert streamed.sse <= best


def test_streaming_writes_labels_and_artifacts(streamed):
    labels = pd.read_parquet(streamed.labels_path)
    assert list(labels.columns) == ["CensusId", "cluster", "distance_to_cluster"]
    assert len(labels) == 3218
    assert np.bincount(labels["cluster"], minlength=7).tolist() == streamed.cluster_sizes
    by_id = labels.set_index("CensusId")["cluster"]
    assert by_id[FRESNO] == by_id[YUMA_AZ]
    assert float((labels["distance_to_cluster"].astype(np.float64) ** 2).sum()) == pytest.approx(streamed.sse, rel=1e-5)
    assert models.load_pca(streamed.artifacts["pca"]).n_components == 33
    np.testing.assert_array_equal(models.load_kmeans(streamed.artifacts["kmeans"]).centroids, streamed.kmeans.centroids)
    summary = streamed.summary()
    assert summary["rows_used"] == 3218 and len(summary["explained_variance_ratio"]) == 5
    # statistics + one K-Means epoch + 1..3 Lloyd's passes + labels
    assert 4 <= streamed.passes <= 3 + refine.REFINE_FULL_PASSES + 1


def test_streaming_zscore_matches_the_in_memory_scaler(census_parquet, in_memory):
    result = streaming.segment_parquet(census_parquet, scaler="zscore", batch_rows=1000, n_components=10, top=3, k=4)
    frame = in_memory.prepared.clean.feature_frame
    expected = scaling.fit_scaler("zscore", frame)
    for name, value in expected.params.items():
        np.testing.assert_allclose(result.scaler.params[name], value, rtol=1e-9)
    assert result.kmeans.k == 4 and result.kmeans.feature_dim == 3


def test_streaming_refuses_what_it_cannot_use(census_parquet, tmp_path):
    with pytest.raises(streaming.StreamingError, match="no column"):
        streaming.segment_parquet(census_parquet, features=["TotalPop", "Nope"])
    with pytest.raises(streaming.StreamingError, match="not stored as numbers"):
        streaming.segment_parquet(census_parquet, features=["TotalPop", "State"])
    with pytest.raises(streaming.StreamingError, match="top must be"):
        streaming.segment_parquet(census_parquet, n_components=3, top=4)
    text_only = tmp_path / "text.parquet"
    pq.write_table(pa.table({"County": ["a", "b", "c"]}), text_only)
    with pytest.raises(streaming.StreamingError, match="no numeric feature"):
        streaming.segment_parquet(text_only)


def test_streaming_memory_is_bounded_by_the_chunk_not_the_file(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 200_000, 12
    block = (rng.normal(size=(n, d)) + rng.integers(0, 4, size=(n, 1)) * 3).astype(np.float32)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({f"x{j}": block[:, j] for j in range(d)}), path, row_group_size=16_384)
    in_memory_bytes = n * d * 8  # what the in-memory path's float64 scaling step alone holds
    del block
    tracemalloc.start()
    try:
        result = streaming.segment_parquet(path, batch_rows=8192, n_components=6, top=3, k=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.rows_used == n
    assert peak < 0.25 * in_memory_bytes, f"numpy peak {peak / 2**20:.1f} MiB"


# --- the streaming pieces in backends/algorithms.py ------------------------------------------------
@pytest.fixture(scope="module")
def scores(in_memory):
    return in_memory.scores


def test_scatter_accumulator_streams_and_merges_to_the_one_pass_answer(in_memory):
    X = in_memory.prepared.X
    mean, C = pca._scatter_matrix(X, True)
    first = pca.ScatterAccumulator(X.shape[1], shift=X[:50].mean(axis=0, dtype=np.float64))
    second = pca.ScatterAccumulator(X.shape[1], shift=first.shift)
    for lo, hi in ((0, 7), (7, 1000), (1000, 1500)):
        first.update(X[lo:hi])
    second.update(X[1500:])
    m2, C2 = first.merge(second).mean_and_scatter()
    np.testing.assert_allclose(m2, mean, atol=1e-12)
    np.testing.assert_allclose(C2, C, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="same shift"):
        pca.ScatterAccumulator(X.shape[1], shift=np.zeros(X.shape[1])).update(X[:10]).merge(first)


def test_project_and_assign_equal_the_artifact_models(in_memory, scores):
    X, model = in_memory.prepared.X, in_memory.pca.model.top(5)
    np.testing.assert_allclose(pca.project(X, model), model.transform(X), rtol=1e-6, atol=1e-6)
    km = in_memory.kmeans.model
    labels, distances = kmeans_steps.assign(scores, km.centroids)
    expected_labels, expected_distances = km.assign(scores)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-9, atol=1e-9)


def test_streaming_kmeans_stage_sees_every_row_once_per_epoch(scores):
    hp = {"k": 7, "feature_dim": 5, "mini_batch_size": 700}
    stream = kmeans.StreamingKMeans(hp, seed=0, sample_rows=1000)
    for lo, hi in ((0, 10), (10, 2000), (2000, 2001), (2001, len(scores))):
        stream.partial_fit(scores[lo:hi])
    trials, searched = stream.finish()
    assert stream.centres.shape == (70, 5)
    assert stream.weights.sum() == pytest.approx(70 + len(scores))
    assert stream.sample.shape == (1000, 5)
    assert np.all((stream.sample[:, None, :] == scores[None, :, :]).all(axis=2).any(axis=1))
    assert len(trials) == 10 and searched.shape == (7, 5)
    assert refine._sse(scores, searched) <= refine._sse(scores, trials[0][1]) * 1.02


def test_streaming_kmeans_with_fewer_rows_than_centres():
    rows = np.random.default_rng(1).normal(size=(30, 2)).astype(np.float32)
    stream = kmeans.StreamingKMeans({"k": 5, "feature_dim": 2}, seed=0)
    stream.partial_fit(rows[:12]).partial_fit(rows[12:])
    _, centroids = stream.finish()
    assert stream.centres.shape == (30, 2) and centroids.shape == (5, 2)


def test_polish_never_raises_the_sse(scores):
    rng = np.random.default_rng(3)
    start = scores[rng.choice(len(scores), 7, replace=False)]
    before = refine._sse(scores, start)
    C, sse = refine.polish(lambda acc: acc.update(scores), [start], 2)
    assert sse <= before and sse == pytest.approx(refine._sse(scores, C), rel=1e-12)
    best, _ = refine.polish(lambda acc: acc.update(scores), [start, C], 0)
    np.testing.assert_array_equal(best, KMeansModel(C).centroids.astype(np.float64))


def test_fit_kmeans_beyond_the_sample_size_stays_good(scores, monkeypatch):
    monkeypatch.setattr(refine, "REFINE_SAMPLE_ROWS", 800)  # the large-data path on the census
    hp = {"k": 7, "feature_dim": 5}
    model, metrics = kmeans.fit_kmeans(scores, hp, seed=0)
    _, sagemaker_only = kmeans.fit_kmeans(scores, hp, seed=0, refine_on_data=False)
    _, distances = model.assign(scores)
    assert metrics["sse"] == pytest.approx(float(np.sum(distances.astype(np.float64) ** 2)), rel=1e-9)
    assert metrics["sse"] <= sagemaker_only["sse"]
    with threadpool_limits(1):
        minibatch = refine._sse(scores, MiniBatchKMeans(7, random_state=0).fit(scores).cluster_centers_)
    assert metrics["sse"] <= minibatch
    again, _ = kmeans.fit_kmeans(scores, hp, seed=0)
    np.testing.assert_array_equal(again.centroids, model.centroids)


def test_stream_centers_in_memory_and_streaming_agree_on_weights(scores):
    hp = validate_kmeans({"k": 3, "feature_dim": 5, "epochs": 2, "mini_batch_size": 400, "extra_center_factor": 2})
    centres, weights = kmeans_steps.stream_centers(scores, hp, np.random.default_rng(0))
    stream = kmeans.StreamingKMeans(hp, seed=0)
    for _ in range(2):
        stream.partial_fit(scores)
        stream.end_epoch()
    assert weights.sum() == pytest.approx(stream.weights.sum()) == pytest.approx(6 + 2 * len(scores))


def test_streaming_refuses_a_k_that_leaves_clusters_empty(tmp_path):
    path = tmp_path / "three-points.parquet"
    frame = pd.DataFrame({"a": [0.0, 1.0, 0.0] * 20, "b": [0.0, 0.0, 1.0] * 20, "c": [1.0, 2.0, 3.0] * 20})
    frame.to_parquet(path, index=False)
    labels = tmp_path / "labels.parquet"
    with pytest.raises(streaming.StreamingError, match=r"empty for k = 5.*Choose a smaller k"):
        streaming.segment_parquet(path, n_components=2, top=2, k=5, labels_out=labels)
    assert not labels.exists()


def test_streaming_scaler_shares_the_in_memory_near_constant_rule():
    X = np.array([[1e6], [1e6 + 2e-9], [1e6 + 1e-9]])
    for recipe in ("zscore", "minmax"):
        expected = scaling.fit_scaler(recipe, X)
        var = np.var(X, axis=0)
        fitted, a, _ = streaming._scaler_from_stats(recipe, ["x0"], 3, X.min(0), X.max(0), X.mean(0),
                                                    np.diag(var * 3))
        np.testing.assert_allclose(fitted.params["scale"], expected.params["scale"], rtol=1e-2)  # was 1.0 vs 8e-10
        assert np.allclose(a, 1 / expected.params["scale"] if recipe == "zscore" else expected.params["scale"], rtol=1e-2)


def test_streaming_components_default_adapts_but_a_typed_value_is_refused(tmp_path):
    from backends.format.hyperparameters import HyperparameterError

    path = tmp_path / "three-features.parquet"
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.random((60, 3)), columns=["a", "b", "c"]).to_parquet(path, index=False)
    result = streaming.segment_parquet(path, top=2, k=3)
    assert result.pca.n_components == 3  # the default, fitted to the 3 features
    with pytest.raises(HyperparameterError, match=r"num_components=33 is more than the 3 feature\(s\)"):
        streaming.segment_parquet(path, n_components=33, top=2, k=3)
