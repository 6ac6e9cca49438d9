"""Jobs that process what the SMTP edge stored, and the sweeper that finds what was missed."""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import timedelta

from sqlalchemy import bindparam, select

from oak_maillist.db.engine import transaction, writer_queue
from oak_maillist.logging import get_logger
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.metrics import INBOUND_STAGE_SECONDS, INBOUND_TRANSACTION_MESSAGES
from oak_maillist.models import InboundMessage, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services import inbound, moderation, processing, search
from oak_maillist.services.batches import Batches
from oak_maillist.tasks.queue import current_runtime, enqueue
from oak_maillist.tasks.registry import job

log = get_logger(__name__)

# Messages handed over while a batch runs are claimed and processed together in the next,
# this many at most. A batch shares one transaction, its lists, domains and sender rules, what
# its posts ask the archive, and the flush and statements that write them. On SQLite it
# commits early when the SMTP edge waits for the write lock (see _give_way), so that a
# client's 250 waits for one message's processing (and the batch's closing writes) at most.
# 16 against 8: 5 KB posts archived about 10% faster; 32: a little faster again, but the
# closing writes then hold the SMTP edge up longer (250 p95 38-40 -> 45-50 ms).
#
# One batch at a time per process is processed (_chain), on every database. SQLite has one
# writer at a time anyway. Elsewhere batches that archive to the same list take turns on its
# lock (services/list_locks): a second batch beside the first gained nothing for posts to one
# list (one worker process, 5 KB posts: 275-279 against 278-294/s), and beside the SMTP edge
# two batches took its 250 p95 from 47-58 to 75-82 ms (bench/ingest.py). But on PostgreSQL
# and MySQL/MariaDB a batch indexes its posts for search after it commits (search.backlog),
# and the next batch is processed meanwhile: two batches are under way at a time (5 KB posts
# archived and indexed: PostgreSQL 207-213 -> 250-256/s, MariaDB 76-77 -> 120-123/s; 100 KB:
# 29-30 -> 39-40/s and 7.5 -> 9.5-10.6/s).
MAX_BATCH = 16
CONCURRENT_BATCHES = 2
_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Batches[int, str]] = (
    weakref.WeakKeyDictionary()
)


_ROWS = (
    select(InboundMessage)
    .where(InboundMessage.id.in_(bindparam("ids", expanding=True)))
    .order_by(InboundMessage.id)
)


# The time a batch may take (it is then tried again message by message). The batch has the
# timer, not each job waiting for it: one timer per batch instead of one per message.
BATCH_TIMEOUT_SECONDS = 300


@job(inbound.PROCESS_JOB, timeout_seconds=None, max_retries=2, batched=True)
async def process(inbound_id: int) -> str:
    """Run one stored message through its lists (idempotent: a done row is skipped), in one
    transaction with the others handed to this process meanwhile."""
    loop = asyncio.get_running_loop()
    batches = _batches.get(loop)
    if batches is None:
        # SQLite indexes in the archive's transaction: a second batch would only wait.
        sqlite = current_runtime().engine.dialect.name == "sqlite"
        batches = _batches[loop] = Batches(
            _bounded_batch, max_size=MAX_BATCH, concurrency=1 if sqlite else CONCURRENT_BATCHES
        )
    return await batches.submit(inbound_id)


async def _bounded_batch(inbound_ids: list[int]) -> list[str | Exception]:
    async with asyncio.timeout(BATCH_TIMEOUT_SECONDS):
        return await _process_batch(inbound_ids)


async def _process_batch(inbound_ids: list[int]) -> list[str | Exception]:
    """Claim the messages in one transaction and process the claimed ones in another; if that
    fails, the ones not yet committed each again alone, so that an error is recorded against
    its own message only."""
    runtime = current_runtime()
    lease = timedelta(seconds=runtime.settings.queue.lease_seconds)
    laps = _Laps()
    async with transaction(runtime.sessionmaker) as session:
        claimed = await inbound.claim(session, inbound_ids, lease=lease)
    laps.lap("claim")
    outcomes: dict[int, str | Exception] = {i: "skipped" for i in inbound_ids if i not in claimed}
    todo = [i for i in inbound_ids if i in claimed]
    done: dict[int, str] = {}
    queued: list[Message] = []  # archived by committed transactions, to be indexed
    async with _chain():
        laps.lap("wait")
        try:
            await _process_claimed(todo, done, queued)
        except Exception as error:
            rest = [i for i in todo if i not in done]
            if len(rest) == 1:
                outcomes[rest[0]] = await _record_failure(rest[0], error)
            else:
                for inbound_id in rest:
                    try:
                        await _process_claimed([inbound_id], done, queued)
                    except Exception as alone:
                        outcomes[inbound_id] = await _record_failure(inbound_id, alone)
    if queued:
        laps = _Laps()
        await search.index_backlog(runtime.sessionmaker, queued)
        laps.lap("index")
    for inbound_id in todo:
        outcomes.setdefault(inbound_id, done.get(inbound_id, "gone"))
    return [outcomes[i] for i in inbound_ids]


def _chain() -> asyncio.Lock:
    """The lock of this event loop's processing: one batch at a time is processed (its
    search index, on databases that write it later, is not)."""
    loop = asyncio.get_running_loop()
    lock = _chains.get(loop)
    if lock is None:
        lock = _chains[loop] = asyncio.Lock()
    return lock


_chains: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def _process_claimed(
    inbound_ids: list[int], done: dict[int, str], queued: list[Message]
) -> None:
    """Process the messages in order; `done` gets each one's outcome once it is committed,
    `queued` the posts archived whose search index is to be written (search.index_backlog)."""
    runtime = current_runtime()
    pending = inbound_ids
    parsed: dict[int, ParsedMessage] = {}  # each message parsed once, whatever the commits
    while pending:  # each round commits one message at least, so the loop ends
        outcomes: dict[int, str] = {}
        archived: list[Message] = []
        laps = _Laps()
        async with transaction(runtime.sessionmaker) as session:
            search.defer(session, archived)
            laps.lap("begin")
            rows = (await session.scalars(_ROWS, {"ids": pending})).all()
            pending = []
            laps.lap("read")
            await processing.prepare(session, rows, parsed)
            laps.lap("prepare")
            for index, row in enumerate(rows):
                report = await processing.process(session, runtime.settings, row)
                outcomes[row.id] = report.outcome
                if index + 1 < len(rows) and _give_way(runtime):
                    pending = [later.id for later in rows[index + 1 :]]
                    break
            laps.lap("decide")
            await processing.finish(session)
            laps.lap("write")
        laps.lap("commit")
        INBOUND_TRANSACTION_MESSAGES.observe(len(outcomes))
        done |= outcomes
        queued += archived


class _Laps:
    """Times the stages of processing a batch into INBOUND_STAGE_SECONDS, each from the end of
    the one before."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        INBOUND_STAGE_SECONDS.labels(stage).observe(now - self._last)
        self._last = now


def _give_way(runtime: Runtime) -> bool:
    """Whether to commit now and go on in a new transaction: on SQLite, when an urgent writer
    (the SMTP edge) waits for the write lock this transaction holds."""
    writers = writer_queue(runtime.engine)
    return writers is not None and writers.urgent_waiting


async def _record_failure(inbound_id: int, error: Exception) -> Exception:
    """Record the error on the message (parked after its last attempt); the job raises it."""
    async with transaction(current_runtime().sessionmaker) as session:
        status = await inbound.record_failure(
            session, inbound_id, f"{type(error).__name__}: {error}"
        )
    log.error("inbound_failed", inbound_id=inbound_id, status=str(status), exc_info=error)
    return error


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
