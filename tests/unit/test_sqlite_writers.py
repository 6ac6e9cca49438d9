"""SQLite writers of one process take turns on an asyncio lock: a writer waits for its turn
(no "database is locked" while another transaction runs), and a transaction opened inside
another gets SQLite's own "database is locked" after the busy timeout instead of hanging."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import engine
from oak_maillist.db.engine import transaction
from oak_maillist.runtime import Runtime


@pytest.fixture
async def scratch(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime.from_settings(
        Settings(database=DatabaseSettings(url=SecretStr(f"sqlite:///{tmp_path / 'w.db'}")))
    )
    async with transaction(runtime.sessionmaker) as session:
        await session.execute(text("CREATE TABLE t (n INTEGER)"))
    yield runtime
    await runtime.close()


async def test_writers_take_turns(scratch: Runtime) -> None:
    order: list[str] = []

    async def writer(name: str, hold: float) -> None:
        async with transaction(scratch.sessionmaker) as session:
            order.append(f"{name} in")
            await session.execute(text("INSERT INTO t VALUES (1)"))
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    await asyncio.gather(writer("a", 0.3), writer("b", 0), writer("c", 0))
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]
    async with scratch.sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 3


async def test_a_transaction_inside_another_fails_as_sqlite_would(
    scratch: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 300)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        async with transaction(scratch.sessionmaker), transaction(scratch.sessionmaker):
            pass
    assert time.monotonic() - started < 5
    # the outer transaction's turn was given back
    async with transaction(scratch.sessionmaker) as session:
        await session.execute(text("INSERT INTO t VALUES (2)"))


async def test_an_urgent_writer_goes_before_waiting_background_writers(scratch: Runtime) -> None:
    order: list[str] = []
    holding = asyncio.Event()
    release = asyncio.Event()

    async def writer(name: str, *, urgent: bool = False) -> None:
        async with transaction(scratch.sessionmaker, urgent=urgent) as session:
            order.append(name)
            await session.execute(text("INSERT INTO t VALUES (1)"))
            if name == "first":
                holding.set()
                await release.wait()

    first = asyncio.create_task(writer("first"))
    await holding.wait()
    background = [asyncio.create_task(writer(f"background {n}")) for n in (1, 2)]
    await asyncio.sleep(0.05)  # both queue behind the first
    edge = asyncio.create_task(writer("edge", urgent=True))
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(first, edge, *background)
    assert order == ["first", "edge", "background 1", "background 2"]


async def test_a_waiter_that_gives_up_passes_its_turn_on(scratch: Runtime) -> None:
    queue = engine.writer_queue(scratch.engine)
    assert queue is not None
    await queue.acquire()
    quitter = asyncio.create_task(queue.acquire(urgent=True))
    patient = asyncio.create_task(queue.acquire())
    await asyncio.sleep(0.01)
    waiting = [queue.urgent_waiting]
    quitter.cancel()
    await asyncio.sleep(0.01)
    waiting.append(queue.urgent_waiting)
    assert waiting == [True, False]
    queue.release()  # the cancelled waiter is skipped: the patient one gets the turn
    await asyncio.wait_for(patient, 1)
    queue.release()
    async with transaction(scratch.sessionmaker) as session:  # and the queue is free again
        await session.execute(text("INSERT INTO t VALUES (3)"))
