"""Importing real SageMaker artifacts (the shared fixtures) as runs, from a path or s3://.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from backends.format import model_tar, models
from backends.format.errors import ArtifactError
from workbench.cli import main as cli
from workbench.core import pipeline
from workbench.runs import compare, importer, manifest, segment
from workbench.runs.store import RunStore


@pytest.fixture(scope="module")
def fixtures(sagemaker_fixtures, tmp_path_factory):
    small = tmp_path_factory.mktemp("small") / "model.tar.gz"  # 3 components: too few for a K-Means on 7
    rng = np.random.default_rng(0)
    models.save_pca(models.PCAModel(np.zeros(34), np.linalg.qr(rng.normal(size=(34, 3)))[0], [3, 2, 1]), small)
    return {
        "pca_small": small,
        "pca": sagemaker_fixtures / "pca-census-33" / "model.tar.gz",
        "kmeans": sagemaker_fixtures / "kmeans-census-k8" / "model.tar.gz",
        "kmeans_state": sagemaker_fixtures / "kmeans-census-k8-with-state" / "model.tar.gz",
        "pca_other": sagemaker_fixtures / "pca-19x18" / "model.tar.gz",
    }


@pytest.fixture(scope="module")
def notebook(fixtures, census_csv, tmp_path_factory):
    """The walkthrough notebook's PCA and K-Means jobs imported with the census data."""
    ws = tmp_path_factory.mktemp("ws")
    run = importer.import_model(fixtures["pca"], kmeans=fixtures["kmeans"], data=census_csv,
                                store=RunStore(workspace=ws), name="notebook")
    return ws, run


def test_a_pca_artifact_alone_becomes_a_pca_run(fixtures, tmp_path):
    run = importer.import_model(fixtures["pca"], store=RunStore(workspace=tmp_path))
    assert (run.kind, run.status, run.origin, run.backend) == ("pca", "Completed", "import", "sagemaker")
    assert run.artifact_path("pca").read_bytes() == fixtures["pca"].read_bytes()  # byte for byte
    job = run.jobs["pca"]
    assert job.hyperparameters == {"feature_dim": 34, "num_components": 33}
    assert job.artifact_source == str(fixtures["pca"].resolve())
    assert job.details["members"] == ["model_algo-1"]
    assert (run.n_components, run.top, run.has_labels, run.data_fingerprint) == (33, 33, False, None)
    np.testing.assert_array_equal(run.pca_model().v, models.load_pca(fixtures["pca"]).v)
    assert manifest.read(run.run_dir)["pca"]["imported_from"] == job.artifact_source
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")]


def test_a_kmeans_artifact_with_a_state_member_becomes_a_kmeans_run(fixtures, tmp_path):
    run = importer.import_model(fixtures["kmeans_state"], store=RunStore(workspace=tmp_path), job_name="kmeans-1")
    assert (run.kind, run.k, run.top, run.jobs["kmeans"].job_name) == ("kmeans", 8, 7, "kmeans-1")
    assert any(m.startswith("state_") for m in run.jobs["kmeans"].details["members"])
    assert run.cluster_names == [""] * 8


def test_the_notebook_jobs_with_their_data_label_every_county(notebook, census_csv):
    ws, run = notebook
    assert (run.kind, run.name, run.status) == ("segmentation", "notebook", "Completed")
    assert (run.n_components, run.top, run.k, run.n_counties) == (33, 7, 8, 3218)
    prepared = pipeline.prepare(census_csv)
    assert run.data_fingerprint == prepared.fingerprint and run.scaler == prepared.scaler.to_dict()
    labels = run.labels()
    assert len(labels) == 3218 and set(labels["cluster"]) <= set(range(8))
    scores = models.load_pca(run.artifact_path("pca")).top(7).transform(prepared.X)
    expected, _ = models.load_kmeans(run.artifact_path("kmeans")).assign(scores)
    np.testing.assert_array_equal(labels["cluster"], expected)
    assert list(labels.columns[:3]) == ["CensusId", "State", "County"]


def test_sagemakers_pca_and_the_embedded_backends_span_the_same_subspace(notebook, census_csv):
    ws, imported = notebook
    reg = RunStore(workspace=ws)
    local = segment.run_segmentation(census_csv, workspace=ws, n_components=33, top=7, k=8)
    result = compare.compare_runs(local.run_id, imported.run_id, store=reg)
    assert result.pca.max_angle_deg < 0.01
    assert (result.pca.matches["verdict"] == "equal").all()
    assert result.kmeans.n_counties == 3218 and 0 < result.kmeans.ari <= 1
    assert not result.settings.loc["backend", "same"]


def test_a_kmeans_artifact_is_labeled_with_the_pca_of_an_earlier_run(notebook, fixtures, census_csv):
    ws, run = notebook
    reg = RunStore(workspace=ws)
    pca_only = importer.import_model(fixtures["pca"], store=reg, data=census_csv)
    assert pca_only.data_fingerprint == run.data_fingerprint and not pca_only.has_labels
    kmeans_only = importer.import_model(fixtures["kmeans"], store=reg, data=census_csv, pca_run=pca_only.run_id)
    assert (kmeans_only.kind, kmeans_only.parent_run_id) == ("kmeans", pca_only.run_id)
    np.testing.assert_array_equal(kmeans_only.labels()["cluster"], run.labels()["cluster"])


def test_a_kmeans_run_on_an_earlier_pca_is_compared_through_that_pca(notebook, fixtures, census_csv):
    ws, run = notebook
    reg = RunStore(workspace=ws)
    pca_only = importer.import_model(fixtures["pca"], store=reg, data=census_csv)
    kmeans_only = importer.import_model(fixtures["kmeans"], store=reg, pca_run=pca_only.run_id)  # no data
    result = compare.compare_runs(run.run_id, kmeans_only.run_id, store=reg)
    assert result.pca is not None, result.notes
    assert result.pca.max_angle_deg < 0.01 and not any("PCA not compared" in n for n in result.notes)
    # Naming the K-Means run as --pca-run: its PCA is its parent's, and the new run says so.
    again = importer.import_model(fixtures["kmeans"], store=reg, data=census_csv, pca_run=kmeans_only.run_id)
    assert again.parent_run_id == pca_only.run_id
    np.testing.assert_array_equal(again.labels()["cluster"], run.labels()["cluster"])


@pytest.mark.parametrize("extra, message", [
    (["--scaler", "zscore"], "leave out --scaler"),
    (["--features", "Income,Poverty"], "leave out --features"),
    (["--scaler", "minmax"], "leave out --scaler"),  # given, even as the default, is not ignored
])
def test_pca_run_refuses_features_and_a_scaler_it_would_ignore(notebook, fixtures, census_csv, capsys, extra, message):
    ws, run = notebook
    before = len(RunStore(workspace=ws).list_runs())
    code = cli.main(["runs", "import", str(fixtures["kmeans"]), "--pca-run", run.run_id, "--data", str(census_csv),
                     *extra, "--workspace", str(ws)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "recorded the features and fitted scaler" in err
    assert "Traceback" not in err and len(RunStore(workspace=ws).list_runs()) == before


def test_features_or_a_scaler_without_data_are_refused(fixtures, tmp_path):
    with pytest.raises(ValueError, match="--scaler say how the --data table is prepared"):
        importer.import_model(fixtures["pca"], scaler="zscore", store=RunStore(workspace=tmp_path))
    assert RunStore(workspace=tmp_path).list_runs().empty


def test_without_pca_run_the_scaler_defaults_to_minmax_and_a_given_one_is_used(fixtures, census_csv, tmp_path):
    reg = RunStore(workspace=tmp_path)
    plain = importer.import_model(fixtures["pca"], store=reg, data=census_csv)
    zscore = importer.import_model(fixtures["pca"], store=reg, data=census_csv, scaler="zscore")
    assert (plain.scaler_recipe, zscore.scaler_recipe) == ("minmax", "zscore")


def test_a_job_name_is_checked_and_shown_escaped(fixtures, tmp_path, capsys):
    ws = ["--workspace", str(tmp_path)]
    assert cli.main(["runs", "import", str(fixtures["pca"]), "--job-name", "evil\x1b[2J\nfake", *ws]) == 2
    err = capsys.readouterr().err
    assert "not a SageMaker training job's name" in err and "\x1b" not in err and "Traceback" not in err
    assert RunStore(workspace=tmp_path).list_runs().empty
    run = importer.import_model(fixtures["pca"], store=RunStore(workspace=tmp_path))
    RunStore(workspace=tmp_path).update_job(run.run_id, "pca", artifact_source="/x\x1b[2J\nfake")
    assert cli.main(["runs", "show", run.run_id, *ws]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J\\nfake" in out


def test_an_artifact_is_imported_from_s3_with_its_job_name(fixtures, tmp_path, aws_env):
    import boto3
    from moto import mock_aws

    job = "county-wb-pca-20240101T000000-abc123"
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="notebook-bucket")
        s3.put_object(Bucket="notebook-bucket", Key=f"population/{job}/output/model.tar.gz",
                      Body=fixtures["pca"].read_bytes())
        uri = f"s3://notebook-bucket/population/{job}/output/model.tar.gz"
        run = importer.import_model(uri, store=RunStore(workspace=tmp_path))
        with pytest.raises(ValueError, match="There is no object"):
            importer.import_model("s3://notebook-bucket/nothing/model.tar.gz", store=RunStore(workspace=tmp_path))
    assert run.jobs["pca"].job_name == job and run.jobs["pca"].artifact_source == uri
    assert run.artifact_path("pca").read_bytes() == fixtures["pca"].read_bytes()


def test_a_bare_model_algo_1_is_wrapped_in_a_model_tar_gz(mxnet_fixtures, tmp_path):
    run = importer.import_model(mxnet_fixtures / "pca_dict_mean_v_s.params", store=RunStore(workspace=tmp_path))
    assert run.kind == "pca"
    assert list(model_tar.read_model_tar(run.artifact_path("pca"))) == ["model_algo-1"]


def test_the_job_name_is_read_off_sagemakers_output_layout():
    assert importer.infer_job_name("s3://b/p/county-wb-kmeans-1/output/model.tar.gz") == "county-wb-kmeans-1"
    assert importer.infer_job_name("C:\\jobs\\pca-2\\output\\model.tar.gz") == "pca-2"
    assert importer.infer_job_name("/tmp/model.tar.gz") is None


@pytest.mark.parametrize("call, message", [
    (lambda f, d: importer.import_run(f["kmeans"]), "holds a K-Means model"),
    (lambda f, d: importer.import_run(None, f["pca"]), "holds a PCA model"),
    (lambda f, d: importer.import_model(f["pca"], kmeans=f["pca_other"]), "holds a PCA model"),
    (lambda f, d: importer.import_model(f["kmeans"], data=d), "needs the PCA it was trained on"),
    (lambda f, d: importer.import_model(f["pca"], data=d, features=["Income", "Poverty"]), "34 features"),
    (lambda f, d: importer.import_model(f["pca_small"], kmeans=f["kmeans"]), "do not belong together"),
    (lambda f, d: importer.import_model(f["pca"], top=40), "--top"),
    (lambda f, d: importer.import_model("no/such/model.tar.gz"), "the file does not exist"),
])
def test_mismatched_or_missing_artifacts_are_refused_before_anything_is_written(fixtures, census_csv, tmp_path,
                                                                                   monkeypatch, call, message):
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path))
    with pytest.raises(ValueError, match=message):
        call(fixtures, census_csv)
    assert RunStore(workspace=tmp_path).list_runs().empty
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_a_file_that_is_not_an_artifact_is_refused(tmp_path):
    bogus = tmp_path / "model.tar.gz"
    bogus.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ArtifactError, match="Cannot"):
        importer.import_model(bogus, store=RunStore(workspace=tmp_path / "ws"))


def test_cli_runs_import(fixtures, census_csv, tmp_path, capsys):
    ws = ["--workspace", str(tmp_path)]
    code = cli.main(["runs", "import", str(fixtures["pca"]), "--kmeans", str(fixtures["kmeans"]), "--data",
                     str(census_csv), "--name", "From the notebook", "--job-name", "pca-job", "--json", *ws])
    assert code == 0, capsys.readouterr().err
    record = json.loads(capsys.readouterr().out)
    assert (record["kind"], record["name"], record["n_counties"]) == ("segmentation", "From the notebook", 3218)
    assert record["jobs"]["pca"]["job_name"] == "pca-job"
    assert cli.main(["runs", "import", str(fixtures["kmeans"]), "--pca-run", "From the", *ws]) == 0
    assert "Imported kmeans run" in capsys.readouterr().out
    assert cli.main(["runs", "import", str(fixtures["kmeans"]), "--data", str(census_csv), *ws]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "PCA it was trained on" in err and "Traceback" not in err


def test_a_missing_runs_record_is_exported_without_its_manifest(fixtures, tmp_path, capsys):
    import shutil

    reg = RunStore(workspace=tmp_path)
    run = importer.import_model(fixtures["pca"], store=reg)
    shutil.rmtree(run.run_dir)
    reg.reconcile()
    assert reg.get(run.run_id).status == "Missing"
    assert cli.main(["runs", "export", run.run_id, "--json", "--workspace", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["manifest"] is None and "no manifest.json" in captured.err
