"""backends.format.models: finite models only, and inspect saying what the loader would say.
"""
from __future__ import annotations

import numpy as np
import pytest

from backends.format.errors import ArtifactError
from backends.format.model_tar import MODEL_MEMBER
from backends.format.models import (
    KMeansModel,
    PCAModel,
    inspect_artifact,
    load_kmeans,
    load_model,
    load_pca,
    read_artifact,
    save_kmeans,
    save_pca,
)
from backends.format.ndarray import save_ndarrays
from tests.support import hostile


def pca_arrays(d: int = 4, n: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"s": np.arange(1, n + 1, dtype=np.float32), "v": rng.normal(size=(d, n)).astype(np.float32),
            "mean": rng.normal(size=(1, d)).astype(np.float32)}


def as_tar(arrays) -> bytes:
    return hostile.tar_gz((MODEL_MEMBER, save_ndarrays(arrays)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_pca_value_is_refused_naming_array_and_index(bad):
    arrays = pca_arrays()
    arrays["v"][2, 1] = bad
    for artifact in (as_tar(arrays), save_ndarrays(arrays)):
        with pytest.raises(ArtifactError, match=r"Array v holds -?(nan|inf) at index \[2, 1\]"):
            load_pca(artifact)


def test_a_nan_centroid_is_refused():
    centroids = np.ones((8, 3), np.float32)
    centroids[5, 0] = np.nan
    with pytest.raises(ArtifactError, match=r"Array centroids holds nan at index \[5, 0\] \(1 non-finite"):
        load_kmeans(as_tar([centroids]))


def test_float64_beyond_float32_range_is_an_error_not_inf():
    arrays = pca_arrays()
    arrays["mean"] = arrays["mean"].astype(np.float64)
    arrays["mean"][0, 3] = 1e300
    with pytest.raises(ArtifactError, match=r"Array mean holds 1e\+300 at index \[0, 3\], outside float32's range"):
        load_model(as_tar(arrays))
    arrays["mean"][0, 3] = 3e38  # within range: read as float32
    assert load_pca(as_tar(arrays)).mean[3] == np.float32(3e38)


def test_trained_models_are_held_to_the_same_rule():
    with pytest.raises(ArtifactError, match=r"Array s holds nan at index \[1\]"):
        PCAModel(mean=np.zeros(2), v=np.eye(2), s=np.array([1.0, np.nan]))
    with pytest.raises(ArtifactError, match="centroids holds inf"):
        KMeansModel(np.array([[np.inf, 0.0]]))
    with pytest.raises(ArtifactError, match="not numbers"):
        KMeansModel(np.array([["a", "b"]]))


def test_inspect_does_not_call_pca_what_the_loader_refuses():
    arrays = pca_arrays()
    arrays["s"][0] = np.nan
    report = inspect_artifact(as_tar(arrays))
    assert report["kind"] == "unknown"
    assert "Array s holds nan at index [0]" in report["problem"]
    arrays = pca_arrays()
    arrays["v"] = arrays["v"][:3]  # v no longer fits mean
    report = inspect_artifact(as_tar(arrays))
    assert report["kind"] == "unknown" and "do not fit together" in report["problem"]
    good = inspect_artifact(as_tar(pca_arrays()))
    assert good["kind"] == "pca" and "problem" not in good


def test_read_artifact_gives_members_and_model_from_one_read(tmp_path):
    path = save_kmeans(KMeansModel(np.ones((2, 3))), tmp_path / "kmeans" / "model.tar.gz")
    contents = read_artifact(path)
    assert contents.members == [MODEL_MEMBER] and contents.label == str(path)
    assert isinstance(contents.model(), KMeansModel) and contents.model().k == 2
    pca = save_pca(PCAModel(mean=np.zeros(3), v=np.eye(3)[:, :2], s=np.array([2.0, 1.0])), tmp_path / "p.tar.gz")
    assert isinstance(read_artifact(pca.read_bytes()).model(), PCAModel)
