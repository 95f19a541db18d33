"""`python -m workbench`: every command runs, is documented, and fails with a clear message.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main as cli

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, env_extra=None, cwd=REPO):
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


@pytest.fixture()
def default_env(census_csv, tmp_path):
    return {"WORKBENCH_DEFAULT_DATA": str(census_csv), "WORKBENCH_WORKSPACE": str(tmp_path / "ws")}


def test_segment_json_summary_on_the_default_dataset(default_env, tmp_path):
    out = tmp_path / "labeled.csv"
    done = run_cli("segment", "--json", "--out", out, env_extra=default_env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("rows_raw", "rows_clean", "dropped", "features", "explained_variance_ratio", "sse",
                "cluster_sizes", "artifacts", "timings"):
        assert key in summary
    assert summary["rows_clean"] == 3218 and sum(summary["cluster_sizes"]) == 3218
    assert Path(summary["artifacts"]["pca"]).is_file() and Path(summary["artifacts"]["kmeans"]).is_file()
    labeled = pd.read_csv(out)
    assert list(labeled.columns) == ["CensusId", "State", "County", "pc1", "pc2", "pc3", "pc4", "pc5",
                                     "cluster", "distance_to_cluster"]
    assert len(labeled) == 3218


def test_segment_human_output(default_env):
    done = run_cli("segment", "--k", "4", "--top", "3", env_extra=default_env)
    assert done.returncode == 0, done.stderr
    assert "3,218 of 3,220 rows kept" in done.stdout
    assert "Top 3 components explain" in done.stdout


def test_inspect_pca_and_kmeans_artifacts(sagemaker_fixtures):
    pca = json.loads(run_cli("inspect", sagemaker_fixtures / "pca-census-33" / "model.tar.gz").stdout)
    assert pca["kind"] == "pca"
    assert [(a["name"], a["shape"], a["dtype"]) for a in pca["arrays"]] == [
        ("s", [33], "float32"), ("v", [34, 33], "float32"), ("mean", [1, 34], "float32")]
    kmeans = json.loads(run_cli("inspect", sagemaker_fixtures / "kmeans-census-k8-with-state" / "model.tar.gz").stdout)
    assert kmeans["kind"] == "kmeans" and kmeans["arrays"][0]["shape"] == [8, 7]


@pytest.mark.parametrize(
    "args, message",
    [
        (["segment", "--data", "no/such/file.csv"], "no/such/file.csv"),
        (["segment", "--k", "99999"], "k"),
        (["segment", "--components", "40"], "num_components"),
        (["segment", "--scaler", "log"], "invalid choice"),
        (["segment", "--k", "0"], "at least 1"),
        (["segment", "--features", "Income,Nope"], "Nope"),
        (["segment", "--backend", "mainframe"], "Unknown backend"),
        (["inspect", "no/such/model.tar.gz"], "model.tar.gz"),
    ],
)
def test_bad_input_gets_a_message_not_a_traceback(default_env, args, message):
    done = run_cli(*args, env_extra=default_env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args, message", [
    (["--k", "99999"], "k=99999 is more than the 3218 row(s)"),
    (["--components", "40"], "num_components=40 is more than the 34 feature(s)"),
    (["--out", "{tmp}"], "is a folder"),
    (["--out", "{tmp}/a-file/labeled.csv"], "cannot be made"),  # its folder would be a file
])
def test_settings_that_do_not_fit_the_data_are_refused_before_a_run_is_recorded(default_env, tmp_path, args,
                                                                                 message):
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = run_cli("segment", *args, env_extra=default_env)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    workspace = Path(default_env["WORKBENCH_WORKSPACE"])
    listed = run_cli("runs", "list", "--workspace", workspace, env_extra=default_env)
    assert "No runs recorded" in listed.stdout, listed.stdout  # no Failed run left behind, no PCA trained
    assert not (workspace / "runs").exists() or not any((workspace / "runs").iterdir())


def test_inspect_of_a_non_artifact_is_a_clear_error(tmp_path):
    bogus = tmp_path / "model.tar.gz"
    bogus.write_text("not an archive")
    done = run_cli("inspect", bogus)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.startswith("error:")


@pytest.fixture()
def census_parquet(census_csv, tmp_path):
    path = tmp_path / "census.parquet"
    pd.read_csv(census_csv).to_parquet(path, row_group_size=700)
    return path


def test_stream_segments_a_parquet_file_and_writes_labels_and_artifacts(census_parquet, tmp_path):
    labels, out_dir = tmp_path / "labels.parquet", tmp_path / "models"
    done = run_cli("stream", census_parquet, "--batch-rows", "500", "--labels-out", labels, "--out-dir", out_dir,
                   "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["rows_read"], summary["rows_used"], summary["rows_dropped"]) == (3220, 3218, 2)
    assert len(summary["cluster_sizes"]) == 7 and sum(summary["cluster_sizes"]) == 3218
    assert 0.70 <= sum(summary["explained_variance_ratio"]) <= 0.74  # the walkthrough's ~72%
    written = pd.read_parquet(labels)
    assert len(written) == 3218 and set(written["cluster"]) == set(range(7))
    by_id = written.set_index("CensusId")["cluster"]
    assert by_id[6019] == by_id[4027]  # Fresno, CA with Yuma, AZ
    # The artifacts are real SageMaker-format models that `inspect` reads back.
    shown = json.loads(run_cli("inspect", summary["artifacts"]["kmeans"]).stdout)
    assert "7" in json.dumps(shown)
    assert shown["kind"] == "kmeans"
    assert [(array["shape"], array["dtype"]) for array in shown["arrays"]] == [([7, 5], "float32")]  # k × top 5


def test_stream_human_output_names_what_it_wrote(census_parquet, tmp_path):
    labels = tmp_path / "labels.parquet"
    done = run_cli("stream", census_parquet, "--k", "4", "--labels-out", labels)
    assert done.returncode == 0, done.stderr
    assert "3,218 of 3,220 rows used" in done.stdout and "k=4" in done.stdout
    assert f"Labels written to {labels}" in done.stdout
    assert "Pass 1" in done.stderr  # progress goes to stderr


@pytest.mark.parametrize(
    "make, extra, message",
    [
        (lambda tmp, pq: tmp / "missing.parquet", [], "does not exist"),
        (lambda tmp, pq: tmp / "table.csv", [], "not a Parquet file"),
        (lambda tmp, pq: pq, ["--features", "Income,Nope"], "Nope"),
        (lambda tmp, pq: pq, ["--top", "40"], "top"),
        (lambda tmp, pq: pq, ["--k", "0"], "at least 1"),
        (lambda tmp, pq: pq, ["--features", "Income,Poverty,Unemployment", "--components", "5"],
         "num_components=5 is more than the 3 feature(s)"),
    ],
)
def test_stream_bad_input_gets_a_message_not_a_traceback(census_parquet, tmp_path, make, extra, message):
    done = run_cli("stream", make(tmp_path, census_parquet), *extra)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("option, target", [("--labels-out", "a folder"), ("--out-dir", "a file")])
def test_stream_output_paths_are_refused_before_the_passes(census_parquet, tmp_path, option, target):
    path = tmp_path if target == "a folder" else census_parquet
    done = run_cli("stream", census_parquet, option, path)
    assert done.returncode == 2 and option in done.stderr and "Traceback" not in done.stderr
    assert "Pass 1" not in done.stderr  # nothing was read first


def test_runs_list_and_show_print_names_without_escape_sequences(tmp_path, capsys):
    """A registry written by an older version may hold any name: the terminal shows it escaped."""
    from workbench.runs.store import RunStore

    store = RunStore(workspace=tmp_path)
    store.begin_run("20240101-000000-aaaaaa", kind="pca", backend="embedded", name="evil\x1b[2J\nfake line")
    store.end_run("20240101-000000-aaaaaa", "Completed")
    for args in (["runs", "list"], ["runs", "show", "20240101-000000-aaaaaa"]):
        assert cli.main([*args, "--workspace", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "evil\\x1b[2J\\nfake line" in out and "\nfake line" not in out


def test_runs_import_refuses_a_name_that_shadows_a_run_id(tmp_path, sagemaker_fixtures, capsys):
    from workbench.runs.store import RunStore

    store = RunStore(workspace=tmp_path)
    store.begin_run("20240101-000000-aaaaaa", kind="pca", backend="embedded")
    pca = sagemaker_fixtures / "pca-census-33" / "model.tar.gz"
    code = cli.main(["runs", "import", str(pca), "--name", "20240101-000000", "--workspace", str(tmp_path)])
    assert code == 2 and "starts the id of run 20240101-000000-aaaaaa" in capsys.readouterr().err
    assert len(store.list_runs()) == 1
