"""Archive HTML made safe to show (nh3 allow-list) and HTML read as text (inscriptis)."""

from __future__ import annotations

import html as html_lib
import re

import nh3
from inscriptis import get_text

from oak_maillist.mail.headers import repair_text

# Mail HTML still leans on presentational markup: keep it, it cannot run anything.
_TAGS = nh3.ALLOWED_TAGS | {"font", "tfoot", "big", "address", "section", "main"}

_LAYOUT = {"align", "valign", "width", "height", "bgcolor", "border", "nowrap"}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(allowed) for tag, allowed in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"style", "dir", "lang", "title"},
    "a": {"href", "hreflang", "name"},
    "img": {"src", "alt", "border", "hspace", "vspace"} | _LAYOUT,
    "font": {"color", "face", "size"},
    "table": nh3.ALLOWED_ATTRIBUTES["table"] | {"cellpadding", "cellspacing"} | _LAYOUT,
    "td": nh3.ALLOWED_ATTRIBUTES["td"] | _LAYOUT,
    "th": nh3.ALLOWED_ATTRIBUTES["th"] | _LAYOUT,
    "tr": nh3.ALLOWED_ATTRIBUTES["tr"] | _LAYOUT,
    "tbody": nh3.ALLOWED_ATTRIBUTES["tbody"] | _LAYOUT,
    "div": {"align"},
    "p": {"align"},
    "hr": nh3.ALLOWED_ATTRIBUTES["hr"] | {"noshade", "color"},
}

# Tags whose content is dropped with them: code, styling, or text meant only for machines.
_DROP_WITH_CONTENT = {"script", "style", "title", "template", "iframe", "noembed", "noframes"}

# Inline styles may carry layout but nothing that loads a resource (url()) or
# lifts content out of the message box (position, z-index).
_STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-variant",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "white-space",
    "vertical-align",
    "direction",
    "display",
    "list-style-type",
    "table-layout",
    "border-collapse",
    "border-spacing",
    "width",
    "height",
    "min-width",
    "max-width",
    "min-height",
    "max-height",
    *(
        f"{box}{side}"
        for box in ("margin", "padding")
        for side in ("", "-top", "-right", "-bottom", "-left")
    ),
    *(
        f"border{side}{part}"
        for side in ("", "-top", "-right", "-bottom", "-left")
        for part in ("", "-color", "-style", "-width")
    ),
    "border-radius",
}

_IMAGE_SCHEMES = ("http:", "https:", "cid:")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Remote images stay (the viewer decides whether to load them); inline data: and
    # other schemes do not.
    if tag == "img" and attribute == "src" and not value.strip().lower().startswith(_IMAGE_SCHEMES):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_DROP_WITH_CONTENT,
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https", "mailto", "cid"},
    url_relative="deny",
    filter_style_properties=_STYLE_PROPERTIES,
    strip_comments=True,
)


def sanitize_html(html: str) -> str:
    """HTML with only allow-listed tags, attributes, styles and URL schemes left."""
    return _CLEANER.clean(_printable(html))


def html_to_text(html: str) -> str:
    """The text a reader sees in `html`, laid out (tables, lists) by inscriptis."""
    safe = _printable(html)
    try:
        text = str(get_text(safe))
    except Exception:  # lxml refuses some inputs; keep the words at least
        text = ""
    # lxml also gives up silently (nesting past its depth limit): never lose the words.
    return text if text.strip() else _words(safe).strip()


def _words(html: str) -> str:
    return html_lib.unescape(nh3.clean(html, tags=set(), clean_content_tags=_DROP_WITH_CONTENT))


def _printable(text: str) -> str:
    """Text both parsers accept: no lone surrogates, no C0 controls but tab and newlines."""
    return _CONTROL.sub("", repair_text(text))
