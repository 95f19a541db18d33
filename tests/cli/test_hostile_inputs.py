"""The issue's measure, through `python -m workbench` under a 3 GB address-space cap: every
hostile input ends in a one-line error (exit 2) or a correct result, with no traceback and
no hang; the sparse tar bomb peaks under 600 MB.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backends.format.model_tar import MODEL_MEMBER
from backends.format.ndarray import save_ndarrays
from tests.support import hostile

CAP = 3 << 30
REPO = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], folder: Path, *, timeout: float = 120, stdout_closed: bool = False) -> dict:
    """`python -m workbench ARGS` in `folder` under RLIMIT_AS = 3 GB; its exit code, output and peak RSS."""
    peak_file = folder / "peak_rss"
    wrapper = textwrap.dedent(f"""
        import atexit, runpy, sys
        def peak():  # VmHWM: this program's own peak (ru_maxrss would include the parent's RSS at fork)
            line = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
            open({str(peak_file)!r}, "w").write(str(int(line.split()[1]) * 1024))
        atexit.register(peak)
        sys.argv = ["workbench", *{args!r}]
        runpy.run_module("workbench", run_name="__main__", alter_sys=True)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKBENCH_WORKSPACE": str(folder / "workspace"),
           "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1"}

    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    process = subprocess.Popen([sys.executable, "-c", wrapper], cwd=folder, env=env, preexec_fn=cap,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if stdout_closed:  # a reader gone before the output comes: `… | head -c 0`
            process.stdout.close()
            stdout, stderr = b"", process.communicate(timeout=timeout)[1]
        else:
            stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"`workbench {' '.join(args)}` hung for more than {timeout} s") from None
    peak = int(peak_file.read_text()) if peak_file.exists() else None
    return {"rc": process.returncode, "stdout": stdout.decode(errors="replace"),
            "stderr": stderr.decode(errors="replace"), "peak": peak}


def assert_one_line_error(result: dict, *fragments: str) -> None:
    assert "Traceback" not in result["stderr"], result["stderr"][-3000:]
    assert result["rc"] == 2, result
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def census_text(census_csv) -> str:
    return census_csv.read_text()


def segment(data: Path, folder: Path, *extra: str) -> dict:
    return run_cli(["segment", "--data", str(data), "--out", str(folder / "labels.csv"), *extra], folder)


# --------------------------------------------------------------------------- data


def test_a_trailing_delimiter_row_is_a_one_line_error(tmp_path, census_text):
    header, first, rest = census_text.split("\n", 2)
    path = tmp_path / "trailing.csv"
    path.write_text(f"{header}\n{first},\n{rest}")
    assert_one_line_error(segment(path, tmp_path), "line 2 has 38", "trailing delimiter")


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_dev_zero_and_a_fifo_as_data_are_one_line_errors(tmp_path, special):
    if special == "fifo":
        special = tmp_path / "counties.csv"
        os.mkfifo(special)
    assert_one_line_error(segment(Path(special), tmp_path), "not a regular file")


def test_thousands_separators_give_the_same_segmentation(tmp_path, census_csv):
    plain = segment(census_csv, tmp_path)
    assert plain["rc"] == 0, plain["stderr"]
    expected = (tmp_path / "labels.csv").read_text()
    table = pd.read_csv(census_csv)
    table["TotalPop"] = table["TotalPop"].map("{:,}".format)
    table["Income"] = table["Income"].map(lambda v: "" if pd.isna(v) else f"${v:,.0f}")
    path = tmp_path / "people.csv"
    table.to_csv(path, index=False)
    assert '"55,221"' in path.read_text()
    result = segment(path, tmp_path)
    assert result["rc"] == 0 and "Traceback" not in result["stderr"], result["stderr"]
    assert (tmp_path / "labels.csv").read_text() == expected


def test_wide_ids_are_kept_as_text(tmp_path, census_csv):
    table = pd.read_csv(census_csv)
    table["CensusId"] = [str(10**24 + int(i)) for i in table["CensusId"]]
    path = tmp_path / "wide.csv"
    table.to_csv(path, index=False)
    result = segment(path, tmp_path)
    assert result["rc"] == 0 and "Traceback" not in result["stderr"], result["stderr"]
    labels = pd.read_csv(tmp_path / "labels.csv", dtype={"CensusId": str})
    assert labels["CensusId"].iloc[0] == str(10**24 + 1001)


def test_a_huge_seed_is_a_one_line_error(tmp_path, census_csv):
    assert_one_line_error(segment(census_csv, tmp_path, "--seed", str(10**30)), "seed")


def test_a_broken_pipe_exits_quietly(tmp_path, census_csv):
    result = run_cli(["segment", "--data", str(census_csv), "--json"], tmp_path, stdout_closed=True)
    assert "Traceback" not in result["stderr"] and result["stderr"].strip() == ""


# --------------------------------------------------------------------------- artifacts


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_dev_zero_and_a_fifo_as_artifact_are_one_line_errors_for_inspect(tmp_path, special):
    if special == "fifo":
        special = tmp_path / "model.tar.gz"
        os.mkfifo(special)
    assert_one_line_error(run_cli(["inspect", str(special)], tmp_path, timeout=60), "not a regular file")


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_dev_zero_and_a_fifo_as_artifact_are_one_line_errors_for_import(tmp_path, special):
    if special == "fifo":
        special = tmp_path / "model.tar.gz"
        os.mkfifo(special)
    assert_one_line_error(run_cli(["runs", "import", str(special)], tmp_path, timeout=15), "not a regular file")


@pytest.mark.parametrize("command", [["inspect"], ["runs", "import"]])
def test_a_sparse_tar_bomb_is_refused_under_600_mb(tmp_path, command):
    bomb = tmp_path / "model.tar.gz"
    bomb.write_bytes(hostile.sparse_tar_gz((2 << 30) - 1))
    result = run_cli([*command, str(bomb)], tmp_path)
    assert_one_line_error(result, "sparse file")
    assert result["peak"] < 600 << 20, f"peak RSS {result['peak'] / 2**20:.0f} MB"


def test_a_nan_centroid_import_is_a_one_line_error(tmp_path):
    centroids = np.ones((7, 5), np.float32)
    centroids[3, 2] = np.nan
    path = tmp_path / "model.tar.gz"
    path.write_bytes(hostile.tar_gz((MODEL_MEMBER, save_ndarrays([centroids]))))
    assert_one_line_error(run_cli(["runs", "import", str(path)], tmp_path), "centroids holds nan at index [3, 2]")
    report = run_cli(["inspect", str(path)], tmp_path)
    assert report["rc"] == 0 and '"kind": "unknown"' in report["stdout"] and "nan at index [3, 2]" in report["stdout"]
