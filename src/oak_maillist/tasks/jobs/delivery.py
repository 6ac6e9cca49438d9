"""Jobs that send accepted posts to their subscribers, and the sweeper for retries and leases."""

from __future__ import annotations

from datetime import timedelta

from oak_maillist.db.engine import transaction
from oak_maillist.delivery import relay
from oak_maillist.logging import get_logger
from oak_maillist.models import Message
from oak_maillist.services import distribution, outbound
from oak_maillist.tasks.queue import current_runtime, enqueue
from oak_maillist.tasks.registry import job

log = get_logger(__name__)
# A job sends at most this many batches, then hands the rest to a fresh job, so one large
# list does not hold a worker for ever and other posts get their turn.
MAX_BATCHES_PER_JOB = 20


@job(distribution.POST_JOB, timeout_seconds=600, max_retries=2)
async def send_post(message_id: int) -> int:
    """Send the due deliveries of one post, a batch at a time (idempotent: claimed rows only)."""
    runtime = current_runtime()
    settings = runtime.settings
    lease = timedelta(seconds=settings.queue.lease_seconds)
    async with transaction(runtime.sessionmaker) as session:
        message = await session.get(Message, message_id)
        outgoing = await distribution.compose_post(session, settings, message) if message else None
    if outgoing is None:
        log.warning("post_unreadable", message_id=message_id)
        return 0
    key = distribution.verp_key(settings)
    sent = 0
    for _ in range(MAX_BATCHES_PER_JOB):
        async with transaction(runtime.sessionmaker) as session:
            batch = await distribution.claim_batch(session, message_id, lease=lease)
            if not batch:
                return sent
            config = await outbound.relay_for(session, batch[0], settings)
        envelopes = [distribution.envelope_for(outgoing, row, settings, key) for row in batch]
        results = await relay.send_each(config, envelopes)
        async with transaction(runtime.sessionmaker) as session:
            counts = await distribution.record_results(
                session, settings, [row.id for row in batch], results
            )
        sent += counts.get("sent", 0)
        log.info("post_batch_sent", message_id=message_id, **counts)
    await enqueue(distribution.POST_JOB, message_id=message_id)
    return sent


@job("delivery.sweep", cron=("* * * * *",), timeout_seconds=60, max_retries=1)
async def sweep() -> int:
    """Every minute: hand out posts with deliveries due (retries, expired leases, lost jobs)."""
    async with transaction(current_runtime().sessionmaker) as session:
        ids = await distribution.due_message_ids(session)
    for message_id in ids:
        await enqueue(distribution.POST_JOB, message_id=message_id)
    return len(ids)
