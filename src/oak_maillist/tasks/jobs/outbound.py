"""Jobs that hand the service's own mail to the relay, and the sweeper that finds lost work."""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib

from oak_maillist.db.engine import transaction
from oak_maillist.delivery import relay
from oak_maillist.services import composing, outbound
from oak_maillist.tasks.queue import current_runtime, enqueue, relay_pool
from oak_maillist.tasks.registry import job

SEND = outbound.SEND_JOB


@job(SEND, timeout_seconds=120, max_retries=1)
async def send(outbound_id: int) -> str:
    """Send one stored message (idempotent: a row already sent or held elsewhere is skipped)."""
    runtime = current_runtime()
    lease = timedelta(seconds=runtime.settings.queue.lease_seconds)
    async with transaction(runtime.sessionmaker) as session:
        row = await outbound.claim(session, outbound_id, lease=lease)
        if row is None:
            return "skipped"
        config = await outbound.relay_for(session, row.list_id, runtime.settings)
        sender, recipient = row.sender, row.recipient
        crlf = row.raw.encode().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        raw = await composing.sign_service_mail(session, runtime.settings, crlf)
    try:
        async with relay_pool().connection(config) as client:
            results = await relay.send_bulk(
                client, sender=sender, recipients=[recipient], message=raw
            )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        results = {recipient: relay.temporary_failure(exc)}
    async with transaction(runtime.sessionmaker) as session:
        row = await session.get(outbound.OutboundMessage, outbound_id)
        if row is None:
            return "gone"
        attempt = outbound.record(row, results[recipient], runtime.settings)
    return str(attempt.status)


@job("outbound.sweep", cron=("* * * * *",), timeout_seconds=60, max_retries=1)
async def sweep() -> int:
    """Every minute: hand out again what is due (retries, lost hand-offs, expired leases)."""
    async with transaction(current_runtime().sessionmaker) as session:
        ids = await outbound.due_ids(session)
    for outbound_id in ids:
        await enqueue(SEND, outbound_id=outbound_id)
    return len(ids)
