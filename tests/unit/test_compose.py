"""The list's outgoing message: headers, subject prefix, footer placement, DMARC, splicing."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import replace
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oak_maillist.delivery.compose import (
    DmarcAction,
    ListContext,
    RecipientContext,
    ReplyTo,
    for_recipient,
    prepare,
)

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "mime"
CTX = ListContext(
    name="Developers",
    address="dev@lists.example.org",
    list_id="dev.lists.example.org",
    subject_prefix="[dev]",
    footer="--\nDevelopers list\nhttps://lists.example.org/dev",
    help_url="https://lists.example.org/help",
    subscribe_url="https://lists.example.org/dev/join",
    archive_url="https://lists.example.org/dev/archive",
    permalink="https://lists.example.org/dev/archive/42",
)
RC = RecipientContext(unsubscribe_url="https://lists.example.org/u/tok123?l=dev&x=1")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

PLAIN = b"""\
Return-Path: <alice@example.com>
Delivered-To: dev@lists.example.org
X-Original-To: dev@lists.example.org
Received: from mx.example.com by lists.example.org; Mon, 1 Jan 2024 00:00:00 +0000
From: Alice Example <alice@example.com>
To: dev@lists.example.org
Bcc: secret@example.com
Subject: Build is green
Date: Mon, 1 Jan 2024 00:00:00 +0000
Message-ID: <post-1@example.com>
In-Reply-To: <root@example.com>
References: <root@example.com> <mid@example.com>
List-Id: Upstream <up.example.net>
List-Unsubscribe: <https://up.example.net/u>
Precedence: bulk
DKIM-Signature: v=1; a=rsa-sha256; d=lists.example.org; s=s1; h=from; bh=x; b=y
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=x; b=y
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hello all,
the build is green. \xe2\x9c\x93
"""


def _parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _compose(raw: bytes, ctx: ListContext = CTX, rc: RecipientContext = RC) -> bytes:
    return for_recipient(prepare(raw, ctx), rc)


def _text(part: Message) -> str:
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def _assert_crlf(data: bytes) -> None:
    assert b"\n" not in data.replace(b"\r\n", b"")
    head = data.split(b"\r\n\r\n", 1)[0]
    ours = [f for f in head.split(b"\r\n") if f.lower().startswith((b"list-", b"archived-at"))]
    assert all(len(line) <= 998 for line in ours)


def test_list_headers_are_added_and_upstream_ones_replaced() -> None:
    out = _compose(PLAIN)
    _assert_crlf(out)
    msg = _parse(out)
    assert msg.get_all("List-Id") == ["Developers <dev.lists.example.org>"]
    assert msg["List-Post"] == "<mailto:dev@lists.example.org>"
    assert msg["List-Help"] == (
        "<https://lists.example.org/help>, <mailto:dev-request@lists.example.org?subject=help>"
    )
    assert msg["List-Subscribe"].startswith(
        "<https://lists.example.org/dev/join>, <mailto:dev-join@"
    )
    assert msg["List-Archive"] == "<https://lists.example.org/dev/archive>"
    assert msg["Archived-At"] == "<https://lists.example.org/dev/archive/42>"
    assert msg.get_all("Precedence") == ["list"]
    assert msg.get_all("List-Unsubscribe") == [
        "<https://lists.example.org/u/tok123?l=dev&x=1>, "
        "<mailto:dev-leave@lists.example.org?subject=unsubscribe>"
    ]
    assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]


def test_private_headers_and_our_own_dkim_signature_are_removed() -> None:
    msg = _parse(_compose(PLAIN))
    for name in ("Return-Path", "Delivered-To", "X-Original-To", "Bcc"):
        assert name not in msg
    assert [s for s in msg.get_all("DKIM-Signature", []) if "d=example.com" in s]
    assert not [s for s in msg.get_all("DKIM-Signature", []) if "d=lists.example.org" in s]
    assert b"secret@example.com" not in _compose(PLAIN)
    assert msg["Received"].startswith("from mx.example.com")


def test_threading_headers_and_other_fields_keep_their_bytes() -> None:
    out = _compose(PLAIN)
    for line in (
        b"Message-ID: <post-1@example.com>\r\n",
        b"In-Reply-To: <root@example.com>\r\n",
        b"References: <root@example.com> <mid@example.com>\r\n",
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n",
        b"From: Alice Example <alice@example.com>\r\n",
    ):
        assert line in out


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Build is green", "[dev] Build is green"),
        ("Re: [dev] Build is green", "Re: [dev] Build is green"),
        ("[dev] Re: Build", "[dev] Re: Build"),
        ("RE: [DEV] shouting", "RE: [DEV] shouting"),
        ("Re: Build", "[dev] Re: Build"),
    ],
)
def test_subject_prefix_is_added_once(subject: str, expected: str) -> None:
    raw = PLAIN.replace(b"Subject: Build is green", f"Subject: {subject}".encode())
    assert _parse(_compose(raw))["Subject"] == expected


def test_prefix_survives_a_second_pass_unchanged() -> None:
    once = _compose(PLAIN)
    twice = _compose(once)
    assert _parse(twice)["Subject"] == "[dev] Build is green"


def test_encoded_subject_keeps_its_encoding_and_gets_the_prefix() -> None:
    raw = PLAIN.replace(b"Subject: Build is green", b"Subject: =?utf-8?b?5p6E5bu65oiQ5Yqf?=")
    out = _compose(raw)
    assert b"Subject: [dev] =?utf-8?b?5p6E5bu65oiQ5Yqf?=\r\n" in out
    assert _parse(out)["Subject"] == "[dev] 构建成功"


def test_non_ascii_prefix_is_encoded() -> None:
    out = _compose(PLAIN, replace(CTX, subject_prefix="[开发]"))
    assert _parse(out)["Subject"] == "[开发] Build is green"
    assert out.split(b"\r\n\r\n", 1)[0].isascii()


def test_missing_subject_gets_prefix_and_placeholder() -> None:
    raw = PLAIN.replace(b"Subject: Build is green\n", b"")
    assert _parse(_compose(raw))["Subject"] == "[dev] (no subject)"


def test_no_prefix_leaves_subject_bytes_alone() -> None:
    out = _compose(PLAIN, replace(CTX, subject_prefix=""))
    assert b"\r\nSubject: Build is green\r\n" in out


@pytest.mark.parametrize(
    ("mode", "address", "expected"),
    [
        (ReplyTo.NONE, "", ["Bob <bob@example.com>"]),
        (ReplyTo.LIST, "", ["dev@lists.example.org"]),
        (ReplyTo.EXPLICIT, "talk@example.org", ["talk@example.org"]),
    ],
)
def test_reply_to_modes(mode: ReplyTo, address: str, expected: list[str]) -> None:
    raw = PLAIN.replace(b"To: dev@", b"Reply-To: Bob <bob@example.com>\nTo: dev@")
    msg = _parse(_compose(raw, replace(CTX, reply_to=mode, reply_to_address=address)))
    assert msg.get_all("Reply-To") == expected


def test_plain_footer_is_appended_to_the_8bit_body_as_is() -> None:
    out = _compose(PLAIN)
    body = out.split(b"\r\n\r\n", 1)[1]
    assert body == (
        b"Hello all,\r\nthe build is green. \xe2\x9c\x93\r\n"
        b"--\r\nDevelopers list\r\nhttps://lists.example.org/dev\r\n"
    )
    assert _parse(out)["Content-Transfer-Encoding"] == "8bit"


LATIN1 = b"""\
From: =?iso-8859-1?q?Andr=E9?= <andre@example.fr>
To: dev@lists.example.org
Subject: caf\xe9
Message-ID: <l1@example.fr>
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

Un caf\xe9 cr\xe8me.
"""


def test_latin1_body_with_latin1_footer_stays_latin1() -> None:
    out = _compose(LATIN1, replace(CTX, footer="Liste d\u00e9veloppeurs"))
    msg = _parse(out)
    assert msg.get_content_charset() == "iso-8859-1"
    assert _text(msg) == "Un caf\u00e9 cr\u00e8me.\nListe d\u00e9veloppeurs\n"
    assert b"Un caf\xe9 cr\xe8me.\r\nListe d\xe9veloppeurs\r\n" in out


def test_latin1_body_with_a_footer_it_cannot_hold_is_reencoded_as_utf8() -> None:
    out = _compose(LATIN1, replace(CTX, footer="开发者列表"))
    msg = _parse(out)
    assert msg.get_content_charset() == "utf-8"
    assert _text(msg) == "Un caf\u00e9 cr\u00e8me.\n开发者列表\n"


def test_7bit_body_with_non_ascii_footer_becomes_quoted_printable() -> None:
    raw = LATIN1.replace(b"caf\xe9 cr\xe8me", b"cafe creme").replace(b"8bit", b"7bit")
    raw = raw.replace(b"iso-8859-1\n", b"utf-8\n")
    out = _compose(raw, replace(CTX, footer="Liste développeurs ✓"))
    msg = _parse(out)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert out.split(b"\r\n\r\n", 1)[1].isascii()
    assert _text(msg) == "Un cafe creme.\nListe développeurs ✓\n"


def test_mislabelled_8bit_body_is_not_transcoded_but_wrapped() -> None:
    raw = LATIN1.replace(b"charset=iso-8859-1", b"charset=us-ascii")
    out = _compose(raw, replace(CTX, footer="Liste développeurs"))
    msg = _parse(out)
    assert msg.get_content_type() == "multipart/mixed"
    first, second = msg.iter_parts()
    assert first.get_payload(decode=True) == b"Un caf\xe9 cr\xe8me.\r\n"
    assert _text(second).strip() == "Liste développeurs"


def test_base64_text_body_is_reencoded_as_base64() -> None:
    body = base64.encodebytes("Ünïcödé body\n".encode()).decode()
    raw = PLAIN.replace(b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: base64")
    raw = raw.split(b"\n\n", 1)[0] + b"\n\n" + body.encode()
    msg = _parse(_compose(raw))
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert _text(msg) == "Ünïcödé body\n--\nDevelopers list\nhttps://lists.example.org/dev\n"


ALTERNATIVE = b"""\
From: Alice <alice@example.com>
To: dev@lists.example.org
Subject: rich
Message-ID: <alt@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 time
--ALT
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 7bit

<html><body><p>Cafe time</p></BODY></html>
--ALT--
"""


def test_alternative_gets_text_and_html_footers() -> None:
    out = _compose(ALTERNATIVE, replace(CTX, footer="Dev & friends\nhttps://x.example/dev"))
    msg = _parse(out)
    plain, rich = msg.iter_parts()
    assert _text(plain) == "Café time\nDev & friends\nhttps://x.example/dev"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    html_text = _text(rich)
    assert "Dev &amp; friends<br>" in html_text
    assert '<a href="https://x.example/dev">https://x.example/dev</a>' in html_text
    assert html_text.index("list-footer") < html_text.index("</BODY>")
    assert rich["Content-Transfer-Encoding"] == "7bit"


def _mixed(
    inner_text: bytes = b"Content-Type: text/plain; charset=utf-8\n\nSee attached.\n",
) -> bytes:
    attachment = base64.encodebytes(PNG).decode().replace("\n", "\r\n").encode()
    return (
        b"From: Alice <alice@example.com>\nTo: dev@lists.example.org\nSubject: pic\n"
        b"Message-ID: <mix@example.com>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="MIX"\n\n--MIX\n'
        + inner_text
        + b'--MIX\nContent-Type: image/png; name="dot.png"\n'
        b'Content-Disposition: attachment; filename="dot.png"\n'
        b"Content-Transfer-Encoding: base64\n\n" + attachment + b"--MIX--\n"
    )


def test_mixed_with_attachment_footer_in_first_text_part_and_attachment_identical() -> None:
    raw = _mixed()
    out = _compose(raw)
    msg = _parse(out)
    body, image = msg.iter_parts()
    assert _text(body).endswith("See attached.\n--\nDevelopers list\nhttps://lists.example.org/dev")
    assert image.get_payload(decode=True) == PNG
    encoded_attachment = base64.encodebytes(PNG).replace(b"\n", b"\r\n")
    assert encoded_attachment in out


def test_mixed_whose_first_part_is_not_text_gets_a_footer_part() -> None:
    inner = b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n"
    msg = _parse(_compose(_mixed(inner)))
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["application/pdf", "image/png", "text/plain"]
    assert "Developers list" in _text(parts[-1])
    assert parts[0].get_payload(decode=True) == b"%PDF-"


SIGNED = b"""\
From: Alice <alice@example.com>
To: dev@lists.example.org
Subject: signed
Message-ID: <sig@example.com>
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256;
 boundary="SIG"

--SIG
Content-Type: text/plain; charset=us-ascii

Signed text.
--SIG
Content-Type: application/pgp-signature; name="signature.asc"

-----BEGIN PGP SIGNATURE-----
AAAA
-----END PGP SIGNATURE-----
--SIG--
"""


def test_signed_message_is_wrapped_and_the_signed_part_is_byte_identical() -> None:
    out = _compose(SIGNED)
    msg = _parse(out)
    assert msg.get_content_type() == "multipart/mixed"
    signed, footer = msg.iter_parts()
    assert signed.get_content_type() == "multipart/signed"
    assert signed.get_param("protocol") == "application/pgp-signature"
    original_signed_body = SIGNED.split(b"\n\n", 1)[1].replace(b"\n", b"\r\n")
    assert original_signed_body.rstrip(b"\r\n") in out
    assert "Developers list" in _text(footer)
    assert out.count(b"MIME-Version") == 1


def test_single_non_text_message_is_wrapped() -> None:
    raw = (
        b"From: a@example.com\nSubject: x\nContent-Type: image/png\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(PNG)
    )
    msg = _parse(_compose(raw))
    image, footer = msg.iter_parts()
    assert image.get_payload(decode=True) == PNG
    assert footer.get_content_type() == "text/plain"


def test_no_footer_leaves_the_body_bytes_alone() -> None:
    for raw in (SIGNED, ALTERNATIVE, _mixed()):
        out = _compose(raw, replace(CTX, footer=""))
        assert (
            out.split(b"\r\n\r\n", 1)[1] == re.sub(rb"\r?\n", b"\r\n", raw).split(b"\r\n\r\n", 1)[1]
        )


def test_dmarc_munging_rewrites_from_and_points_reply_to_the_poster() -> None:
    msg = _parse(_compose(PLAIN, replace(CTX, dmarc=DmarcAction.MUNGE_FROM)))
    assert msg.get_all("From") == ["Alice Example via Developers <dev@lists.example.org>"]
    assert msg.get_all("Reply-To") == ["Alice Example <alice@example.com>"]


def test_dmarc_munging_drops_the_posters_signatures_and_nothing_else_does() -> None:
    trail = (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=abc\n"
        b"Authentication-Results: mx.lists.example.org; dkim=pass header.d=example.com\n"
        b"ARC-Seal: i=1; a=rsa-sha256; d=example.com; s=s1; cv=none; b=xyz\n"
    )
    raw = trail + PLAIN
    munged = _parse(_compose(raw, replace(CTX, dmarc=DmarcAction.MUNGE_FROM)))
    for name in ("DKIM-Signature", "Authentication-Results", "ARC-Seal"):
        assert munged[name] is None, name
    kept = _parse(_compose(raw))  # From unchanged: the poster's signature may still verify
    assert kept["DKIM-Signature"] is not None
    assert kept["Authentication-Results"] is not None


def test_dmarc_munging_with_reply_to_list_puts_poster_in_cc() -> None:
    ctx = replace(CTX, dmarc=DmarcAction.MUNGE_FROM, reply_to=ReplyTo.LIST)
    raw = PLAIN.replace(b"To: dev@", b"Cc: carol@example.com\nTo: dev@")
    msg = _parse(_compose(raw, ctx))
    assert msg["From"].addresses[0].addr_spec == "dev@lists.example.org"
    assert msg.get_all("Reply-To") == ["dev@lists.example.org"]
    assert msg.get_all("Cc") == ["carol@example.com, Alice Example <alice@example.com>"]


def test_dmarc_munging_without_a_display_name_uses_the_address() -> None:
    raw = PLAIN.replace(b"From: Alice Example <alice@example.com>", b"From: alice@example.com")
    msg = _parse(_compose(raw, replace(CTX, dmarc=DmarcAction.MUNGE_FROM)))
    assert msg["From"].addresses[0].display_name == "alice@example.com via Developers"


def test_dmarc_wrap_carries_the_original_untouched() -> None:
    out = _compose(PLAIN, replace(CTX, dmarc=DmarcAction.WRAP))
    msg = _parse(out)
    assert msg["From"].addresses[0].addr_spec == "dev@lists.example.org"
    assert msg["Message-ID"] == "<post-1@example.com>"
    assert msg["Subject"] == "[dev] Build is green"
    attached, footer = msg.iter_parts()
    assert attached.get_content_type() == "message/rfc822"
    assert attached["Content-Transfer-Encoding"] == "8bit"
    (inner,) = attached.iter_parts()
    assert inner["From"] == "Alice Example <alice@example.com>"
    assert inner["Subject"] == "Build is green"
    assert "Bcc" not in inner
    assert len(inner.get_all("DKIM-Signature", [])) == 2  # the original's, still verifiable
    assert "Developers list" in _text(footer)


def test_personalised_footer_link_is_spliced_per_recipient() -> None:
    ctx = replace(CTX, footer="Leave: {unsubscribe_url}")
    prepared = prepare(
        ALTERNATIVE.replace(b"quoted-printable", b"8bit").replace(b"=C3=A9", b"\xc3\xa9"), ctx
    )
    assert prepared.shared_body is None
    assert prepared.link_pieces
    one = for_recipient(prepared, RecipientContext("https://x.example/u/1"))
    two = for_recipient(prepared, RecipientContext("https://x.example/u/2"))
    plain_one, html_one = _parse(one).iter_parts()
    assert _text(plain_one).endswith("Leave: https://x.example/u/1")
    assert '<a href="https://x.example/u/1">https://x.example/u/1</a>' in _text(html_one)
    assert b"x.example/u/1" not in two
    assert b"oaklink" not in one


def test_personalised_footer_in_an_encoded_part_is_rebuilt_per_recipient() -> None:
    ctx = replace(CTX, footer="Leave: {unsubscribe_url}")
    prepared = prepare(ALTERNATIVE, ctx)  # the text part is quoted-printable
    assert prepared.raw
    out = for_recipient(prepared, RecipientContext("https://x.example/u/a=b"))
    plain, _ = _parse(out).iter_parts()
    assert _text(plain).endswith("Leave: https://x.example/u/a=b")


def test_shared_body_is_identical_for_every_recipient() -> None:
    prepared = prepare(_mixed(), CTX)
    assert prepared.shared_body is not None
    one = for_recipient(prepared, RecipientContext("https://x.example/u/1"))
    two = for_recipient(prepared, RecipientContext("https://x.example/u/2"))
    assert one.split(b"\r\n\r\n", 1)[1] == two.split(b"\r\n\r\n", 1)[1] == prepared.shared_body


@pytest.mark.parametrize(
    "url", ["http://x/a b", "https://x/\r\nBcc: y", "https://x/<a>", "https://é"]
)
def test_unsafe_unsubscribe_links_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsubscribe links"):
        for_recipient(prepare(PLAIN, CTX), RecipientContext(url))


def test_smtputf8_headers_keep_their_8bit_bytes() -> None:
    raw = PLAIN.replace(b"Subject: Build is green", "Subject: 构建成功".encode())
    out = _compose(raw)
    assert "Subject: [dev] 构建成功\r\n".encode() in out


def _corpus() -> list[Path]:
    return sorted(
        p for p in CORPUS.rglob("*") if p.suffix in (".eml", ".msg", ".txt") and p.is_file()
    )


def test_corpus_is_there() -> None:
    assert len(_corpus()) > 150


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=10_000),
    footer=st.sampled_from(["", "--\nlist", "Liste développeurs ✓ {unsubscribe_url}"]),
    dmarc=st.sampled_from(list(DmarcAction)),
    prefix=st.sampled_from(["", "[dev]", "[开发]"]),
)
def test_compose_never_raises_on_corpus_messages_and_output_reparses(
    index: int, footer: str, dmarc: DmarcAction, prefix: str
) -> None:
    files = _corpus()
    raw = files[index % len(files)].read_bytes()
    ctx = replace(CTX, footer=footer, dmarc=dmarc, subject_prefix=prefix)
    out = _compose(raw, ctx, RecipientContext("https://x.example/u/1"))
    _assert_crlf(out)
    msg = _parse(out)
    assert msg["List-Id"] == "Developers <dev.lists.example.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    if footer and dmarc is DmarcAction.NONE:
        texts = [p.get_payload(decode=True) or b"" for p in msg.walk() if not p.is_multipart()]
        needle = b"list" if footer.startswith("--") else b"x.example/u/1"
        assert any(needle in t for t in texts if isinstance(t, bytes)) or b"x.example" in out


def test_every_corpus_message_composes_and_keeps_its_attachments() -> None:
    for path in _corpus():
        # As received over SMTP: CRLF (lenient base64 decoding counts bare LFs differently).
        raw = re.sub(rb"\r?\n", b"\r\n", path.read_bytes())
        before = _attachment_digests(_parse(raw))
        out = _compose(raw)
        after = _attachment_digests(_parse(out))
        assert before <= after, path


def _attachment_digests(msg: EmailMessage) -> set[str]:
    digests = set()
    for part in msg.walk():
        if part.get_content_disposition() == "attachment" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                digests.add(hashlib.sha256(payload).hexdigest())
    return digests


def test_header_block_is_spliced_not_reserialised() -> None:
    prepared = prepare(PLAIN, CTX)
    out = for_recipient(prepared, RC)
    assert out.startswith(prepared.head)
    assert re.search(rb"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n", out)


@pytest.mark.parametrize("dmarc", list(DmarcAction))
def test_every_corpus_message_keeps_the_list_headers_readable(dmarc: DmarcAction) -> None:
    """Exhaustive companion of the property test: each file, each DMARC action, read back by
    the stdlib parser, shows our headers (malformed header blocks must not hide them)."""
    unreadable = []
    for path in _corpus():
        for footer in ("", "--\nlist"):
            ctx = replace(CTX, footer=footer, dmarc=dmarc)
            out = _compose(path.read_bytes(), ctx, RecipientContext("https://x.example/u/1"))
            msg = _parse(out)
            if msg["List-Id"] != "Developers <dev.lists.example.org>":
                unreadable.append(f"{path.name} footer={bool(footer)}")
    assert unreadable == []
