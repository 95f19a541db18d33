"""Which columns of a raw table are the id, the names and the numeric features: found by name
and content, not from a fixed list.

Geography ids are recognised by name (CensusId, CountyId, FIPS, GEOID, GEO_ID, TractId,
CensusTract, BlockGroup, …) and, when no column is named like one, by content: unique codes
of 2, 5, 11 or 12 digits (text that kept its leading zeros; or integers: 10 to 12 digits
anywhere, 4 or 5 digits as the first column in increasing order), whose first two digits are
a state's FIPS code. An
id is never a feature, nor is any other column that holds geography codes (the API's
state/county/tract parts, a second GEOID). The id's width gives the geography level.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from workbench.core import fips

# --------------------------------------------------------------------------- schema

# Normalised (lower-case, alphanumerics only) column names, in order of preference.
_ID_PATTERNS = (r"censusid", r"countyid", r"countyfips", r"fips(code)?", r"geoid\d*", r"tractid", r"censustract",
                r"tract(fips|geoid)", r"blockgroup(id|fips|geoid)?", r"bgid", r"bggeoid", r"id\d*",
                r"statefips", r"statefp")
# Parts of a geography code (the API's state/county/tract columns, TIGER's STATEFP, …): never features.
_CODE_PATTERNS = (r"(state|county|tract)(fp|ce|code)?\d*", r"blockgroup\w*", r"bg(ce|code)?")
_STATE_PATTERNS = (r"state", r"statename", r"stname", r"statenm")
_COUNTY_PATTERNS = (r"county", r"countyname", r"ctyname", r"countynm", r"name", r"geographicareaname", r"areaname")
_UNIT_PATTERNS = (r"tract", r"tractname", r"censustractname", r"blockgroupname")  # text names below counties


@dataclass(frozen=True)
class Schema:
    """The roles of a table's columns.

    id_column: the geography identifier (e.g. CensusId, CountyId, FIPS, GEOID, TractId), or None.
    name_columns: the state, county (and tract, block group) name columns present, e.g.
        ("State", "County"); may be empty.
    feature_columns: numeric (or numeric-looking) columns, in table order.
    ignored_columns: everything else (text columns that are neither id nor name).
    code_columns: other columns of geography codes (a second id, the parts of a GEOID): not features.
    geography: the level the id's codes name ("state", "county", "tract", "block group"), or None.
    id_evidence: why the id column was chosen, for people ("" when there is none).
    """

    id_column: str | None
    name_columns: tuple[str, ...]
    feature_columns: tuple[str, ...]
    ignored_columns: tuple[str, ...] = ()
    code_columns: tuple[str, ...] = ()
    geography: str | None = None
    id_evidence: str = ""


def detect_schema(df: pd.DataFrame) -> Schema:
    """Find the id, name and feature columns by name and content, not from a fixed list."""
    columns = [str(c) for c in df.columns]
    id_column = _match_column(columns, _ID_PATTERNS, taken=())
    evidence = f"named like an id ({id_column})" if id_column is not None else ""
    if id_column is None:
        id_column, evidence = _id_by_content(df)
    state = _match_column(columns, _STATE_PATTERNS, taken=(id_column,))
    county = _match_column(columns, _COUNTY_PATTERNS, taken=(id_column, state))
    units = [c for c in columns if c not in (id_column, state, county)
             and any(re.fullmatch(p, _normalise(c)) for p in _UNIT_PATTERNS) and not _looks_numeric(df[c])]
    name_columns = tuple(c for c in (state, county, *units) if c is not None)

    roles = {id_column, *name_columns}
    features, ignored, codes = [], [], []
    for column in df.columns:
        if column in roles:
            continue
        if _is_code_column(df, str(column)):
            codes.append(column)
        else:
            (features if _looks_numeric(df[column]) else ignored).append(column)
    level = _level(df[id_column]) if id_column is not None else None
    return Schema(id_column, name_columns, tuple(features), tuple(ignored), tuple(codes), level, evidence)


def _level(series: pd.Series) -> str | None:
    return fips.level_of(series, exact_width=not pd.api.types.is_numeric_dtype(series))


def _id_by_content(df: pd.DataFrame) -> tuple[str | None, str]:
    """The first column whose values are unique geography codes, and why; else (None, "")."""
    for position, column in enumerate(df.columns):
        level = _code_level(df[column], first=position == 0)
        if level is not None:
            width = fips.LEVEL_WIDTHS[level]
            return str(column), f"holds unique {width}-digit codes ({level} GEOIDs)"
    return None, ""


def _code_level(series: pd.Series, *, first: bool) -> str | None:
    """The level of a column of unique geography codes, or None. Text must keep the codes' full
    width; integers may have lost a leading zero. Short integers (county codes) count only as
    the first column and in increasing order, as id columns are: a small table's incomes or
    populations can look like FIPS codes."""
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_numeric_dtype(series):
        # Cheap first: the smallest code of the level (a state's 2 digits lost a zero at most)
        # rules out most features before the uniqueness check hashes the column.
        smallest = series.min()
        if not smallest >= (1_000 if first else 100_000_000):
            return None
    values = series.dropna()
    if len(values) < 2 or not values.is_unique:
        return None
    if pd.api.types.is_numeric_dtype(values):
        level = fips.level_of(values, exact_width=False)
        county = first and level == "county" and values.is_monotonic_increasing
        return level if level in ("tract", "block group") or county else None
    if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
        return None
    return fips.level_of(values, exact_width=True)


def _is_code_column(df: pd.DataFrame, column: str) -> bool:
    name = _normalise(column)
    if any(re.fullmatch(p, name) for p in (*_ID_PATTERNS, *_CODE_PATTERNS)):
        return True
    return _code_level(df[column], first=False) in ("tract", "block group")


def is_code_name(name: str) -> bool:
    """Whether a column's name says it holds geography codes (an id or a part of one): parsing
    reads such a column as text first, so that leading zeros (01001) survive."""
    normalised = _normalise(str(name))
    return any(re.fullmatch(p, normalised) for p in (*_ID_PATTERNS, *_CODE_PATTERNS))


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _match_column(columns: Sequence[str], patterns: Iterable[str], taken: Iterable[str | None]) -> str | None:
    taken = set(taken)
    for pattern in patterns:
        for column in columns:
            if column not in taken and re.fullmatch(pattern, _normalise(column)):
                return column
    return None


def _looks_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return True
    if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
        return False  # dates, categories, ...
    values = series.dropna()
    if values.empty:
        return False
    # Mostly numbers: a column with a few typos is a feature whose bad rows cleaning reports.
    numbers = pd.to_numeric(values, errors="coerce").notna().sum()
    return numbers > 0 and 2 * numbers >= len(values)
