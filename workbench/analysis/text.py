"""Text typed by the analyst (cluster and component names, portraits), made safe to show.

A name is plain text wherever it appears. Streamlit renders st.markdown, st.caption,
st.title, st.info and widget labels as Markdown (GitHub-flavoured, plus its own
`:color[…]`, `:material/…:`, emoji shortcodes and `$…$` maths), and HTML pages parse
what they are given: a name like `=HYPERLINK("http://x","y")`, `![x](http://host/p.png)`,
`**bold**` or `<!--` must show as typed, not as a link, an image, bold type or the start
of a comment that swallows the rest of the page.

* `markdown` — for any text placed inside Markdown (Streamlit or a .md file);
  `markdown_block` for text of several lines (a portrait).
* `html` — for text placed in HTML (element content or a quoted attribute).
* `script_json` — for JSON placed inside an HTML <script> element.

Vega-Lite draws titles, axis labels and legends as SVG or canvas text, which is already
plain; its tooltips escape HTML (vega-tooltip's default), so names shown as titles, labels
and data values need no escaping. A name used as a field name does: Vega-Lite reads "."
and "[…]" there as nested access, so the chart builders pass it through
`workbench.charts.layout.field` (and keep the plain name for the title).
"""
from __future__ import annotations

import html as _html
import json
import re
from typing import Any

__all__ = ["html", "markdown", "markdown_block", "script_json"]

# CommonMark shows a backslash-escaped ASCII punctuation character literally. These start
# Markdown anywhere in a line (emphasis, code, links, images, HTML, entities, tables,
# strike-through, maths, headings, quotes, Streamlit's :colour[…] and :material/icons:); list
# markers ("-", "+", "1.", "1)") only at the start of a line, so they are escaped only there.
_ANYWHERE = str.maketrans({c: "\\" + c for c in "\\`*_[]<>&|~$!#:{}/"})
_LINE_START = re.compile(r"^([-+=]|\d+(?=[.)]))")
# GFM turns bare web and e-mail addresses into links whatever their backslashes; an
# invisible word joiner (U+2060) after "www", inside "://" and after "@" stops it.
_WORD_JOINER = "\u2060"
_WWW = re.compile(r"(?i)\bwww(?=\.)")


def _one_line(text: Any) -> str:
    value = "" if text is None else str(text)
    return re.sub(r"[\r\n]+", " ", value).strip()


def markdown(text: Any) -> str:
    """`text` as Markdown that renders as exactly that text, on one line.

    The punctuation that starts Markdown is backslash-escaped (so no emphasis, link, image,
    heading, list, quote, table, HTML, entity, shortcode, colour or maths can start; the
    rest, such as "." and "(", stays as typed, so a .md file reads well), bare web and
    e-mail addresses get an invisible word joiner (so GFM does not link them), and line
    breaks become spaces and the ends are trimmed (a name is one line; a break could start
    a heading, four leading spaces a code block; HTML shows neither anyway).
    """
    escaped = _one_line(text).translate(_ANYWHERE)
    escaped = _LINE_START.sub(lambda found: found.group(0) + "\\" if found.group(0)[0].isdigit()
                              else "\\" + found.group(0), escaped)
    escaped = _WWW.sub(lambda found: found.group(0) + _WORD_JOINER, escaped)
    return escaped.replace("\\:\\/\\/", "\\:" + _WORD_JOINER + "\\/\\/").replace("@", "@" + _WORD_JOINER)


def markdown_block(text: Any) -> str:
    """Several lines of plain text (a portrait) as Markdown that renders as that text: each
    line escaped as by `markdown`, line breaks kept as hard breaks, blank lines as paragraphs."""
    paragraphs = re.split(r"\n\s*\n", ("" if text is None else str(text)).replace("\r\n", "\n").replace("\r", "\n"))
    blocks = ["  \n".join(markdown(line) for line in paragraph.split("\n") if line.strip())
              for paragraph in paragraphs]
    return "\n\n".join(block for block in blocks if block)


def html(text: Any) -> str:
    """`text` for HTML element content or a quoted attribute: & < > " ' as entities."""
    return _html.escape("" if text is None else str(text), quote=True)


def script_json(value: Any) -> str:
    """JSON for inside a <script> element: <, > and & as \\u escapes, so no `</script>`,
    `<!--` or `<script` in the data can end or change the element (JSON.parse reads them
    back as the same characters)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
