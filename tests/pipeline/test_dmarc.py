"""Posts from domains with a strict DMARC policy go out with From rewritten (or wrapped), as
Mailman and Sympa do, and still verify; policies come from a real DNS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import cast

import dkim
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import DnsSettings
from oak_maillist.models import Domain, MailingList, Subscriber
from oak_maillist.runtime import Runtime
from oak_maillist.services import domains
from oak_maillist.services.activity import Origin
from tests.dns_server import Zone, start_dns
from tests.factories import make_list, make_user
from tests.pipeline.conftest import MailService, message, running_service
from tests.sink import Received, Sink

ZONE = {
    "_dmarc.strict.example": "v=DMARC1; p=reject; rua=mailto:d@strict.example",
    "_dmarc.relaxed.example": "v=DMARC1; p=none",
    # no record of its own at mail.corp.example: the organisational domain's sp= applies
    "_dmarc.corp.example": "v=DMARC1; p=none; sp=quarantine",
}


@pytest.fixture
async def zone() -> AsyncIterator[Zone]:
    zone = Zone(dict(ZONE))
    transport = await start_dns(zone)
    yield zone
    transport.close()


@pytest.fixture
async def service(runtime: Runtime, sink: Sink, zone: Zone) -> AsyncIterator[MailService]:
    dns_settings = DnsSettings(
        dmarc_lookups=True, nameservers=["127.0.0.1"], port=zone.port, timeout_seconds=2
    )
    async with running_service(runtime, sink, dns=dns_settings) as service:
        yield service


@pytest.fixture
async def dev(db: AsyncSession, runtime: Runtime) -> MailingList:
    owner = await make_user(db, runtime.settings.security, "owner@example.org")
    domain = await domains.create_domain(
        db, name="lists.example.org", settings=runtime.settings, actor_id=owner.id, origin=Origin()
    )
    domain.dkim_enabled = True
    mlist = await make_list(
        db, domain, "dev", name="Developers", posting_policy="anyone", subject_prefix="[dev]"
    )
    db.add(Subscriber(list_id=mlist.id, email="ann@example.net",
                      email_normalized="ann@example.net", status="active"))  # fmt: skip
    await db.commit()
    return mlist


async def _post(service: MailService, sender: str, count: int) -> Received:
    mails = await asyncio.wait_for(_wait_post(service, sender, count), 20)
    return mails


async def _wait_post(service: MailService, sender: str, count: int) -> Received:
    await service.deliver(
        message(sender=sender, message_id=f"<{count}@{sender.rpartition('@')[2].rstrip('>')}>"),
        sender=sender.rpartition("<")[2].rstrip(">"),
        recipients=["dev@lists.example.org"],
    )
    return (await service.sink.wait_for(count))[count - 1]


async def _verifies(runtime: Runtime, data: bytes) -> bool:
    async with runtime.sessionmaker() as session:
        domain = await session.scalar(select(Domain))
        assert domain is not None
        record = next(
            r for r in domains.dns_records(domain, runtime.settings) if r.purpose == "dkim"
        )
    keys = {f"{record.name}.".encode(): record.value.encode()}
    return bool(dkim.verify(data, dnsfunc=lambda name, timeout=5: keys.get(name, b"")))


async def test_strict_policy_rewrites_from_and_keeps_the_poster_reachable(
    service: MailService, dev: MailingList, zone: Zone
) -> None:
    mail = await _post(service, "Alice Example <alice@strict.example>", 1)
    out = mail.message
    assert str(out["From"]) == "Alice Example via Developers <dev@lists.example.org>"
    assert str(out["Reply-To"]) == "Alice Example <alice@strict.example>"
    assert str(out["Subject"]) == "[dev] Hello"
    assert await _verifies(service.runtime, mail.data)

    # the answer is cached: a second post asks nothing more
    asked = zone.asked["_dmarc.strict.example"]
    await _post(service, "Alice Example <alice@strict.example>", 2)
    assert zone.asked["_dmarc.strict.example"] == asked == 1


async def test_relaxed_policy_and_unknown_domains_keep_from(
    service: MailService, dev: MailingList, zone: Zone
) -> None:
    mail = await _post(service, "Bob <bob@relaxed.example>", 1)
    assert str(mail.message["From"]) == "Bob <bob@relaxed.example>"
    assert mail.message["Reply-To"] is None
    mail = await _post(service, "Cy <cy@nowhere.example>", 2)
    assert str(mail.message["From"]) == "Cy <cy@nowhere.example>"
    assert zone.asked["_dmarc.nowhere.example"] == 1


async def test_subdomain_inherits_the_organisational_sp(
    service: MailService, dev: MailingList, zone: Zone
) -> None:
    mail = await _post(service, "Dee <dee@mail.corp.example>", 1)
    assert str(mail.message["From"]) == "Dee via Developers <dev@lists.example.org>"
    assert zone.asked["_dmarc.mail.corp.example"] == 1
    assert zone.asked["_dmarc.corp.example"] == 1


async def test_wrap_mitigation_attaches_the_original_untouched(
    service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    await db.execute(
        update(MailingList).where(MailingList.id == dev.id).values(dmarc_mitigation="wrap")
    )
    await db.commit()
    mail = await _post(service, "Alice Example <alice@strict.example>", 1)
    out = mail.message
    assert str(out["From"]) == "Alice Example via Developers <dev@lists.example.org>"
    assert out.get_content_type() == "multipart/mixed"
    [inner] = [p for p in out.walk() if p.get_content_type() == "message/rfc822"]
    original = cast(EmailMessage, inner.get_payload(0))
    assert str(original["From"]) == "Alice Example <alice@strict.example>"
    assert str(original["Subject"]) == "Hello"
    assert await _verifies(service.runtime, mail.data)


async def test_mitigation_none_sends_from_unchanged(
    service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    await db.execute(
        update(MailingList).where(MailingList.id == dev.id).values(dmarc_mitigation="none")
    )
    await db.commit()
    mail = await _post(service, "Alice Example <alice@strict.example>", 1)
    assert str(mail.message["From"]) == "Alice Example <alice@strict.example>"
