"""Small tables and the default object's place, for the core tests.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from workbench.core import sources


def put_default(client, body: bytes, **kwargs) -> None:
    client.put_object(Bucket=sources.DEFAULT_BUCKET, Key=sources.DEFAULT_KEY, Body=body, **kwargs)


def cached_default(tmp_path) -> Path:
    return tmp_path / "cache" / sources.DEFAULT_BUCKET / sources.DEFAULT_KEY


def table(text: str) -> pd.DataFrame:
    """A raw table from CSV text, as an upload would give it."""
    return sources.read_csv_bytes(textwrap.dedent(text).lstrip().encode())


SMALL = """\
    CensusId,State,County,TotalPop,Income,Poverty
    1001,Alabama,Autauga,55221,51281,12.9
    1003,Alabama,Baldwin,195121,50254,13.4
    1005,Alabama,Barbour,26932,32964,26.7
    1007,Alabama,Bibb,22604,38678,16.8
"""


FEATURES = ["Income", "Poverty", "Walk", "Drive"]
