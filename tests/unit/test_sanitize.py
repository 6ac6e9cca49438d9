"""Archive HTML is made safe to show; HTML-only mail is read as text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from oak_maillist.mail.sanitize import html_to_text, sanitize_html

REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("html", "safe"),
    [
        ("<p>hi<script>alert(1)</script></p>", "<p>hi</p>"),
        ('<p onclick="steal()" onmouseover=x>hi</p>', "<p>hi</p>"),
        ('<img src="https://e.test/x.png" onerror="steal()">', '<img src="https://e.test/x.png">'),
        ('<svg onload="alert(1)"><circle/></svg>ok', "ok"),
        ("<style>p { color: red }</style><p>x</p>", "<p>x</p>"),
        ('<link rel="stylesheet" href="https://e.test/x.css">x', "x"),
        ('<iframe src="https://e.test/"></iframe>x', "x"),
        ('<form action="https://e.test/"><input name="pw">x</form>', "x"),
        ('<object data="x.swf">fallback</object><embed src="x.swf">', "fallback"),
        ('<meta http-equiv="refresh" content="0;url=https://e.test/">x', "x"),
        ('<base href="https://evil.test/">x', "x"),
        ("<title>Subject line</title><p>x</p>", "<p>x</p>"),
        ("<!-- hidden --><p>x</p>", "<p>x</p>"),
        ('<div id="x" class="y">d</div>', "<div>d</div>"),
    ],
)
def test_active_and_foreign_content_is_removed(html: str, safe: str) -> None:
    assert sanitize_html(html) == safe


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "jav&#x09;ascript:alert(1)",
        " javascript:alert(1)",
        "vbscript:x",
        "data:text/html;base64,PHNjcmlwdD4=",
        "/api/v1/lists",
        "//evil.test/x",
        "#top",
    ],
)
def test_links_only_keep_absolute_safe_urls(href: str) -> None:
    assert sanitize_html(f'<a href="{href}">x</a>') == f"<a {REL}>x</a>"


@pytest.mark.parametrize(
    "href", ["https://e.test/a?b=1&amp;c=2", "http://e.test/", "mailto:dev@e.test"]
)
def test_links_keep_safe_urls_and_get_rel(href: str) -> None:
    html = f'<a href="{href}" target="_blank" rel="opener">x</a>'
    assert sanitize_html(html) == f'<a href="{href}" {REL}>x</a>'


@pytest.mark.parametrize(
    ("src", "kept"),
    [
        ("https://e.test/x.png", True),
        ("HTTP://e.test/x.png", True),
        ("cid:logo@e.test", True),
        ("data:image/png;base64,iVBORw0KGgo=", False),
        ("javascript:alert(1)", False),
        ("mailto:a@e.test", False),
        ("/x.png", False),
    ],
)
def test_images_keep_only_remote_or_cid_sources(src: str, kept: bool) -> None:
    expected = f'<img src="{src}" alt="a">' if kept else '<img alt="a">'
    assert sanitize_html(f'<img src="{src}" alt="a">') == expected


def test_inline_styles_keep_layout_but_nothing_that_loads_or_floats() -> None:
    html = (
        '<p style="color: red; position: fixed; z-index: 9;'
        ' background-image: url(https://t.test/x); font-weight: bold">s</p>'
    )
    assert sanitize_html(html) == '<p style="color:red;font-weight:bold">s</p>'


def test_mail_layout_markup_survives() -> None:
    html = (
        '<table border="0" cellpadding="2" width="600" onmouseover="x">'
        '<tr><td bgcolor="#ffffff" valign="top"><font color="red" face="Arial">f</font></td>'
        "</tr></table>"
    )
    assert sanitize_html(html) == (
        '<table border="0" cellpadding="2" width="600"><tbody><tr>'
        '<td bgcolor="#ffffff" valign="top"><font color="red" face="Arial">f</font></td>'
        "</tr></tbody></table>"
    )


def test_broken_input_is_repaired_not_refused() -> None:
    assert sanitize_html("a\x00b \ud800 <b>open") == "ab \ufffd <b>open</b>"


def test_html_is_read_as_laid_out_text() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style><script>var a;</script></head><body>"
        "<p>x &amp; y &lt;z&gt; &eacute;</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    assert html_to_text(html) == "x & y <z> é\n\n  * one\n  * two\na  b\n"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ("   ", ""),
        ("<p></p>", ""),
        ('<?xml version="1.0" encoding="utf-8"?><p>x</p>', "x\n"),
        ("\x00<p>a\x00b</p>\ud800", "ab\n\n\ufffd"),
        ("<div>" * 5000 + "deep &amp; down" + "</div>" * 5000, "deep & down"),
    ],
)
def test_html_to_text_takes_anything(html: str, text: str) -> None:
    assert html_to_text(html) == text


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([*"<>/=\"' ab&;#:\x00", "script", "on", "javascript"])).map("".join)
)
@example('="javascript')  # text, not an attribute: harmless, and must not fail the check
@example("<a href=javascript:x>a</a>")
def test_no_input_gets_a_script_through(html: str) -> None:
    safe = sanitize_html(html)
    tags = _Tags()
    tags.feed(safe)
    tags.close()
    for tag, attrs in tags.seen:
        assert tag not in {"script", "style", "iframe", "object", "embed"}
        for name, value in attrs:
            assert not name.startswith("on"), (name, safe)
            assert not (value or "").strip().lower().startswith("javascript"), (value, safe)
    html_to_text(html).encode("utf-8")


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))
