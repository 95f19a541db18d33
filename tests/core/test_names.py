"""workbench.core.names: component, cluster and run names checked in one place; safe printing.
"""
from __future__ import annotations

import pytest

from workbench.core import names
from workbench.core.names import InvalidName

KEYS = ("CensusId", "State", "County")


@pytest.mark.parametrize("taken", ["CensusId", "state", "COUNTY", "cluster", "cluster_name", "distance_to_cluster",
                                   "Distance_To_Cluster", "county key"])
def test_component_and_cluster_names_never_equal_a_key_or_added_column(taken):
    with pytest.raises(InvalidName, match=repr(taken)):
        names.check_component_names(["Wealth", taken], key_columns=KEYS)
    with pytest.raises(InvalidName, match=repr(taken)):
        names.check_cluster_names([taken], key_columns=KEYS)


def test_names_must_differ_from_each_other_and_from_the_defaults():
    with pytest.raises(InvalidName, match="'Wealth' is used twice"):
        names.check_component_names(["Wealth", " wealth "], key_columns=KEYS)
    with pytest.raises(InvalidName, match="'pc2' is used twice"):
        names.check_component_names(["pc2", ""], key_columns=KEYS)
    with pytest.raises(InvalidName, match="'cluster 0' is used twice"):
        names.check_cluster_names(["", "Cluster 0"])


def test_good_names_come_back_stripped_with_blanks_kept():
    assert names.check_component_names([" Wealth ", None, ""], key_columns=KEYS) == ["Wealth", "", ""]
    assert names.check_cluster_names(["=cmd|' /C calc'!A0", "+rural"], key_columns=KEYS) == [
        "=cmd|' /C calc'!A0", "+rural"]  # formulas are made safe where CSV is written, not refused here


@pytest.mark.parametrize("bad", ["a\x00b", "red\x1b[31m", "two\nlines", "tab\there", "rtl\u202eevil", "del\x7f"])
def test_control_and_invisible_characters_are_refused(bad):
    with pytest.raises(InvalidName, match="control character U\\+"):
        names.check_component_names([bad])
    with pytest.raises(InvalidName, match="control character"):
        names.check_run_name(bad, [])


def test_names_have_a_length_limit():
    assert names.check_name("x" * names.MAX_NAME_LENGTH, "component 1")
    with pytest.raises(InvalidName, match=f"81 characters long; keep it to {names.MAX_NAME_LENGTH}"):
        names.check_cluster_names(["x" * 81])
    with pytest.raises(InvalidName, match="must be text"):
        names.check_component_names([3])


RUN_IDS = ["20250131-101500-a1b2c3", "20250201-090000-ffee00"]


@pytest.mark.parametrize("name", ["20250131-101500-a1b2c3", "20250131-1015", "2025", "20250201-090000-FFEE"])
def test_run_names_never_equal_or_start_a_run_id(name):
    with pytest.raises(InvalidName, match="id of run 202502|id of run 202501"):
        names.check_run_name(name, RUN_IDS)


@pytest.mark.parametrize("name", ["2026", "20261231-2359", "1"])
def test_run_names_that_could_start_a_future_run_id_are_refused(name):
    with pytest.raises(InvalidName, match="looks like the start of a run id"):
        names.check_run_name(name, RUN_IDS)


def test_ordinary_run_names_pass():
    assert names.check_run_name("  2025 baseline  ", RUN_IDS) == "2025 baseline"
    assert names.check_run_name("", RUN_IDS) == ""
    assert names.check_run_name("a1b2c3", RUN_IDS) == "a1b2c3"  # ids are matched from their start only


def test_terminal_text_is_one_line_without_escape_sequences():
    shown = names.terminal_text("evil\x1b[2J\x1b]0;title\x07\nfake line\r\x00\u202e")
    assert shown == "evil\\x1b[2J\\x1b]0;title\\x07\\nfake line\\r\\x00\\u202e"
    assert all(ch.isprintable() for ch in shown)
    assert names.terminal_text("Doña Ana") == "Doña Ana"
