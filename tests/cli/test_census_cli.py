"""`python -m workbench census` and `segment --data census:…`, against the stand-in Census Data
API on localhost (the `census_api` fixture): the issue's measures, end to end in a subprocess.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.support.census_api import (
    alabama_counties,
    county_units,
    tract_units,
    walkthrough_values,
)
from workbench.core import census

REPO = Path(__file__).resolve().parents[2]
KEY = "stand-in-key-0123456789"
SIXTY = [f"B01001_{i:03d}E" for i in range(1, 50)] + [f"B19001_{i:03d}E" for i in range(1, 12)]


def run_cli(*args, workspace: Path | None = None):
    env = dict(os.environ)
    if workspace is not None:
        env["WORKBENCH_WORKSPACE"] = str(workspace)
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], check=False, capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_sixty_variables_for_one_states_counties(census_api, tmp_path):
    census_api.units = alabama_counties(12)
    census_api.values = {"B19001_002E": {"01003": "-666666666"}, "B01001_001M": {u.geoid: "-555555555" for u in
                                                                                 alabama_counties(12)}}
    out = tmp_path / "al.csv"
    done = run_cli("census", "--year", 2022, "--geography", "county", "--state", "AL", "--variables", ",".join(SIXTY),
                   "--out", out, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    sent = census_api.api_requests()
    assert summary["requests_sent"] == len(sent) == 3
    assert max(census_api.variables_per_request()) <= census.MAX_VARIABLES
    assert all(r["key"] == KEY for r in sent) and KEY not in done.stdout + done.stderr + out.read_text()
    rows = csv_rows(out)
    assert len(rows) == 12 and len({r["GEOID"] for r in rows}) == 12
    assert all(len(r["GEOID"]) == 5 and r["GEOID"].startswith("0") for r in rows)
    annotation_texts = {str(code) for code in census.ANNOTATIONS}
    assert not any(value in annotation_texts for r in rows for value in r.values())
    assert rows[1]["B19001_002"] == "" and all(r["B01001_001Err"] == "" for r in rows)
    assert {a["column"] for a in summary["annotations"]} == {"B19001_002", "B01001_001Err"}
    assert summary["uri"].startswith("census:year=2022&geography=county&state=01&variables=B01001_001E,")


def test_tracts_come_back_with_eleven_character_ids(census_api, tmp_path):
    census_api.units = tract_units("01001", "Autauga County", "Alabama", 5)
    out = tmp_path / "tracts.csv"
    done = run_cli("census", "--year", 2022, "--geography", "tract", "--state", "01", "--variables", "B01003_001E",
                   "--out", out)
    assert done.returncode == 0, done.stderr
    rows = csv_rows(out)
    assert len(rows) == 5 and all(len(r["GEOID"]) == 11 for r in rows)
    assert "1/1:" in done.stderr and "5 rows" in done.stderr  # progress, then the summary line


def test_an_unknown_year_exits_non_zero_with_one_line(census_api):
    census_api.units = alabama_counties(2)
    done = run_cli("census", "--year", 2031, "--geography", "county", "--state", "AL", "--preset", "walkthrough")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "2031" in lines[0] and "HTTP 404" in lines[0]
    assert "Traceback" not in done.stderr and KEY not in done.stderr


def test_a_fetched_county_table_segments_and_its_id_is_not_a_feature(census_api, census_csv, tmp_path):
    counties = pd.read_csv(census_csv)
    assert len(counties) >= 3000
    census_api.units = county_units(counties)
    census_api.values = walkthrough_values(counties)
    out = tmp_path / "labeled.csv"
    done = run_cli("segment", "--data", "census:year=2022&geography=county&preset=walkthrough", "--json", "--out", out,
                   workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows_raw"] == len(counties) == 3220
    assert summary["features"] == list(counties.columns[3:]) and "GEOID" not in summary["features"]
    # Loving's income and Kalawao's child poverty are the API's -666666666: missing, and reported so.
    assert [(d["reason"], d["count"]) for d in summary["dropped"]] == [("annotation", 2)]
    assert summary["rows_clean"] == 3218
    labeled = csv_rows(out)
    assert len(labeled) == summary["rows_clean"] and labeled[0]["GEOID"] == "01001"
    assert len(census_api.api_requests()) == 4  # 82 inputs in parts of 24


def test_a_tract_table_clusters_without_its_id_and_the_labels_carry_it(census_api, tmp_path):
    census_api.units = (tract_units("27053", "Hennepin County", "Minnesota", 40)
                        + tract_units("01001", "Autauga County", "Alabama", 20))
    uri = "census:year=2022&geography=tract&state=MN&variables=B01003_001E,B19013_001E,B17001_002E"
    out = tmp_path / "tracts.csv"
    done = run_cli("segment", "--data", uri, "--components", 3, "--top", 2, "--k", 3, "--json", "--out", out,
                   workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["features"] == ["B01003_001", "B01003_001Err", "B19013_001", "B19013_001Err",
                                   "B17001_002", "B17001_002Err"]
    labeled = csv_rows(out)
    assert len(labeled) == 40 and len({r["GEOID"] for r in labeled}) == 40
    assert all(len(r["GEOID"]) == 11 and r["GEOID"].startswith("27053") for r in labeled)


def test_stream_takes_a_census_request_as_its_source(census_api, tmp_path):
    census_api.units = tract_units("27053", "Hennepin County", "Minnesota", 40)
    uri = "census:year=2022&geography=tract&state=MN&variables=B01003_001E,B19013_001E,B17001_002E"
    labels = tmp_path / "labels.parquet"
    done = run_cli("stream", uri, "--components", 3, "--top", 2, "--k", 3, "--json", "--labels-out", labels)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows_used"] == 40 and "B19013_001" in summary["features"] and "GEOID" not in summary["features"]
    assert summary["source"] == uri  # the request, not the temporary file it was streamed from
    written = pd.read_parquet(labels)
    assert len(written) == 40 and written.iloc[:, 0].astype(str).str.len().eq(11).all()
    refused = run_cli("stream", uri, "--features", "Nope", "--k", 3)
    assert refused.returncode == 2 and uri in refused.stderr and "workbench-census-" not in refused.stderr


def test_a_tract_csv_with_an_integer_tract_id_clusters_without_it(tmp_path):
    rows = [{"CensusTract": 1001020100 + 100 * i, "State": "Alabama", "County": "Autauga",
             "TotalPop": 1000 + 37 * i, "Income": 40000 + (i * 7919) % 20000, "Poverty": 5 + (i * 13) % 20}
            for i in range(30)]
    data = tmp_path / "tracts.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    out = tmp_path / "labeled.csv"
    done = run_cli("segment", "--data", data, "--components", 3, "--top", 2, "--k", 3, "--json", "--out", out,
                   workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["features"] == ["TotalPop", "Income", "Poverty"]
    labeled = pd.read_csv(out)
    assert len(labeled) == 30 and labeled["CensusTract"].tolist() == [r["CensusTract"] for r in rows]


def test_an_exact_duplicate_column_is_clustered_once_and_named(census_csv, tmp_path):
    table = pd.read_csv(census_csv)
    table.insert(6, "Women (copy)", table["Women"])
    data = tmp_path / "with_copy.csv"
    table.to_csv(data, index=False)
    done = run_cli("segment", "--data", data, "--json", workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert "Women (copy)" not in summary["features"] and summary["features"].count("Women") == 1
    (record,) = [d for d in summary["dropped"] if d["reason"] == "duplicate_column"]
    assert record["columns"] == ["Women (copy)"] and "Women (copy) (= Women)" in record["detail"]


@pytest.mark.parametrize("args, message", [
    (["--year", 2022, "--geography", "county"], "one of the arguments --preset --variables is required"),
    (["--year", 2022, "--geography", "county", "--variables", "B01003_001M"], "come with their estimate"),
    (["--year", 2022, "--geography", "county", "--state", "Atlantis", "--preset", "walkthrough"], "not a US state"),
])
def test_bad_census_arguments_exit_non_zero(args, message, census_api):
    done = run_cli("census", *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
