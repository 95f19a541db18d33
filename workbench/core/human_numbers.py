"""Numbers written for people — `55,221`, `$1,200`, `-€3.50`, `12.5%`, `1.234,5` — read as numbers.

Which mark is the decimal one follows the file's delimiter: in a comma-separated file commas
can only group thousands (`"55,221"` is 55221); in a semicolon-separated file (the list
separator of locales with a decimal comma) the comma is the decimal mark and `.` or a
space groups thousands (`1.234,5` is 1234.5); in tab- or pipe-separated files the values
decide: a comma followed by other than three digits makes it the decimal mark. Percent
signs are dropped, not divided out (`12.5%` is 12.5, as the census percentages are).

A text column is read this way only when most of its values (as for any numeric column,
at least half) are such numbers and some use one of these forms; the values that are not
numbers stay as they are, for cleaning to report.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SIGN = r"[+\-\u2212]"
_CURRENCY = r"[$€£¥]"


def _pattern(number: str) -> str:
    return (rf"^\s*(?P<s1>{_SIGN})?\s*(?P<c1>{_CURRENCY})?\s*(?P<s2>{_SIGN})?\s*(?P<num>{number})"
            rf"\s*(?P<c2>{_CURRENCY})?\s*(?P<pct>%)?\s*$")


_POINT = _pattern(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+")
_COMMA = _pattern(r"\d{1,3}(?:[.\u00a0\u202f ]\d{3})+(?:,\d*)?|\d+(?:,\d*)?|,\d+")
_POINT_GROUPS = ","
_COMMA_GROUPS = "[.\u00a0\u202f ]"
# A comma that cannot be grouping thousands: followed by one, two, or four or more digits.
_DECIMAL_COMMA_EVIDENCE = r"\d,(?:\d{1,2}|\d{4,})(?!\d)|\d\.\d{3},\d"
_ANY_DIGIT = re.compile(r"\d")  # Python's \d: every decimal digit pandas' \d matches, and more


def parse(series: pd.Series, *, decimal_comma: bool | None) -> tuple[pd.Series, str] | None:
    """(the column with its numbers read, what forms they used) or None to leave it as it is.

    decimal_comma: True in semicolon-separated files, False in comma-separated ones, None to
    let the values decide.
    """
    values = series.dropna()
    if values.empty:
        return None
    text = values.astype(str)
    if _ANY_DIGIT.search("".join(text.tolist())) is None:
        return None  # no digit at all (names, say): decided in one scan, without pandas' regex start-up
    if 2 * int(text.str.contains(r"\d", regex=True).sum()) < len(values):
        return None  # mostly without digits (names, say): a text column, decided cheaply
    if decimal_comma is None:
        decimal_comma = bool(text.str.contains(_DECIMAL_COMMA_EVIDENCE, regex=True).any())
    parts = text.str.extract(_COMMA if decimal_comma else _POINT)
    matched = parts["num"].notna() & ~(parts["s1"].notna() & parts["s2"].notna())
    if 2 * int(matched.sum()) < len(values):
        return None  # mostly text: a text column
    parts = parts[matched]
    number = parts["num"]
    grouped = number.str.contains(_COMMA_GROUPS if decimal_comma else _POINT_GROUPS, regex=True)
    decimal = number.str.contains(",", regex=False) if decimal_comma else pd.Series(False, index=number.index)
    currency = parts["c1"].notna() | parts["c2"].notna()
    percent = parts["pct"].notna()
    forms = [label for label, used in (("thousands separators", grouped), ("decimal commas", decimal),
                                       ("currency signs", currency), ("percent signs, 12.5% read as 12.5", percent))
             if used.any()]
    if not forms:
        return None  # plain numbers among text: cleaning reports the text
    plain = number.str.replace(_COMMA_GROUPS if decimal_comma else _POINT_GROUPS, "", regex=True)
    if decimal_comma:
        plain = plain.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(plain, errors="coerce").to_numpy(dtype="float64")
    sign = parts["s1"].fillna(parts["s2"]).fillna("+")
    numbers = np.where(sign.isin(["-", "\u2212"]).to_numpy(), -numbers, numbers)
    out = series.astype(object)
    out.loc[parts.index] = numbers
    if int(matched.sum()) == len(values):
        out = pd.to_numeric(out).astype("float64")
    else:
        forms.append(f"{len(values) - int(matched.sum()):,} value(s) still not numbers")
    return out, ", ".join(forms)
