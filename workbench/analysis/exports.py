"""The CSV files an analyst downloads: labeled counties, components and centroids.
"""
from __future__ import annotations

import io
import re

import pandas as pd


def file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "export"


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV without the index, floats at full precision."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def export_files(
    labeled: pd.DataFrame, components: pd.DataFrame, centroids: pd.DataFrame, stem: str = "counties"
) -> dict[str, bytes]:
    """The three downloads, file name → bytes, ready before any button is pressed."""
    stem = file_slug(stem)
    return {
        f"{stem}-clusters.csv": csv_bytes(labeled),
        f"{stem}-components.csv": csv_bytes(components),
        f"{stem}-centroids.csv": csv_bytes(centroids),
    }
