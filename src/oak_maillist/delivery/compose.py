"""The list's outgoing message: the poster's bytes, decorated once per post, spliced per recipient.

`prepare` does the per-post work (subject prefix, RFC 2369/2919/5064 headers, reply-to, DMARC
From rewriting or wrapping, footer) and keeps the result as bytes; `for_recipient` only splices
the per-recipient header fields (RFC 8058 one-click unsubscribe) into the header block, so a
large fan-out copies bytes instead of re-serialising a MIME tree. Header fields we do not touch
keep their original bytes; MIME parts we do not touch keep theirs too (8-bit parts stay 8-bit).
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address as HeaderAddress
from email.message import Message

from oak_maillist.delivery.footer import Footer, add_footer, footer_part
from oak_maillist.delivery.mime import (
    field_name,
    flatten,
    header_field,
    multipart,
    parse,
    split_fields,
)
from oak_maillist.mail.headers import header_addresses, header_text

# Fields that must not pass through (Return-Path is the receiver's to add, RFC 5321 §4.4; Bcc
# and the local delivery trail would leak), and list fields we replace with our own.
PRIVATE = frozenset({b"return-path", b"delivered-to", b"x-original-to", b"bcc"})
LIST_FIELDS = frozenset(
    {
        b"precedence", b"list-id", b"list-post", b"list-help", b"list-subscribe",
        b"list-unsubscribe", b"list-unsubscribe-post", b"list-archive", b"list-owner",
        b"archived-at",
    }
)  # fmt: skip
# The poster's authentication trail, removed when From is rewritten.
POSTER_AUTHENTICATION = frozenset(
    {b"dkim-signature", b"domainkey-signature", b"authentication-results", b"arc-seal",
     b"arc-message-signature", b"arc-authentication-results"}
)  # fmt: skip
# What the outer message of a DMARC wrap shows of the original (as Mailman's wrap_message).
WRAP_KEEPS = frozenset(
    {b"from", b"to", b"cc", b"reply-to", b"subject", b"date", b"message-id", b"in-reply-to",
     b"references"}
)  # fmt: skip
FOOTER_UNSUBSCRIBE = "{unsubscribe_url}"  # in ListContext.footer: the recipient's own link
_DKIM_DOMAIN = re.compile(rb"(?:^|;)\s*d\s*=\s*([^;\s]+)")
_URL_UNSAFE = re.compile(r"[\s<>\"\x00-\x1f\x7f]")


class ReplyTo(enum.StrEnum):
    NONE = "none"  # leave the poster's Reply-To alone
    LIST = "list"  # replies go to the list
    EXPLICIT = "explicit"  # replies go to ListContext.reply_to_address


class DmarcAction(enum.StrEnum):
    NONE = "none"
    MUNGE_FROM = "munge_from"  # From: "Name via List" <list>, poster in Reply-To or Cc
    WRAP = "wrap"  # the original, untouched, as message/rfc822 inside a list message


@dataclass(frozen=True)
class ListContext:
    """What a list says about itself in every post; URLs empty when the list has none."""

    name: str  # display name, e.g. "Developers"
    address: str  # posting address, e.g. dev@lists.example.org
    list_id: str  # RFC 2919 list-id, e.g. dev.lists.example.org
    subject_prefix: str = ""  # e.g. "[dev]"
    footer: str = ""  # plain text; may hold FOOTER_UNSUBSCRIBE
    reply_to: ReplyTo = ReplyTo.NONE
    reply_to_address: str = ""
    help_url: str = ""
    subscribe_url: str = ""
    archive_url: str = ""
    permalink: str = ""  # Archived-At of this post (RFC 5064)
    dmarc: DmarcAction = DmarcAction.NONE
    own_domains: frozenset[str] = frozenset()  # DKIM-Signature d= we strip (list domain added)

    def role_address(self, role: str) -> str:
        local, _, domain = self.address.rpartition("@")
        return f"{local}-{role}@{domain}"


@dataclass(frozen=True)
class RecipientContext:
    """What differs per recipient: the one-click link, and optionally the mailto."""

    unsubscribe_url: str  # HTTPS, accepts the RFC 8058 POST when one_click
    unsubscribe_mailto: str = ""  # default: mailto:<list>-leave@<domain>?subject=unsubscribe
    one_click: bool = True  # False for a copy shared by many recipients (no personal link)


@dataclass(frozen=True)
class Prepared:
    """One post, decorated; `head` is the header block without its blank line."""

    head: bytes
    body: bytes
    ctx: ListContext
    raw: bytes = b""  # kept only when the footer must be rebuilt per recipient
    link_pieces: tuple[bytes, ...] = ()  # the body split where the recipient's link goes

    @property
    def shared_body(self) -> bytes | None:
        """The body every recipient gets, or None when the footer is personalised."""
        return None if self.raw or self.link_pieces else self.body


def prepare(raw: bytes, ctx: ListContext) -> Prepared:
    """Decorate one post for the list; the per-recipient fields are left to `for_recipient`."""
    if FOOTER_UNSUBSCRIBE not in ctx.footer:
        head, body, _ = _compose(raw, ctx, Footer(ctx.footer))
        return Prepared(head, body, ctx)
    marker = f"oaklink{secrets.token_hex(10)}"
    footer = Footer(ctx.footer.replace(FOOTER_UNSUBSCRIBE, marker), marker)
    head, body, spliceable = _compose(raw, ctx, footer)
    pieces = tuple(body.split(marker.encode("ascii")))
    if not spliceable or len(pieces) < 2:  # the link sits in an encoded part: rebuild per rcpt
        return Prepared(head, body, ctx, raw=raw)
    return Prepared(head, body, ctx, link_pieces=pieces)


def for_recipient(prepared: Prepared, rc: RecipientContext) -> bytes:
    """The bytes for one recipient: the prepared message plus its List-Unsubscribe fields."""
    _check_url(rc.unsubscribe_url)
    mailto = rc.unsubscribe_mailto or (
        f"mailto:{prepared.ctx.role_address('leave')}?subject=unsubscribe"
    )
    _check_url(mailto)
    links = (
        f"<{mailto}>" if rc.unsubscribe_url == mailto else f"<{rc.unsubscribe_url}>,\r\n <{mailto}>"
    )
    fields = (
        f"List-Unsubscribe: {links}\r\n"
        + ("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" if rc.one_click else "")
        + "\r\n"
    ).encode("ascii")
    if prepared.link_pieces:
        body = rc.unsubscribe_url.encode("ascii").join(prepared.link_pieces)
    elif prepared.raw:
        text = prepared.ctx.footer.replace(FOOTER_UNSUBSCRIBE, rc.unsubscribe_url)
        body = _compose(prepared.raw, prepared.ctx, Footer(text))[1]
    else:
        body = prepared.body
    return b"".join((prepared.head, fields, body))


def _check_url(url: str) -> None:
    if not url.isascii() or _URL_UNSAFE.search(url):
        raise ValueError("unsubscribe links must be ASCII without spaces, quotes or brackets")


def _compose(raw: bytes, ctx: ListContext, footer: Footer) -> tuple[bytes, bytes, bool]:
    message = re.sub(rb"\r?\n", b"\r\n", raw)
    original_fields, _ = split_fields(message)
    if ctx.dmarc is DmarcAction.WRAP:
        message = _wrap_rfc822(original_fields, message, footer)
    elif footer.text:
        message = add_footer(message, footer)
    fields, body = split_fields(message)
    poster = parse(b"".join(original_fields) + b"\r\n")
    fields = [f for f in fields if not _dropped(f, ctx)]
    fields = _with_subject(fields, ctx)
    fields = _with_reply(fields, ctx, poster)
    fields += _list_fields(ctx)
    return b"".join(fields), body, footer.spliceable


def _dropped(raw_field: bytes, ctx: ListContext) -> bool:
    name = field_name(raw_field)
    if name in PRIVATE or name in LIST_FIELDS:
        return True
    if ctx.dmarc is DmarcAction.MUNGE_FROM and name in POSTER_AUTHENTICATION:
        # The poster's signatures cannot verify once From is ours (Mailman's
        # REMOVE_DKIM_HEADERS = 1): removing them leaves our own signature to speak.
        return True
    if name != b"dkim-signature":
        return False
    # Our own earlier signature (a post looping back, or sent through our relay) is stale.
    own = {d.lower().encode() for d in ctx.own_domains} | {
        ctx.address.rpartition("@")[2].lower().encode()
    }
    tags = raw_field.partition(b":")[2].replace(b"\r\n", b"")
    found = _DKIM_DOMAIN.search(tags)
    return bool(found and found.group(1).lower().rstrip(b".") in own)


def _with_subject(fields: list[bytes], ctx: ListContext) -> list[bytes]:
    prefix = ctx.subject_prefix.strip()
    if not prefix:
        return fields
    index = next((i for i, f in enumerate(fields) if field_name(f) == b"subject"), None)
    if index is None:
        return [*fields, header_field("Subject", f"{prefix} (no subject)")]
    parsed = parse(fields[index] + b"\r\n")
    if prefix.casefold() in header_text(parsed, "Subject").casefold():
        return fields  # "Re: [dev] topic" keeps its one prefix
    value = fields[index].partition(b":")[2].lstrip(b" \t")
    if prefix.isascii():
        encoded = prefix.encode("ascii")
    elif value.isascii():
        encoded = Header(prefix, "utf-8").encode().encode("ascii")
    else:  # an 8-bit (SMTPUTF8) Subject stays 8-bit
        encoded = prefix.encode("utf-8")
    return [*fields[:index], b"Subject: " + encoded + b" " + value, *fields[index + 1 :]]


def _with_reply(fields: list[bytes], ctx: ListContext, poster: Message) -> list[bytes]:
    reply_to = {ReplyTo.LIST: ctx.address, ReplyTo.EXPLICIT: ctx.reply_to_address}.get(ctx.reply_to)
    senders = [a for a in header_addresses(poster, "From") if a.email]
    drop: set[bytes] = set()
    added: list[bytes] = []
    if reply_to:
        drop.add(b"reply-to")
        added.append(header_field("Reply-To", reply_to))
    if ctx.dmarc is not DmarcAction.NONE and senders:
        name = senders[0].name or senders[0].email
        drop.add(b"from")
        added.append(header_field("From", _mailbox(f"{name} via {ctx.name}", ctx.address)))
        answer = [a for a in header_addresses(poster, "Reply-To") if a.email] or senders
        mailboxes = ", ".join(_mailbox(a.name, a.email) for a in answer)
        if reply_to:  # replies go to the list: the poster is reached through Cc, as in Mailman
            cc = ", ".join(_mailbox(a.name, a.email) for a in header_addresses(poster, "Cc"))
            drop.add(b"cc")
            added.append(header_field("Cc", f"{cc}, {mailboxes}" if cc else mailboxes))
        else:
            drop.add(b"reply-to")
            added.append(header_field("Reply-To", mailboxes))
    return [f for f in fields if field_name(f) not in drop] + added


def _mailbox(name: str, address: str) -> str:
    try:
        return str(HeaderAddress(display_name=name, addr_spec=address))
    except (ValueError, IndexError):  # an address the stdlib cannot re-render: keep it bare
        return f"<{address}>"


def _list_fields(ctx: ListContext) -> list[bytes]:
    name = ctx.name if re.fullmatch(r"[\w !#$%&'*+/=?^`{|}~.-]*", ctx.name) else f'"{ctx.name}"'
    help_links = [f"<mailto:{ctx.role_address('request')}?subject=help>"]
    subscribe = [f"<mailto:{ctx.role_address('join')}?subject=subscribe>"]
    if ctx.help_url:
        help_links.insert(0, f"<{ctx.help_url}>")
    if ctx.subscribe_url:
        subscribe.insert(0, f"<{ctx.subscribe_url}>")
    fields = [
        header_field("List-Id", f"{name} <{ctx.list_id}>" if ctx.name else f"<{ctx.list_id}>"),
        header_field("List-Post", f"<mailto:{ctx.address}>"),
        header_field("List-Help", ", ".join(help_links)),
        header_field("List-Subscribe", ", ".join(subscribe)),
    ]
    if ctx.archive_url:
        fields.append(header_field("List-Archive", f"<{ctx.archive_url}>"))
    if ctx.permalink:
        fields.append(header_field("Archived-At", f"<{ctx.permalink}>"))
    fields.append(b"Precedence: list\r\n")
    return fields


def _wrap_rfc822(fields: list[bytes], message: bytes, footer: Footer) -> bytes:
    """A new message around the original, which travels untouched but for private fields."""
    _, body = split_fields(message)
    inner = b"".join(f for f in fields if field_name(f) not in PRIVATE) + b"\r\n" + body
    outer = [f for f in fields if field_name(f) in WRAP_KEEPS]
    eight_bit = b"" if inner.isascii() else b"Content-Transfer-Encoding: 8bit\r\n"
    attached = b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n" + eight_bit
    parts = [attached + b"\r\n" + inner]
    if footer.text:
        parts.append(flatten(footer_part(footer)))
    return multipart(outer, parts, message)
