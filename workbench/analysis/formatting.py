"""Numbers, durations and times for people: what the pages, captions and reports print.

* Counts and large values get thousands separators and never scientific notation
  (`10,040,000`, not `10040000` or `1.004e+07`); dollars a leading `$`.
* Other values keep a few significant digits, still without an exponent (`0.00123`,
  `12.35`); digits left of the decimal point are never rounded away (`51,281`).
* Durations are rounded to what matters (`0.74 s`, `12 s`, `2 min 05 s`, `1 h 03 min`).
* Times (run records store UTC ISO 8601) are shown in the local time zone, with their age in
  words: `14 May 2026 14:03 (2 h ago)`.

The minus sign is ASCII `-`, so a copied number pastes as a number.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "age",
    "count",
    "dollars",
    "duration",
    "formatted_table",
    "local_time",
    "number",
    "percent",
    "when",
]

MISSING = "—"


def _finite(value: Any) -> float | None:
    try:
        number_ = float(value)
    except (TypeError, ValueError):
        return None
    return number_ if math.isfinite(number_) else None


def count(value: Any) -> str:
    """A whole number with thousands separators: 10,040,000. Non-whole values are refused."""
    found = _finite(value)
    if found is None:
        return MISSING
    if found != round(found):
        raise ValueError(f"A count must be a whole number; got {value!r}.")
    return f"{round(found):,}"


TINY_DECIMALS = 9
TINY = 10.0 ** -TINY_DECIMALS  # number() shows smaller values as "<0.000000001"


def number(value: Any, significant: int = 4) -> str:
    """`value` with `significant` digits, thousands separators and no exponent.

    Whole digits are always kept (173,631,000 stays 173,631,000), so the significant digits
    only limit the decimals: 12.3456 → 12.35, 0.0012345 → 0.001235, 3.0 → 3. Below
    TINY in size a value is shown as "<0.000000001" (or "-<0.000000001"), not with hundreds of zeros.
    """
    found = _finite(value)
    if found is None:
        return MISSING
    if found == 0:
        return "0"
    if abs(found) < TINY:
        return ("-" if found < 0 else "") + f"<{TINY:.{TINY_DECIMALS}f}"
    magnitude = math.floor(math.log10(abs(found)))
    decimals = max(0, significant - 1 - magnitude)
    text = f"{found:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def dollars(value: Any) -> str:
    """Whole dollars with separators: $51,281 (-$1,200 below zero)."""
    found = _finite(value)
    if found is None:
        return MISSING
    text = f"${abs(found):,.0f}"
    return f"-{text}" if found < 0 and text != "$0" else text


def percent(share: Any, digits: int = 0) -> str:
    """A share 0..1 as a percentage: 9%, with "<1%" for a share too small to show."""
    found = _finite(share)
    if found is None:
        return MISSING
    smallest = 10.0 ** -digits / 100
    if 0 < found < smallest:
        return f"<{smallest * 100:.{digits}f}%"
    return f"{found:.{digits}%}"


def duration(seconds: Any) -> str:
    """Seconds rounded to what matters: 0.74 s, 3.2 s, 12 s, 2 min 05 s, 1 h 03 min."""
    found = _finite(seconds)
    if found is None:
        return MISSING
    if found < 0:
        raise ValueError(f"A duration cannot be negative; got {seconds!r}.")
    if found < 9.95:
        return f"{number(found, 2) if found >= 0.01 else '<0.01'} s"
    if found < 59.5:
        return f"{found:.0f} s"
    whole = round(found)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def _moment(value: Any) -> datetime | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as error:
            raise ValueError(f"Not a date and time: {value!r} (expected ISO 8601).") from error
    # A time without a zone is the run registry's UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(value: Any, tz: tzinfo | None = None) -> str:
    """A timestamp in the local time zone (or `tz`): 14 May 2026 14:03."""
    moment = _moment(value)
    if moment is None:
        return MISSING
    local = moment.astimezone(tz)
    return f"{local.day} {local:%b %Y %H:%M}"


def age(value: Any, now: datetime | None = None) -> str:
    """How long ago, in words: just now, 45 s ago, 5 min ago, 2 h ago, yesterday, 3 days ago."""
    moment = _moment(value)
    if moment is None:
        return MISSING
    now = _moment(now) if now is not None else datetime.now(UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "in the future (check the clock)" if seconds < -60 else "just now"
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if seconds < limit:
            return "just now" if seconds < 5 else f"{int(seconds // size)} {unit} ago"
    days = int(seconds // 86400)
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


def when(value: Any, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """Local time and age together: 14 May 2026 14:03 (2 h ago)."""
    if _moment(value) is None:
        return MISSING
    return f"{local_time(value, tz)} ({age(value, now)})"


def _column_format(name: str, values: pd.Series, by_name: bool = True) -> Any:
    numeric = pd.to_numeric(values, errors="coerce")
    finite = numeric[np.isfinite(numeric)]
    if by_name:
        lowered = str(name).lower()
        if "income" in lowered or lowered.endswith(("usd", "dollars", "cost")):
            return dollars
        if lowered.endswith("share") and len(finite) and bool(((finite >= 0) & (finite <= 1)).all()):
            return lambda share: percent(share, 1)
    if len(finite) and bool((finite == finite.round()).all()):
        return count
    return number


def formatted_table(frame: pd.DataFrame, columns: Iterable[str] | None = None, *,
                    by_name: bool = True) -> pd.DataFrame:
    """A copy of `frame` with its numeric columns (or `columns`) as text for people: counts
    and whole numbers with separators, income-like columns (by name) in dollars, shares
    (columns named *share, within 0..1) as percentages, the rest with four significant
    digits; missing values as a dash.

    by_name=False formats by the values alone (whole numbers as counts, the rest with four
    significant digits): for tables whose columns are features rather than quantities, such
    as the index matrix, where a column named "Income" holds index scores, not dollars."""
    out = frame.copy()
    chosen = list(columns) if columns is not None else [c for c in frame.columns
                                                         if pd.api.types.is_numeric_dtype(frame[c])
                                                         and not pd.api.types.is_bool_dtype(frame[c])]
    for column in chosen:
        shown = _column_format(column, frame[column], by_name)
        out[column] = [shown(v) for v in frame[column]]
    return out
