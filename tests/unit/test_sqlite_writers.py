"""SQLite writers of one process take turns on an asyncio lock: a writer waits for its turn
(no "database is locked" while another transaction runs), and a transaction opened inside
another gets SQLite's own "database is locked" after the busy timeout instead of hanging."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import engine
from oak_maillist.db.engine import transaction
from oak_maillist.runtime import Runtime


@pytest.fixture
async def scratch(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime.from_settings(
        Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'w.db'}"))
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
