"""Bounces come back to the VERP address of a delivery: soft ones are kept, hard ones count,
the subscriber is warned one short of the limit and unsubscribed at it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Bounce, Delivery, ListRole, MailingList, Subscriber
from oak_maillist.runtime import Runtime
from tests.factories import login, make_domain, make_list, make_user
from tests.pipeline.conftest import MailService, message


def _dsn(verp_address: str, n: int, status: str, diagnostic: str) -> str:
    return (
        "From: MAILER-DAEMON@mx.example.net\r\n"
        f"To: {verp_address}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn{n}@mx.example.net>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; ann@example.net\r\n"
        f"Action: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "--r--\r\n"
    )


@pytest.fixture
async def dev(db: AsyncSession, runtime: Runtime) -> MailingList:
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", posting_policy="anyone")
    ann = "ann@example.net"
    db.add(Subscriber(list_id=mlist.id, email=ann, email_normalized=ann, status="active"))
    moderator = await make_user(db, runtime.settings.security, "mod@example.org")
    db.add(ListRole(list_id=mlist.id, user_id=moderator.id, role="moderator"))
    owner = await make_user(db, runtime.settings.security, "owner@example.org")
    db.add(ListRole(list_id=mlist.id, user_id=owner.id, role="owner"))
    await db.commit()
    return mlist


async def _return_path(mail_service: MailService) -> str:
    await mail_service.deliver(
        message(), sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    [post] = await mail_service.sink.wait_for(1)
    return post.sender


async def _subscriber(runtime: Runtime) -> Subscriber:
    async with runtime.sessionmaker() as session:
        found: Subscriber | None = await session.scalar(select(Subscriber))
        assert found is not None
        return found


async def test_hard_bounces_warn_then_unsubscribe(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient
) -> None:
    verp_address = await _return_path(mail_service)
    soft = await mail_service.deliver(
        _dsn(verp_address, 0, "4.2.2", "452 4.2.2 Mailbox full"),
        sender="",
        recipients=[verp_address],
    )
    assert soft.outcome == "bounce"
    assert "soft bounce" in soft.reasons[0]
    assert (await _subscriber(mail_service.runtime)).bounce_score == 0

    outcomes = []
    for n in (1, 2, 3):
        row = await mail_service.deliver(
            _dsn(verp_address, n, "5.1.1", "550 5.1.1 User unknown"),
            sender="",
            recipients=[verp_address],
        )
        outcomes.append(row.reasons[0].split(": ", 2)[2])
    subscriber = await _subscriber(mail_service.runtime)
    assert outcomes == [
        f"hard bounce 1 for subscriber {subscriber.id}",
        f"hard bounce 2: subscriber {subscriber.id} warned",
        f"hard bounce 3: subscriber {subscriber.id} unsubscribed",
    ]
    subscriber = await _subscriber(mail_service.runtime)
    assert (subscriber.status, subscriber.bounce_score) == ("unsubscribed", 3)
    mails = await mail_service.sink.wait_for(3)
    by_recipient = {m.recipients[0]: m.message for m in mails[1:]}
    warning = by_recipient["ann@example.net"]
    assert "Delivery problems" in str(warning["Subject"])
    # the owners hear that the address was unsubscribed, with the servers' answers
    notice = by_recipient["owner@example.org"]
    assert str(notice["Subject"]) == "[dev] ann@example.net was unsubscribed after 3 bounces"
    assert "550 5.1.1 User unknown" in notice.get_content()
    assert f"/lists/{dev.id}/bounces" in notice.get_content()
    async with mail_service.runtime.sessionmaker() as session:
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None
        assert delivery.status == "bounced"

    auth = await login(client, "mod@example.org")
    page = (await client.get(f"/api/v1/lists/{dev.id}/bounces", headers=auth)).json()
    assert page["total"] == 4
    assert [b["kind"] for b in page["items"]].count("hard") == 3


async def test_forged_tokens_and_non_bounces_change_nothing(
    mail_service: MailService, dev: MailingList
) -> None:
    verp_address = await _return_path(mail_service)
    local, _, domain = verp_address.partition("@")
    forged = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    row = await mail_service.deliver(
        _dsn(forged, 1, "5.1.1", "550 5.1.1 User unknown"), sender="", recipients=[forged]
    )
    assert row.reasons[0].endswith("bounce token not valid: ignored")
    vacation = message(
        sender="ann@example.net",
        to=verp_address,
        subject="Out of office",
        message_id="<away@example.net>",
        headers={"Auto-Submitted": "auto-replied"},
    )
    row = await mail_service.deliver(vacation, sender="ann@example.net", recipients=[verp_address])
    assert "not a bounce" in row.reasons[0]
    assert (await _subscriber(mail_service.runtime)).bounce_score == 0


async def test_bounces_without_a_token_are_matched_by_address(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    plain = "dev-bounces@lists.example.org"
    # nothing was sent to ann yet: a report anyone could forge counts as soft only
    early = await mail_service.deliver(
        _dsn(plain, 1, "5.1.1", "550 5.1.1 User unknown"), sender="", recipients=[plain]
    )
    assert early.outcome == "bounce"
    ann = await _subscriber(mail_service.runtime)
    assert early.reasons[0].endswith(f"soft bounce for subscriber {ann.id}")
    # after a post went to ann, the same report counts as hard
    await _return_path(mail_service)
    late = await mail_service.deliver(
        _dsn(plain, 2, "5.1.1", "550 5.1.1 User unknown"), sender="", recipients=[plain]
    )
    subscriber = await _subscriber(mail_service.runtime)
    assert late.reasons[0].endswith(f"hard bounce 1 for subscriber {subscriber.id}")
    assert subscriber.bounce_score == 1
    kinds = sorted(b.kind for b in (await db.scalars(select(Bounce))).all())
    assert kinds == ["hard", "soft"]
