"""Numbers, durations and times for people.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from workbench.analysis import formatting as fmt


def test_counts_have_separators_and_no_exponent():
    assert fmt.count(10040000) == "10,040,000"
    assert fmt.count(173_631_000.0) == "173,631,000"
    assert fmt.count(np.int64(7)) == "7"
    assert fmt.count(None) == fmt.count(float("nan")) == "—"
    with pytest.raises(ValueError, match="whole number"):
        fmt.count(2.5)


@pytest.mark.parametrize(("value", "shown"), [
    (10040000, "10,040,000"),
    (1.736e8, "173,600,000"),
    (51281.4, "51,281"),
    (12.3456, "12.35"),
    (3.0, "3"),
    (0.0012345, "0.001234"),
    (1e-7, "0.0000001"),
    (-1234.5, "-1,234"),
    (-0.5, "-0.5"),
    (0, "0"),
    (float("inf"), "—"),
    ("n/a", "—"),
])
def test_numbers_keep_whole_digits_and_never_use_an_exponent(value, shown):
    assert fmt.number(value) == shown
    assert "e" not in fmt.number(value).lower() or shown == "—"


def test_dollars_and_percentages():
    assert fmt.dollars(51281.4) == "$51,281"
    assert fmt.dollars(-1200) == "-$1,200"
    assert fmt.dollars(-0.2) == "$0"
    assert fmt.percent(0.0912) == "9%"
    assert fmt.percent(0.004) == "<1%"
    assert fmt.percent(0.004, digits=1) == "0.4%"
    assert fmt.percent(0) == "0%"


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.738739, "0.74 s"), (0.004, "<0.01 s"), (3.21, "3.2 s"), (12.4, "12 s"), (9.97, "10 s"), (59.6, "1 min 00 s"),
    (125.2, "2 min 05 s"), (3780, "1 h 03 min"), (None, "—"),
])
def test_durations_are_rounded_to_what_matters(seconds, shown):
    assert fmt.duration(seconds) == shown


def test_negative_duration_is_refused():
    with pytest.raises(ValueError, match="negative"):
        fmt.duration(-1)


def test_times_are_local_with_their_age_in_words():
    stored = "2026-05-14T12:03:09.123456+00:00"  # how the run registry stores a time
    plus_two = timezone(timedelta(hours=2))
    assert fmt.local_time(stored, plus_two) == "14 May 2026 14:03"
    now = datetime(2026, 5, 14, 14, 5, tzinfo=UTC)
    assert fmt.age(stored, now) == "2 h ago"
    assert fmt.when(stored, now, plus_two) == "14 May 2026 14:03 (2 h ago)"
    assert fmt.age("2026-05-14T12:03:09", now) == "2 h ago"  # no zone: UTC, as stored
    ago = {s: fmt.age(now - timedelta(seconds=s), now) for s in (2, 45, 300, 86400 * 1.5, 86400 * 3, 86400 * 90,
                                                                 86400 * 800)}
    assert list(ago.values()) == ["just now", "45 s ago", "5 min ago", "yesterday", "3 days ago", "3 months ago",
                                  "2 years ago"]
    assert fmt.age(now + timedelta(hours=1), now) == "in the future (check the clock)"
    assert fmt.local_time(None) == fmt.when("") == "—"
    with pytest.raises(ValueError, match="ISO 8601"):
        fmt.age("yesterday-ish")


def test_formatted_table_formats_numbers_by_kind():
    frame = pd.DataFrame({"County": ["A", "B"], "TotalPop": [10040000, 55221], "Income": [51281.4, np.nan],
                          "Poverty": [12.345, 0.5], "kept": [True, False], "county_share": [0.0912, 0.0004]})
    shown = fmt.formatted_table(frame)
    assert shown["TotalPop"].tolist() == ["10,040,000", "55,221"]
    assert shown["Income"].tolist() == ["$51,281", "—"]
    assert shown["Poverty"].tolist() == ["12.35", "0.5"]
    assert shown["county_share"].tolist() == ["9.1%", "<0.1%"]
    assert shown["County"].tolist() == ["A", "B"] and shown["kept"].tolist() == [True, False]
    assert frame["TotalPop"].dtype.kind == "i"  # the input is left alone


def test_formatted_table_by_values_alone_for_a_column_per_feature():
    # The index matrix: one column per feature, index scores in every one of them.
    matrix = pd.DataFrame({"cluster": ["a", "b"], "Income": [112.0, 87.0], "county_share": [0.0, 1.0],
                           "Poverty": [95.5, np.nan]})
    shown = fmt.formatted_table(matrix, by_name=False)
    assert shown["Income"].tolist() == ["112", "87"]  # not $112
    assert shown["county_share"].tolist() == ["0", "1"]  # not 0% / 100%
    assert shown["Poverty"].tolist() == ["95.5", "—"]
    assert fmt.formatted_table(shown).equals(shown)  # the report formats its tables again: text stays as it is


def test_number_of_a_tiny_value_is_short():
    assert fmt.number(1e-300) == "<0.000000001" and fmt.number(-1e-300) == "-<0.000000001"
    assert fmt.number(5e-324) == "<0.000000001"
    assert fmt.number(1e-9) == "0.000000001"
    assert fmt.number(1.2345e-6) == "0.000001234"
    assert max(len(fmt.number(10.0 ** -e)) for e in range(0, 320)) <= 14
