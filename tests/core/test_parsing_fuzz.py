"""Fuzzing the CSV reader (workbench.core.parsing through sources.load_table): generated valid
tables read back exactly; mutated tables and random bytes end in DataError or a well-formed
table. In a child process under a 2 GB address-space cap and a timeout (tests.support.fuzz).
"""
from __future__ import annotations

from tests.support.fuzz import run_suite


def test_csv_reader_fuzz(tmp_path, record_property):
    counts = run_suite("csv", 250, tmp_path)
    record_property("fuzz_counts", counts)
    print(counts)
    assert counts["csv valid tables"] == {"correct table": 250}
    assert counts["csv mutated tables"]["DataError"] > 0 and counts["csv mutated tables"]["table"] > 0
    assert sum(counts["csv random bytes"].values()) == 250
