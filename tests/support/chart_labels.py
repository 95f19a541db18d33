"""Render a chart as the app draws it, and read back the labels a person would see.

The app draws every spec with `st.vega_lite_chart(spec, width="stretch")` after dropping the
spec's `config` (`_spec` in workbench/app/chart_specs.py). Streamlit then (1) adds an
`autosize` in Python (`_prepare_vega_lite_spec`), and (2) in the browser merges its own theme
under the spec's config and sets the top-level width to the container's width. The theme's axis
settings are what hide labels: `labelOverlap: true` and `labelLimit: 100` on every axis, with
12 px labels. `as_streamlit_draws` repeats those steps so that vl-convert renders what the
browser shows; `labels` reads the SVG back: every axis, legend and header label with its
position, its visible text (Vega truncates with "…" past labelLimit) and whether it overlaps
another.
"""
from __future__ import annotations

import copy
import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import vl_convert
from streamlit.elements.vega_charts import _prepare_vega_lite_spec

# Streamlit 1.67's Vega-Lite theme (frontend CustomTheme: rem at 16 px), the parts that
# decide whether a label shows and how big it is.
STREAMLIT_THEME = {
    "font": "sans-serif",
    "autosize": {"type": "fit", "contains": "padding"},
    "title": {"align": "left", "anchor": "start", "fontSize": 16, "orient": "top", "offset": 26},
    "header": {"titleFontSize": 16, "labelFontSize": 12},
    "axis": {
        "labelFontSize": 12, "titleFontSize": 14, "ticks": False, "domain": False, "labelFlush": True,
        "labelFlushOffset": 1, "labelBound": False, "labelLimit": 100, "titlePadding": 16, "labelPadding": 16,
        "labelSeparation": 4, "labelOverlap": True,
    },
    "legend": {"labelFontSize": 14, "titleFontSize": 14, "titlePadding": 8, "labelPadding": 16, "columnPadding": 8,
               "rowPadding": 4, "padding": 8, "symbolStrokeWidth": 4},
    "view": {"columns": 1, "strokeWidth": 0, "stroke": "transparent", "continuousHeight": 350,
             "continuousWidth": 400},
    "concat": {"columns": 1},
    "facet": {"columns": 1},
    "bar": {"binSpacing": 4, "discreteBandSize": {"band": 0.85}},
    "axisDiscrete": {"grid": False},
}
# Width of a character of the default sans-serif at 1 px, an upper estimate (DejaVu Sans).
CHAR_WIDTH = 0.62
ELLIPSIS = "…"
LINE_JOIN = " "


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def as_streamlit_draws(spec: dict, width: int) -> dict:
    """The spec as the browser hands it to Vega for a container `width` px wide."""
    spec = copy.deepcopy(spec)
    spec.pop("config", None)  # what workbench/app/chart_specs.py's _spec does
    spec = _prepare_vega_lite_spec(spec, use_container_width=True)
    spec["config"] = _merge(STREAMLIT_THEME, spec.get("config", {}))
    if spec.get("title"):
        title = {"text": spec["title"]} if isinstance(spec["title"], (str, list)) else dict(spec["title"])
        title.setdefault("limit", max(width - 40, 0))
        spec["title"] = title
    spec["width"] = width
    return spec


def render(spec: dict, width: int) -> str:
    """SVG of the spec drawn by the app in a container `width` px wide."""
    return vl_convert.vegalite_to_svg(json.dumps(as_streamlit_draws(spec, width)))


def png(spec: dict, width: int, path) -> None:
    """The same drawing as a PNG file (for looking at it)."""
    with open(path, "wb") as out:
        out.write(vl_convert.vegalite_to_png(json.dumps(as_streamlit_draws(spec, width)), scale=1))


@dataclass(frozen=True)
class Label:
    text: str  # as drawn, its lines joined by spaces: a label cut at its limit ends with "…"
    x: float
    y: float
    angle: float  # degrees, as Vega rotates it
    font_size: float
    anchor: str  # start / middle / end
    lines: int = 1
    line_height: float = 0.0

    @property
    def truncated(self) -> bool:
        return ELLIPSIS in self.text

    @property
    def width(self) -> float:
        longest = max(len(part) for part in self.parts) if self.parts else 0
        return CHAR_WIDTH * self.font_size * longest

    @property
    def parts(self) -> list[str]:
        return self.text.split(LINE_JOIN)

    @property
    def thickness(self) -> float:
        """Px across the text's lines: one font size, plus a line height per extra line."""
        return self.font_size + (self.lines - 1) * self.line_height


@dataclass
class Chart:
    """The labels of one rendered chart: axes by their aria description, legends, headers."""

    width: float
    height: float
    axes: list[tuple[str, list[Label]]]  # ("X-axis titled …", labels) in drawing order
    legends: list[list[Label]]
    headers: list[Label]
    titles: list[Label]  # title and subtitle lines

    def axis(self, prefix: str) -> list[Label]:
        """Every label of the axes whose description starts with prefix ("X-axis", "Y-axis")."""
        return [label for name, labels in self.axes if name.startswith(prefix) for label in labels]

    def texts(self, prefix: str) -> list[str]:
        return [label.text for label in self.axis(prefix)]


_SVG = "{http://www.w3.org/2000/svg}"
_TRANSLATE = re.compile(r"translate\(([-\d.e]+),\s*([-\d.e]+)\)")
_ROTATE = re.compile(r"rotate\(([-\d.e]+)\)")


def _label(node: ET.Element, dx: float, dy: float) -> Label | None:
    spans = node.findall(f"{_SVG}tspan")
    parts = [span.text or "" for span in spans] if spans else [node.text or ""]
    if float(node.get("opacity", "1")) == 0 or not "".join(parts).strip():
        return None  # Vega hides an overlapping label by making it transparent
    transform = node.get("transform", "")
    first = _TRANSLATE.search(transform)
    x, y = (float(first.group(1)), float(first.group(2))) if first else (0.0, 0.0)
    rotation = _ROTATE.search(transform)
    line_height = float(spans[1].get("dy", "0")) if len(spans) > 1 else 0.0
    return Label(LINE_JOIN.join(parts), x + dx, y + dy, float(rotation.group(1)) if rotation else 0.0,
                 float(node.get("font-size", "10px").rstrip("px")), node.get("text-anchor", "start"),
                 len(parts), line_height)


def _offset(node: ET.Element) -> tuple[float, float]:
    found = _TRANSLATE.search(node.get("transform", ""))
    return (float(found.group(1)), float(found.group(2))) if found else (0.0, 0.0)


def labels(svg: str) -> Chart:
    """Read every axis, legend and header label out of a Vega SVG, in page coordinates."""
    root = ET.fromstring(svg)
    axes: list[tuple[str, list[Label]]] = []
    legends: list[list[Label]] = []
    headers: list[Label] = []
    titles: list[Label] = []

    def walk(node: ET.Element, dx: float, dy: float, axis: list[Label] | None, legend: list[Label] | None) -> None:
        ox, oy = _offset(node) if node.tag == f"{_SVG}g" else (0.0, 0.0)
        dx, dy = dx + ox, dy + oy
        classes = node.get("class", "").split()
        if "role-axis" in classes:
            axis = []
            axes.append((node.get("aria-label", ""), axis))
        elif "role-legend" in classes:
            legend = []
            legends.append(legend)
        if node.tag == f"{_SVG}text":
            parent_role = node.get("_role", "")
            label = _label(node, dx - ox, dy - oy)
            if label is not None:
                if parent_role == "axis-label" and axis is not None:
                    axis.append(label)
                elif parent_role == "legend-label" and legend is not None:
                    legend.append(label)
                elif parent_role == "header-label":
                    headers.append(label)
                elif parent_role in ("title-text", "title-subtitle"):
                    titles.append(label)
            return
        role = next((c[len("role-"):] for c in classes if c.startswith("role-")), "")
        for child in node:
            if child.tag == f"{_SVG}text":
                child.set("_role", role)
            walk(child, dx, dy, axis, legend)

    walk(root, 0.0, 0.0, None, None)
    return Chart(float(root.get("width")), float(root.get("height")), axes, legends, headers, titles)


def overlaps(found: list[Label], gap: float = 0.0) -> list[tuple[str, str]]:
    """Pairs of neighbouring labels of one axis that cover each other.

    Labels along a y axis are horizontal and stacked: neighbours must be a font size apart.
    Labels along an x axis share a baseline: rotated ones must be a font size apart across
    their slant (distance × |sin angle|), level ones must not run into each other (their
    estimated widths).
    """
    if len(found) < 2:
        return []
    xs = [label.x for label in found]
    ys = [label.y for label in found]
    along_x = (max(xs) - min(xs)) >= (max(ys) - min(ys))
    ordered = sorted(found, key=(lambda label: label.x) if along_x else (lambda label: label.y))
    clashes = []
    for a, b in itertools.pairwise(ordered):
        size = (a.thickness + b.thickness) / 2
        if not along_x:
            apart = abs(b.y - a.y) >= size - 0.5 + gap
        elif abs(a.angle) % 180 > 15:
            apart = abs(b.x - a.x) * abs(math.sin(math.radians(a.angle))) >= size - 0.5 + gap
        else:
            apart = abs(b.x - a.x) >= (a.width + b.width) / 2 + gap
        if not apart:
            clashes.append((a.text, b.text))
    return clashes


_EXPONENT = re.compile(r"\de[+-]?\d")
# A narrower estimate than CHAR_WIDTH for the clipping check, so it flags only real overflow.
_NARROW = 0.5


def _ends(label: Label) -> list[tuple[float, float]]:
    """The two ends of a label's longest line, from its anchor along its angle."""
    length = _NARROW * label.font_size * max((len(p) for p in label.parts), default=0)
    dx, dy = math.cos(math.radians(label.angle)) * length, math.sin(math.radians(label.angle)) * length
    before = {"start": 0.0, "middle": 0.5, "end": 1.0}.get(label.anchor, 0.0)
    return [(label.x - before * dx, label.y - before * dy), (label.x + (1 - before) * dx, label.y + (1 - before) * dy)]


def problems(spec: dict, width: int, *, axes: dict[str, list[str]] | None = None, titles: list[str] = (),
             headers: list[str] = ()) -> list[str]:
    """What a person would miss in the chart drawn `width` px wide, in words; [] when it is readable.

    axes: {"X-axis" / "Y-axis": the category labels that axis must show (every one, in
    full)}; titles / headers: texts that must appear whole among the title and header lines.
    Everywhere: no label cut short, no category labels covering each other, no number in
    scientific notation, no label outside the drawing, a continuous axis with at least two
    labels, a chart no wider than its container.
    """
    chart = labels(render(spec, width))
    found: list[str] = []
    if chart.width > width + 1:
        found.append(f"{chart.width:.0f} px wide in a {width} px container")
    every = [label for _, axis in chart.axes for label in axis] + [l for legend in chart.legends for l in legend] \
        + chart.titles + chart.headers
    found += [f"cut short: {label.text!r}" for label in every if label.truncated]
    found += [f"scientific notation: {label.text!r}" for label in every if _EXPONENT.search(label.text)]
    for label in every:
        for x, y in _ends(label):
            if not (-3 <= x <= chart.width + 3 and -3 <= y <= chart.height + 3):
                found.append(f"outside the drawing: {label.text!r} reaches ({x:.0f}, {y:.0f})")
                break
    for name, axis in chart.axes:
        if "discrete" in name:
            found += [f"overlapping: {a!r} and {b!r}" for a, b in overlaps(axis)]
        elif axis and len(axis) < 2:
            found.append(f"only {len(axis)} label on {name[:40]!r}")
    for prefix, expected in (axes or {}).items():
        shown = {label.text for label in chart.axis(prefix)}
        missing = [text for text in expected if text not in shown]
        if missing:
            found.append(f"{prefix} misses {len(missing)} of {len(expected)}: {missing[:5]}")
    texts = " | ".join(label.text for label in chart.titles + chart.headers)
    found += [f"title or header missing: {text!r}" for text in [*titles, *headers] if text not in texts]
    return found


# The pages the label tests draw on (px) and the k they draw, on the census.
PAGES = (700, 1400)
KS = (7, 12)


def assert_shown(spec: dict, width: int, **expected) -> None:
    """Fails with every label `problems` finds missing or cut."""
    found = problems(spec, width, **expected)
    assert not found, "\n".join(found)
