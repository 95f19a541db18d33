"""The CSV files an analyst downloads: labeled counties, components and centroids.
"""
from __future__ import annotations

import re

import pandas as pd

from workbench.core import csv_out


def file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "export"


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def csv_bytes(frame: pd.DataFrame, *, excel: bool = True) -> bytes:
    """CSV without the index, floats at full precision, safe to open in a spreadsheet (text
    cells that would run as formulas are prefixed with `'`, see workbench.core.csv_out);
    UTF-8 with a byte-order mark for Excel unless `excel` is false."""
    return csv_out.csv_bytes(frame, excel=excel)


def export_files(
    labeled: pd.DataFrame, components: pd.DataFrame, centroids: pd.DataFrame, stem: str = "counties",
    *, excel: bool = True,
) -> dict[str, bytes]:
    """The three downloads, file name → bytes, ready before any button is pressed (see csv_bytes)."""
    stem = file_slug(stem)
    return {
        f"{stem}-clusters.csv": csv_bytes(labeled, excel=excel),
        f"{stem}-components.csv": csv_bytes(components, excel=excel),
        f"{stem}-centroids.csv": csv_bytes(centroids, excel=excel),
    }
