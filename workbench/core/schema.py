"""Which columns of a raw table are the id, the names and the numeric features: found by name
and content, not from a fixed list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

# --------------------------------------------------------------------------- schema

# Normalised (lower-case, alphanumerics only) column names, in order of preference.
_ID_PATTERNS = (r"censusid", r"countyid", r"countyfips", r"fips(code)?", r"geoid\d*", r"id\d*")
_STATE_PATTERNS = (r"state", r"statename", r"stname", r"statenm")
_COUNTY_PATTERNS = (r"county", r"countyname", r"ctyname", r"countynm", r"name", r"geographicareaname", r"areaname")


@dataclass(frozen=True)
class Schema:
    """The roles of a table's columns.

    id_column: the county identifier (e.g. CensusId, CountyId, FIPS, GEOID), or None.
    name_columns: the state then county name columns present, e.g. ("State", "County"); may be empty.
    feature_columns: numeric (or numeric-looking) columns, in table order.
    ignored_columns: everything else (text columns that are neither id nor name).
    """

    id_column: str | None
    name_columns: tuple[str, ...]
    feature_columns: tuple[str, ...]
    ignored_columns: tuple[str, ...] = ()


def detect_schema(df: pd.DataFrame) -> Schema:
    """Find the id, name and feature columns by name and content, not from a fixed list."""
    columns = [str(c) for c in df.columns]
    id_column = _match_column(columns, _ID_PATTERNS, taken=())
    state = _match_column(columns, _STATE_PATTERNS, taken=(id_column,))
    county = _match_column(columns, _COUNTY_PATTERNS, taken=(id_column, state))
    name_columns = tuple(c for c in (state, county) if c is not None)

    roles = {id_column, *name_columns}
    features, ignored = [], []
    for column in df.columns:
        if column in roles:
            continue
        (features if _looks_numeric(df[column]) else ignored).append(column)
    return Schema(id_column, name_columns, tuple(features), tuple(ignored))


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
