"""Processing stored posts in batches: one transaction for several, but on SQLite the batch
commits early when the SMTP edge waits for the write lock; an error in a batch is recorded
against its own message only, and what was committed before it is not processed again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from oak_maillist.config import ArchiveSettings, DatabaseSettings, QueueSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.db.engine import transaction
from oak_maillist.db.types import utcnow
from oak_maillist.metrics import REGISTRY
from oak_maillist.models import InboundMessage, InboundStatus, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services import inbound, processing
from oak_maillist.tasks import queue
from oak_maillist.tasks.jobs import inbound as inbound_jobs
from oak_maillist.tasks.registry import load_jobs
from tests.factories import make_domain, make_list
from tests.pipeline.conftest import message


async def _store_posts(runtime: Runtime, count: int) -> list[int]:
    """Posts to an open list, stored as the SMTP edge stores them (no job handed out)."""
    async with transaction(runtime.sessionmaker) as session:
        domain = await make_domain(session, "lists.example.org")
        await make_list(session, domain, "dev", posting_policy="anyone")
        rows = [
            InboundMessage(
                raw=message(subject=f"Post {n}", message_id=f"<batch.{n}@example.com>").encode(),
                size=100,
                envelope_from="alice@example.com",
                recipients=["dev@lists.example.org"],
            )
            for n in range(count)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


@pytest.fixture
async def sqlite_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """A SQLite database whatever the backend under test: the write lock is SQLite's."""
    runtime = Runtime.from_settings(
        Settings(
            database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'batches.db'}"),  # type: ignore[arg-type]
            archive=ArchiveSettings(storage_path=tmp_path / "archives"),
        )
    )
    await migrate.upgrade(runtime.engine)
    await queue.start(runtime, queue.make_broker(QueueSettings()), worker=True)
    yield runtime
    await queue.stop()
    await runtime.close()


async def _archived(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return await session.scalar(select(func.count(Message.id))) or 0


async def test_a_batch_commits_early_for_a_waiting_smtp_edge(
    sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _store_posts(sqlite_runtime, 3)
    seen_by_edge: list[int] = []
    edge: list[asyncio.Task[None]] = []
    real_process = processing.process

    async def edge_store() -> None:
        async with transaction(sqlite_runtime.sessionmaker, urgent=True) as session:
            done = await session.scalar(
                select(func.count(InboundMessage.id)).where(
                    InboundMessage.status == InboundStatus.DONE
                )
            )
            seen_by_edge.append(done or 0)

    async def process(*args: Any, **kwargs: Any) -> processing.Report:
        if not edge:  # the SMTP edge wants the write lock while the first post is processed
            edge.append(asyncio.create_task(edge_store()))
            await asyncio.sleep(0.01)
        return await real_process(*args, **kwargs)

    monkeypatch.setattr(processing, "process", process)
    transactions = _sample("oak_inbound_transaction_messages_count")
    outcomes = await inbound_jobs._process_batch(ids)
    await asyncio.gather(*edge)
    assert outcomes == ["accept"] * 3
    assert seen_by_edge == [1]  # it went in after the first post, not after the batch
    assert await _archived(sqlite_runtime) == 3
    # Two transactions: the first post, then the other two (oak_inbound_transaction_messages).
    assert _sample("oak_inbound_transaction_messages_count") == transactions + 2
    assert _sample("oak_inbound_transaction_messages_bucket", le="1.0") >= 1


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


STAGES = ("claim", "wait", "begin", "read", "prepare", "decide", "write", "commit", "index")


async def test_processing_times_each_stage(
    started: Runtime, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Index: the search index written after the commit, except on SQLite."""
    ids = await _store_posts(started, 3)
    counts = {stage: _sample("oak_inbound_stage_seconds_count", stage=stage) for stage in STAGES}
    sums = {stage: _sample("oak_inbound_stage_seconds_sum", stage=stage) for stage in STAGES}
    messages = _sample("oak_inbound_transaction_messages_sum")
    real_finish = processing.finish

    async def slow_finish(session: Any) -> None:  # writing takes 200 ms longer
        await asyncio.sleep(0.2)
        await real_finish(session)

    monkeypatch.setattr(processing, "finish", slow_finish)
    assert await inbound_jobs._process_batch(ids) == ["accept"] * 3
    for stage in STAGES:
        once = stage != "index" or backend != "sqlite"
        assert _sample("oak_inbound_stage_seconds_count", stage=stage) == counts[stage] + once
    grown = {
        stage: _sample("oak_inbound_stage_seconds_sum", stage=stage) - sums[stage]
        for stage in STAGES
    }
    assert grown["write"] >= 0.2  # the sleep is counted where it happened, and only there
    assert all(grown[stage] < 0.2 for stage in STAGES if stage != "write"), grown
    assert _sample("oak_inbound_transaction_messages_sum") == messages + 3


async def test_an_error_in_a_batch_stays_with_its_message(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _store_posts(started, 3)
    real_process = processing.process

    async def process(session: Any, settings: Any, row: InboundMessage) -> processing.Report:
        if row.id == ids[1]:
            raise RuntimeError("this one is broken")
        return await real_process(session, settings, row)

    monkeypatch.setattr(processing, "process", process)
    outcomes = await inbound_jobs._process_batch(ids)
    assert [outcomes[0], outcomes[2]] == ["accept", "accept"]
    assert isinstance(outcomes[1], RuntimeError)
    async with started.sessionmaker() as session:
        rows = {
            row.id: row
            for row in await session.scalars(
                select(InboundMessage).where(InboundMessage.id.in_(ids))
            )
        }
    assert [rows[i].status for i in ids] == [
        InboundStatus.DONE,
        InboundStatus.RECEIVED,  # to be tried again (attempts are left)
        InboundStatus.DONE,
    ]
    assert "this one is broken" in (rows[ids[1]].error or "")
    assert [rows[i].outcome for i in (ids[0], ids[2])] == ["accept", "accept"]
    assert await _archived(started) == 2


async def test_a_claim_takes_each_message_once_until_its_lease_runs_out(runtime: Runtime) -> None:
    ids = await _store_posts(runtime, 3)
    lease = timedelta(seconds=60)
    async with transaction(runtime.sessionmaker) as session:
        assert await inbound.claim(session, ids[:2], lease=lease) == set(ids[:2])
    async with transaction(runtime.sessionmaker) as session:  # another worker
        assert await inbound.claim(session, ids, lease=lease) == {ids[2]}
        assert await inbound.claim(session, [], lease=lease) == set()
    async with transaction(runtime.sessionmaker) as session:  # the first one's lease ran out
        row = await session.get(InboundMessage, ids[0])
        assert row is not None
        row.lease_until = utcnow() - timedelta(seconds=1)
    async with transaction(runtime.sessionmaker) as session:
        assert await inbound.claim(session, ids, lease=lease) == {ids[0]}
    async with runtime.sessionmaker() as session:
        attempts = {
            row.id: row.attempts
            for row in await session.scalars(
                select(InboundMessage).where(InboundMessage.id.in_(ids))
            )
        }
    assert attempts == {ids[0]: 2, ids[1]: 1, ids[2]: 1}


async def test_workers_claiming_at_once_take_disjoint_messages(runtime: Runtime) -> None:
    ids = await _store_posts(runtime, 3)
    lease = timedelta(seconds=60)
    first_claimed = asyncio.Event()
    release = asyncio.Event()

    async def first() -> set[int]:
        async with transaction(runtime.sessionmaker) as session:
            claimed = await inbound.claim(session, ids[:2], lease=lease)
            first_claimed.set()
            await release.wait()  # holds its claim uncommitted meanwhile
            return claimed

    async def second() -> set[int]:
        async with transaction(runtime.sessionmaker) as session:
            return await inbound.claim(session, ids, lease=lease)

    one = asyncio.create_task(first())
    await asyncio.wait_for(first_claimed.wait(), 10)
    two = asyncio.create_task(second())
    await asyncio.wait({two}, timeout=0.5)  # it may wait for the first one's locks
    release.set()
    assert await asyncio.wait_for(one, 10) == set(ids[:2])
    assert await asyncio.wait_for(two, 10) == {ids[2]}


async def test_a_batch_that_hangs_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch carries the timeout (the jobs waiting for it carry none, see registry)."""

    async def hang(inbound_ids: list[int]) -> list[str | Exception]:
        await asyncio.sleep(30)
        return ["done" for _ in inbound_ids]

    monkeypatch.setattr(inbound_jobs, "_process_batch", hang)
    monkeypatch.setattr(inbound_jobs, "BATCH_TIMEOUT_SECONDS", 0.05)
    with pytest.raises(TimeoutError):
        await inbound_jobs._bounded_batch([1, 2])
    job = load_jobs()[inbound.PROCESS_JOB]
    assert job.timeout_seconds is None


async def test_outcomes_written_together_read_back_as_marked(runtime: Runtime) -> None:
    ids = await _store_posts(runtime, 3)
    reasons = [
        ["dev@lists.example.org: accept: "],
        ['a: hold: 含 "quotes" \\ and ünïcode 😀', "b: reject: second reason"],
        [],
    ]
    async with transaction(runtime.sessionmaker) as session:
        inbound.collect_done(session)
        rows = (
            await session.scalars(select(InboundMessage).where(InboundMessage.id.in_(ids)))
        ).all()
        before = utcnow()
        for row, outcome, why in zip(rows, ["accept", "mixed", "discard"], reasons, strict=True):
            inbound.mark_done(session, row, outcome, why)
        await inbound.write_done(session)
    async with runtime.sessionmaker() as session:
        stored = (
            await session.scalars(
                select(InboundMessage).where(InboundMessage.id.in_(ids)).order_by(InboundMessage.id)
            )
        ).all()
    assert [(r.status, r.outcome, r.reasons, r.lease_until, r.error) for r in stored] == [
        (InboundStatus.DONE, outcome, why, None, None)
        for outcome, why in zip(["accept", "mixed", "discard"], reasons, strict=True)
    ]
    for row in stored:
        assert row.processed_at is not None
        assert before - timedelta(seconds=1) <= row.processed_at <= utcnow()
