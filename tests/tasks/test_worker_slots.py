"""A worker on a real broker: queue.concurrency bounds its ordinary jobs, while stored
messages to process (batched jobs) come in numbers that fill its batches."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import select
from taskiq import AsyncBroker

from oak_maillist.config import QueueSettings
from oak_maillist.db.engine import transaction
from oak_maillist.models import InboundMessage
from oak_maillist.runtime import Runtime
from oak_maillist.services import inbound
from oak_maillist.services.inbound import Received
from oak_maillist.tasks import queue
from oak_maillist.tasks.jobs import inbound as inbound_jobs
from oak_maillist.tasks.registry import JOBS, job
from oak_maillist.tasks.worker import run_worker
from tests.conftest import redis_url
from tests.factories import make_domain, make_list
from tests.pipeline.conftest import message

CONCURRENCY = 2


@contextlib.asynccontextmanager
async def _worker(runtime: Runtime, backend: str) -> AsyncIterator[AsyncBroker]:
    broker = queue.make_broker(QueueSettings(broker=redis_url(backend, 0)))
    broker.queue_name = f"oak_test_{secrets.token_hex(4)}"  # type: ignore[attr-defined]
    await queue.start(runtime, broker, worker=True)
    stop = asyncio.Event()
    consumer = asyncio.create_task(run_worker(broker, stop, concurrency=CONCURRENCY))
    try:
        yield broker
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(consumer, 35)
        await queue.stop()


async def test_ordinary_jobs_run_at_most_concurrency_at_once(
    runtime: Runtime, backend: str
) -> None:
    running: list[int] = []
    finished: list[int] = []
    all_finished = asyncio.Event()
    most = 0

    @job("test.slow_job")
    async def slow_job(number: int) -> None:
        nonlocal most
        running.append(number)
        most = max(most, len(running))
        await asyncio.sleep(0.2)
        running.remove(number)
        finished.append(number)
        if len(finished) == 6:
            all_finished.set()

    try:
        async with _worker(runtime, backend):
            for number in range(6):
                await queue.enqueue("test.slow_job", number=number)
            await asyncio.wait_for(all_finished.wait(), 20)
    finally:
        JOBS.pop("test.slow_job")
    assert most == CONCURRENCY
    assert sorted(finished) == list(range(6))


async def test_stored_messages_fill_a_workers_batches_beyond_its_concurrency(
    runtime: Runtime, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real = inbound_jobs._process_batch

    async def counted(inbound_ids: list[int]) -> Sequence[str | Exception]:
        sizes.append(len(inbound_ids))
        await asyncio.sleep(0.3)  # a slow batch: the next ones gather meanwhile
        return await real(inbound_ids)

    monkeypatch.setattr(inbound_jobs, "_process_batch", counted)
    async with transaction(runtime.sessionmaker) as session:
        domain = await make_domain(session, "lists.example.org")
        await make_list(session, domain, "dev", posting_policy="anyone")
    posts = [
        Received(
            raw=message(subject=f"Post {n}", message_id=f"<p{n}@x>").encode(),
            envelope_from="alice@example.com",
            recipients=["dev@lists.example.org"],
        )
        for n in range(40)
    ]
    async with _worker(runtime, backend):
        async with transaction(runtime.sessionmaker) as session:
            await inbound.accept(session, posts)  # each handed to the broker on commit
        async with asyncio.timeout(60):
            while sum(sizes) < len(posts) or not await _all_done(runtime):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    assert max(sizes) > CONCURRENCY
    assert max(sizes) <= inbound_jobs.MAX_BATCH


async def _all_done(runtime: Runtime) -> bool:
    async with runtime.sessionmaker() as session:
        statuses = set(await session.scalars(select(InboundMessage.status)))
    return statuses == {"done"}
