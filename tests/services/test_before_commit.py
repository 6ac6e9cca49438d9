"""Work a transaction's rows depend on (archive files) runs beside it, and the commit waits for
it: the caller goes on at once, a failed job rolls the transaction back."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from oak_maillist.db.engine import before_commit, transaction
from oak_maillist.models import Domain
from oak_maillist.runtime import Runtime


async def _domains(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return await session.scalar(select(func.count(Domain.id))) or 0


async def test_the_commit_waits_for_the_job_the_caller_does_not(runtime: Runtime) -> None:
    release = threading.Event()
    done: list[str] = []

    def job() -> None:
        release.wait(5)
        done.append("written")

    async with transaction(runtime.sessionmaker) as session:
        started = time.perf_counter()
        await before_commit(session, job)
        assert time.perf_counter() - started < 1  # not waiting for the job
        session.add(Domain(name="waits.example.org"))
        assert done == []
        release.set()
    assert done == ["written"]
    assert await _domains(runtime) == 1


async def test_a_failed_job_rolls_the_transaction_back(runtime: Runtime) -> None:
    def job() -> None:
        raise OSError("disk full")

    async def write() -> None:
        async with transaction(runtime.sessionmaker) as session:
            await before_commit(session, job)
            session.add(Domain(name="lost.example.org"))

    with pytest.raises(OSError, match="disk full"):
        await write()
    assert await _domains(runtime) == 0


async def test_outside_a_transaction_the_job_runs_at_once(runtime: Runtime) -> None:
    done: list[str] = []
    async with runtime.sessionmaker() as session:
        await before_commit(session, lambda: done.append("written"))
        assert done == ["written"]
