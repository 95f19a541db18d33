"""Names as plain text: Markdown and HTML escaping, checked by parsing what comes out.
"""
from __future__ import annotations

import html as html_lib
import json
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from workbench.analysis import text

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "![x](http://host/p.png)",
    "<!--",
    "**bold**",
    "<b>bold</b> &amp; <script>alert(1)</script>",
    ":red[alarm] :smile: :material/home:",
    "$x^2$ and \\(y\\)",
    "# heading",
    "- item",
    "1. first",
    "> quote",
    "`code`",
    "~~strike~~",
    "a_b_c *d* __e__",
    "[link](http://x) [ref]",
    "| a | b |",
    "www.example.com, me@example.com, https://x.org",
    "back\\slash",
    "St. Louis & Co.",
    "   spaced   ",
    "    four spaces: a code block in Markdown",
    "",
]


class _Text(HTMLParser):
    """The visible text of an HTML fragment and the tags in it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.parts.append(data)

    def handle_comment(self, data):
        self.tags.append("!--")


def _rendered(markdown: str) -> _Text:
    parser = _Text()
    parser.feed(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))
    parser.close()
    return parser


@pytest.mark.parametrize("name", HOSTILE)
def test_markdown_escaping_renders_the_name_literally(name):
    escaped = text.markdown(name)
    rendered = _rendered(escaped)
    assert set(rendered.tags) <= {"p"}, rendered.tags  # no link, image, emphasis, heading, list, comment …
    shown = "".join(rendered.parts).replace("\u2060", "").strip()
    assert shown == name.strip()


def test_markdown_escaping_inside_a_sentence_and_emphasis():
    # The pages put names inside their own Markdown: the name stays literal, the page's bold stays bold.
    rendered = _rendered(f"Cluster **{text.markdown('**x** [y](z)')}** is large.")
    assert rendered.tags == ["p", "strong"]
    assert "".join(rendered.parts).strip() == "Cluster **x** [y](z) is large."


def test_markdown_escaping_breaks_bare_addresses_and_line_breaks():
    # GFM (Streamlit's Markdown) links bare addresses whatever their backslashes: a word joiner stops it.
    escaped = text.markdown("www.x.org me@x.org http://x.org")
    assert re.search(r"www\u2060", escaped) and "@\u2060" in escaped and ":\u2060" in escaped
    assert text.markdown("two\r\nlines\nhere") == "two lines here"
    # Streamlit replaces :material/icon: unless its colons and slash are escaped (checked in Chromium).
    assert text.markdown(":material/home:") == "\\:material\\/home\\:"
    # What does not start Markdown stays as typed, so a Markdown file reads well.
    assert text.markdown("St. Louis (city), 12.5% = \"ok\"?") == "St. Louis (city), 12.5% = \"ok\"?"
    assert text.markdown("- a - b") == "\\- a - b" and text.markdown("12. x 3.") == "12\\. x 3."
    assert text.markdown(None) == "" and text.markdown(7) == "7"


@pytest.mark.parametrize("name", HOSTILE)
def test_html_escaping_keeps_the_name_as_text(name):
    page = f"<p title=\"{text.html(name)}\">{text.html(name)}</p><p>after</p>"
    parser = _Text()
    parser.feed(page)
    parser.close()
    assert parser.tags == ["p", "p"]  # nothing opened a tag or a comment
    assert "".join(parser.parts) == name + "after"
    assert html_lib.unescape(text.html(name)) == name


def test_script_json_cannot_end_the_script_element():
    value = {"name": "</script><!--<script>&", "line": "\u2028"}
    payload = text.script_json(value)
    assert "<" not in payload and ">" not in payload and "&" not in payload
    assert json.loads(payload) == value
    with pytest.raises(ValueError):
        text.script_json({"x": float("nan")})  # not JSON: refused rather than written as NaN


def test_markdown_block_keeps_lines_and_paragraphs_literal():
    portrait = "# Not a heading\n    not code\n\n- not a list **x**\r\n\n\n"
    rendered = _rendered(text.markdown_block(portrait))
    assert rendered.tags == ["p", "br", "p"]
    assert [part.strip() for part in rendered.parts if part.strip()] == ["# Not a heading", "not code",
                                                                       "- not a list **x**"]
    assert text.markdown_block("") == text.markdown_block(None) == ""
