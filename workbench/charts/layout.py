"""Sizing shared by the chart builders: every label shown, sized from the data, in the spec.

The app draws specs at the width of their container (Streamlit's `width="stretch"`) under
Streamlit's theme, which hides overlapping axis labels and cuts them at 100 px. So every
category axis here sets its own label size, limit and overlap rule, every category axis
runs down the chart with a row height per category (`height={"step": …}`: the chart grows
with its rows instead of squeezing them), long names wrap onto a second line, and the data
travels inline (Altair's 5,000-row limit applies only to data frames: these tables are
already aggregated, at most k × features rows).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import altair as alt
import numpy as np
import pandas as pd

LABEL_FONT = 12  # px: Streamlit's axis labels, set in the spec so the reports' charts look the same
LINE_HEIGHT = 14  # px between the lines of a wrapped label
CHAR_WIDTH = 7.0  # px per character at LABEL_FONT, a generous estimate (wide sans-serif fonts)
WRAP = 28  # characters per line of a wrapped category label
ROW = 22  # px: the least row height of a category axis
MAX_LABEL = 320  # px: no label line is wider (WRAP characters fit)
ANGLE = -45  # degrees: column labels, read bottom-left to top-right
TITLE_WRAP = 34  # characters per line of a chart title: 16 px bold, in a container from 350 px
# Vega's autosize leaves out how far the last label of a value axis reaches past its end (up
# to half a label: "1,200,000" centred on the last tick); this much room on the right keeps it in.
PADDING = {"left": 5, "top": 5, "right": 32, "bottom": 5}
NUMBER = ",~r"  # d3 format: separators, no exponent, insignificant zeros trimmed
NUMBER_TIP = ",.5~r"  # the same with five significant digits, for tooltips


def field(name: object) -> str:
    """`name` as a Vega-Lite field name: a data column's name read as one flat key.

    Vega-Lite reads "." and "[…]" in a field name as nested access ("Income vs. poverty"
    would be datum["Income vs"][" poverty"]) and "\\" as an escape; a backslash before each
    keeps the name whole. Pass the result as `field=` (never inside an Altair shorthand
    string, which also reads ":" and "name(…)"), and keep the plain name for `title=`.
    """
    return re.sub(r"([.\[\]\\])", r"\\\1", str(name))


def wrap(text: object, width: int = WRAP) -> str:
    """`text` broken at spaces into lines of at most `width` characters ("\\n" between
    them); a word longer than a line stays whole."""
    words, lines, line = str(text).split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def lines(labels: Iterable[str]) -> int:
    """The most lines any of the labels has."""
    return max((str(label).count("\n") + 1 for label in labels), default=1)


def label_width(labels: Iterable[str], font: float = LABEL_FONT) -> int:
    """Px the widest line of the labels needs (estimated), within MAX_LABEL."""
    longest = max((len(part) for label in labels for part in str(label).split("\n")), default=1)
    return int(min(MAX_LABEL, math.ceil(longest * CHAR_WIDTH * font / LABEL_FONT) + 8))


def row_step(labels: Sequence[str], least: int = ROW) -> int:
    """Row height (px) for a category axis down the chart: room for every line of every label."""
    return max(least, lines(labels) * LINE_HEIGHT + 8)


def band_axis(labels: Sequence[str], *, angle: float = 0, orient: str | None = None, title: str | None = None,
              **kwargs) -> alt.Axis:
    """An axis that shows every category label in full: no overlap removal, a limit as wide
    as the longest line, multi-line labels for wrapped names."""
    options = {"labelOverlap": False, "labelLimit": label_width(labels), "labelFontSize": LABEL_FONT,
                   "labelAngle": angle, "labelPadding": 4, "ticks": False, "domain": False, "title": title}
    if angle:
        options["labelAlign"] = "left" if orient == "top" else "right"
        options["labelBaseline"] = "middle"
    if orient:
        options["orient"] = orient
    if lines(labels) > 1:
        # Vega puts the first line of a label at its tick: move each label up by half of its
        # extra lines, so that it sits centred on its row.
        options.update(labelExpr="split(datum.label, '\\n')", labelLineHeight=LINE_HEIGHT,
                       labelOffset=alt.ExprRef(f"-(length(split(datum.label, '\\n')) - 1) * {LINE_HEIGHT / 2}"))
    options.update(kwargs)
    return alt.Axis(**options)


def slanted_extent(labels: Sequence[str], angle: float = ANGLE) -> int:
    """Px a slanted category axis takes across its labels (for a chart whose height is fixed:
    under Streamlit's autosize "fit" the height includes the axes)."""
    return int(label_width(labels) * abs(math.sin(math.radians(angle))) + LABEL_FONT + 8)


def slant_padding(across: Sequence[str], beside: int = 0, angle: float = ANGLE) -> dict[str, int]:
    """Padding that keeps slanted labels under the first columns inside the drawing: Vega's
    autosize leaves out how far they reach left, past `beside` px of row labels."""
    reach = label_width(across) * abs(math.cos(math.radians(angle)))
    return {"left": int(max(0, reach - beside) + 5), "top": 5, "right": 5, "bottom": 5}


def heatmap_layout(data: pd.DataFrame, a: tuple[str, list[str]], b: tuple[str, list[str]], least: int = ROW):
    """Lay out a heatmap over fields a and b (field, categories in order): the longer list
    runs down the chart (field "row", names wrapped, one row each), the other across (field
    "column", one slanted line each). Returns (data, x, y, row step, padding)."""
    (down_field, down), (across_field, across) = (a, b) if len(a[1]) >= len(b[1]) else (b, a)
    wrapped = wrapped_names(down)
    data = data.assign(row=[wrapped[str(v)] for v in data[down_field]], column=[str(v) for v in data[across_field]])
    rows = list(wrapped.values())
    y = alt.Y("row:N", sort=rows, title=None, axis=band_axis(rows))
    # Below the rows, slanted down to the left: the labels hang under the chart and its row
    # labels, and the autosize keeps them inside (slanted up from the top they run off the right).
    x = alt.X("column:N", sort=list(across), title=None, axis=band_axis(across, angle=ANGLE))
    return data, x, y, row_step(rows, least=least), slant_padding(across, label_width(rows))


def title(text: str, subtitle: str | Sequence[str] | None = None, *, width: int = TITLE_WRAP) -> alt.Title:
    """A chart title wrapped to lines of `width` characters (Streamlit cuts a title at the
    container's width less 40 px), the subtitle (smaller type) at 1.3 × width."""
    options: dict = {"text": wrap(text, width).split("\n"), "anchor": "start"}
    if subtitle:
        parts = [subtitle] if isinstance(subtitle, str) else list(subtitle)
        options["subtitle"] = [line for part in parts for line in wrap(part, int(width * 1.3)).split("\n")]
    return alt.Title(**options)


def inline(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> alt.InlineData:
    """The rows as inline JSON values, with only `columns`: no row limit, no unused fields."""
    chosen = frame if columns is None else frame[list(columns)]
    return alt.InlineData(values=alt.to_values(chosen)["values"])


def wrapped_names(names: Iterable[str], width: int = WRAP) -> dict[str, str]:
    """Each name → its wrapped form (what a category axis shows), in order."""
    return {name: wrap(name, width) for name in dict.fromkeys(str(n) for n in names)}


def symmetric_extent(values: Iterable[float], cap: float | None = None) -> float:
    """The largest |value| (within cap), for a colour scale centred on 0; 1 when all are 0."""
    finite = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    extent = float(np.abs(finite).max()) if finite.size else 0.0
    if cap is not None:
        extent = min(extent, cap)
    return extent or 1.0


def _nice_ticks(extent: float) -> list[float]:
    """Round values from −extent to +extent, 0 and two or three each side (0.5, 1 / 1, 2, 3 …)."""
    for step in (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0):
        if extent / step <= 3:
            count = math.floor(extent / step + 1e-9)
            return [round(i * step, 6) for i in range(-count, count + 1)]
    return [-extent, 0.0, extent]


def gradient_legend(title_text: str, extent: float, *, clamped: bool = False, signed: bool = True) -> alt.Legend:
    """A colour legend with round, readable ticks from −extent to +extent (0 as "0"); with
    `clamped`, the ends read "≤ −3" and "≥ +3" (the colours stop there)."""
    values = _nice_ticks(extent)
    fmt = "+.2~f" if signed else ".2~f"
    label = f"datum.value == 0 ? '0' : format(datum.value, '{fmt}')"
    if clamped:
        label = (f"datum.value <= {-extent} ? '≤ ' + format(datum.value, '{fmt}') : "
                 f"datum.value >= {extent} ? '≥ ' + format(datum.value, '{fmt}') : {label}")
    return alt.Legend(title=title_text, values=values, labelExpr=label, labelFontSize=LABEL_FONT,
                      gradientLength=160, labelOverlap=False, direction="vertical")
