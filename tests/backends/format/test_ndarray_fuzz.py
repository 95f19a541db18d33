"""Fuzzing the NDArray codec (backends.format.ndarray, and load_model over it): every array set
round-trips exactly; mutated files and hostile headers end in ArtifactError or arrays. In a
child process under a 2 GB address-space cap and a timeout (tests.support.fuzz).
"""
from __future__ import annotations

from tests.support.fuzz import run_suite


def test_ndarray_codec_fuzz(tmp_path, record_property):
    counts = run_suite("ndarray", 400, tmp_path)
    record_property("fuzz_counts", counts)
    print(counts)
    assert counts["ndarray valid files"] == {"correct arrays": 400}
    assert counts["ndarray mutated files"]["ArtifactError"] > 0
    assert counts["ndarray hostile headers"]["ArtifactError"] > 0
