"""Jobs that process what the SMTP edge stored, and the sweeper that finds what was missed."""

from __future__ import annotations

from datetime import timedelta

from oak_maillist.db.engine import transaction
from oak_maillist.logging import get_logger
from oak_maillist.models import InboundMessage
from oak_maillist.services import inbound, moderation, processing
from oak_maillist.tasks.queue import current_runtime, enqueue
from oak_maillist.tasks.registry import job

log = get_logger(__name__)


@job(inbound.PROCESS_JOB, timeout_seconds=300, max_retries=2)
async def process(inbound_id: int) -> str:
    """Run one stored message through its lists (idempotent: a done row is skipped)."""
    runtime = current_runtime()
    lease = timedelta(seconds=runtime.settings.queue.lease_seconds)
    async with transaction(runtime.sessionmaker) as session:
        if not await inbound.claim(session, inbound_id, lease=lease):
            return "skipped"
    try:
        async with transaction(runtime.sessionmaker) as session:
            row = await session.get(InboundMessage, inbound_id)
            if row is None:
                return "gone"
            report = await processing.process(session, runtime.settings, row)
    except Exception as exc:
        async with transaction(runtime.sessionmaker) as session:
            status = await inbound.record_failure(
                session, inbound_id, f"{type(exc).__name__}: {exc}"
            )
        log.exception("inbound_failed", inbound_id=inbound_id, status=str(status))
        raise
    return report.outcome


@job("inbound.sweep", cron=("* * * * *",), timeout_seconds=60, max_retries=1)
async def sweep(grace_seconds: int | None = None) -> int:
    """Every minute: hand out stored messages nobody is processing (after a crash, say).

    A worker that starts sweeps with no grace: what is stored but unprocessed then was left
    by a process that died.
    """
    grace = None if grace_seconds is None else timedelta(seconds=grace_seconds)
    async with transaction(current_runtime().sessionmaker) as session:
        ids = await inbound.due_ids(session, grace=grace)
    for inbound_id in ids:
        await enqueue(inbound.PROCESS_JOB, inbound_id=inbound_id)
    return len(ids)


@job("moderation.expire", cron=("17 * * * *",), timeout_seconds=120, max_retries=1)
async def expire_held() -> int:
    """Hourly: held posts nobody decided on within hold_expiry_days expire."""
    async with transaction(current_runtime().sessionmaker) as session:
        return await moderation.expire(session)
