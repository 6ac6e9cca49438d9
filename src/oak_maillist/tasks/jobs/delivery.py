"""Jobs that send accepted posts to their subscribers, and the sweeper for retries and leases.

A long list's delivery rows are written chunk by chunk (`delivery.fan_out`) while the first
ones are already being sent. One sending job per post runs several lanes side by side, each
claiming a batch of deliveries under a lease, sending it over a pooled relay connection and
recording the answers. A personalised list gets one transaction per recipient (its own return
path and unsubscribe link); a bulk list gets one copy, signed once, for many recipients per
transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import aiosmtplib
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.engine import transaction
from oak_maillist.delivery import relay
from oak_maillist.delivery.pool import RelayPool
from oak_maillist.logging import get_logger
from oak_maillist.models import Delivery, MailingList, Message, Subscriber
from oak_maillist.services import bounces, composing, distribution, fanout, outbound
from oak_maillist.tasks.queue import current_runtime, enqueue, relay_pool
from oak_maillist.tasks.registry import job

log = get_logger(__name__)
# A job sends at most this many batches, then hands the rest to a fresh job, so one large
# list does not hold a worker for ever and other posts get their turn.
MAX_BATCHES_PER_JOB = 50
PERSONAL_BATCH = 100
# Personalised messages are signed this many at a time, the next few while these are sent.
SIGN_SLICE = 10
BULK_BATCH = 1000
# Recipients per SMTP transaction in bulk (RFC 5321 §4.5.3.1.8: relays must take 100).
BULK_RECIPIENTS = 100
RECORD_ATTEMPTS = 4
# A lane that finds nothing to claim while the post's rows are still being written waits for
# the next chunk, polling this often, for at most this long without one.
FANOUT_POLL_SECONDS = 0.05
FANOUT_WAIT_SECONDS = 30.0
# Chunks one fan-out job writes before handing the rest to a fresh job.
MAX_CHUNKS_PER_JOB = 500
# A pending fan-out nobody has moved on for this long is handed to another job.
FANOUT_GRACE = timedelta(seconds=60)


@dataclass
class _Run:
    """One job's shared state: what to send, how, and how far it got."""

    message_id: int
    outgoing: composing.Outgoing
    config: relay.RelayConfig
    settings: Settings
    pool: RelayPool
    verp_key: bytes
    budget: int = MAX_BATCHES_PER_JOB
    # Lanes with nothing to claim while the post's rows are being written: one of them polls
    # at a time, the others queue behind it; how long they have found nothing.
    polling: asyncio.Lock = field(default_factory=asyncio.Lock)
    waited: float = 0.0
    # A bulk list's one signed copy (return path, bytes), made by the first batch.
    bulk: tuple[str, bytes] | None = None
    sent: int = 0
    counts: dict[str, int] = field(default_factory=dict)


# Posts a sending job runs for in this process. A second job for the same post ends at once:
# its lanes would only compete with the first one's for the same relay connections.
_sending: set[int] = set()


@job(distribution.POST_JOB, timeout_seconds=600, max_retries=2)
async def send_post(message_id: int) -> int:
    """Send the due deliveries of one post (idempotent: only rows this job claimed are sent)."""
    if message_id in _sending:
        return 0
    _sending.add(message_id)
    try:
        run = await _start(message_id)
        if run is not None:
            lanes = max(1, run.settings.smtp.outgoing.max_connections)
            await asyncio.gather(*(_lane(run) for _ in range(lanes)))
    finally:
        _sending.discard(message_id)
    if run is None:
        return 0
    if run.budget <= 0:  # after leaving `_sending`, so that the next job may run here
        await enqueue(distribution.POST_JOB, message_id=message_id)
    log.info("post_sent", message_id=message_id, **run.counts)
    return run.sent


async def _start(message_id: int) -> _Run | None:
    """What sending the post needs, made once per job; None when the post cannot be read."""
    runtime = current_runtime()
    settings = runtime.settings
    # Only reads: on SQLite it need not wait behind the fan-out writing the post's rows.
    async with runtime.sessionmaker() as session:
        message = await session.get(Message, message_id)
        outgoing = await composing.compose_post(session, settings, message) if message else None
        config = (
            await outbound.relay_for(session, message.list_id, settings)
            if message and outgoing
            else None
        )
    if outgoing is None or config is None:
        log.warning("post_unreadable", message_id=message_id)
        return None
    return _Run(message_id, outgoing, config, settings, relay_pool(), composing.verp_key(settings))


@job(fanout.FANOUT_JOB, timeout_seconds=600, max_retries=2)
async def fan_out(message_id: int) -> int:
    """Write the rest of a post's delivery rows, a chunk per transaction."""
    runtime = current_runtime()
    written = 0
    for number in range(MAX_CHUNKS_PER_JOB):
        async with transaction(runtime.sessionmaker) as session:
            chunk = await fanout.next_chunk(session, message_id, number=number)
        if chunk is None:
            break
        written += chunk.written
        if chunk.done:
            log.info("post_fan_out_done", message_id=message_id)
            break
    else:
        await enqueue(fanout.FANOUT_JOB, message_id=message_id)
    return written


async def _lane(run: _Run) -> None:
    """Claim, send, record, until the post has nothing due. Recording a batch and claiming
    the next share one transaction: on SQLite, where writers take turns, that halves the turns.
    """
    runtime = current_runtime()
    # A small first batch: the post's first recipients have it (and it is recorded as sent)
    # before a whole batch is signed or sent.
    batch, more = await _claim_alone(run, first=True)
    while True:
        if batch:
            try:
                await run.pool.rate.take(len(batch))
                results = await _send(run, batch)
            except Exception:
                # Nothing went out for certain: hand the batch back now, not at lease end.
                async with transaction(runtime.sessionmaker) as session:
                    await distribution.release(session, [row.id for row in batch])
                raise
            batch, more = await _record(run, batch, results)
            continue
        if not more:
            return
        batch, more = await _await_rows(run)


async def _await_rows(run: _Run) -> tuple[list[distribution.Claimed], bool]:
    """A batch once the fan-out has written more rows; nothing when it is done or has written
    none for FANOUT_WAIT_SECONDS. One lane polls at a time: a job's idle lanes would otherwise
    query the database 20 times a second each, while it is busy writing rows."""
    async with run.polling:
        while run.waited < FANOUT_WAIT_SECONDS:
            batch, more = await _claim_alone(run)
            if batch:
                run.waited = 0.0
            if batch or not more:
                return batch, more
            await asyncio.sleep(FANOUT_POLL_SECONDS)
            run.waited += FANOUT_POLL_SECONDS
    return [], False


async def _claim_alone(
    run: _Run, *, first: bool = False
) -> tuple[list[distribution.Claimed], bool]:
    """`_claim` in a transaction of its own, tried again when the database gives up on it (a
    lock wait timeout; lanes' claims do not deadlock, see `db.engine.MYSQL_ISOLATION`)."""
    sessionmaker = current_runtime().sessionmaker
    for attempt in range(RECORD_ATTEMPTS):
        try:
            async with transaction(sessionmaker) as session:
                return await _claim(session, run, first=first)
        except OperationalError:
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            log.warning("delivery_claim_retry", message_id=run.message_id, attempt=attempt + 1)
            await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


async def _claim(
    session: AsyncSession, run: _Run, *, first: bool = False
) -> tuple[list[distribution.Claimed], bool]:
    """The lane's next batch, if the job's budget allows one; with none, whether rows of the
    post are still being written (then the lane waits for them)."""
    if run.budget <= 0:
        return [], False
    if run.outgoing.personalize:
        limit = SIGN_SLICE if first else PERSONAL_BATCH
    else:
        limit = BULK_RECIPIENTS if first else BULK_BATCH
    batch = await distribution.claim_batch(
        session,
        run.message_id,
        lease=timedelta(seconds=run.settings.queue.lease_seconds),
        limit=limit,
    )
    if batch:
        run.budget -= 1
        return batch, False
    return [], await fanout.is_pending(session, run.message_id)


async def _record(
    run: _Run, batch: list[distribution.Claimed], results: list[relay.Result]
) -> tuple[list[distribution.Claimed], bool]:
    """Store the relay's answers and claim the next batch. The mail is out, so a busy
    database is waited for, not given up on (a lost record would send the batch again when
    its lease ends)."""
    runtime = current_runtime()
    for attempt in range(RECORD_ATTEMPTS):
        try:
            async with transaction(runtime.sessionmaker) as session:
                recorded = await distribution.record_results(
                    session, run.settings, [row.id for row in batch], results
                )
                for row, diagnostic in recorded.refused:
                    await _count_refusal(session, run.settings, row, diagnostic)
                following = await _claim(session, run)
        except OperationalError:
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            log.warning("delivery_record_retry", message_id=run.message_id, attempt=attempt + 1)
            await asyncio.sleep(0.5 * 2**attempt)
            continue
        for status, count in recorded.counts.items():
            run.counts[status] = run.counts.get(status, 0) + count
        run.sent += recorded.counts.get("sent", 0)
        return following
    raise AssertionError("unreachable")


async def _send(run: _Run, batch: list[distribution.Claimed]) -> list[relay.Result]:
    try:
        async with run.pool.connection(run.config) as client:
            if run.outgoing.personalize:
                return await _send_personal(run, client, batch)
            return await _send_bulk(run, client, batch)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return [relay.temporary_failure(exc)] * len(batch)


async def _send_personal(
    run: _Run, client: aiosmtplib.SMTP, batch: list[distribution.Claimed]
) -> list[relay.Result]:
    """Sign a few messages while the ones signed before go out, so that the first leave at
    once rather than after the whole batch is signed. Signing runs in a thread: it releases
    the GIL, and other lanes' I/O and the other core go on meanwhile."""
    slices = [batch[i : i + SIGN_SLICE] for i in range(0, len(batch), SIGN_SLICE)]
    results: list[relay.Result] = []
    signing = asyncio.ensure_future(asyncio.to_thread(_envelopes, run, slices[0]))
    for number in range(len(slices)):
        envelopes = await signing
        if number + 1 < len(slices):
            signing = asyncio.ensure_future(asyncio.to_thread(_envelopes, run, slices[number + 1]))
        results += await relay.send_each(client, envelopes)
        if not client.is_connected:
            break
    if not signing.done():
        signing.cancel()
    return results + [relay.LOST] * (len(batch) - len(results))


def _envelopes(run: _Run, batch: list[distribution.Claimed]) -> list[relay.Envelope]:
    return [composing.envelope_for(run.outgoing, row, run.settings, run.verp_key) for row in batch]


async def _send_bulk(
    run: _Run, client: aiosmtplib.SMTP, batch: list[distribution.Claimed]
) -> list[relay.Result]:
    if run.bulk is None:
        run.bulk = composing.bulk_envelope(run.outgoing, run.settings)
    sender, data = run.bulk
    answers: dict[str, relay.Result] = {}
    for start in range(0, len(batch), BULK_RECIPIENTS):
        recipients = [row.recipient for row in batch[start : start + BULK_RECIPIENTS]]
        if not client.is_connected:
            answers.update(dict.fromkeys(recipients, relay.LOST))
            continue
        answers.update(
            await relay.send_bulk(client, sender=sender, recipients=recipients, message=data)
        )
    unknown = relay.Result(relay.Outcome.TEMPORARY, None, "the relay gave no answer")
    return [answers.get(row.recipient, unknown) for row in batch]


async def _count_refusal(
    session: AsyncSession, settings: Settings, row: Delivery, diagnostic: str
) -> None:
    """A 5xx from the relay is a hard bounce for that subscriber (the relay said it at once)."""
    if row.subscriber_id is None:
        return
    subscriber = await session.get(Subscriber, row.subscriber_id)
    mlist = await session.get(MailingList, row.list_id)
    if subscriber is None or mlist is None:
        return
    await bounces.record_hard(
        session,
        settings,
        mlist=mlist,
        subscriber=subscriber,
        delivery_id=row.id,
        diagnostic=diagnostic,
    )


@job("delivery.sweep", cron=("* * * * *",), timeout_seconds=60, max_retries=1)
async def sweep(grace_seconds: int | None = None) -> int:
    """Every minute: hand out posts with deliveries due (retries, expired leases, lost jobs)
    and fan-outs that stalled. A worker that starts sweeps with no grace: a fan-out pending
    then was left by a process that died (or is moving on, and shares the rest)."""
    grace = FANOUT_GRACE if grace_seconds is None else timedelta(seconds=grace_seconds)
    async with transaction(current_runtime().sessionmaker) as session:
        ids = await distribution.due_message_ids(session)
        stalled = await fanout.stalled(session, grace=grace)
    for message_id in stalled:
        await enqueue(fanout.FANOUT_JOB, message_id=message_id)
    for message_id in ids:
        await enqueue(distribution.POST_JOB, message_id=message_id)
    return len(ids) + len(stalled)
