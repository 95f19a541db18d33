"""The embedded backend's algorithms: SageMaker's PCA and K-Means, checked against real artifacts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits

from backends.algorithms import kmeans_steps, parallel
from backends.algorithms import pca as pca_mod
from backends.algorithms.kmeans import StreamingKMeans, fit_kmeans
from backends.algorithms.pca import fit_pca, total_variance
from backends.format import models
from backends.format.hyperparameters import HyperparameterError, validate_kmeans
from backends.format.models import KMeansModel

WALKTHROUGH_K = 7
WALKTHROUGH_TOP = 5


def pca_hp(X, n, **extra):
    return {"feature_dim": X.shape[1], "mini_batch_size": 500, "num_components": n, **extra}


def sse(X, centroids) -> float:
    _, distances = KMeansModel(centroids).assign(X)
    return float(np.sum(distances.astype(np.float64) ** 2))


@pytest.fixture(scope="module")
def census(census_csv):
    """The walkthrough's cleaning: drop rows with blanks, index State-County, MinMax the 34 numbers."""
    frame = pd.read_csv(census_csv).dropna()
    frame.index = frame["State"] + "-" + frame["County"]
    numeric = frame.drop(columns=["CensusId", "State", "County"])
    X = MinMaxScaler().fit_transform(numeric).astype(np.float32)
    assert X.shape == (3218, 34)
    return X, frame.index


@pytest.fixture(scope="module")
def census_pca(census):
    X, _ = census
    return fit_pca(X, pca_hp(X, 33))


@pytest.fixture(scope="module")
def walkthrough(census, census_pca):
    """PCA 33 → top-5 projections → K-Means k=7 with default hyperparameters, seed 0."""
    X, index = census
    scores = census_pca.top(WALKTHROUGH_TOP).transform(X)
    model, metrics = fit_kmeans(scores, {"k": WALKTHROUGH_K, "feature_dim": WALKTHROUGH_TOP}, seed=0)
    return scores, index, model, metrics, None


@pytest.fixture(scope="module")
def sagemaker_pca(sagemaker_fixtures):
    return models.load_pca(sagemaker_fixtures / "pca-census-33" / "model.tar.gz")


# --- PCA ------------------------------------------------------------------------------------------
def test_pca_matches_sagemaker_artifact_top_20_components(census_pca, sagemaker_pca):
    assert census_pca.v.shape == sagemaker_pca.v.shape == (34, 33)
    np.testing.assert_allclose(census_pca.mean, sagemaker_pca.mean, atol=1e-4)
    np.testing.assert_allclose(census_pca.s[:20], sagemaker_pca.s[:20], atol=1e-4)
    ours, theirs = census_pca.v[:, :20], sagemaker_pca.v[:, :20]
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * signs, theirs, atol=1e-4)


def test_pca_signs_match_sagemakers_eigensolver(census_pca, sagemaker_pca):
    # numpy's eigh is LAPACK ?syevd, the routine behind MXNet's linalg.syevd: same signs, so
    # the projections match the walkthrough's sign for sign.
    agreement = np.sum(census_pca.v[:, :20] * sagemaker_pca.v[:, :20], axis=0)
    assert np.all(agreement > 0.99)


def test_pca_singular_values_are_of_the_centred_matrix(census, census_pca):
    X, _ = census
    centred = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    exact = np.linalg.svd(centred, compute_uv=False)
    np.testing.assert_allclose(census_pca.s[:20], exact[:20], rtol=1e-5)
    assert census_pca.s.dtype == np.float32 and np.all(np.diff(census_pca.s) <= 0)  # largest first


def test_pca_top5_explain_about_72_percent_of_total_variance(census, census_pca):
    X, _ = census
    total = total_variance(X, census_pca.mean)
    ratio = float(np.sum(census_pca.s[:5].astype(np.float64) ** 2) / total)
    assert 0.70 <= ratio <= 0.74
    # Exact: with every component kept, the squared singular values add up to the total.
    full = fit_pca(X, pca_hp(X, 34))
    assert np.sum(full.s.astype(np.float64) ** 2) == pytest.approx(total, rel=1e-5)


def test_pca_randomized_mode_is_close_to_regular_on_top_components(census, census_pca):
    X, _ = census
    model = fit_pca(X, pca_hp(X, 10, algorithm_mode="randomized"), seed=3)
    np.testing.assert_allclose(model.mean, census_pca.mean, atol=1e-6)
    np.testing.assert_allclose(model.s[:5], census_pca.s[:5], rtol=1e-4)
    signs = np.sign(np.sum(model.v[:, :5] * census_pca.v[:, :5], axis=0))
    np.testing.assert_allclose(model.v[:, :5] * signs, census_pca.v[:, :5], atol=1e-3)
    # Deterministic signs: every component's largest loading is positive.
    assert np.all(model.v[np.abs(model.v).argmax(axis=0), np.arange(10)] > 0)


def test_pca_randomized_mode_is_reproducible_with_a_seed(census):
    X, _ = census
    hp = pca_hp(X, 6, algorithm_mode="randomized", extra_components=0)
    first, again = fit_pca(X, hp, seed=11), fit_pca(X, hp, seed=11)
    assert np.array_equal(first.v, again.v) and np.array_equal(first.s, again.s)


def test_pca_randomized_handles_wide_data():
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(60, 4)) @ rng.normal(size=(4, 500))
    X = (low_rank + 0.01 * rng.normal(size=(60, 500))).astype(np.float32)
    model = fit_pca(X, pca_hp(X, 4, algorithm_mode="randomized"), seed=0)
    exact = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(model.s, exact[:4], rtol=1e-3)


def test_pca_regular_mode_is_deterministic(census, census_pca):
    X, _ = census
    again = fit_pca(X, pca_hp(X, 33), seed=123)
    assert np.array_equal(again.v, census_pca.v) and np.array_equal(again.s, census_pca.s)


def test_pca_without_subtracting_the_mean(census):
    X, _ = census
    model = fit_pca(X, pca_hp(X, 5, subtract_mean="False"))
    assert np.all(model.mean == 0)
    uncentred = np.linalg.svd(X.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(model.s, uncentred[:5], rtol=1e-5)
    assert total_variance(X, model.mean) == pytest.approx(float(np.sum(X.astype(np.float64) ** 2)))
    randomized = fit_pca(X, pca_hp(X, 5, subtract_mean=False, algorithm_mode="randomized"))
    np.testing.assert_allclose(randomized.s, uncentred[:5], rtol=1e-4)


def test_pca_covariance_pass_is_chunked_without_changing_the_answer(census, census_pca, monkeypatch):
    X, _ = census
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 8 * 34 * 100)  # 100-row chunks
    chunked = fit_pca(X, pca_hp(X, 33))
    np.testing.assert_allclose(chunked.mean, census_pca.mean, atol=1e-7)
    np.testing.assert_allclose(chunked.s[:20], census_pca.s[:20], rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(chunked.v[:, :20] * census_pca.v[:, :20], axis=0)), 1.0, atol=1e-6)
    assert total_variance(X, census_pca.mean) == pytest.approx(
        float(np.sum((X.astype(np.float64) - census_pca.mean) ** 2)), rel=1e-12
    )


@pytest.mark.parametrize("subtract_mean", [True, False])
def test_scatter_accumulator_takes_any_numeric_block_to_the_float64_scatter(census, monkeypatch, subtract_mean):
    """Blocks of any dtype, layout and length, across chunk boundaries, give the scatter a direct
    float64 computation gives (the chunk's shift and sums are vectorised differently: same answer)."""
    X, _ = census
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 8 * 34 * 100)  # 100-row chunks: blocks end mid-chunk
    blocks = [X[:250], X[250:251], X[251:251], np.asfortranarray(X[251:900]), X[900:2000:1].astype(np.float64),
              (X[2000:] * 1000).astype(np.int64)]
    accumulator = pca_mod.ScatterAccumulator(34, subtract_mean=subtract_mean)
    for block in blocks:
        accumulator.update(block)
    rows = np.vstack([X[:2000].astype(np.float64), (X[2000:] * 1000).astype(np.int64).astype(np.float64)])
    expected = rows - rows.mean(axis=0) if subtract_mean else rows
    mean, scatter = accumulator.mean_and_scatter()
    assert accumulator.n == len(X)
    np.testing.assert_allclose(mean, rows.mean(axis=0) if subtract_mean else 0.0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scatter, expected.T @ expected, rtol=1e-10, atol=1e-9)


def test_pca_mini_batch_size_is_validated_but_does_not_change_the_answer(census, census_pca):
    X, _ = census
    other = fit_pca(X, pca_hp(X, 33, mini_batch_size=7))
    assert np.array_equal(other.s, census_pca.s)
    with pytest.raises(HyperparameterError, match="mini_batch_size"):
        fit_pca(X, pca_hp(X, 33, mini_batch_size=0))


def test_pca_bad_inputs_are_refused_clearly(census):
    X, _ = census
    bad = X.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in 1 row"):
        fit_pca(bad, pca_hp(X, 3))
    bad[5, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_pca(bad, pca_hp(X, 3))
    with pytest.raises(HyperparameterError, match="at least 2 rows"):
        fit_pca(X[:1], pca_hp(X, 3))
    with pytest.raises(HyperparameterError, match="num_components=35 is more than the 34 feature"):
        fit_pca(X, pca_hp(X, 35))
    with pytest.raises(HyperparameterError, match="feature_dim=34 does not match"):
        fit_pca(X[:, :30], pca_hp(X, 3))
    with pytest.raises(ValueError, match="2-d"):
        fit_pca(X[0], pca_hp(X, 3))
    with pytest.raises(ValueError, match="numeric"):
        fit_pca(np.array([["a", "b"], ["c", "d"]]), {"feature_dim": 2, "mini_batch_size": 2, "num_components": 1})


# --- K-Means --------------------------------------------------------------------------------------
def test_kmeans_sse_not_worse_than_sklearns_best(walkthrough):
    scores, _, model, metrics, _ = walkthrough
    with threadpool_limits(1, user_api="openmp"):  # sklearn's threads crawl on a busy 2-core machine
        best = min(
            sse(scores, KMeans(n_clusters=WALKTHROUGH_K, n_init=10, random_state=seed).fit(scores).cluster_centers_)
            for seed in range(5)
        )
    assert model.k == WALKTHROUGH_K and model.feature_dim == WALKTHROUGH_TOP
    assert metrics["sse"] == pytest.approx(sse(scores, model.centroids), rel=1e-12)
    assert metrics["sse"] <= best * (1 + 1e-6), f"SSE ratio to scikit-learn's best: {metrics['sse'] / best:.8f}"


def test_kmeans_refinement_only_improves_on_sagemakers_answer(walkthrough):
    scores, _, _, metrics, _ = walkthrough
    hp = {"k": WALKTHROUGH_K, "feature_dim": WALKTHROUGH_TOP}
    _, sagemaker_only = fit_kmeans(scores, hp, seed=0, refine_on_data=False)
    assert metrics["sse"] <= sagemaker_only["sse"]


def test_kmeans_sagemaker_stages_score_like_the_real_artifact(census, census_pca, sagemaker_fixtures):
    # The walkthrough's K-Means job: 7 components, k=8, defaults. Its real centroids score
    # msd ≈ 0.1075 on our projections; SageMaker's stages alone, emulated, land close by.
    X, _ = census
    scores = census_pca.top(7).transform(X)
    real = models.load_kmeans(sagemaker_fixtures / "kmeans-census-k8-with-state" / "model.tar.gz")
    real_msd = sse(scores, real.centroids) / len(scores)
    assert 0.105 < real_msd < 0.110
    ours = [
        fit_kmeans(scores, {"k": 8, "feature_dim": 7}, seed=seed, refine_on_data=False)[1]["msd"]
        for seed in range(3)
    ]
    assert np.median(ours) == pytest.approx(real_msd, rel=0.04)


def test_kmeans_streaming_stage_keeps_k_times_ten_weighted_centres(walkthrough):
    scores, *_ = walkthrough
    n = len(scores)
    hp = validate_kmeans({"k": WALKTHROUGH_K, "feature_dim": WALKTHROUGH_TOP})
    centres, weights = kmeans_steps.stream_centers(scores, hp, np.random.default_rng(0))
    assert centres.shape == (70, WALKTHROUGH_TOP)  # auto extra_center_factor = 10, as in real states
    assert weights.sum() == pytest.approx(70 + n)  # seeds of weight 1, then every row once
    hp = validate_kmeans({"k": 3, "feature_dim": WALKTHROUGH_TOP, "extra_center_factor": 2, "epochs": 2, "mini_batch_size": 400})
    centres, weights = kmeans_steps.stream_centers(scores, hp, np.random.default_rng(0))
    assert centres.shape == (6, WALKTHROUGH_TOP)
    assert weights.sum() == pytest.approx(6 + 2 * n)
    hp = validate_kmeans({"k": 3, "feature_dim": WALKTHROUGH_TOP, "half_life_time_size": 100, "mini_batch_size": 100})
    _, decayed = kmeans_steps.stream_centers(scores, hp, np.random.default_rng(0))
    assert decayed.sum() < 200  # a row's weight halves every 100 rows: about 100/ln 2 remain


def test_kmeans_is_reproducible_with_a_seed(walkthrough):
    scores, _, model, metrics, _ = walkthrough
    again, again_metrics = fit_kmeans(scores, {"k": WALKTHROUGH_K, "feature_dim": WALKTHROUGH_TOP}, seed=0)
    assert np.array_equal(again.centroids, model.centroids)
    assert again_metrics == metrics


def test_kmeans_recovers_planted_clusters():
    rng = np.random.default_rng(42)
    centres = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6]], dtype=float)
    truth = np.repeat(np.arange(4), [50, 120, 80, 150])
    X = (centres[truth] + rng.normal(scale=0.5, size=(len(truth), 3))).astype(np.float32)
    model, _ = fit_kmeans(X, {"k": 4, "feature_dim": 3, "mini_batch_size": 64, "init_method": "kmeans++"}, seed=5)
    labels, _ = model.assign(X)
    assert adjusted_rand_score(truth, labels) == 1.0
    found = model.centroids[np.argsort(model.centroids @ np.array([1.0, 10.0, 100.0]))]
    np.testing.assert_allclose(found, centres[[0, 1, 2, 3]], atol=0.2)


def test_kmeans_eval_metrics(walkthrough):
    scores, _, model, metrics, _ = walkthrough
    assert set(metrics) == {"msd", "sse"}  # default eval_metrics is ["msd"]
    assert metrics["msd"] == pytest.approx(metrics["sse"] / len(scores))
    small = scores[:300]
    _, both = fit_kmeans(small, {"k": 3, "feature_dim": 5, "eval_metrics": '["ssd","msd"]'}, seed=0)
    assert list(both) == ["ssd", "msd", "sse"]
    assert both["ssd"] == both["sse"] and both["msd"] == pytest.approx(both["ssd"] / 300)
    _, ssd_only = fit_kmeans(small, {"k": 3, "feature_dim": 5, "eval_metrics": ["ssd"]}, seed=0)
    assert set(ssd_only) == {"ssd", "sse"}


def test_kmeans_fresno_and_yuma_share_a_cluster(walkthrough):
    scores, index, model, _, _ = walkthrough
    labels, _ = model.assign(scores)
    by_county = dict(zip(index, labels))
    assert by_county["California-Fresno"] == by_county["Arizona-Yuma"]


def test_kmeans_accepts_sagemaker_string_hyperparameters(walkthrough):
    scores, *_ = walkthrough
    model, metrics = fit_kmeans(
        scores[:500], {"feature_dim": "5", "k": "4", "force_dense": "True", "init_method": "kmeans++",
                       "extra_center_factor": "3", "local_lloyd_num_trials": "2", "epochs": "2"}, seed=1,
    )
    assert model.k == 4 and metrics["sse"] > 0


def test_kmeans_edge_cases():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)).astype(np.float32)
    one, metrics = fit_kmeans(X, {"k": 1, "feature_dim": 3}, seed=0)
    np.testing.assert_allclose(one.centroids[0], X.mean(axis=0), atol=1e-6)
    assert metrics["sse"] == pytest.approx(float(np.sum((X.astype(np.float64) - X.mean(axis=0)) ** 2)), rel=1e-5)
    _, every_row = fit_kmeans(X, {"k": 20, "feature_dim": 3}, seed=0)
    assert every_row["sse"] == pytest.approx(0.0, abs=1e-10)
    duplicates = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)  # 3 distinct rows, k = 5
    model, metrics = fit_kmeans(duplicates, {"k": 5, "feature_dim": 3}, seed=0)
    assert model.k == 5 and metrics["sse"] == pytest.approx(0.0, abs=1e-10)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # 0 / 0 warned before it made NaN centres
def test_kmeans_half_life_on_discrete_data_keeps_finite_centres():
    # 27 distinct rows: most of the 80 centres go unchosen and their weights decay to exactly 0.
    X = np.random.default_rng(0).integers(0, 3, (20_000, 3)).astype(np.float32)
    hp = {"k": 8, "feature_dim": 3, "half_life_time_size": 10}
    centres, weights = kmeans_steps.stream_centers(X, validate_kmeans(hp), np.random.default_rng(0))
    assert (weights == 0).any() and np.isfinite(centres).all()
    model, metrics = fit_kmeans(X, hp, seed=0)
    assert np.isfinite(model.centroids).all() and metrics["sse"] == pytest.approx(sse(X, model.centroids), rel=1e-6)
    stream = StreamingKMeans(hp, seed=0)
    for lo in range(0, len(X), 5_000):
        stream.partial_fit(X[lo:lo + 5_000])
    trials, centroids = stream.finish()
    assert np.isfinite(stream.centres).all() and np.isfinite(centroids).all()
    assert all(np.isfinite(loss) for loss, _ in trials)


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_kmeans_fewer_weighted_centres_than_k_still_seed_every_trial(init):
    # A half-life of 1 row leaves weight only on the last batch's 4 distinct rows, fewer than k = 8.
    X = np.random.default_rng(1).integers(0, 2, (20_000, 2)).astype(np.float32)
    hp = {"k": 8, "feature_dim": 2, "half_life_time_size": 1, "local_lloyd_init_method": init}
    _, weights = kmeans_steps.stream_centers(X, validate_kmeans(hp), np.random.default_rng(0))
    assert 0 < (weights > 0).sum() < 8
    model, metrics = fit_kmeans(X, hp, seed=0)
    assert model.k == 8 and metrics["sse"] == pytest.approx(0.0, abs=1e-10)
    P = np.eye(3)
    trials = kmeans_steps.reduce_centers(P, np.array([1.0, 2.0, 0.0]), validate_kmeans({**hp, "feature_dim": 3}),
                                         np.random.default_rng(0))
    assert all(len(C) == 8 and {tuple(r) for r in C} <= {tuple(r) for r in P[:2]} for _, C in trials)


def test_kmeans_bad_inputs_are_refused_clearly(walkthrough):
    scores, *_ = walkthrough
    hp = {"k": 3, "feature_dim": 5}
    with pytest.raises(HyperparameterError, match="k=8 is more than the 5 row"):
        fit_kmeans(scores[:5], {**hp, "k": 8})
    with pytest.raises(HyperparameterError, match="at least 2 rows"):
        fit_kmeans(scores[:1], {**hp, "k": 1})
    bad = scores[:50].copy()
    bad[7, 0] = np.nan
    bad[9, 1] = -np.inf
    with pytest.raises(ValueError, match="NaN or infinite values in 2 row"):
        fit_kmeans(bad, hp)
    with pytest.raises(HyperparameterError, match="feature_dim=5 does not match"):
        fit_kmeans(scores[:50, :4], hp)
    with pytest.raises(HyperparameterError, match="k is required"):
        fit_kmeans(scores[:50], {"feature_dim": 5})


def test_kmeans_quick_search_is_cheaper_and_never_worse_than_sagemakers(walkthrough):
    scores, _, _, metrics, _ = walkthrough
    hp = {"k": WALKTHROUGH_K, "feature_dim": WALKTHROUGH_TOP}
    _, quick = fit_kmeans(scores, hp, seed=0, quick=True)
    _, sagemaker_only = fit_kmeans(scores, hp, seed=0, refine_on_data=False)
    assert metrics["sse"] <= quick["sse"] <= sagemaker_only["sse"]
    assert quick["sse"] <= metrics["sse"] * 1.01


def test_kmeans_weighted_trials_stop_on_the_change_in_loss():
    rng = np.random.default_rng(0)
    P = np.vstack([rng.normal(c, 0.1, size=(20, 2)) for c in ((0, 0), (5, 0), (0, 5))])
    w = rng.random(len(P)) + 0.5
    start = P[[0, 1, 2]][None]  # three seeds in one group: Lloyd's must move two of them away
    losses, found = kmeans_steps._weighted_lloyd(P, w, start, max_iter=300, tol=1e-4)
    d2 = ((P[:, None, :] - found[0][None]) ** 2).sum(axis=2).min(axis=1)
    assert losses[0] == pytest.approx(float(d2 @ w))
    assert losses[0] < 0.1 * float((((P - P.mean(axis=0)) ** 2).sum(axis=1)) @ w)
    one_step, _ = kmeans_steps._weighted_lloyd(P, w, start, max_iter=1, tol=0.0)
    assert one_step[0] > losses[0]  # max_iter bounds the updates
    trials = kmeans_steps.reduce_centers(P, w, validate_kmeans({"k": 3, "feature_dim": 2}), np.random.default_rng(1))
    assert len(trials) == 10 and [t[0] for t in trials] == sorted(t[0] for t in trials)


@pytest.mark.parametrize("compiled", [False, True])
def test_exact_sse_scores_every_candidate_as_the_endpoint_does(walkthrough, monkeypatch, compiled):
    from backends.algorithms import refine

    scores, _, model, metrics, _ = walkthrough
    other = model.centroids[::-1] + 0.05
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 8 * 6 * 100)  # 100-row chunks, several parts
    if compiled:  # beyond COMPILED_ROWS rows: a compiled pass of float64 differences
        monkeypatch.setattr(parallel, "COMPILED_ROWS", 1_000)
    got = refine.exact_sse(scores, [model.centroids, other])
    assert got[0] == pytest.approx(metrics["sse"], rel=1e-12) and got[1] == pytest.approx(sse(scores, other), rel=1e-12)


def test_kmeans_large_data_path_polishes_every_row(walkthrough, monkeypatch):
    from backends.algorithms import refine

    scores, *_ = walkthrough
    monkeypatch.setattr(refine, "REFINE_SAMPLE_ROWS", 500)  # the sample, then Lloyd's on every row
    monkeypatch.setattr(refine, "REFINE_LLOYD_ROWS", 1500)  # a larger sample first, then every row
    hp = {"k": WALKTHROUGH_K, "feature_dim": WALKTHROUGH_TOP}
    model, metrics = fit_kmeans(scores, hp, seed=3)
    _, sagemaker_only = fit_kmeans(scores, hp, seed=3, refine_on_data=False)
    assert metrics["sse"] == pytest.approx(sse(scores, model.centroids), rel=1e-12)
    assert metrics["sse"] <= sagemaker_only["sse"]
    monkeypatch.setattr(refine, "REFINE_FULL_ITERATIONS", 0)  # no Lloyd's on every row: the larger sample's answer
    _, unpolished = fit_kmeans(scores, hp, seed=3)
    assert metrics["sse"] <= unpolished["sse"]


@pytest.mark.parametrize("k", [1, 2, 7, 8, 9, 16, 17, 33, 64, 65, 150])
def test_first_minimum_rows_is_argmin_with_ties_to_the_lowest_centre(k):
    rng = np.random.default_rng(k)
    scores = rng.integers(0, 3, size=(k, 2_000)).astype(np.float64)  # many ties
    scores[:, 0] = 1.0  # every centre tied
    got = parallel._first_minimum_rows(scores, scores.min(axis=0))
    assert got.dtype == np.int64 and np.array_equal(got, scores.argmin(axis=0))


def test_assign_matches_the_artifacts_assign_across_chunks_and_parts(walkthrough, monkeypatch):
    scores, _, model, *_ = walkthrough
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 8 * 6 * 100)  # 100-row chunks, several parts
    tied = np.vstack([scores, model.centroids[[0, 1]].mean(axis=0, keepdims=True).astype(np.float32)])
    labels, distances = kmeans_steps.assign(tied, model.centroids)
    expected_labels, expected_distances = model.assign(tied)
    assert np.array_equal(labels, expected_labels)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-9, atol=1e-12)


def test_lloyd_pass_sums_counts_and_sse_match_a_direct_computation(walkthrough, monkeypatch):
    from backends.algorithms import refine

    scores, _, model, *_ = walkthrough
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 8 * 6 * 100)
    acc = refine.LloydPass([model.centroids, model.centroids[::-1] + 0.05]).update(scores)
    for i, C in enumerate(acc.candidates):
        labels, distances = KMeansModel(C).assign(scores)
        assert np.array_equal(acc.counts[i], np.bincount(labels, minlength=len(C)))
        expected = np.stack([scores[labels == j].astype(np.float64).sum(axis=0) for j in range(len(C))])
        np.testing.assert_allclose(acc.sums[i], expected, rtol=1e-10, atol=1e-9)
        assert acc.sse[i] == pytest.approx(float((distances ** 2).sum()), rel=1e-9)


def _both_streams(X, hp, monkeypatch, seed=0):
    """(compiled, numpy) stream_centers on X from the same seed; each path checked to be the one taken."""
    from backends.algorithms import compiled as kernels

    epochs = []
    real = kernels.stream_epoch
    monkeypatch.setattr(kernels, "stream_epoch", lambda *args: epochs.append(1) or real(*args))
    monkeypatch.setattr(parallel, "COMPILED_ROWS", 1_000)
    compiled = kmeans_steps.stream_centers(X, hp, np.random.default_rng(seed))
    assert len(epochs) == hp["epochs"], "the compiled stream streamed every epoch"
    monkeypatch.setattr(parallel, "COMPILED_ROWS", 10**9)
    numpy_answer = kmeans_steps.stream_centers(X, hp, np.random.default_rng(seed))
    assert len(epochs) == hp["epochs"], "the numpy stream ran no compiled epoch"
    return compiled, numpy_answer


@pytest.mark.parametrize("extra", [{}, {"epochs": 3}, {"half_life_time_size": 2_000}, {"mini_batch_size": 777},
                                   {"init_method": "kmeans++"}])
def test_large_data_stream_is_the_numpy_stream_compiled(walkthrough, monkeypatch, extra):
    """The compiled epoch (float32 scores) moves the centres as numpy's float64 batches do: the same
    seeds, batches, weights and updates, across several epochs, a half-life and a short last batch."""
    scores, *_ = walkthrough
    X = np.ascontiguousarray(np.tile(scores, (4, 1)))  # 12,872 rows: three batches beyond the seeding one
    hp = validate_kmeans({"k": WALKTHROUGH_K, "feature_dim": WALKTHROUGH_TOP, **extra})
    (centres, weights), (numpy_centres, numpy_weights) = _both_streams(X, hp, monkeypatch)
    # float32 nearest centres agree with numpy's float64 ones here (no near ties): the same stage
    np.testing.assert_allclose(centres, numpy_centres, rtol=0, atol=1e-5)
    np.testing.assert_allclose(weights, numpy_weights, rtol=1e-12)
    again = kmeans_steps.stream_centers(X, hp, np.random.default_rng(0))
    monkeypatch.setattr(parallel, "COMPILED_ROWS", 1_000)
    assert np.array_equal(kmeans_steps.stream_centers(X, hp, np.random.default_rng(0))[0], centres)
    assert not np.array_equal(again[0], kmeans_steps.stream_centers(X, hp, np.random.default_rng(1))[0])


@pytest.mark.parametrize("n", [1_000_064, 1_000_037])  # whole 64-row blocks, and a short last block
def test_large_data_stream_visits_rows_block_by_block_as_numpy_does(n, monkeypatch):
    """Beyond BLOCK_SHUFFLE_ROWS rows the compiled epoch reads the block order itself (batches that
    start and end inside blocks, the short last block) as numpy's gather does. One centre (no ties
    to round differently) with a half-life: its end depends on which batch each row fell in."""
    X = np.random.default_rng(5).standard_normal((n, 3)).astype(np.float32)
    X[:, 0] += np.linspace(0.0, 50.0, n, dtype=np.float32)  # rows differ along the stored order
    hp = validate_kmeans({"k": 1, "feature_dim": 3, "mini_batch_size": 4_999, "extra_center_factor": 1,
                          "half_life_time_size": 20_000, "epochs": 2})
    (centres, weights), (numpy_centres, numpy_weights) = _both_streams(X, hp, monkeypatch)
    np.testing.assert_allclose(centres, numpy_centres, rtol=1e-12)
    np.testing.assert_allclose(weights, numpy_weights, rtol=1e-12)
    (elsewhere, _), _ = _both_streams(X, hp, monkeypatch, seed=1)
    assert np.abs(elsewhere - centres).max() > 1e-3  # another order ends elsewhere: the order matters


@pytest.mark.parametrize("n", [1_000_064, 1_000_037])  # whole 64-row blocks, and a short last block
def test_block_order_gathers_whole_blocks_as_the_row_index_would(n, monkeypatch):
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    order = kmeans_steps._VisitOrder(n, np.random.default_rng(1))
    assert order.blocks is not None
    spans = [(lo, min(n, lo + 4_999)) for lo in range(0, n, 4_999)]
    for lo, hi in spans:
        assert np.array_equal(order.take(X, lo, hi), np.take(X, order.rows(lo, hi), axis=0))
    assert sum(hi - lo for lo, hi in spans) == n


def test_lloyd_rows_is_scikit_learns_lloyd_from_the_same_start(walkthrough):
    from sklearn.cluster import KMeans

    from backends.algorithms.local_moves import lloyd_rows

    scores, _, model, *_ = walkthrough
    start = (model.centroids[::-1] + 0.03).astype(np.float32)
    for iterations in (1, 2, 5):
        expected = KMeans(len(start), init=start, n_init=1, max_iter=iterations, tol=0.0, algorithm="lloyd").fit(scores)
        np.testing.assert_allclose(lloyd_rows(scores, start, iterations), expected.cluster_centers_, rtol=0, atol=1e-6)


def test_thread_count_follows_the_cpus_the_process_may_use(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 64)
    assert parallel._cpu_threads() == 1


def test_lloyd_on_every_row_rounds_the_same_whatever_the_number_of_cpus(walkthrough, monkeypatch):
    """Its float32 sums are taken in a fixed number of shares: the machine's CPU count never
    changes the centroids (eight threads once added eight shares, in the order they finished)."""
    from backends.algorithms import local_moves

    scores, _, model, *_ = walkthrough
    start = (model.centroids[::-1] + 0.03).astype(np.float32)
    answers = []
    for cpus in (1, 2, 8):
        for module in (parallel, local_moves):
            monkeypatch.setattr(module, "_cpu_threads", lambda cpus=cpus: cpus, raising=False)
        answers.append(local_moves.lloyd_rows(scores, start, 3))
    assert all(np.array_equal(answers[0], other) for other in answers[1:])


def test_large_data_stream_takes_a_seeding_batch_larger_than_a_mini_batch(monkeypatch):
    """K = k × extra_center_factor centres may outnumber mini_batch_size: the seeding batch then has
    K rows, more than the others, and the compiled epoch's buffers must hold it."""
    X = np.random.default_rng(0).standard_normal((3_001, 5)).astype(np.float32)
    hp = validate_kmeans({"k": 10, "feature_dim": 5, "mini_batch_size": 50})  # K = 100 > 50
    (centres, weights), (numpy_centres, numpy_weights) = _both_streams(X, hp, monkeypatch)
    assert centres.shape == (100, 5)
    np.testing.assert_allclose(centres, numpy_centres, rtol=0, atol=1e-5)
    np.testing.assert_allclose(weights, numpy_weights, rtol=1e-12)


@pytest.mark.parametrize("row", [0, 99, 100, 4_999, 5_000, 9_999])
def test_all_finite_finds_a_bad_value_in_any_chunk_of_any_part(row, monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 8 * 3 * 100)  # 100-row chunks, so 10,000 rows make two parts
    X = np.ones((10_000, 3), dtype=np.float32)
    assert len(parallel._parts(*X.shape)) == 2 and parallel.all_finite(X)
    for bad in (np.nan, np.inf, -np.inf):
        X[row, 2] = bad
        assert not parallel.all_finite(X)
        X[row, 2] = 1.0


@pytest.mark.parametrize("subtract_mean", [True, False])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_pca_fit_measures_the_total_variance_a_separate_pass_would(census, monkeypatch, subtract_mean, offset):
    """fit_pca_and_variance's total (from the scatter's trace, moved to the stored float32 mean) is
    total_variance(X, model.mean), across chunk boundaries and far from the origin."""
    X, _ = census
    X = (X + np.float32(offset)).astype(np.float32)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 8 * 34 * 100)  # 100-row chunks
    model, total = pca_mod.fit_pca_and_variance(X, pca_hp(X, 5, subtract_mean=subtract_mean))
    assert total == pytest.approx(total_variance(X, model.mean), rel=1e-9)
    direct = float(np.sum((X.astype(np.float64) - model.mean.astype(np.float64)) ** 2))
    assert total == pytest.approx(direct, rel=1e-9)
    _, randomized = pca_mod.fit_pca_and_variance(X, pca_hp(X, 5, algorithm_mode="randomized"))
    assert randomized is None  # no scatter in randomized mode: the pipeline makes its own pass


@pytest.mark.parametrize("rows", [3_218, 1_000_003])  # the census; beyond the parts' and tiles' sizes
def test_compiled_labels_are_the_numpy_pass_labels(walkthrough, monkeypatch, rows):
    """Beyond COMPILED_ROWS rows assign is a compiled pass (float64 differences): the same labels
    as the numpy pass's, the same distances to rounding, on float32 and float64 rows."""
    scores, _, model, *_ = walkthrough
    X = np.resize(scores, (rows, scores.shape[1]))
    X = X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape).astype(np.float32)
    for data in (X.astype(np.float32), X.astype(np.float64)):
        monkeypatch.setattr(parallel, "COMPILED_ROWS", 10**9)
        labels, distances = kmeans_steps.assign(data, model.centroids)
        monkeypatch.setattr(parallel, "COMPILED_ROWS", 1_000)
        assert parallel._compiled_rows(data)
        compiled_labels, compiled_distances = kmeans_steps.assign(data, model.centroids)
        assert np.array_equal(compiled_labels, labels)
        np.testing.assert_allclose(compiled_distances, distances, rtol=1e-9, atol=1e-9)


def test_lloyd_rows_moves_every_centroid_to_its_rows_mean_and_leaves_an_empty_one(walkthrough):
    from backends.algorithms.local_moves import lloyd_rows

    scores, _, model, *_ = walkthrough
    start = np.vstack([model.centroids, [[50.0] * scores.shape[1]]])  # no row is nearest to the last
    moved = lloyd_rows(scores, start, 1)
    labels, _ = KMeansModel(start).assign(scores)
    expected = np.stack([scores[labels == j].astype(np.float64).mean(axis=0) for j in range(len(model.centroids))])
    np.testing.assert_allclose(moved[:-1], expected, rtol=1e-12, atol=1e-12)
    assert np.array_equal(moved[-1], start[-1])


@pytest.mark.parametrize("compiled", [False, True])
def test_assign_gives_rows_with_a_nan_or_infinite_value_no_cluster(compiled, monkeypatch):
    """-1 and a NaN distance, on both paths, never a stale or made-up nearest centroid."""
    monkeypatch.setattr(parallel, "COMPILED_ROWS", 5 if compiled else 10**9)
    X = np.random.default_rng(0).random((600, 3)).astype(np.float32)
    X[2, 1], X[5, 0], X[517, 2] = np.nan, np.inf, -np.inf
    labels, distances = kmeans_steps.assign(X, X[[0, 1, 3]])
    assert labels[[2, 5, 517]].tolist() == [-1, -1, -1] and np.isnan(distances[[2, 5, 517]]).all()
    finite = np.setdiff1d(np.arange(600), [2, 5, 517])
    assert (labels[finite] >= 0).all() and np.isfinite(distances[finite]).all()


def test_compiled_passes_take_only_native_floats(walkthrough, monkeypatch):
    """float16 or big-endian rows take the numpy path (the kernels are typed for native floats)."""
    scores, _, model, *_ = walkthrough
    monkeypatch.setattr(parallel, "COMPILED_ROWS", 1_000)
    expected, _ = kmeans_steps.assign(scores, model.centroids)
    for odd in (scores.astype(np.float16), scores.astype(">f4")):
        assert not parallel._compiled_rows(odd)
        labels, _ = kmeans_steps.assign(odd, model.centroids)
        assert (labels == expected).mean() > 0.99  # float16 moves a few rows near a boundary


def test_kernels_compile_without_a_cache_where_numba_cannot_write_one(monkeypatch):
    """A read-only install with a read-only home: numba refuses cache=True when a function is
    decorated, so the kernels compile in each process instead of failing to import."""
    from backends.algorithms import compiled

    real = compiled.numba.njit
    def refusing(*args, cache=False, **kwargs):
        if cache:
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real(*args, cache=cache, **kwargs)

    monkeypatch.setattr(compiled.numba, "njit", refusing)

    @compiled._jit()
    def twice(x):
        return 2 * x

    assert twice(21) == 42
