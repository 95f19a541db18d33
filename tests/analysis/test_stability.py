"""Bootstrap stability (Hennig's clusterboot) on planted clusters, noise and hand-made labelings.
"""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from workbench.analysis import stability


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(200, centers=4, n_features=3, cluster_std=0.5, center_box=(-10, 10), random_state=1)
    return X.astype(np.float32), y


def test_best_match_jaccard_by_hand():
    reference = np.array([0, 0, 0, 1, 1, 2])
    other = np.array([1, 1, 0, 0, 0, 0])
    # cluster 0 = {0,1,2}: best is other 1 = {0,1}: 2/3. cluster 1 = {3,4}: other 0 = {2,3,4,5}: 2/4.
    # cluster 2 = {5}: other 0: 1/4. A reference cluster with no points here is NaN.
    got = stability.best_match_jaccard(reference, other, 4)
    assert got[:3] == pytest.approx([2 / 3, 0.5, 0.25])
    assert np.isnan(got[3])


def test_best_match_jaccard_is_label_permutation_invariant():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 100)
    permuted = np.array([3, 0, 4, 1, 2])[labels]
    assert stability.best_match_jaccard(labels, permuted, 5) == pytest.approx(np.ones(5))


@pytest.mark.parametrize("value, band", [(0.59, "unstable"), (0.6, "doubtful"), (0.7499, "doubtful"),
                                         (0.75, "stable"), (1.0, "stable"), (float("nan"), "")])
def test_bands(value, band):
    assert stability.stability_band(value) == band


def test_planted_clusters_are_stable(blobs):
    X, y = blobs
    fractions = []
    result = stability.bootstrap_stability(X, 4, reps=5, seed=0, progress=lambda f, m: fractions.append(f))
    assert result.jaccard.shape == (5, 4)
    assert (result.per_cluster["mean_jaccard"] >= stability.STABLE).all()
    assert set(result.per_cluster["band"]) == {"stable"}
    assert result.per_cluster["size"].tolist() == [50, 50, 50, 50]
    assert result.band == "stable" and result.minimum >= 0.75
    assert fractions == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    named = result.with_names(["rural"])
    assert named["cluster_name"].tolist() == ["rural", "cluster 1", "cluster 2", "cluster 3"]


def test_uniform_noise_is_unstable():
    X = np.random.default_rng(0).uniform(size=(300, 5)).astype(np.float32)
    result = stability.bootstrap_stability(X, 6, reps=5, seed=0)
    assert result.mean < stability.UNSTABLE
    assert (result.per_cluster["band"] == "unstable").sum() >= 3


def test_seeded_and_uses_given_labels(blobs):
    X, y = blobs
    one = stability.bootstrap_stability(X, 4, labels=y, reps=3, seed=7)
    two = stability.bootstrap_stability(X, 4, labels=y, reps=3, seed=7)
    np.testing.assert_array_equal(one.jaccard, two.jaccard)
    np.testing.assert_array_equal(one.labels, y)
    # A deliberately bad labeling (half of each blob swapped) is not reproduced by K-Means.
    bad = y.copy()
    bad[::2] = (bad[::2] + 1) % 4
    assert stability.bootstrap_stability(X, 4, labels=bad, reps=3, seed=7).mean < 0.6


def test_rejects_bad_input(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="at least one"):
        stability.bootstrap_stability(X, 4, reps=0)
    with pytest.raises(ValueError, match="one entry per row"):
        stability.bootstrap_stability(X, 4, labels=y[:10], reps=1)
    with pytest.raises(ValueError, match="0..3"):
        stability.bootstrap_stability(X, 4, labels=y + 1, reps=1)


def test_describe_says_what_the_mean_measures(blobs):
    X, y = blobs
    result = stability.bootstrap_stability(X, 4, labels=y, reps=4, seed=3)
    means = np.nanmean(result.jaccard, axis=1)
    assert result.standard_error == pytest.approx(np.std(means, ddof=1) / 2)
    text = result.describe()
    assert f"{result.mean:.2f}" in text and "4 resamples" in text and "seed 3" in text and "Jaccard" in text
    one = stability.bootstrap_stability(X, 4, labels=y, reps=1, seed=3)
    assert np.isnan(one.standard_error) and "±" not in one.describe() and "1 resample " in one.describe()


def test_resamples_are_fitted_quickly_unless_asked(blobs, monkeypatch):
    X, y = blobs
    seen = []
    fit = stability.fit_kmeans
    monkeypatch.setattr(stability, "fit_kmeans", lambda *a, **kw: seen.append(kw["quick"]) or fit(*a, **kw))
    stability.bootstrap_stability(X, 4, labels=y, reps=2, seed=0)
    stability.bootstrap_stability(X, 4, labels=y, reps=1, seed=0, quick=False)
    assert seen == [True, True, False]
