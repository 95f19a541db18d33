"""workbench.core.csv_out: CSV safe to open in a spreadsheet, read back as written.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from workbench.core import csv_out

HOSTILE = ["=cmd|' /C calc'!A0", "+IncomePerCap −Poverty", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1",
           "'=already", "''@twice", "plain", "Doña Ana", "it's", "'quoted'", ""]


@pytest.mark.parametrize("text", HOSTILE)
def test_protection_round_trips(text):
    protected = csv_out.protect_text(text)
    assert csv_out.unprotect_text(protected) == text
    assert not protected.startswith(csv_out.TRIGGERS)


def test_every_text_cell_starting_with_a_trigger_is_prefixed_and_numbers_stay_numbers():
    frame = pd.DataFrame({"County": HOSTILE, "score": np.linspace(-1, 1, len(HOSTILE)),
                          "mixed": ["-5", 1.5, None] + ["x"] * (len(HOSTILE) - 3)})
    frame["State"] = pd.Series(["=A"] * len(frame), dtype="str")
    text = csv_out.csv_text(frame)
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    for cell in back.select_dtypes(exclude="number").to_numpy().ravel():
        assert not str(cell).startswith(csv_out.TRIGGERS), cell
    assert back["score"].tolist() == frame["score"].tolist()  # negative numbers written as numbers
    assert back.loc[0, "County"] == "'=cmd|' /C calc'!A0"
    assert back.loc[0, "mixed"] == "'-5"


def test_column_names_and_text_index_are_protected():
    frame = pd.DataFrame({"=HYPERLINK(\"http://x\")": [1.0], "+Wealth": [2.0]}, index=pd.Index(["@a"], name="-key"))
    header, row = csv_out.csv_text(frame, index=True).splitlines()
    assert header == "'-key,\"'=HYPERLINK(\"\"http://x\"\")\",'+Wealth"
    assert row.startswith("'@a,")


def test_read_csv_gives_back_the_original_text(tmp_path):
    frame = pd.DataFrame({"county": ["=a", "b"], "+pc1": [-1.0, 2.0], "GEOID": ["123456789012345678901234", "7"]})
    path = tmp_path / "labels.csv"
    csv_out.write_csv(frame, path, excel=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfcounty,")
    back = csv_out.read_csv(path)
    assert back.columns.tolist() == ["county", "+pc1", "GEOID"]
    assert back["county"].tolist() == ["=a", "b"] and back["+pc1"].tolist() == [-1.0, 2.0]
    assert back["GEOID"].tolist() == ["123456789012345678901234", "7"]  # wide ids stay text
    indexed = csv_out.read_csv(path, index_col=0)
    assert indexed.index.tolist() == ["=a", "b"]


def test_excel_bytes_carry_a_byte_order_mark():
    frame = pd.DataFrame({"County": ["Doña Ana"]})
    assert csv_out.csv_bytes(frame, excel=True) == "\ufeffCounty\nDoña Ana\n".encode()
    assert csv_out.csv_bytes(frame) == "County\nDoña Ana\n".encode()


def test_the_frame_given_is_not_changed():
    frame = pd.DataFrame({"County": ["=x"]})
    csv_out.protect_frame(frame)
    assert frame["County"].tolist() == ["=x"]
