"""SQLite's write-ahead log is copied into the database file by checkpoints in a thread of
their own, started by commits; the connections' own checkpoint is only a backstop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import wal
from oak_maillist.db.engine import transaction
from oak_maillist.runtime import Runtime

ROW_BYTES = 100_000


@pytest.fixture
async def scratch(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime.from_settings(
        Settings(database=DatabaseSettings(url=SecretStr(f"sqlite:///{tmp_path / 'c.db'}")))
    )
    async with transaction(runtime.sessionmaker) as session:
        await session.execute(text("CREATE TABLE t (body BLOB)"))
    yield runtime
    await runtime.close()


async def _settled(path: Path, seconds: float = 10) -> int:
    """The database file's size once it stops growing (the last checkpoint ended)."""
    deadline = time.monotonic() + seconds
    size = -1
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if (now := (await asyncio.to_thread(path.stat)).st_size) == size:
            return size
        size = now
    return size


async def test_commits_copy_the_log_into_the_database_in_the_background(
    scratch: Runtime, tmp_path: Path
) -> None:
    database = tmp_path / "c.db"
    for _ in range(30):  # 3 MB, far below the backstop's 40 MB
        async with transaction(scratch.sessionmaker) as session:
            await session.execute(text("INSERT INTO t VALUES (randomblob(:n))"), {"n": ROW_BYTES})
        await asyncio.sleep(wal.INTERVAL_SECONDS)
    async with scratch.sessionmaker() as session:  # a last commit starts a last checkpoint
        backstop = await session.scalar(text("PRAGMA wal_autocheckpoint"))
        await session.commit()
    assert backstop == wal.BACKSTOP_PAGES
    # The rows are in the database file itself, not only in the log.
    assert await _settled(database) >= 30 * ROW_BYTES


async def test_without_the_background_checkpoints_the_log_keeps_the_rows(
    scratch: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: with no checkpoint started, the file stays small."""
    monkeypatch.setattr(wal.Checkpoints, "after_commit", lambda self: None)
    for _ in range(30):
        async with transaction(scratch.sessionmaker) as session:
            await session.execute(text("INSERT INTO t VALUES (randomblob(:n))"), {"n": ROW_BYTES})
    assert await _settled(tmp_path / "c.db") < ROW_BYTES
    assert (tmp_path / "c.db-wal").stat().st_size >= 30 * ROW_BYTES


async def test_a_failing_checkpoint_is_logged_once_and_tried_again(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """(`settings`: logging set up as the service's.)"""
    checkpoints = wal.Checkpoints(str(tmp_path / "missing" / "x.db"))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # no folder for the database
            await _checkpoint_now(checkpoints)
        (tmp_path / "missing").mkdir()
        await _checkpoint_now(checkpoints)  # succeeds: a failure after it is news again
        (tmp_path / "missing" / "x.db").unlink()
        (tmp_path / "missing" / "x.db").mkdir()  # not a database file
        await _checkpoint_now(checkpoints)
    failed = [r.getMessage() for r in caplog.records if r.name == wal.__name__]
    assert len(failed) == 2  # the first of three failures in a row, and the one after success
    assert all("sqlite_checkpoint_failed" in m for m in failed)


async def _checkpoint_now(checkpoints: wal.Checkpoints) -> None:
    await asyncio.sleep(wal.INTERVAL_SECONDS)  # no start is skipped as too soon
    checkpoints.after_commit()
    assert checkpoints.running is not None
    with contextlib.suppress(sqlite3.OperationalError):
        await asyncio.wait_for(checkpoints.running, 5)
