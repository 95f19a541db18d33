"""Fuzzing the tar reader (backends.format.model_tar.read_model_tar): valid archives read back
exactly; archives with hostile entries are refused exactly when an independent rule says so;
mutated archives end in ArtifactError or safe members. In a child process under a 2 GB
address-space cap and a timeout (tests.support.fuzz).
"""
from __future__ import annotations

from tests.support.fuzz import run_suite


def test_tar_reader_fuzz(tmp_path, record_property):
    counts = run_suite("tar", 300, tmp_path)
    record_property("fuzz_counts", counts)
    print(counts)
    assert counts["tar valid archives"]["correct members"] > 250
    assert counts["tar hostile entries"]["ArtifactError"] > 0 and counts["tar hostile entries"]["correct members"] > 0
    assert counts["tar mutated archives"]["ArtifactError"] > 0
