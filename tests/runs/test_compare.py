"""Comparing runs on known cases: identical, permuted, flipped, unrelated; and carrying names over.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backends.format import models
from workbench.cli import main as cli
from workbench.runs import compare, importer, segment
from workbench.runs.store import RunStore

SMALL = {"n_components": 6, "top": 3, "k": 4}


@pytest.fixture(scope="module")
def workspace(census_csv, tmp_path_factory):
    """Two identical embedded runs, and a third whose PCA and K-Means are the first's with the
    components reordered and one flipped and the clusters renumbered (imported from artifacts)."""
    ws = tmp_path_factory.mktemp("ws")
    first = segment.run_segmentation(census_csv, workspace=ws, seed=0, **SMALL)
    second = segment.run_segmentation(census_csv, workspace=ws, seed=0, **SMALL)
    pca, km = first.pca.model, first.kmeans.model
    order, signs = [1, 0, 2, 3, 4, 5], np.array([-1, 1, 1, 1, 1, 1], dtype=np.float32)
    art = tmp_path_factory.mktemp("art")
    models.save_pca(models.PCAModel(pca.mean, pca.v[:, order] * signs, pca.s[order]), art / "pca.tar.gz")
    relabel = [2, 0, 3, 1]  # new cluster j holds old cluster relabel[j]
    centroids = km.centroids[relabel][:, order[:3]] * signs[:3]
    models.save_kmeans(models.KMeansModel(centroids), art / "kmeans.tar.gz")
    shuffled = importer.import_run(art / "pca.tar.gz", art / "kmeans.tar.gz", data=census_csv,
                                   store=RunStore(workspace=ws), name="shuffled")
    return ws, first, second, shuffled, relabel


# --- the measures on known cases -----------------------------------------------------------------------
def test_identical_runs_agree_completely(workspace):
    ws, first, second, _, _ = workspace
    result = compare.compare_runs(first.run_id, second.run_id, store=RunStore(workspace=ws))
    assert result.kmeans.ari == pytest.approx(1.0) and result.kmeans.nmi == pytest.approx(1.0)
    assert result.kmeans.changes.empty and result.kmeans.agreement == 1.0
    assert list(result.kmeans.matches["cluster_a"]) == list(result.kmeans.matches["cluster_b"]) == [0, 1, 2, 3]
    assert (result.kmeans.matches["jaccard"] == 1.0).all()
    np.testing.assert_allclose(result.pca.angles_deg, 0, atol=1e-3)
    assert len(result.pca.angles) == 3 and result.pca.max_angle_deg < 1e-3
    assert list(result.pca.matches["sign"]) == [1, 1, 1]
    np.testing.assert_allclose(result.pca.matches["congruence"], 1, atol=1e-6)
    assert set(result.pca.matches["verdict"]) == {"equal"}
    assert np.diag(result.kmeans.contingency.to_numpy()).sum() == 3218
    assert result.notes == []


def test_reordered_flipped_components_and_renumbered_clusters_still_agree(workspace):
    ws, first, _, shuffled, relabel = workspace
    result = compare.compare_runs(first.run_id, shuffled.run_id, store=RunStore(workspace=ws))
    # PCA: the same subspace; pc1 of A is pc2 of B with its sign flipped, pc2 is B's pc1.
    np.testing.assert_allclose(result.pca.angles_deg, 0, atol=1e-3)
    matches = result.pca.matches.set_index("component_a")
    assert list(matches["component_b"]) == [2, 1, 3]
    assert list(matches["sign"]) == [1, -1, 1]  # A's pc2 is B's pc1 negated
    np.testing.assert_allclose(matches["congruence"], 1, atol=1e-6)
    assert result.pca.congruence.loc["pc2", "pc1"] == pytest.approx(-1, abs=1e-6)
    # K-Means: permuted labels are the same partition.
    assert result.kmeans.ari == pytest.approx(1.0) and result.kmeans.nmi == pytest.approx(1.0)
    assert result.kmeans.changes.empty
    pairs = dict(zip(result.kmeans.matches["cluster_a"], result.kmeans.matches["cluster_b"]))
    assert pairs == {old: new for new, old in enumerate(relabel)}


def test_permuted_labels_give_an_ari_of_one():
    rng = np.random.default_rng(0)
    index = pd.Index([f"county {i}" for i in range(500)])
    a = pd.Series(rng.integers(0, 5, 500), index=index)
    perm = np.array([3, 0, 4, 1, 2])
    b = pd.Series(perm[a.to_numpy()], index=index).sample(frac=1, random_state=1)  # shuffled rows, too
    result = compare.compare_labels(a, b)
    assert result.ari == pytest.approx(1.0) and result.nmi == pytest.approx(1.0)
    assert dict(zip(result.matches["cluster_a"], result.matches["cluster_b"])) == dict(enumerate(perm))
    assert (result.matches["jaccard"] == 1.0).all() and result.changes.empty
    assert (result.contingency.to_numpy() > 0).sum() == 5  # a permutation matrix of counts


def test_unrelated_partitions_score_near_zero():
    rng = np.random.default_rng(1)
    index = pd.RangeIndex(3000)
    a = pd.Series(rng.integers(0, 7, 3000), index=index)
    b = pd.Series(rng.integers(0, 7, 3000), index=index)
    result = compare.compare_labels(a, b)
    assert abs(result.ari) < 0.01 and result.nmi < 0.01
    assert result.matches["jaccard"].max() < 0.15
    assert len(result.changes) > 2000


def test_changed_counties_are_those_outside_their_matched_cluster():
    index = pd.Index(["a", "b", "c", "d", "e", "f"])
    a = pd.Series([0, 0, 0, 1, 1, 1], index=index)
    b = pd.Series([1, 1, 0, 0, 0, 0], index=index)
    info = pd.DataFrame({"State": list("SSSTTT"), "County": list("abcdef")}, index=index)
    result = compare.compare_labels(a, b, names_a=["Rural", "Urban"], names_b=["", "Farm"], info=info)
    # A0 → B1 (2 shared), A1 → B0 (3 shared); county c moved from Rural to B's cluster 0.
    assert dict(zip(result.matches["cluster_a"], result.matches["cluster_b"])) == {0: 1, 1: 0}
    assert list(result.matches["jaccard"]) == [pytest.approx(2 / 3), pytest.approx(3 / 4)]
    assert list(result.changes.index) == ["c"]
    change = result.changes.loc["c"]
    assert (change["State"], change["name_a"], change["cluster_b"], change["match_of_a_in_b"]) == ("S", "Rural", 0, 1)
    assert result.agreement == pytest.approx(5 / 6)
    named = result.contingency_named()
    assert named.loc["0 · Rural", "1 · Farm"] == 2 and named.loc["total", "total"] == 6


def test_different_numbers_of_clusters_leave_some_unmatched():
    index = pd.RangeIndex(6)
    result = compare.compare_labels(pd.Series([0, 0, 1, 1, 2, 2], index=index), pd.Series([0, 0, 1, 1, 1, 1], index=index))
    assert result.matches["cluster_b"].isna().sum() == 1
    assert len(result.changes) == 2


def test_principal_angles_and_congruence_of_unrelated_subspaces():
    rng = np.random.default_rng(2)
    va = np.linalg.qr(rng.normal(size=(40, 3)))[0]
    vb = np.linalg.qr(rng.normal(size=(40, 3)))[0]
    result = compare.compare_pca(va, vb)
    assert result.angles_deg.min() > 30 and (result.matches["verdict"] == "different").all()
    assert compare.tucker_congruence(np.array([[1.0], [0.0]]), np.array([[1.0], [1.0]]))[0, 0] == pytest.approx(
        1 / np.sqrt(2))


# --- names carried over ---------------------------------------------------------------------------------
def test_names_carry_over_to_the_matched_components_and_clusters(workspace):
    ws, first, _, shuffled, relabel = workspace
    reg = RunStore(workspace=ws)
    reg.set_names(first.run_id, components=["Urban", "Poverty", "Commute"],
                  clusters=["Farmland", "Suburbs", "Cities", "Retirement"])
    reg.set_names(shuffled.run_id, clusters={0: "Kept"})
    result = compare.compare_runs(first.run_id, shuffled.run_id, store=reg)
    assert list(result.pca.matches["name_a"]) == ["Urban", "Poverty", "Commute"]
    proposed = result.carried_names()
    assert proposed["components"] == ["Poverty", "Urban", "Commute"]
    assert proposed["clusters"] == ["Kept", "Farmland", "Retirement", "Suburbs"]  # B0 was named: kept
    assert result.carried_names(overwrite=True)["clusters"] == ["Cities", "Farmland", "Retirement", "Suburbs"]
    assert reg.get(shuffled.run_id).component_names == ["", "", ""]  # nothing written yet

    updated = compare.carry_names(result)
    assert updated.component_names == ["Poverty", "Urban", "Commute"]
    assert updated.cluster_names == [
        "Kept", *[["Farmland", "Suburbs", "Cities", "Retirement"][old] for old in relabel[1:]]]
    history = reg.names_history(shuffled.run_id)
    assert len(history) == 8 and history["edited_at"].is_monotonic_increasing  # name, "Kept", 3 + 3 carried
    labeled = updated.labeled()
    assert list(labeled.columns[3:6]) == ["Poverty", "Urban", "Commute"]
    compare.carry_names(compare.compare_runs(first.run_id, shuffled.run_id, store=reg))
    assert len(reg.names_history(shuffled.run_id)) == len(history)  # no change, no new edit


# --- what the pages and the CLI get -------------------------------------------------------------------------
def test_tables_are_ready_to_show_and_the_summary_is_json(workspace):
    ws, first, _, shuffled, _ = workspace
    result = compare.compare_runs(first.run_id, shuffled.run_id, store=RunStore(workspace=ws))
    assert list(result.settings.columns) == ["A", "B", "same"]
    assert all(isinstance(v, str) for v in result.settings["A"]) and all(isinstance(v, str) for v in result.settings["B"])
    assert not result.settings.loc["backend", "same"] and result.settings.loc["k", "same"]
    assert list(result.kmeans.changes.columns) == ["State", "County", "cluster_a", "name_a", "cluster_b", "name_b",
                                                   "match_of_a_in_b"]
    summary = json.loads(json.dumps(result.summary()))
    assert summary["kmeans"]["adjusted_rand_index"] == pytest.approx(1.0)
    assert len(summary["pca"]["principal_angles_deg"]) == 3


def test_runs_with_different_features_compare_their_clusters_only(census_csv, workspace):
    ws, first, _, _, _ = workspace
    other = segment.run_segmentation(census_csv, workspace=ws, features=["Income", "Poverty", "Unemployment"],
                                      n_components=3, top=2, k=3)
    try:
        result = compare.compare_runs(first.run_id, other.run_id, store=RunStore(workspace=ws))
        assert result.pca is None and any("different features" in note for note in result.notes)
        assert any("fingerprints differ" in note for note in result.notes)
        assert result.kmeans is not None and result.kmeans.n_counties == 3218
        assert (result.kmeans.only_in_a, result.kmeans.only_in_b) == (0, 1)  # Hawaii-Kalawao lacks ChildPoverty only
    finally:
        RunStore(workspace=ws).delete(other.run_id)


def test_cli_runs_compare(workspace, capsys):
    ws, first, second, _, _ = workspace
    code = cli.main(["runs", "compare", first.run_id, second.run_id, "--workspace", str(ws), "--changes", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ARI 1.0000, NMI 1.0000" in out and "principal angles (degrees) 0.00, 0.00, 0.00" in out
    assert "0 counties change cluster." in out
    assert cli.main(["runs", "compare", first.run_id, second.run_id, "--workspace", str(ws), "--json",
                     "--top", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pca"]["components_a"] == 2 and summary["kmeans"]["counties_changing_cluster"] == 0


def test_a_damaged_kmeans_artifact_does_not_block_the_pca_comparison(census_csv, tmp_path):
    first = segment.run_segmentation(census_csv, workspace=tmp_path, seed=0, **SMALL)
    second = segment.run_segmentation(census_csv, workspace=tmp_path, seed=0, **SMALL)
    (second.run_dir / "kmeans" / "model.tar.gz").unlink()
    result = compare.compare_runs(first.run_id, second.run_id, store=RunStore(workspace=tmp_path))
    assert result.pca is not None and result.pca.max_angle_deg < 1e-3
    assert not any("PCA not compared" in note for note in result.notes)
