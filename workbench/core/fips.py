"""FIPS codes of US geographies: states by code, USPS abbreviation or name, and the geography
ids (GEOIDs) of the Census Bureau's hierarchy, whose width tells the level:

    state 2 digits (27) · county 5 (27053) · tract 11 (27053000100) · block group 12 (270530001001)

A GEOID read as an integer has lost its leading zero (1001 for 01001), so a code one digit
short of a width is that width with a zero in front; `geoid_text` puts it back.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import DataError

# FIPS state code -> (USPS code, name): the 50 states, DC and the territories the ACS covers or names.
STATES: dict[str, tuple[str, str]] = {
    "01": ("AL", "Alabama"), "02": ("AK", "Alaska"), "04": ("AZ", "Arizona"), "05": ("AR", "Arkansas"),
    "06": ("CA", "California"), "08": ("CO", "Colorado"), "09": ("CT", "Connecticut"), "10": ("DE", "Delaware"),
    "11": ("DC", "District of Columbia"), "12": ("FL", "Florida"), "13": ("GA", "Georgia"), "15": ("HI", "Hawaii"),
    "16": ("ID", "Idaho"), "17": ("IL", "Illinois"), "18": ("IN", "Indiana"), "19": ("IA", "Iowa"),
    "20": ("KS", "Kansas"), "21": ("KY", "Kentucky"), "22": ("LA", "Louisiana"), "23": ("ME", "Maine"),
    "24": ("MD", "Maryland"), "25": ("MA", "Massachusetts"), "26": ("MI", "Michigan"), "27": ("MN", "Minnesota"),
    "28": ("MS", "Mississippi"), "29": ("MO", "Missouri"), "30": ("MT", "Montana"), "31": ("NE", "Nebraska"),
    "32": ("NV", "Nevada"), "33": ("NH", "New Hampshire"), "34": ("NJ", "New Jersey"), "35": ("NM", "New Mexico"),
    "36": ("NY", "New York"), "37": ("NC", "North Carolina"), "38": ("ND", "North Dakota"), "39": ("OH", "Ohio"),
    "40": ("OK", "Oklahoma"), "41": ("OR", "Oregon"), "42": ("PA", "Pennsylvania"), "44": ("RI", "Rhode Island"),
    "45": ("SC", "South Carolina"), "46": ("SD", "South Dakota"), "47": ("TN", "Tennessee"), "48": ("TX", "Texas"),
    "49": ("UT", "Utah"), "50": ("VT", "Vermont"), "51": ("VA", "Virginia"), "53": ("WA", "Washington"),
    "54": ("WV", "West Virginia"), "55": ("WI", "Wisconsin"), "56": ("WY", "Wyoming"),
    "60": ("AS", "American Samoa"), "66": ("GU", "Guam"), "69": ("MP", "Northern Mariana Islands"),
    "72": ("PR", "Puerto Rico"), "78": ("VI", "US Virgin Islands"),
}
# The ACS 5-year covers the states, DC and Puerto Rico (not the other territories).
ACS_STATES: tuple[str, ...] = tuple(code for code in STATES if code not in {"60", "66", "69", "78"})

# Geography level -> GEOID width, finest last.
LEVEL_WIDTHS: dict[str, int] = {"state": 2, "county": 5, "tract": 11, "block group": 12}
WIDTH_LEVELS: dict[int, str] = {width: level for level, width in LEVEL_WIDTHS.items()}

GEO_ID = re.compile(r"^(\d{3})\d{4}US(\d+)$")  # the API's GEO_ID: summary level, variant, "US", GEOID


def state_fips(value: Any) -> str:
    """The 2-digit FIPS code of a state given as a code (27, "27", "7" for "07"), a USPS
    abbreviation ("MN", "mn") or a name ("Minnesota"); a DataError names what is accepted."""
    text = str(value).strip()
    if text.isdigit() and 1 <= len(text) <= 2 and text.zfill(2) in STATES:
        return text.zfill(2)
    folded = text.casefold()
    for code, (usps, name) in STATES.items():
        if folded in (usps.casefold(), name.casefold()):
            return code
    raise DataError(
        f"{text!r} is not a US state: give its 2-digit FIPS code (27), USPS code (MN) or name (Minnesota)."
    )


def state_name(code: str) -> str:
    return STATES.get(code, ("", f"state {code}"))[1]


def geoid_text(value: Any, width: int) -> str | None:
    """`value` as a GEOID of `width` digits, its lost leading zero restored (1001 -> "01001" for
    width 5); None when it is not such a code (wrong length, not digits, unknown state)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not float(value).is_integer():
            return None
        text = str(int(value))
    else:
        text = str(value).strip()
        match = GEO_ID.match(text)
        if match:
            text = match.group(2)
    if not text.isdigit() or len(text) not in (width - 1, width):
        return None
    text = text.zfill(width)
    return text if text[:2] in STATES else None


def level_of(values: pd.Series, *, exact_width: bool) -> str | None:
    """The geography level whose GEOIDs all of `values` are, or None (vectorised: tables of
    block groups have 240,000 rows). exact_width: text codes that must have the full width;
    otherwise integers, which may be one digit short (a lost leading zero)."""
    values = pd.Series(values).dropna()
    if values.empty:
        return None
    states = np.array([int(code) for code in STATES])
    if not exact_width:
        if not pd.api.types.is_numeric_dtype(values) or not (values % 1 == 0).all() or (values <= 0).any():
            return None
        numbers = values.to_numpy(dtype=np.float64)
        digits = np.floor(np.log10(numbers)).astype(np.int64) + 1
        for level, width in LEVEL_WIDTHS.items():
            if np.isin(digits, (width - 1, width)).all():
                prefix = (numbers // 10.0 ** (width - 2)).astype(np.int64)
                if np.isin(prefix, states).all():
                    return level
        return None
    text = values.astype(str).str.strip()
    suffix = text.str.extract(GEO_ID.pattern, expand=True)[1]
    text = suffix.fillna(text)
    lengths = text.str.len()
    if lengths.nunique() != 1 or not text.str.fullmatch(r"\d+").all():
        return None
    level = WIDTH_LEVELS.get(int(lengths.iloc[0]))
    return level if level is not None and text.str[:2].isin(list(STATES)).all() else None


def county_of(geoid: Any, level: str) -> str | None:
    """The 5-digit county FIPS of a county, tract or block-group GEOID (in any form) of `level`,
    else None. The level must be given: an integer GEOID one digit short is ambiguous."""
    if level not in ("county", "tract", "block group"):
        raise ValueError(f"Counties contain tracts and block groups, not {level!r} units.")
    code = geoid_text(geoid, LEVEL_WIDTHS[level])
    return code[:5] if code is not None else None
