"""Choosing k: each metric against scikit-learn's own results, the knee, and the recommendation rule.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from workbench.analysis import choosing_k, stability


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(240, centers=4, n_features=3, cluster_std=0.6, center_box=(-10, 10), random_state=1)
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def selection(blobs):
    calls = []
    result = choosing_k.evaluate_k(blobs, range(2, 8), stability_reps=3, seed=0,
                                   progress=lambda f, m: calls.append((f, m)))
    return result, calls


def test_metrics_match_scikit_learn(blobs, selection):
    result, _ = selection
    table = result.table.set_index("k")
    for k, labels in result.labels.items():
        row = table.loc[k]
        assert row["silhouette"] == pytest.approx(silhouette_score(blobs, labels), rel=1e-6)
        assert row["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(blobs, labels), rel=1e-6)
        assert row["davies_bouldin"] == pytest.approx(davies_bouldin_score(blobs, labels), rel=1e-6)
        # SSE is K-Means' inertia: the squared distances to the centroids, summed...
        assert row["sse"] == pytest.approx(((blobs - result.centroids[k][labels]) ** 2).sum(), rel=1e-5)
        # ...and the workbench's K-Means is no worse than scikit-learn's best of 10 starts.
        assert row["sse"] <= KMeans(k, n_init=10, random_state=0).fit(blobs).inertia_ * (1 + 1e-4)


def test_planted_clusters_recommend_their_k(selection):
    result, _ = selection
    assert result.recommended == 4
    assert result.knee == 4
    assert result.reason.startswith("k = 4 has the best combined rank")
    assert "stable" in result.reason
    table = result.table.set_index("k")
    assert table.loc[4, "stability"] >= stability.STABLE
    assert table["is_recommended"].sum() == 1 and table.loc[4, "is_recommended"]
    assert table["silhouette"].idxmax() == 4
    assert table["davies_bouldin"].idxmin() == 4


def test_progress_reaches_one_in_order(selection):
    _, calls = selection
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0 and 0 <= fractions[0] < 0.2
    assert any("bootstrap" in m for _, m in calls)


def test_silhouette_sample_is_seeded_and_matches_scikit_learn(blobs):
    result = choosing_k.evaluate_k(blobs, [3], stability_reps=0, silhouette_sample_size=100, seed=5)
    labels = result.labels[3]
    expected = silhouette_score(blobs, labels, sample_size=100, random_state=5)
    assert result.table.loc[0, "silhouette"] == pytest.approx(expected)
    assert np.isnan(result.table.loc[0, "stability"])


def test_knee_by_max_distance_to_chord():
    knee, distance = choosing_k.find_knee([1, 2, 3, 4, 5, 6], [100, 55, 25, 18, 15, 13])
    assert knee == 3
    assert distance[0] == 0 and distance[-1] == 0 and distance.argmax() == 2
    assert choosing_k.find_knee([2, 3, 4, 5], [40, 30, 20, 10])[0] is None  # a straight line has no knee
    assert choosing_k.find_knee([2, 3], [40, 30])[0] is None


def _table(**columns):
    frame = pd.DataFrame(columns)
    frame["elbow"] = frame.get("elbow", 0.0)
    return frame


def test_rule_only_stable_k_take_part():
    table = _table(k=[2, 3, 4], silhouette=[0.9, 0.5, 0.4], calinski_harabasz=[900, 500, 400],
                   davies_bouldin=[0.2, 0.5, 0.6], stability=[0.5, 0.8, 0.9], elbow=[0.0, 0.3, 0.1])
    k, reason, ranking = choosing_k.recommend_k(table, knee=3)
    assert k == 3  # k = 2 wins every separation index but is unstable
    assert "2 of 3 k values whose clusters are stable" in reason
    assert ranking["k"].tolist() == [3, 4]
    assert "silhouette alone would pick k = 2" in reason


def test_rule_without_stable_or_stability():
    table = _table(k=[2, 3], silhouette=[0.3, 0.5], calinski_harabasz=[10, 20], davies_bouldin=[2, 1],
                   stability=[0.4, 0.5])
    k, reason, _ = choosing_k.recommend_k(table)
    assert k == 3 and "none is stable" in reason
    k, reason, ranking = choosing_k.recommend_k(table.drop(columns="stability"))
    assert k == 3 and "stability was not computed" in reason and "rank_stability" not in ranking


def test_rule_ties_go_to_more_stable_then_smaller_k():
    table = _table(k=[2, 3, 4], silhouette=[0.5, 0.5, 0.5], calinski_harabasz=[1, 1, 1],
                   davies_bouldin=[1, 1, 1], stability=[0.8, 0.9, 0.9])
    assert choosing_k.recommend_k(table)[0] == 3


def test_cache_returns_the_stored_result(blobs, tmp_path, monkeypatch):
    first = choosing_k.evaluate_k(blobs, [2, 3, 4], stability_reps=1, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("k-selection-*.json"))) == 1

    def no_fit(*args, **kwargs):
        raise AssertionError("clustered again instead of reading the cache")

    monkeypatch.setattr(stability, "fit_labels", no_fit)
    second = choosing_k.evaluate_k(blobs, [2, 3, 4], stability_reps=1, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first.table, second.table, check_dtype=False)
    assert second.recommended == first.recommended and second.reason == first.reason
    np.testing.assert_array_equal(second.labels[3], first.labels[3])
    long = second.long()
    assert set(long["metric"]) == {"sse", "silhouette", "calinski_harabasz", "davies_bouldin", "stability"}


def test_rejects_bad_k(blobs):
    with pytest.raises(ValueError, match="between 2 and"):
        choosing_k.evaluate_k(blobs[:10], [1, 2], stability_reps=0)
    with pytest.raises(ValueError, match="between 2 and"):
        choosing_k.evaluate_k(blobs[:10], [10], stability_reps=0)


def test_a_small_sample_says_its_recommendation_is_weak():
    X, _ = make_blobs(24, centers=3, n_features=2, cluster_std=0.4, center_box=(-8, 8), random_state=0)
    small = choosing_k.evaluate_k(X, range(2, 5), stability_reps=0)
    assert small.weak_recommendation.startswith("Only 24 rows")
    assert f"k = {small.recommended}" in small.weak_recommendation
    assert choosing_k.KSelection.from_dict(small.to_dict()).weak_recommendation == small.weak_recommendation
    X, _ = make_blobs(30, centers=3, n_features=2, cluster_std=0.4, center_box=(-8, 8), random_state=0)
    assert choosing_k.evaluate_k(X, range(2, 5), stability_reps=0).weak_recommendation is None


def test_silhouettes_of_many_labelings_match_scikit_learn(blobs):
    labelings = [KMeans(k, n_init=1, random_state=0).fit(blobs).labels_ for k in (2, 3, 5)]
    labelings.append(np.r_[np.zeros(len(blobs) - 1, dtype=int), 1])  # a cluster of one scores 0
    got = choosing_k.silhouettes(blobs, labelings)
    assert got == pytest.approx([silhouette_score(blobs, labels) for labels in labelings], rel=1e-6)
    sampled = choosing_k.silhouettes(blobs, labelings, sample_size=100, seed=4)
    assert sampled == pytest.approx([silhouette_score(blobs, labels, sample_size=100, random_state=4)
                                     for labels in labelings], rel=1e-6)
    assert np.isnan(choosing_k.silhouettes(blobs, [np.zeros(len(blobs), dtype=int)])[0])  # one label


def test_silhouettes_group_labelings_within_a_memory_budget(blobs, monkeypatch):
    labelings = [KMeans(k, n_init=1, random_state=0).fit(blobs).labels_ for k in range(2, 9)]
    whole = choosing_k.silhouettes(blobs, labelings)
    calls = []
    passes = choosing_k._silhouette_sums
    monkeypatch.setattr(choosing_k, "_silhouette_sums", lambda *args: calls.append(1) or passes(*args))
    monkeypatch.setattr(choosing_k, "SILHOUETTE_ONEHOT_BYTES", len(blobs) * 8 * 9)  # 9 one-hot columns a group
    assert choosing_k.silhouettes(blobs, labelings) == pytest.approx(whole, rel=1e-12)
    assert len(calls) == 5  # k = 2+3+4 | 5 | 6 | 7 | 8


def test_choose_k_stability_is_the_profiles_figure_for_the_same_model(blobs):
    result = choosing_k.evaluate_k(blobs, [3, 4], stability_reps=3, seed=2)
    for k in (3, 4):
        same = stability.bootstrap_stability(blobs, k, labels=result.labels[k], reps=3, seed=2)
        row = result.table.set_index("k").loc[k]
        assert row["stability"] == same.mean and row["stability_min"] == same.minimum
        assert row["stability_se"] == pytest.approx(same.standard_error, nan_ok=True)


def test_choose_k_reports_progress_for_every_k(blobs):
    messages = []
    choosing_k.evaluate_k(blobs, [2, 3, 4], stability_reps=1, progress=lambda f, m: messages.append((f, m)))
    for k in (2, 3, 4):
        assert any(m.startswith(f"k = {k}: done") for _, m in messages)
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
