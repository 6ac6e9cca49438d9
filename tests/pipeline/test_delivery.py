"""Accepted posts reach every subscriber through a real SMTP sink: decorated, signed, per
recipient return paths and unsubscribe links; retries after 4xx, failures on 5xx."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import dkim
import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.mail import verp
from oak_maillist.models import Bounce, Delivery, Domain, ListRole, MailingList, Subscriber
from oak_maillist.runtime import Runtime
from oak_maillist.services import composing, domain_keys, domains
from oak_maillist.services.activity import Origin
from oak_maillist.tasks import queue
from oak_maillist.tasks.jobs import delivery as delivery_jobs
from tests.factories import login, make_list, make_user
from tests.pipeline.conftest import MailService

POST = (
    "From: Alice <alice@example.com>\r\nTo: dev@lists.example.org\r\n"
    "Subject: Re: Release plan\r\nMessage-ID: <reply1@example.com>\r\n"
    "In-Reply-To: <root@example.com>\r\nReferences: <root@example.com>\r\n"
    "Date: Tue, 24 Nov 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nShip it on Friday.\r\n"
    "--b1\r\nContent-Type: application/pdf\r\n"
    "Content-Disposition: attachment; filename=plan.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b1--\r\n"
)
SUBSCRIBERS = ("ann@example.net", "bob@example.net", "cy@example.net")


@pytest.fixture
async def dev(db: AsyncSession, runtime: Runtime) -> MailingList:
    moderator = await make_user(db, runtime.settings.security, "mod@example.org")
    domain = await domains.create_domain(
        db,
        name="lists.example.org",
        settings=runtime.settings,
        actor_id=moderator.id,
        origin=Origin(),
    )
    domain.dkim_enabled = True
    mlist = await make_list(
        db, domain, "dev", name="Developers", posting_policy="anyone", subject_prefix="[dev]",
        footer="-- \nDevelopers list",
    )  # fmt: skip
    for email in SUBSCRIBERS:
        db.add(Subscriber(list_id=mlist.id, email=email, email_normalized=email, status="active"))
    db.add_all(
        [
            Subscriber(list_id=mlist.id, email="digest@example.net",
                       email_normalized="digest@example.net", status="active", digest_mode="daily"),
            Subscriber(list_id=mlist.id, email="gone@example.net",
                       email_normalized="gone@example.net", status="unsubscribed"),
        ]
    )  # fmt: skip
    db.add(ListRole(list_id=mlist.id, user_id=moderator.id, role="moderator"))
    await db.commit()
    return mlist


async def _settled(runtime: Runtime, seconds: float = 20) -> dict[str, Delivery]:
    """The deliveries once none is queued or being sent."""
    async with asyncio.timeout(seconds):
        while True:
            async with runtime.sessionmaker() as session:
                rows = {d.recipient: d for d in (await session.scalars(select(Delivery))).all()}
            if rows and all(d.status not in ("queued", "sending") for d in rows.values()):
                return rows
            await asyncio.sleep(0.05)


async def _dns(runtime: Runtime) -> dict[bytes, bytes]:
    async with runtime.sessionmaker() as session:
        domain = await session.scalar(select(Domain))
        assert domain is not None
        record = next(
            r for r in domains.dns_records(domain, runtime.settings) if r.purpose == "dkim"
        )
        return {f"{record.name}.".encode(): record.value.encode()}


async def test_a_post_reaches_every_subscriber_signed_and_personalised(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient
) -> None:
    row = await mail_service.deliver(
        POST, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    assert row.outcome == "accept", row.reasons
    mails = await mail_service.sink.wait_for(3)
    assert sorted(r for m in mails for r in m.recipients) == sorted(SUBSCRIBERS)
    dns = await _dns(mail_service.runtime)
    key = composing.verp_key(mail_service.runtime.settings)
    links = set()
    async with mail_service.runtime.sessionmaker() as session:
        ids = {s.email: s.id for s in (await session.scalars(select(Subscriber))).all()}
    for mail in mails:
        message = mail.message
        local, _, domain = mail.sender.partition("@")
        assert domain == "lists.example.org"
        assert local.startswith("dev-bounces+")
        token = verp.decode(key, local.removeprefix("dev-bounces+"))
        assert token is not None
        assert token.subscriber_id == ids[mail.recipients[0]]
        assert str(message["Subject"]) == "[dev] Re: Release plan"
        assert message["List-Id"] == "Developers <dev.lists.example.org>"
        assert message["In-Reply-To"] == "<root@example.com>"
        assert message["Message-ID"] == "<reply1@example.com>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links.add(str(message["List-Unsubscribe"]))
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == "plan.pdf"
        assert (
            hashlib.sha256(attachment.get_content()).hexdigest()
            == hashlib.sha256(b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n").hexdigest()
        )
        assert b"Developers list" in mail.data
        assert dkim.verify(mail.data, dnsfunc=lambda name, timeout=5: dns.get(name, b""))
    assert len(links) == 3  # one unsubscribe link each

    auth = await login(client, "mod@example.org")
    await _settled(mail_service.runtime)  # the relay's answers are stored just after it has them
    async with mail_service.runtime.sessionmaker() as session:
        message_id = await session.scalar(select(Delivery.message_id))
    report = (
        await client.get(f"/api/v1/lists/{dev.id}/messages/{message_id}/deliveries", headers=auth)
    ).json()
    assert report["counts"] == {"sent": 3}
    assert {item["recipient"] for item in report["items"]} == set(SUBSCRIBERS)


async def test_temporary_refusals_retry_and_permanent_ones_fail(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    mail_service.sink.refuse_recipient("cy@example.net", "550 5.1.1 No such user")
    mail_service.sink.refuse_next("451 4.3.0 Try again later", times=1)
    await mail_service.deliver(
        POST, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    await mail_service.sink.wait_for(1)
    rows = await _settled(mail_service.runtime)
    # 5xx at RCPT: that recipient is done, and it counts as a hard bounce
    assert rows["cy@example.net"].status == "bounced"
    assert rows["cy@example.net"].last_code == 550
    bounce = (await db.scalars(select(Bounce))).one()
    assert (bounce.recipient, bounce.kind, bounce.delivery_id) == (
        "cy@example.net",
        "hard",
        rows["cy@example.net"].id,
    )
    assert "5.1.1 No such user" in bounce.diagnostic
    cy = (await db.scalars(select(Subscriber).where(Subscriber.email == "cy@example.net"))).one()
    await db.refresh(cy)
    assert (cy.bounce_score, cy.status) == (1, "active")
    await db.commit()  # end this read snapshot: the service writes on
    deferred = [r for r in rows.values() if r.status == "deferred"]
    assert len(deferred) == 1
    assert deferred[0].last_code == 451
    assert deferred[0].next_attempt_at > utcnow() + timedelta(seconds=30)

    # time passes: the retry is due, and the sweeper hands the post out again
    await db.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    assert await delivery_jobs.sweep() == 1
    mails = await mail_service.sink.wait_for(2)
    statuses = sorted(d.status for d in (await _settled(mail_service.runtime)).values())
    assert statuses == ["bounced", "sent", "sent"]
    assert sorted(r for m in mails for r in m.recipients) == ["ann@example.net", "bob@example.net"]


async def test_bulk_lists_send_one_signed_copy_for_many_recipients(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    await db.execute(update(MailingList).where(MailingList.id == dev.id).values(personalize=False))
    await db.commit()
    mail_service.sink.refuse_recipient("cy@example.net", "550 5.1.1 No such user")
    await mail_service.deliver(
        POST, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    [mail] = await mail_service.sink.wait_for(1)
    assert sorted(mail.recipients) == ["ann@example.net", "bob@example.net"]
    assert mail.sender == "dev-bounces@lists.example.org"
    message = mail.message
    assert message["List-Unsubscribe-Post"] is None  # no personal link, so no one-click
    # unsubscribing is by mail to -leave: the one copy cannot carry anyone's own link
    assert message["List-Unsubscribe"] == "<mailto:dev-leave@lists.example.org?subject=unsubscribe>"
    dns = await _dns(mail_service.runtime)
    assert dkim.verify(mail.data, dnsfunc=lambda name, timeout=5: dns.get(name, b""))
    rows = await _settled(mail_service.runtime)
    assert {r: d.status for r, d in rows.items()} == {
        "ann@example.net": "sent", "bob@example.net": "sent", "cy@example.net": "bounced",
    }  # fmt: skip


async def test_connections_are_reused_across_batches(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    for n in range(3):
        await mail_service.deliver(
            POST.replace("<reply1@example.com>", f"<reuse{n}@example.com>"),
            sender="alice@example.com",
            recipients=["dev@lists.example.org"],
        )
        await mail_service.sink.wait_for(3 * (n + 1))
        await _settled(mail_service.runtime)
    # Three posts, nine deliveries, over connections kept open between them: none dropped
    # (dropped would say why), none opened while one was idle (lanes may send side by side:
    # CI once saw two at once), and later sends reused them.
    pool = queue.relay_pool()
    assert pool.dropped == {}
    assert pool.opened == pool.peak_in_use
    assert pool.lent > pool.opened


async def test_a_footer_with_each_recipients_link_is_signed_for_each(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    footer = "-- \nDevelopers list\nLeave:  {unsubscribe_url}  \n"
    await db.execute(update(MailingList).where(MailingList.id == dev.id).values(footer=footer))
    await db.commit()
    await mail_service.deliver(
        POST.replace("Ship it on Friday.", "Ship it\t on   Friday.  "),
        sender="alice@example.com",
        recipients=["dev@lists.example.org"],
    )
    mails = await mail_service.sink.wait_for(3)
    dns = await _dns(mail_service.runtime)
    links = set()
    for mail in mails:
        assert dkim.verify(mail.data, dnsfunc=lambda name, timeout=5: dns.get(name, b""))
        unsubscribe = str(mail.message["List-Unsubscribe"]).split(">")[0].lstrip("<")
        text = next(p for p in mail.message.walk() if p.get_content_type() == "text/plain")
        assert f"Leave:  {unsubscribe}" in text.get_content()
        links.add(unsubscribe)
    assert len(links) == 3


async def test_an_owner_sends_failed_deliveries_again(
    mail_service: MailService, dev: MailingList, db: AsyncSession, client: httpx.AsyncClient
) -> None:
    owner = await make_user(db, mail_service.runtime.settings.security, "owner@example.org")
    db.add(ListRole(list_id=dev.id, user_id=owner.id, role="owner"))
    await db.commit()
    await mail_service.deliver(
        POST, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    await mail_service.sink.wait_for(3)
    rows = await _settled(mail_service.runtime)
    # the relay's retries ran out for bob; cy's address bounced
    await db.execute(
        update(Delivery)
        .where(Delivery.id == rows["bob@example.net"].id)
        .values(status="failed", last_code=451)
    )
    await db.execute(
        update(Delivery).where(Delivery.id == rows["cy@example.net"].id).values(status="bounced")
    )
    await db.commit()
    message_id = rows["bob@example.net"].message_id
    url = f"/api/v1/lists/{dev.id}/messages/{message_id}/deliveries/retry"

    moderator = await login(client, "mod@example.org")
    assert (await client.post(url, headers=moderator)).status_code == 403
    auth = await login(client, "owner@example.org")
    answer = await client.post(url, headers=auth, json={"delivery_ids": [999_999]})
    assert answer.json() == {"queued": 0}  # not one of this post's failed deliveries
    answer = await client.post(url, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"queued": 1}

    mails = await mail_service.sink.wait_for(4)
    assert mails[3].recipients == ["bob@example.net"]
    after = await _settled(mail_service.runtime)
    assert {r: d.status for r, d in after.items()} == {
        "ann@example.net": "sent", "bob@example.net": "sent", "cy@example.net": "bounced",
    }  # fmt: skip
    assert after["bob@example.net"].attempts == 2


async def test_a_dual_signing_domain_signs_each_copy_with_rsa_and_ed25519(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    footer = "-- \nDevelopers list\nLeave: {unsubscribe_url}\n"
    await db.execute(update(MailingList).where(MailingList.id == dev.id).values(footer=footer))
    domain = await db.get(Domain, dev.domain_id)
    assert domain is not None
    await domain_keys.replace_dkim_key(
        db, domain, settings=mail_service.runtime.settings, actor_id=None, origin=Origin(),
        selector="ed2026", slot=domain_keys.KeySlot.ED25519,
    )  # fmt: skip
    await db.commit()
    await mail_service.deliver(
        POST, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    mails = await mail_service.sink.wait_for(3)
    async with mail_service.runtime.sessionmaker() as session:
        records = domains.dns_records(
            await session.get_one(Domain, dev.domain_id), mail_service.runtime.settings
        )
    published = {f"{r.name}.".encode(): r.value.encode() for r in records if r.purpose == "dkim"}
    assert sorted(published) == [
        b"ed2026._domainkey.lists.example.org.", b"oak._domainkey.lists.example.org.",
    ]  # fmt: skip
    for mail in mails:
        fields = mail.message.get_all("DKIM-Signature")
        assert fields is not None
        assert len(fields) == 2
        tags = [
            dict(t.strip().split("=", 1) for t in "".join(f.split()).split(";")) for f in fields
        ]
        assert [(t["a"], t["s"]) for t in tags] == [
            ("rsa-sha256", "oak"),
            ("ed25519-sha256", "ed2026"),
        ]
        assert tags[0]["h"] == tags[1]["h"]  # the same headers
        assert tags[0]["bh"] == tags[1]["bh"]  # one body hash for both
        verifier = dkim.DKIM(mail.data)
        for index in (0, 1):  # dkimpy checks Ed25519 through PyNaCl, installed here
            assert verifier.verify(idx=index, dnsfunc=lambda name, timeout=5: published[name])
        # A copy whose signed headers change fails both signatures.
        forged = dkim.DKIM(mail.data.replace(b"Re: Release plan", b"Re: Release plan!"))
        for index in (0, 1):
            assert not forged.verify(idx=index, dnsfunc=lambda n, timeout=5: published[n])


async def test_a_second_sending_job_for_a_post_this_process_sends_ends_at_once(
    mail_service: MailService, dev: MailingList, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several jobs per long post let other workers share it; two in one process would only
    compete for its connections, so the second leaves the post to the first."""
    await mail_service.deliver(
        POST, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    await mail_service.sink.wait_for(3)
    rows = await _settled(mail_service.runtime)
    message_id = next(iter(rows.values())).message_id
    assert message_id is not None
    async with mail_service.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(Delivery).values(status="queued", sent_at=None))
    started = []
    start = delivery_jobs._start

    async def counted(message_id: int) -> delivery_jobs._Run | None:
        started.append(message_id)
        return await start(message_id)

    monkeypatch.setattr(delivery_jobs, "_start", counted)
    sent = await asyncio.gather(
        delivery_jobs.send_post(message_id), delivery_jobs.send_post(message_id)
    )
    assert sorted(sent) == [0, 3]
    assert started == [message_id]  # the second composed nothing and claimed nothing
    assert len(mail_service.sink.received) == 6  # each subscriber once more, not twice more
    assert {d.status for d in (await _settled(mail_service.runtime)).values()} == {"sent"}
    # a job that comes after the first ended sends again
    async with mail_service.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(Delivery).values(status="queued", sent_at=None))
    assert await delivery_jobs.send_post(message_id) == 3
    assert started == [message_id, message_id]
