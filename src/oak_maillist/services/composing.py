"""A post as it leaves: decorated once for the list (`compose_post`), then finished for each
recipient with the one-click unsubscribe link, the VERP return path and the DKIM signature
(`envelope_for`), or once for everyone on a list that does not personalise (`bulk_envelope`).
The service's own mail is signed by its From domain (`sign_service_mail`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.delivery import compose, dmarc, relay
from oak_maillist.delivery.dkim import BodyPrefix, Signer, sign_all
from oak_maillist.mail.dkim_keys import Algorithm
from oak_maillist.mail.verp import encode as verp_address
from oak_maillist.models import Domain, MailingList, Message
from oak_maillist.services import archive, crypto, domain_keys, links, subscriptions
from oak_maillist.services.distribution import Claimed

VERP_PURPOSE = "verp"
NO_DMARC = compose.DmarcAction.NONE
DMARC_ACTIONS = {
    "munge_from": compose.DmarcAction.MUNGE_FROM,
    "wrap": compose.DmarcAction.WRAP,
    "none": NO_DMARC,
}
# DMARC policy lookups with their caches, one per DNS setup of this process.
_CHECKERS: dict[tuple[tuple[str, ...], int, float], dmarc.Checker] = {}
REPLY_TO_MODES = {
    "none": compose.ReplyTo.NONE,
    "list": compose.ReplyTo.LIST,
    "address": compose.ReplyTo.EXPLICIT,
}


@dataclass(frozen=True)
class Outgoing:
    """A post composed for the list, ready to be finished per recipient."""

    prepared: compose.Prepared
    # The domain's keys, main first; the Ed25519 one beside it when the domain dual-signs.
    signers: tuple[Signer, ...]
    body_hash: bytes | None
    list_local: str
    domain: str
    list_id: int
    personalize: bool
    # The hashed body lines before the recipient's link, when the footer carries one.
    body_prefix: BodyPrefix | None = None


async def compose_post(
    session: AsyncSession, settings: Settings, message: Message
) -> Outgoing | None:
    """Decorate the archived post once for every recipient (None when it cannot be read)."""
    mlist = await session.get(MailingList, message.list_id)
    domain = await session.get(Domain, mlist.domain_id) if mlist else None
    if mlist is None or domain is None:
        return None
    raw = await archive.raw_message(session, settings.archive, message)
    if raw is None:
        return None
    base = str(settings.server.base_url).rstrip("/")
    ctx = compose.ListContext(
        name=mlist.name,
        address=f"{mlist.local_part}@{domain.name}",
        list_id=f"{mlist.local_part}.{domain.name}",
        subject_prefix=mlist.subject_prefix,
        footer=mlist.footer,
        reply_to=REPLY_TO_MODES.get(mlist.reply_to_mode, compose.ReplyTo.NONE),
        reply_to_address=mlist.reply_to_address,
        help_url=f"{base}/lists/{mlist.id}",
        subscribe_url=f"{base}/lists/{mlist.id}/subscribe",
        archive_url=f"{base}/lists/{mlist.id}/archive" if mlist.archive_enabled else "",
        permalink=(
            f"{base}/lists/{mlist.id}/archive/{message.id}" if mlist.archive_enabled else ""
        ),
        own_domains=frozenset({domain.name}),
    )
    if message.sender_email and await _mitigate(settings, message.sender_email, domain.name):
        ctx = dataclasses.replace(ctx, dmarc=DMARC_ACTIONS.get(mlist.dmarc_mitigation, NO_DMARC))
    prepared = compose.prepare(raw, ctx)
    signers = tuple(
        _signer(key.selector, domain.name, key.private_key, key.algorithm)
        for key in domain_keys.dkim_signing_keys(domain, settings)
    )
    # One body hash serves every signer: same canonicalisation, SHA-256 for both algorithms.
    # The main (RSA) signature goes on top: a verifier that reads only the first one (dkimpy's
    # verify() does by default) still finds one it knows; Ed25519-aware ones read them all.
    signer = signers[0] if signers else None
    shared = prepared.shared_body
    body_hash = signer.body_hash(shared) if signer and shared is not None else None
    prefix = None
    if signer is not None and shared is None and prepared.link_pieces:
        # Bodies differ only from the recipient's link on: hash the lines before it once.
        prefix = signer.body_prefix(prepared.link_pieces[0])
    return Outgoing(
        prepared,
        signers,
        body_hash,
        mlist.local_part,
        domain.name,
        mlist.id,
        mlist.personalize,
        prefix,
    )


async def sign_service_mail(session: AsyncSession, settings: Settings, data: bytes) -> bytes:
    """Mail the service sends itself (confirmations, notices, digests), signed with the keys
    of the domain in its From address when that domain is ours and signs; else as it is.
    `data` has CRLF line endings."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(data)
    _name, address = parseaddr(str(headers.get("From", "")))
    name = address.rpartition("@")[2].lower()  # domains are stored in lower case
    domain = await session.scalar(select(Domain).where(Domain.name == name)) if name else None
    if domain is None:
        return data
    signers = [
        _signer(key.selector, domain.name, key.private_key, key.algorithm)
        for key in domain_keys.dkim_signing_keys(domain, settings)
    ]
    return sign_all(signers, data) + data if signers else data


@functools.lru_cache(maxsize=64)
def _signer(selector: str, domain: str, key: str, algorithm: str) -> Signer:
    """Signers by key, kept: loading a PEM key costs milliseconds, every job needs one."""
    return Signer(selector, domain, key, Algorithm(algorithm))


async def _mitigate(settings: Settings, sender: str, list_domain: str) -> bool:
    """Whether the poster's domain publishes a DMARC policy that our decoration would break."""
    domain = sender.rpartition("@")[2].lower()
    if not settings.dns.dmarc_lookups or not domain or domain == list_domain.lower():
        return False
    dns_settings = settings.dns
    key = (tuple(dns_settings.nameservers), dns_settings.port, dns_settings.timeout_seconds)
    checker = _CHECKERS.get(key)
    if checker is None:
        checker = _CHECKERS[key] = dmarc.Checker(
            dns_settings.nameservers, dns_settings.port, dns_settings.timeout_seconds
        )
    return await checker.needs_mitigation(domain)


def envelope_for(
    outgoing: Outgoing, delivery: Claimed, settings: Settings, verp_key: bytes
) -> relay.Envelope:
    """The bytes and return path one recipient gets."""
    token = links.make_token(
        settings,
        subscriptions.UNSUBSCRIBE,
        subscriber_id=delivery.subscriber_id or 0,
        list_id=delivery.list_id,
    )
    data = compose.for_recipient(
        outgoing.prepared, compose.RecipientContext(links.one_click_url(settings, token))
    )
    if outgoing.signers:
        body_hash = outgoing.body_hash
        if body_hash is None and outgoing.body_prefix is not None:
            rest = data[data.find(b"\r\n\r\n") + 4 + len(outgoing.prepared.link_pieces[0]) :]
            body_hash = outgoing.signers[0].body_hash_after(outgoing.body_prefix, rest)
        data = sign_all(outgoing.signers, data, body_hash=body_hash) + data
    sender = verp_address(
        verp_key,
        list_local=outgoing.list_local,
        domain=outgoing.domain,
        subscriber_id=delivery.subscriber_id or 0,
        message_id=delivery.message_id or 0,
    )
    return relay.Envelope(sender, delivery.recipient, data)


def verp_key(settings: Settings) -> bytes:
    return crypto.derive_key(settings.security, VERP_PURPOSE)


def bulk_envelope(outgoing: Outgoing, settings: Settings) -> tuple[str, bytes]:
    """Return path and bytes shared by every recipient of a list that does not personalise:
    signed once, bounces to the plain `-bounces` address, unsubscribe by mail to `-leave`
    (no one-click: RFC 8058 needs a link that names the recipient)."""
    leave = f"mailto:{outgoing.list_local}-leave@{outgoing.domain}?subject=unsubscribe"
    context = compose.RecipientContext(leave, unsubscribe_mailto=leave, one_click=False)
    data = compose.for_recipient(outgoing.prepared, context)
    if outgoing.signers:
        data = sign_all(outgoing.signers, data, body_hash=outgoing.body_hash) + data
    return f"{outgoing.list_local}-bounces@{outgoing.domain}", data
