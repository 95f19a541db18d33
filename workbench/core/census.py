"""ACS 5-year estimates from the Census Data API, at county, tract or block-group level.

    request = CensusRequest.create(2022, "tract", state="MN", preset="recommended")
    table = fetch_table(request)                 # GEOID, State, County, Tract, features…

Variables: detailed (`B…`, `C…`), data-profile (`DP…`) and subject (`S…`) estimates, each
routed to its endpoint (acs/acs5, acs/acs5/profile, acs/acs5/subject). Give an estimate with
or without its `E`; its margin of error `…M` is always fetched with it. Columns are named so
that the margin-of-error features pair them (workbench.analysis.margins: `X` with `XErr`):
B19013_001E becomes the column `B19013_001` and B19013_001M the column `B19013_001Err`.

Requests: at most 50 variables each (the API's limit; NAME counts), so larger requests are
split and the parts joined on the geography; tracts and block groups without a state are
fetched state by state. The base URL comes from WORKBENCH_CENSUS_API_URL (default
https://api.census.gov/data), the key from CENSUS_API_KEY. The key is sent with every request
and never logged, cached, recorded or put in a message. 429 and 5xx are retried with
exponential backoff; 400, 404 and 204 end in a one-line DataError. Responses are cached on
disk (settings.cache_dir()/census), keyed by the request without the key; refresh=True
fetches again.

The API's annotation values (-999999999, -888888888, -666666666, -555555555, -333333333,
-222222222) become missing values, never numbers; which cells they hit is kept in
frame.attrs[ANNOTATIONS_ATTR] ({column: {GEOID: code}}) for the cleaning report.

As a data source (sources.load_table): `census:year=2022&geography=tract&state=MN&preset=recommended`
(keys year, geography, state, county, preset or variables=B19013_001E,B01003_001E).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import numpy as np
import pandas as pd

from backends.format.hyperparameters import whole_number
from workbench.core import census_presets, fips, settings
from workbench.core.errors import DataError

URI_SCHEME = "census:"
SOURCE_ATTR = "source_description"  # the key parsing.SOURCE_ATTR names; repeated to keep census free of CSV parsing
ANNOTATIONS_ATTR = "census_annotations"
REQUEST_ATTR = "census_request"
MAX_VARIABLES = 50
FIRST_YEAR = 2009  # the first ACS 5-year release (2005-2009)
GEOGRAPHIES = ("county", "tract", "block group")
ANNOTATIONS: dict[int, str] = {
    -999999999: "too few sample cases to compute it",
    -888888888: "not applicable",
    -666666666: "the estimate cannot be computed (too few sample observations)",
    -555555555: "the estimate is controlled, so no margin of error applies",
    -333333333: "the median falls in the open-ended top or bottom interval",
    -222222222: "too few sample cases to compute the margin of error",
}
ENDPOINTS = {"detailed": "acs/acs5", "profile": "acs/acs5/profile", "subject": "acs/acs5/subject"}
_PATTERNS = {
    "detailed": re.compile(r"^[BC]\d{5}[A-Z]{0,2}(PR)?_\d{3}$"),
    "profile": re.compile(r"^DP0\d(PR)?_\d{4}P?$"),
    "subject": re.compile(r"^S\d{4}[A-Z]{0,2}(PR)?_C\d{2}_\d{3}$"),
}
_GEO_COLUMNS = {"county": ("state", "county"), "tract": ("state", "county", "tract"),
                "block group": ("state", "county", "tract", "block group")}
_NAME_PARTS = {"county": ("County",), "tract": ("Tract", "County"), "block group": ("BlockGroupName", "Tract", "County")}



class NoData(DataError):
    """The API answered 204: no unit matched (a state-by-state fetch skips such a state)."""


FetchProgress = Callable[[int, int, str], None]  # (requests done, requests in all, what was fetched)


# --------------------------------------------------------------------------- the request


def margin_column(estimate: str) -> str:
    """The column of an estimate's margin of error, as the margin features pair them."""
    return f"{estimate}Err"


def variable_base(name: str) -> str:
    """An estimate's code without its trailing E ("b19013_001e" -> "B19013_001"); a DataError
    names the accepted forms."""
    code = str(name).strip().upper()
    base = code[:-1] if code.endswith("E") and not any(p.match(code) for p in _PATTERNS.values()) else code
    if any(p.match(base) for p in _PATTERNS.values()):
        return base
    hint = " Margins of error (…M) come with their estimate; ask for the estimate (…E)." if code.endswith("M") else ""
    raise DataError(
        f"{name!r} is not an ACS estimate variable. Use detailed (B19013_001E), data-profile (DP03_0062E, "
        f"DP05_0002PE) or subject (S1901_C01_012E) codes.{hint}"
    )


def endpoint_of(base: str) -> str:
    for kind, pattern in _PATTERNS.items():
        if pattern.match(base):
            return ENDPOINTS[kind]
    raise DataError(f"{base!r} is not an ACS estimate variable.")


@dataclass(frozen=True)
class CensusRequest:
    """What to fetch. state: 2-digit FIPS; county: 3-digit county FIPS within the state;
    variables: estimate codes without E (with a preset: the preset's inputs)."""

    year: int
    geography: str
    variables: tuple[str, ...]
    state: str | None = None
    county: str | None = None
    preset: str | None = None

    @classmethod
    def create(cls, year: Any, geography: str, *, state: Any = None, county: Any = None,
               preset: str | None = None, variables: Sequence[str] | str | None = None) -> CensusRequest:
        """Validate and normalise every field; a DataError says what is wrong."""
        year = _year(year)
        geography = _geography(geography)
        state_code = fips.state_fips(state) if state not in (None, "") else None
        county_code = _county(county, state_code) if county not in (None, "") else None
        if isinstance(variables, str):
            variables = [v for v in variables.split(",") if v.strip()]
        if bool(preset) == bool(variables):
            raise DataError("Name either a preset (" + ", ".join(census_presets.PRESETS)
                            + ") or variables (B19013_001E,…), not both and not neither.")
        if preset:
            spec = census_presets.get(preset)
            if year < spec.first_year:
                raise DataError(f"The {spec.name!r} preset needs ACS 5-year {spec.first_year} or later "
                                f"({spec.why_first_year}); got {year}.")
            bases = spec.inputs
        else:
            bases = tuple(dict.fromkeys(variable_base(v) for v in variables))
        return cls(year, geography, tuple(bases), state_code, county_code, preset or None)

    def to_dict(self) -> dict[str, Any]:
        """The request for a run manifest: never the key."""
        return {"dataset": "acs/acs5", "year": self.year, "geography": self.geography, "state": self.state,
                "county": self.county, "preset": self.preset, "variables": list(self.variables)}

    def to_uri(self) -> str:
        params = [("year", str(self.year)), ("geography", self.geography.replace(" ", "-"))]
        params += [(k, v) for k, v in (("state", self.state), ("county", self.county)) if v]
        params += [("preset", self.preset)] if self.preset else [("variables", ",".join(f"{v}E" for v in self.variables))]
        return URI_SCHEME + urlencode(params, safe=",")

    def describe(self) -> str:
        where = "the US" if not self.state else fips.state_name(self.state)
        if self.county:
            where = f"county {self.state}{self.county}, {where}"
        what = f"preset {self.preset}" if self.preset else f"{len(self.variables)} variable(s)"
        units = {"county": "counties", "tract": "tracts", "block group": "block groups"}[self.geography]
        return f"ACS 5-year {self.year} {units} in {where}, {what} ({self.to_uri()})"


def parse_uri(uri: str) -> CensusRequest:
    """`census:year=2022&geography=tract&state=MN&preset=recommended` as a request."""
    text = str(uri).strip()
    if not text.lower().startswith(URI_SCHEME):
        raise DataError(f"{text!r} is not a census source; write it as census:year=2022&geography=county&preset=walkthrough.")
    pairs = parse_qsl(text[len(URI_SCHEME):].lstrip("?"), keep_blank_values=True)
    known = {"year", "geography", "state", "county", "preset", "variables"}
    params: dict[str, str] = {}
    for key, value in pairs:
        key = key.strip().lower()
        if key not in known:
            raise DataError(f"Unknown key {key!r} in {text!r}; use {', '.join(sorted(known))}.")
        if key in params:
            raise DataError(f"{key!r} appears twice in {text!r}.")
        params[key] = value.strip()
    for required in ("year", "geography"):
        if not params.get(required):
            raise DataError(f"{text!r} lacks {required}=…; e.g. census:year=2022&geography=county&preset=walkthrough.")
    return CensusRequest.create(params["year"], params["geography"], state=params.get("state"),
                                county=params.get("county"), preset=params.get("preset"),
                                variables=params.get("variables"))


def _year(value: Any) -> int:
    try:
        year = whole_number(value, "The year (e.g. 2022)")
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if year < FIRST_YEAR:
        raise DataError(f"ACS 5-year estimates start with {FIRST_YEAR} (2005-2009); {year} has none. Choose {FIRST_YEAR} or later.")
    return year


def _geography(value: str) -> str:
    text = str(value).strip().lower().replace("-", " ").replace("_", " ")
    text = {"counties": "county", "tracts": "tract", "blockgroup": "block group", "bg": "block group"}.get(text, text)
    if text not in GEOGRAPHIES:
        raise DataError(f"Unknown geography {value!r}; choose county, tract or block-group.")
    return text


def _county(value: Any, state: str | None) -> str:
    text = str(value).strip()
    if state is None:
        raise DataError(f"A county ({text}) needs its state; add the state (FIPS or USPS code).")
    if text.isdigit() and len(text) == 5:
        if text[:2] != state:
            raise DataError(f"County {text} is not in state {state} ({fips.state_name(state)}).")
        text = text[2:]
    if not (text.isdigit() and 1 <= len(text) <= 3):
        raise DataError(f"The county must be its 3-digit FIPS code within the state (053) or the 5-digit one (27053), not {text!r}.")
    return text.zfill(3)


# --------------------------------------------------------------------------- the client


@dataclass
class CensusClient:
    """HTTP to the Census Data API (stdlib urllib: nothing of it logs the URL) with retries and
    an on-disk cache. Defaults come from the settings; tests pass a faster backoff."""

    base_url: str = field(default_factory=settings.census_api_url)
    key: str | None = field(default_factory=settings.census_api_key, repr=False)
    cache_dir: Path | None = None
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    requests_sent: int = 0
    cache_hits: int = 0

    def __post_init__(self):
        self.base_url = self.base_url.rstrip("/")
        self.cache_dir = Path(self.cache_dir) if self.cache_dir is not None else settings.cache_dir() / "census"

    def get(self, path: str, params: Sequence[tuple[str, str]], *, refresh: bool = False,
            what: str = "") -> list[list[Any]]:
        """The API's rows (header first) for one request; cached unless refresh."""
        public = f"{self.base_url}/{path}?{urlencode(list(params), safe=',:*', quote_via=quote)}"
        cache = self.cache_dir / f"{hashlib.sha256(public.encode()).hexdigest()[:40]}.json"
        if not refresh:
            rows = _read_cache(cache)
            if rows is not None:
                self.cache_hits += 1
                return rows
        rows = self._download(public, what or path)
        _write_cache(cache, public, rows)
        return rows

    def _download(self, public: str, what: str) -> list[list[Any]]:
        url = public + (f"&{urlencode([('key', self.key)])}" if self.key else "")
        request = urllib.request.Request(url, headers={"User-Agent": "county-segmentation-workbench",
                                                       "Accept": "application/json"})
        for attempt in range(self.retries + 1):
            status, body, retry_after, problem = self._send(request)
            last = attempt == self.retries
            if status == 200:
                return self._rows(body, what)
            if status is None or status == 429 or status >= 500:
                if last:
                    detail = problem or f"HTTP {status}"
                    raise DataError(self._redact(
                        f"The Census Data API at {self.base_url} did not answer for {what} ({detail}) after "
                        f"{self.retries + 1} attempts. Try again later; with many requests, set CENSUS_API_KEY."))
                self.sleep(min(retry_after, 60.0) if retry_after is not None else self.backoff * 2 ** attempt)
                continue
            error = NoData if status == 204 else DataError
            raise error(self._redact(self._refusal(status, body, what)))
        raise AssertionError("unreachable")

    def _send(self, request: urllib.request.Request) -> tuple[int | None, bytes, float | None, str]:
        """(status, body, Retry-After seconds, network problem) of one attempt."""
        self.requests_sent += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read(), None, ""
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            body = exc.read() if exc.fp is not None else b""
            return exc.code, body, _seconds(retry_after), ""
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, b"", None, f"network error: {type(reason).__name__}: {reason}"

    def _refusal(self, status: int, body: bytes, what: str) -> str:
        said = _first_line(body)
        if status == 204:
            return f"The Census Data API has no data for {what} (HTTP 204): no such units, or none published. Check the state and county."
        if status == 404:
            return (f"The Census Data API has no such dataset for {what} (HTTP 404{': ' + said if said else ''}): "
                    "that ACS 5-year year is not published (yet). Choose an earlier year.")
        if status == 400:
            return (f"The Census Data API refused {what} (HTTP 400{': ' + said if said else ''}). "
                    "Check the variable codes and the geography.")
        return f"The Census Data API answered HTTP {status} for {what}{': ' + said if said else ''}."

    def _rows(self, body: bytes, what: str) -> list[list[Any]]:
        try:
            rows = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            said = _first_line(body)
            if "key" in said.lower():
                raise DataError(self._redact(
                    f"The Census Data API rejected the key in CENSUS_API_KEY ({said}). Fix or unset it.")) from None
            raise DataError(self._redact(f"The Census Data API sent something other than JSON for {what}: {said!r}.")) from None
        if not _is_table(rows):
            raise DataError(f"The Census Data API's answer for {what} is not a table (a header row and rows of equal length).")
        return rows

    def _redact(self, text: str) -> str:
        return text.replace(self.key, "***") if self.key else text


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _first_line(body: bytes) -> str:
    text = re.sub(r"<[^>]+>", " ", body.decode("utf-8", "replace"))
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def _is_table(rows: Any) -> bool:
    """A header row and data rows, all lists of one length: what the API answers (and the cache holds)."""
    return (isinstance(rows, list) and bool(rows) and all(isinstance(r, list) for r in rows)
            and len({len(r) for r in rows}) == 1)


def _read_cache(path: Path) -> list[list[Any]] | None:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        rows = payload["rows"]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None  # absent or damaged: fetch again
    return rows if _is_table(rows) else None  # not a table (e.g. {"rows": []}): fetch again


def _write_cache(path: Path, public_url: str, rows: list[list[Any]]) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"url": public_url, "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": rows}, out)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)  # no half-written .part left beside the cache
        raise DataError(f"Cannot write the census cache in {path.parent}: {exc}. "
                        f"Set {settings.ENV_CACHE_DIR} to a writable folder.") from exc


# --------------------------------------------------------------------------- fetching


def plan(request: CensusRequest) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    """Every API call the request needs: (dataset path, get= variables, geography params)."""
    by_endpoint: dict[str, list[str]] = {}
    for base in request.variables:
        by_endpoint.setdefault(endpoint_of(base), []).append(base)
    per_call = (MAX_VARIABLES - 1) // 2  # estimate + margin pairs, with NAME
    chunks = [(endpoint, bases[i:i + per_call]) for endpoint, bases in by_endpoint.items()
              for i in range(0, len(bases), per_call)]
    states = [request.state] if request.state else (list(fips.ACS_STATES) if request.geography != "county" else [None])
    calls = []
    for endpoint, bases in chunks:
        get = ["NAME"] + [f"{b}{suffix}" for b in bases for suffix in ("E", "M")]
        for state in states:
            calls.append((f"{request.year}/{endpoint}", get, _geo_params(request, state)))
    return calls


def _geo_params(request: CensusRequest, state: str | None) -> list[tuple[str, str]]:
    if request.geography == "county":
        params = [("for", f"county:{request.county or '*'}")]
        return params + ([("in", f"state:{state}")] if state else [])
    inside = f"state:{state}" + (f" county:{request.county}" if request.county else "")
    if request.geography == "tract":
        return [("for", "tract:*"), ("in", inside)]
    if not request.county:
        inside += " county:*"
    return [("for", "block group:*"), ("in", inside + " tract:*")]


def fetch_raw(request: CensusRequest, *, client: CensusClient | None = None, refresh: bool = False,
              progress: FetchProgress | None = None) -> pd.DataFrame:
    """The requested estimates and margins, one row per unit: GEOID, State, County (Tract,
    BlockGroupName), then `X` and `XErr` per variable. Annotation values are missing, listed in
    attrs[ANNOTATIONS_ATTR]."""
    client = client or CensusClient()
    calls = plan(request)
    parts: dict[tuple[str, tuple[str, ...]], list[pd.DataFrame]] = {}
    names: list[pd.DataFrame] = []
    for done, (path, get, geo) in enumerate(calls, start=1):
        what = f"ACS 5-year {request.year} {request.geography} data ({dict(geo).get('in', 'the US')})"
        try:
            rows = client.get(path, [("get", ",".join(get))] + geo, refresh=refresh, what=what)
        except NoData:
            if request.state or request.geography == "county":
                raise
            rows = [get + list(_GEO_COLUMNS[request.geography])]  # a state without such units
        frame = _frame(rows, get, request.geography, what)
        names.append(frame[["NAME"]])
        parts.setdefault((path, tuple(get)), []).append(frame.drop(columns="NAME"))
        if progress is not None:
            progress(done, len(calls), f"{done}/{len(calls)}: {len(frame):,} rows of {what}")
    blocks = [pd.concat(frames) for frames in parts.values()]
    if not len(blocks[0]):
        raise DataError(f"The Census Data API has no {request.geography} data for {request.describe()}.")
    for block in blocks:
        _refuse_repeats(block.index)
    values = pd.concat(blocks, axis=1, join="outer").sort_index()
    name = pd.concat(names)
    name = name[~name.index.duplicated()]["NAME"].reindex(values.index)
    return _assemble(values, name, request)


def _frame(rows: list[list[Any]], get: list[str], geography: str, what: str) -> pd.DataFrame:
    header = [str(h) for h in rows[0]]
    missing = [c for c in (*get, *_GEO_COLUMNS[geography]) if c not in header]
    if missing:
        raise DataError(f"The Census Data API's answer for {what} lacks the column(s) {missing}.")
    frame = pd.DataFrame(rows[1:], columns=header, dtype=object)
    geoid = pd.Series([""] * len(frame), dtype=object)
    for part in _GEO_COLUMNS[geography]:
        geoid = geoid + frame[part].astype(str)
    width = fips.LEVEL_WIDTHS[geography]
    bad = geoid[geoid.str.len() != width]
    if len(bad):
        raise DataError(f"The Census Data API's answer for {what} has unit codes of the wrong width, e.g. {bad.iloc[0]!r}.")
    frame.index = pd.Index(geoid.to_numpy(), name="GEOID")
    return frame[get]


def _refuse_repeats(index: pd.Index) -> None:
    repeated = index[index.duplicated()]
    if len(repeated):
        raise DataError(f"The Census Data API returned unit {repeated[0]} twice; the answer cannot be joined. Fetch again with refresh.")


def _assemble(values: pd.DataFrame, name: pd.Series, request: CensusRequest) -> pd.DataFrame:
    out = pd.DataFrame({"GEOID": values.index.astype(str)})
    out["State"] = [fips.state_name(g[:2]) for g in out["GEOID"]]
    parts = [_name_parts(n) for n in name.to_numpy()]
    columns = _NAME_PARTS[request.geography]
    for i, column in enumerate(reversed(columns)):  # County is the part before the state, Tract before it, …
        out[column] = [p[-2 - i] if len(p) >= 2 + i else None for p in parts]
    out = out[["GEOID", "State", "County", *[c for c in ("Tract", "BlockGroupName") if c in columns]]]
    annotations: dict[str, dict[str, int | None]] = {}
    numbers: dict[str, np.ndarray] = {}
    for base in request.variables:
        for code, column in ((f"{base}E", base), (f"{base}M", margin_column(base))):
            numbers[column], hits = _numbers(values[code].to_numpy(), code)
            if hits:
                annotations[column] = {str(out.at[i, "GEOID"]): hit for i, hit in hits.items()}
    out = pd.concat([out, pd.DataFrame(numbers, index=out.index)], axis=1)
    out.attrs[ANNOTATIONS_ATTR] = annotations
    return out


def _name_parts(name: Any) -> list[str]:
    text = "" if name is None else str(name)
    return [part.strip() for part in text.split(";" if ";" in text else ",")]


def _numbers(values: np.ndarray, code: str) -> tuple[np.ndarray, dict[int, int | None]]:
    """Floats, with annotation values and nulls as NaN; {position: annotation code or None}."""
    out = np.full(len(values), np.nan)
    hits: dict[int, int | None] = {}
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)) or (
                isinstance(value, str) and value.strip() in ("", "null")):
            hits[i] = None  # no value at all (e.g. a join of parts that lack the unit)
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DataError(f"The Census Data API sent {value!r} for {code}, which is neither a number nor an annotation.") from None
        if number in ANNOTATIONS:
            hits[i] = int(number)
        else:
            out[i] = number
    return out, hits


def fetch_table(request: CensusRequest, *, client: CensusClient | None = None, refresh: bool = False,
                progress: FetchProgress | None = None) -> pd.DataFrame:
    """The table a segmentation reads: the raw variables, or the preset's features built from
    them. attrs: SOURCE_ATTR (a description), REQUEST_ATTR (request.to_dict()), ANNOTATIONS_ATTR."""
    raw = fetch_raw(request, client=client, refresh=refresh, progress=progress)
    table = census_presets.get(request.preset).derive(raw) if request.preset else raw
    table.attrs[SOURCE_ATTR] = request.describe()
    table.attrs[REQUEST_ATTR] = request.to_dict()
    return table


def annotation_summary(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per column with annotation values: how many cells, and how many of each code (with its
    meaning), for a report."""
    out = []
    for column, hits in table.attrs.get(ANNOTATIONS_ATTR, {}).items():
        codes: dict[Any, int] = {}
        for code in hits.values():
            codes[code] = codes.get(code, 0) + 1
        out.append({"column": column, "cells": len(hits),
                    "codes": {str(code): {"count": n, "meaning": ANNOTATIONS.get(code, "no value")}
                              for code, n in codes.items()}})
    return out
