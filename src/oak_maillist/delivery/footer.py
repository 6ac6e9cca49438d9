"""The list footer in a post: appended to the text parts readers see as the body (plain and
HTML, in their own charset and transfer encoding), or, where the structure forbids touching
them (signed, encrypted, unknown), added beside the body as a part of its own."""

from __future__ import annotations

import base64
import codecs
import html
import quopri
import re
from email.message import EmailMessage, Message

from oak_maillist.delivery.mime import POLICY, field_name, flatten, multipart, parse, split_fields

_URL = re.compile(r"https?://[^\s<>\"]+")
_HTML_END = (re.compile(rb"</body\s*>", re.IGNORECASE), re.compile(rb"</html\s*>", re.IGNORECASE))
_TRANSFER_ENCODINGS = frozenset({"7bit", "8bit", "binary", "quoted-printable", "base64"})


class Footer:
    """The footer text and, when personalised, the marker standing for the link."""

    def __init__(self, text: str, marker: str = "") -> None:
        self.text = text.replace("\r\n", "\n").strip("\n")
        self.marker = marker
        self.spliceable = True  # False once the marker went into an encoded (QP/base64) part

    def encoded_into(self, transfer_encoding: str, data: bytes) -> None:
        if self.marker and transfer_encoding in ("quoted-printable", "base64"):
            self.spliceable = self.spliceable and self.marker.encode() not in data

    def as_html(self) -> str:
        escaped = html.escape(self.text)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        if self.marker:
            linked = linked.replace(self.marker, f'<a href="{self.marker}">{self.marker}</a>')
        return (
            f'\n<div class="list-footer"><hr>\n{linked.replace(chr(10), "<br>" + chr(10))}</div>\n'
        )


def add_footer(message: bytes, footer: Footer) -> bytes:
    """The footer in the body text where the structure allows it, else beside it."""
    try:
        tree = parse(message)
        targets = _targets(tree)
        if targets is None and tree.get_content_type() == "multipart/mixed" and tree.is_multipart():
            tree.attach(footer_part(footer))
            return flatten(tree)
        if targets and all(_append(part, footer) for part in targets):
            return flatten(tree)
    except Exception:  # noqa: S110 - a part we cannot rewrite safely: leave it and wrap instead
        pass
    footer.spliceable = True  # nothing of a failed attempt is kept
    return _wrap_mixed(message, footer)


def _targets(node: Message) -> list[Message] | None:
    """The text parts readers see as the body, or None when there is no such part to edit."""
    ctype = node.get_content_type()
    if node.is_multipart():
        children = [child for child in node.get_payload() if isinstance(child, Message)]
        if ctype == "multipart/alternative":
            found = [part for child in children for part in _targets(child) or []]
            return found or None
        if ctype in ("multipart/mixed", "multipart/related") and children:
            return _targets(children[0])  # the first part is the body (RFC 2046 §5.1.3)
        return None  # signed, encrypted, report, digest ...: never touched (RFC 1847)
    if ctype in ("text/plain", "text/html") and node.get_content_disposition() != "attachment":
        return [node]
    return None


def _append(part: Message, footer: Footer) -> bool:
    encoding = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    charset = part.get_content_charset() or "us-ascii"
    data = part.get_payload(decode=True)
    if encoding not in _TRANSFER_ENCODINGS or not isinstance(data, bytes):
        return False
    result = _with_footer(data, charset, footer, part.get_content_subtype() == "html")
    if result is None:
        return False
    new, new_charset = result
    if new_charset != charset:
        part.set_param("charset", new_charset)
    if encoding == "7bit" and not new.isascii():
        encoding = "quoted-printable"  # the part was 7-bit clean: keep it so
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = encoding
    footer.encoded_into(encoding, new)
    if encoding == "base64":
        part.set_payload(base64.encodebytes(new).decode("ascii"))
    elif encoding == "quoted-printable":
        part.set_payload(quopri.encodestring(new.replace(b"\r\n", b"\n")).decode("ascii"))
    else:
        part.set_payload(new)
    return True


def _with_footer(
    data: bytes, charset: str, footer: Footer, is_html: bool
) -> tuple[bytes, str] | None:
    """The part's bytes with the footer added, and the charset they are now in."""
    try:
        codec = codecs.lookup(charset).name
        ascii_compatible = "</body>\n".encode(codec) == b"</body>\n"
    except (LookupError, UnicodeError):
        return None
    nl = b"\r\n" if b"\r\n" in data or b"\n" not in data else b"\n"
    text = footer.as_html() if is_html else footer.text
    if ascii_compatible:
        try:
            snippet = text.encode(codec, "xmlcharrefreplace" if is_html else "strict")
            return _insert(data, snippet.replace(b"\n", nl), nl, is_html), charset
        except UnicodeEncodeError:
            pass
    try:  # re-encode the part in UTF-8: the footer does not fit its charset
        body = data.decode(codec)
    except UnicodeDecodeError:
        return None
    utf8 = body.encode("utf-8")
    return _insert(utf8, text.encode("utf-8").replace(b"\n", nl), nl, is_html), "utf-8"


def _insert(data: bytes, snippet: bytes, nl: bytes, is_html: bool) -> bytes:
    if is_html:
        for end in _HTML_END:
            matches = list(end.finditer(data))
            if matches:
                at = matches[-1].start()
                return data[:at] + snippet + data[at:]
    ends = data.endswith(nl)
    core = data if ends or not data else data + nl
    return core + snippet.strip(b"\r\n") + (nl if ends else b"")


def footer_part(footer: Footer) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    encoding = "7bit" if footer.text.isascii() else "quoted-printable"
    part.set_content(footer.text + "\n", charset="utf-8", cte=encoding, disposition="inline")
    del part["MIME-Version"]  # a body part, not a message
    footer.encoded_into(encoding, footer.text.encode())
    return part


def _wrap_mixed(message: bytes, footer: Footer) -> bytes:
    """The original body, untouched with its Content-* fields, then the footer as a part."""
    fields, body = split_fields(message)
    content = [f for f in fields if field_name(f).startswith(b"content-")]
    others = [f for f in fields if f not in content and field_name(f) != b"mime-version"]
    original = b"".join(content) + b"\r\n" + body
    return multipart(others, [original, flatten(footer_part(footer))], message)
