"""backends.format.model_tar against hostile archives: limits enforced while streaming.
"""
from __future__ import annotations

import os

import pytest

from backends.format.errors import ArtifactError
from backends.format.model_tar import (
    MAX_TAR_OVERHEAD,
    read_artifact_file,
    read_model_tar,
)
from backends.format.models import load_model
from tests.support import hostile


def test_a_sparse_member_is_refused_before_it_expands():
    bomb = hostile.sparse_tar_gz((2 << 30) - 1)
    assert len(bomb) < 200
    with pytest.raises(ArtifactError, match="'model_algo-1', a sparse file"):
        read_model_tar(bomb)
    with pytest.raises(ArtifactError, match="sparse file"):
        load_model(bomb)


def test_a_gzip_of_zeros_is_refused_after_at_most_the_overhead():
    # The tar ends at its first (zero) block; everything after it is padding beyond the allowance.
    bomb = hostile.zeros_gzip(256 << 20)
    assert len(bomb) < 300_000
    with pytest.raises(ArtifactError, match="more bytes than its members declare"):
        read_model_tar(bomb)


def test_an_oversized_pax_header_is_refused_while_reading_it():
    with pytest.raises(ArtifactError, match=f"over {MAX_TAR_OVERHEAD:,}"):
        read_model_tar(hostile.oversized_pax_header_tar_gz(64 << 20))


def test_members_may_be_followed_by_the_usual_tar_padding():
    members = {"model_algo-1": b"abc", "state_x": bytes(5000)}
    assert read_model_tar(hostile.tar_gz(*members.items())) == members


def test_the_declared_total_is_checked_before_the_member_is_read():
    archive = hostile.tar_gz(("a", bytes(3000)), ("b", bytes(3000)))
    with pytest.raises(ArtifactError, match="more than 5,000 bytes"):
        read_model_tar(archive, max_total_bytes=5000)


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom"])
def test_special_files_are_refused_as_artifacts(tmp_path, special):
    if special == "fifo":
        special = tmp_path / "model.tar.gz"
        os.mkfifo(special)
    for read in (read_model_tar, load_model, read_artifact_file):
        with pytest.raises(ArtifactError, match="not a regular file"):
            read(special)


def test_an_artifact_file_is_read_byte_for_byte_within_its_limit(tmp_path):
    path = tmp_path / "model.tar.gz"
    path.write_bytes(hostile.tar_gz(("model_algo-1", b"abc")))
    assert read_artifact_file(path) == path.read_bytes()
    with pytest.raises(ArtifactError, match="over the 10-byte limit"):
        read_artifact_file(path, max_bytes=10)
    with pytest.raises(ArtifactError, match="does not exist"):
        read_artifact_file(tmp_path / "missing.tar.gz")


def test_bombs_stay_small_in_memory_under_a_3_gb_cap():
    # The cases: a 147-byte sparse tar (peaked at 4.2 GB) and a 46 MB gzip of zeros (8.4 GB).
    result = hostile.run_capped("""
        from backends.format.errors import ArtifactError
        from backends.format.model_tar import read_model_tar
        from tests.support import hostile
        bombs = {"sparse": hostile.sparse_tar_gz((2 << 30) - 1), "zeros": hostile.zeros_gzip(2900 * (16 << 20))}
        for name, bomb in bombs.items():
            try:
                read_model_tar(bomb)
                emit([name, len(bomb), "read"])
            except ArtifactError as exc:
                emit([name, len(bomb), str(exc)])
        emit(["peak", peak_rss()])
    """, memory_bytes=3 << 30, timeout=120)
    assert result["returncode"] == 0, result["stderr"][-3000:]
    outcomes = {name: (size, message) for name, size, message in result["emitted"][:2]}
    assert "sparse file" in outcomes["sparse"][1] and outcomes["sparse"][0] < 200
    assert "more bytes than its members declare" in outcomes["zeros"][1] and outcomes["zeros"][0] > 45_000_000
    assert result["emitted"][2][1] < 600 << 20, f"peak RSS {result['emitted'][2][1] / 2**20:.0f} MB"
