"""A stand-in for the Census Data API on localhost: a real HTTP server (http.server in a thread)
that answers `/data/{year}/acs/acs5[/profile|/subject]?get=…&for=…&in=…&key=…` the way the API
does: a JSON array of arrays (header first, every value a string, the geography's FIPS parts
last), 204 with no body when no unit matches, 400 with the API's one-line `error: …` text for an
unknown variable or geography or more than 50 variables, 404 with an HTML page for a year it
does not serve. It records every request (with the key) so tests can check what was sent, and
can be told to answer with some statuses first (429, 503, …).

Values come from `values` ({variable code: {GEOID: value}}), else are made up deterministically
from the code and the GEOID (estimates 0–9,999, margins 0–499), so any variable can be asked for.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd

_GEO_PARTS = {"county": ("state", "county"), "tract": ("state", "county", "tract"),
              "block group": ("state", "county", "tract", "block group")}
_WIDTHS = {"state": 2, "county": 3, "tract": 6, "block group": 1}
_ENDPOINT_OF = (("DP", "acs/acs5/profile"), ("S", "acs/acs5/subject"), ("B", "acs/acs5"), ("C", "acs/acs5"))
_VARIABLE = re.compile(r"^([BC]\d{5}[A-Z]{0,2}(PR)?_\d{3}|DP0\d(PR)?_\d{4}P?|S\d{4}[A-Z]{0,2}(PR)?_C\d{2}_\d{3})[EM]$")


@dataclass
class Unit:
    geoid: str
    name: str

    def part(self, level: str) -> str:
        offsets = {"state": (0, 2), "county": (2, 5), "tract": (5, 11), "block group": (11, 12)}
        start, stop = offsets[level]
        return self.geoid[start:stop]

    @property
    def level(self) -> str:
        return {5: "county", 11: "tract", 12: "block group"}[len(self.geoid)]


@dataclass
class CensusStandIn:
    units: list[Unit]
    years: set[int] = field(default_factory=lambda: {2022})
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # variable codes answered with "unknown variable"
    statuses: list[int] = field(default_factory=list)  # answered (in order) before any real answer
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------- answers

    def answer(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        params = parse_qsl(query, keep_blank_values=True)
        with self.lock:
            self.requests.append({"path": path, "params": params, "key": dict(params).get("key")})
            if self.statuses:
                status = self.statuses.pop(0)
                return status, {"Retry-After": "0"} if status == 429 else {}, b"<html><body>busy</body></html>"
        match = re.fullmatch(r"/data/(\d{4})/(acs/acs5(?:/profile|/subject)?)", path)
        if not match or int(match.group(1)) not in self.years:
            return 404, {"Content-Type": "text/html"}, (
                b"<html><head><title>Not Found</title></head><body><h1>404 Not Found</h1>"
                b"<p>The requested resource is not available.</p></body></html>")
        endpoint = match.group(2)
        singles = {k: v for k, v in params}
        get = [g for g in singles.get("get", "").split(",") if g]
        if len(get) > 50:
            return self._error("error: You requested more than the maximum of 50 variables.")
        for code in get:
            if code in ("NAME", "GEO_ID"):
                continue
            if code in self.unknown or not _VARIABLE.match(code) or _endpoint(code) != endpoint:
                return self._error(f"error: error: unknown variable '{code}'")
        units, problem = self._select(singles.get("for", ""), [v for k, v in params if k == "in"])
        if problem:
            return self._error(problem)
        if not units:
            return 204, {}, b""
        level = units[0].level
        header = get + list(_GEO_PARTS[level])
        rows = [header] + [[self._value(code, unit) for code in get] + [unit.part(p) for p in _GEO_PARTS[level]]
                           for unit in units]
        return 200, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(rows).encode()

    def _error(self, text: str) -> tuple[int, dict[str, str], bytes]:
        return 400, {"Content-Type": "text/plain"}, text.encode()

    def _select(self, for_clause: str, in_clauses: list[str]) -> tuple[list[Unit], str]:
        unsupported = "error: unknown/unsupported geography heirarchy"
        level, _, wanted = for_clause.partition(":")
        if level not in _GEO_PARTS or not wanted:
            return [], unsupported
        within: dict[str, str] = {}
        for clause in in_clauses:
            for item in clause.split():
                name, _, code = item.partition(":")
                if name in ("block", "group"):  # "block group" never appears in `in`
                    return [], unsupported
                within[name] = code
        required = {"county": set(), "tract": {"state"}, "block group": {"state", "county", "tract"}}[level]
        if not required <= set(within) or not set(within) <= set(_GEO_PARTS[level][:-1]):
            return [], unsupported
        constraints = dict(within, **{level: wanted})
        chosen = [u for u in self.units if u.level == level
                  and all(code == "*" or u.part(name) == code for name, code in constraints.items())]
        return chosen, ""

    def _value(self, code: str, unit: Unit) -> str:
        if code == "NAME":
            return unit.name
        given = self.values.get(code, {})
        if unit.geoid in given:
            value = given[unit.geoid]
            return None if value is None else str(value)
        digest = int(hashlib.sha256(f"{code}/{unit.geoid}".encode()).hexdigest()[:8], 16)
        return str(digest % (500 if code.endswith("M") else 10_000))

    def api_requests(self) -> list[dict[str, Any]]:
        """The data requests received so far (path, params, key)."""
        with self.lock:
            return list(self.requests)

    def variables_per_request(self) -> list[int]:
        return [len(dict(r["params"]).get("get", "").split(",")) for r in self.api_requests()]


def _endpoint(code: str) -> str:
    return next(endpoint for prefix, endpoint in _ENDPOINT_OF if code.startswith(prefix))


class _Handler(BaseHTTPRequestHandler):
    stand_in: CensusStandIn

    def do_GET(self):
        parts = urlsplit(self.path)
        status, headers, body = self.server.stand_in.answer(parts.path, parts.query)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204:
            self.wfile.write(body)

    def log_message(self, format, *args):  # keep test output clean
        return


class Server:
    """CensusStandIn served on 127.0.0.1:<free port> until stop()."""

    def __init__(self, stand_in: CensusStandIn):
        self.stand_in = stand_in
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.stand_in = stand_in
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="census-stand-in", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/data"

    def start(self) -> Server:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------- units and values


def county_units(table: pd.DataFrame) -> list[Unit]:
    """Counties of a walkthrough-like table (CensusId, State, County) as API units, named as
    the API names them ("Autauga County, Alabama")."""
    out = []
    for row in table.itertuples(index=False):
        county = str(row.County)
        suffix = "" if any(county.endswith(s) for s in (" County", " Parish", " Borough", " city", " Municipio",
                                                         " Census Area", " Municipality", " City and Borough")) else " County"
        out.append(Unit(f"{int(row.CensusId):05d}", f"{county}{suffix}, {row.State}"))
    return out


def tract_units(county_geoid: str, county_name: str, state_name: str, n: int, *,
                block_groups: int = 0, separator: str = "; ") -> list[Unit]:
    """n tracts of a county (and block_groups per tract), named like the API's 2023 releases
    ("Census Tract 101.01; Aitkin County; Minnesota") or, with separator ", ", the older ones."""
    out = []
    for i in range(n):
        tract = f"{(i + 1) * 100 + (i % 3):06d}"
        number = f"{int(tract[:4])}" + (f".{tract[4:]}" if tract[4:] != "00" else "")
        tract_name = f"Census Tract {number}{separator}{county_name}{separator}{state_name}"
        out.append(Unit(county_geoid + tract, tract_name))
        for bg in range(1, block_groups + 1):
            out.append(Unit(county_geoid + tract + str(bg), f"Block Group {bg}{separator}{tract_name}"))
    return out


def minnesota_counties(n: int = 87) -> list[Unit]:
    """Minnesota-like counties 27001, 27003, … (odd codes, as FIPS county codes are)."""
    return [Unit(f"27{2 * i + 1:03d}", f"County {2 * i + 1} County, Minnesota") for i in range(n)]


def alabama_counties(n: int = 12) -> list[Unit]:
    """Counties of a state whose FIPS code has a leading zero (01)."""
    return [Unit(f"01{2 * i + 1:03d}", f"County {2 * i + 1} County, Alabama") for i in range(n)]


def walkthrough_values(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """ACS detailed-table values for the walkthrough preset's inputs, built from a walkthrough
    table's rows so that the preset rebuilds that table's figures (up to rounding); a missing
    figure is served as the API's -666666666. Margins are 0 except Income's and IncomePerCap's."""
    values: dict[str, dict[str, Any]] = {}

    def put(base: str, geoid: str, estimate: Any, margin: Any = 0) -> None:
        values.setdefault(f"{base}E", {})[geoid] = estimate
        values.setdefault(f"{base}M", {})[geoid] = margin

    for row in table.to_dict("records"):
        geoid = f"{int(row['CensusId']):05d}"
        for base, estimate, margin in _walkthrough_cells(row):
            put(base, geoid, estimate, margin)
    return values


def _walkthrough_cells(row: Mapping[str, Any]) -> Iterable[tuple[str, Any, Any]]:
    def n(value):
        return -666666666 if pd.isna(value) else round(float(value))

    def part(share, total):
        return -666666666 if pd.isna(share) else round(float(share) / 100 * total)

    pop, employed = int(row["TotalPop"]), int(row["Employed"])
    yield from (("B01003_001", pop, -555555555), ("B01001_001", pop, -555555555),
                ("B01001_002", int(row["Men"]), 0), ("B01001_026", int(row["Women"]), 0), ("B03002_001", pop, 0))
    for base, column in (("B03002_012", "Hispanic"), ("B03002_003", "White"), ("B03002_004", "Black"),
                         ("B03002_005", "Native"), ("B03002_006", "Asian"), ("B03002_007", "Pacific")):
        yield base, part(row[column], pop), 0
    yield from (("B05003_001", pop, 0), ("B05003_009", int(row["Citizen"]), 0))
    yield from ((b, 0, 0) for b in ("B05003_011", "B05003_020", "B05003_022"))
    yield "B19013_001", n(row["Income"]), n(row["IncomeErr"])
    yield "B19301_001", n(row["IncomePerCap"]), n(row["IncomePerCapErr"])
    yield from (("B17001_001", pop, 0), ("B17001_002", part(row["Poverty"], pop), 0))
    children = max(1, pop // 4)
    below = part(row["ChildPoverty"], children)
    for i in (*range(4, 10), *range(18, 24), *range(33, 39), *range(47, 53)):
        value = {4: below, 33: (children - below) if below >= 0 else -666666666}.get(i, 0)
        yield f"B17001_{i:03d}", value, 0
    yield "C24010_001", employed, 0
    for male, female, column in ((3, 39, "Professional"), (19, 55, "Service"), (27, 63, "Office"),
                                 (30, 66, "Construction"), (34, 70, "Production")):
        yield f"C24010_{male:03d}", part(row[column], employed), 0
        yield f"C24010_{female:03d}", 0, 0
    yield "B08301_001", employed, 0
    for base, column in (("B08301_003", "Drive"), ("B08301_004", "Carpool"), ("B08301_010", "Transit"),
                         ("B08301_019", "Walk"), ("B08301_020", "OtherTransp"), ("B08301_021", "WorkAtHome")):
        yield base, part(row[column], employed), 0
    yield from ((b, 0, 0) for b in ("B08301_016", "B08301_017", "B08301_018"))
    away = employed - part(row["WorkAtHome"], employed)
    yield "B08013_001", n(float(row["MeanCommute"]) * away), 0
    labour = round(employed / (1 - float(row["Unemployment"]) / 100)) if row["Unemployment"] < 100 else employed
    yield from (("B23025_001", pop, 0), ("B23025_003", labour, 0), ("B23025_004", employed, 0),
                ("B23025_005", labour - employed, 0))
    yield "B24080_001", employed, 0
    for base, column in (("B24080_003", "PrivateWork"), ("B24080_007", "PublicWork"),
                         ("B24080_010", "SelfEmployed"), ("B24080_011", "FamilyWork")):
        yield base, part(row[column], employed), 0
    yield from ((f"B24080_{i:03d}", 0, 0) for i in (6, 8, 9, 13, 16, 17, 18, 19, 20, 21))
