"""The service's own mail reaches a real SMTP server; failures retry or fail as they should."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import dkim
import pytest
import time_machine
from sqlalchemy import select

from oak_maillist.config import OutgoingSmtpSettings, QueueSettings, SmtpSettings
from oak_maillist.db.engine import transaction
from oak_maillist.db.types import utcnow
from oak_maillist.mail.compose import notice
from oak_maillist.models import DeliveryStatus, OutboundMessage
from oak_maillist.runtime import Runtime
from oak_maillist.services import domains, outbound
from oak_maillist.services.activity import Origin
from oak_maillist.tasks import queue
from oak_maillist.tasks.jobs import outbound as outbound_jobs
from tests.factories import make_domain, make_list, make_user
from tests.sink import Sink


@pytest.fixture
async def relay_runtime(runtime: Runtime, sink: Sink) -> AsyncIterator[Runtime]:
    """The runtime pointed at the sink, with the in-memory broker running jobs."""
    smtp = SmtpSettings(
        incoming=runtime.settings.smtp.incoming,
        outgoing=OutgoingSmtpSettings(
            host="127.0.0.1", port=sink.port, security="none", timeout_seconds=5
        ),
    )
    local = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"smtp": smtp})
    )
    await queue.start(local, queue.make_broker(QueueSettings()), worker=True)
    yield local
    await queue.stop()


async def _queue_notice(
    runtime: Runtime, recipient: str = "bob@example.org", list_id: int | None = None
) -> int:
    message = notice(
        sender="dev-request@lists.example.org",
        sender_name="Dev list",
        recipient=recipient,
        subject="Bitte bestätigen / 请确认",
        body="Grüße, 你好\n",
        domain="lists.example.org",
    )
    async with transaction(runtime.sessionmaker) as session:
        row = await outbound.queue(
            session,
            message,
            kind="confirm",
            list_id=list_id,
            sender="dev-bounces@lists.example.org",
            recipient=recipient,
            hand_off=False,  # each test hands it over itself, or leaves it to the sweeper
        )
    return row.id


async def _row(runtime: Runtime, row_id: int) -> OutboundMessage:
    async with runtime.sessionmaker() as session:
        row = await session.get(OutboundMessage, row_id)
    assert row is not None
    return row


async def _settled(runtime: Runtime, row_id: int) -> OutboundMessage:
    """The row once its job has recorded the relay's answer (the job runs in the background)."""
    async with asyncio.timeout(15):
        while (row := await _row(runtime, row_id)).status == DeliveryStatus.SENDING:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return row


async def test_notice_is_delivered_with_its_headers(relay_runtime: Runtime, sink: Sink) -> None:
    row_id = await _queue_notice(relay_runtime)
    await queue.enqueue(outbound_jobs.SEND, outbound_id=row_id)
    received = (await sink.wait_for(1))[0]
    assert received.sender == "dev-bounces@lists.example.org"
    assert received.recipients == ["bob@example.org"]
    message = received.message
    assert message["Subject"] == "Bitte bestätigen / 请确认"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@lists.example.org>")
    assert message.get_content() == "Grüße, 你好\n"
    row = await _settled(relay_runtime, row_id)
    assert (row.status, row.attempts, row.last_code) == (DeliveryStatus.SENT, 1, 250)


async def test_temporary_failure_is_retried_later(relay_runtime: Runtime, sink: Sink) -> None:
    sink.refuse_next("451 4.3.0 try later")
    row_id = await _queue_notice(relay_runtime)
    assert await outbound_jobs.send(row_id) == "deferred"
    row = await _row(relay_runtime, row_id)
    assert row.last_code == 451
    assert row.next_attempt_at > utcnow() + timedelta(seconds=50)
    assert await outbound_jobs.send(row_id) == "skipped"  # not due yet
    with time_machine.travel(utcnow() + timedelta(minutes=2)):
        assert await outbound_jobs.sweep() == 1
        await sink.wait_for(1)
        row = await _settled(relay_runtime, row_id)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 2)


async def test_permanent_failure_fails_that_message(relay_runtime: Runtime, sink: Sink) -> None:
    sink.refuse_recipient("gone@example.org", "550 5.1.1 no such user")
    row_id = await _queue_notice(relay_runtime, "gone@example.org")
    assert await outbound_jobs.send(row_id) == "failed"
    row = await _row(relay_runtime, row_id)
    assert (row.last_code, row.last_reply) == (550, "5.1.1 no such user")


async def test_unreachable_relay_defers_and_gives_up_after_the_retry_period(
    runtime: Runtime, sink: Sink
) -> None:
    smtp = SmtpSettings(
        outgoing=OutgoingSmtpSettings(
            host="127.0.0.1", port=1, security="none", timeout_seconds=2, retry_period_hours=1
        )
    )
    local = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"smtp": smtp})
    )
    await queue.start(local, queue.make_broker(QueueSettings()), worker=True)
    try:
        row_id = await _queue_notice(local)
        assert await outbound_jobs.send(row_id) == "deferred"
        assert (await _row(local, row_id)).last_reply.startswith("SMTPConnect")  # type: ignore[union-attr]
        with time_machine.travel(utcnow() + timedelta(minutes=59)):
            assert await outbound_jobs.send(row_id) == "failed"
    finally:
        await queue.stop()


async def test_lost_hand_off_is_found_by_the_sweeper(relay_runtime: Runtime, sink: Sink) -> None:
    """A crash between commit and enqueue: the row alone is enough."""
    row_id = await _queue_notice(relay_runtime)
    assert await outbound_jobs.sweep() == 1
    await sink.wait_for(1)
    assert (await _settled(relay_runtime, row_id)).status == DeliveryStatus.SENT


async def test_expired_lease_is_taken_over(relay_runtime: Runtime, sink: Sink) -> None:
    row_id = await _queue_notice(relay_runtime)
    async with transaction(relay_runtime.sessionmaker) as session:
        assert await outbound.claim(session, row_id, lease=timedelta(seconds=30)) is not None
    assert await outbound_jobs.send(row_id) == "skipped"  # held by the "crashed" worker
    with time_machine.travel(utcnow() + timedelta(seconds=31)):
        assert await outbound_jobs.send(row_id) == "sent"
    assert len(sink.received) == 1


async def test_domain_relay_overrides_the_global_one(runtime: Runtime, sink: Sink) -> None:
    async with transaction(runtime.sessionmaker) as session:
        domain = await make_domain(
            session,
            "lists.example.org",
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_security="none",
        )
        mlist = await make_list(session, domain, "dev")
    # the global relay points nowhere; only the domain's own relay can deliver
    smtp = SmtpSettings(outgoing=OutgoingSmtpSettings(host="127.0.0.1", port=1, security="none"))
    local = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"smtp": smtp})
    )
    await queue.start(local, queue.make_broker(QueueSettings()), worker=True)
    try:
        row_id = await _queue_notice(local, list_id=mlist.id)
        assert await outbound_jobs.send(row_id) == "sent"
    finally:
        await queue.stop()
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(select(OutboundMessage))).scalars().all()
    assert [row.status for row in rows] == [DeliveryStatus.SENT]


async def test_service_mail_is_signed_by_its_from_domain(
    relay_runtime: Runtime, sink: Sink
) -> None:
    """Confirmations and notices carry the list domain's DKIM signature, as posts do."""
    async with transaction(relay_runtime.sessionmaker) as session:
        admin = await make_user(session, relay_runtime.settings.security, "admin@example.org")
        domain = await domains.create_domain(
            session,
            name="lists.example.org",
            settings=relay_runtime.settings,
            actor_id=admin.id,
            origin=Origin(),
        )
        domain.dkim_enabled = True
        records = domains.dns_records(domain, relay_runtime.settings)
    published = {f"{r.name}.".encode(): r.value.encode() for r in records if r.purpose == "dkim"}
    row_id = await _queue_notice(relay_runtime)
    await queue.enqueue(outbound_jobs.SEND, outbound_id=row_id)
    received = (await sink.wait_for(1))[0]
    assert received.message["DKIM-Signature"] is not None
    assert "d=lists.example.org" in "".join(received.message["DKIM-Signature"].split())
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: published.get(name, b""))
    assert received.message.get_content() == "Grüße, 你好\n"  # the body went out as signed


async def test_service_mail_from_a_domain_that_does_not_sign_goes_unsigned(
    relay_runtime: Runtime, sink: Sink
) -> None:
    async with transaction(relay_runtime.sessionmaker) as session:
        await make_domain(session, "lists.example.org")  # no DKIM key
    row_id = await _queue_notice(relay_runtime)
    await queue.enqueue(outbound_jobs.SEND, outbound_id=row_id)
    received = (await sink.wait_for(1))[0]
    assert received.message["DKIM-Signature"] is None
    assert received.message["Subject"] == "Bitte bestätigen / 请确认"
