"""Jobs reach a worker through each broker and do their work in the database."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import QueueSettings
from oak_maillist.db.types import utcnow
from oak_maillist.models import AuthChallenge, FailedJob
from oak_maillist.runtime import Runtime
from oak_maillist.tasks import queue
from oak_maillist.tasks.registry import load_jobs
from oak_maillist.tasks.worker import run_worker
from tests.conftest import amqp_url, redis_url

BROKERS = ("memory", "redis", "rabbitmq")


def _broker_url(kind: str, backend: str) -> str:
    """The broker's address for this suite's backend (the suites run side by side)."""
    return {"memory": "memory", "redis": redis_url(backend, 0), "rabbitmq": amqp_url(backend)}[kind]


async def _expired_and_live(session: AsyncSession) -> None:
    now = utcnow()
    session.add_all(
        [
            AuthChallenge(
                kind="passkey",
                challenge_hash=secrets.token_hex(32),
                expires_at=now - timedelta(minutes=1),
            ),
            AuthChallenge(
                kind="passkey",
                challenge_hash=secrets.token_hex(32),
                expires_at=now + timedelta(minutes=5),
            ),
        ]
    )
    await session.commit()


async def _challenges(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(
            (await session.execute(select(func.count()).select_from(AuthChallenge))).scalar_one()
        )


async def _wait_for(predicate: object, seconds: float = 15) -> None:
    async with asyncio.timeout(seconds):
        while not await predicate():  # type: ignore[operator]  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.05)


def test_registry_has_the_maintenance_job_with_a_schedule() -> None:
    job = load_jobs()["maintenance.purge_expired"]
    assert job.cron == ("17 * * * *",)


@pytest.mark.parametrize("kind", BROKERS)
async def test_enqueued_job_runs_on_a_worker(
    kind: str, runtime: Runtime, db: AsyncSession, backend: str
) -> None:
    await _expired_and_live(db)
    settings = QueueSettings(broker=_broker_url(kind, backend), concurrency=2)
    broker = queue.make_broker(settings)
    if kind == "redis":
        # a stream of our own per test run, so runs never see each other's jobs
        broker.queue_name = f"oak_test_{secrets.token_hex(4)}"  # type: ignore[attr-defined]
    try:
        await queue.start(runtime, broker, worker=True)
    except OSError as exc:
        pytest.fail(f"{kind} broker unreachable: {exc}")
    stop = asyncio.Event()
    consumer = (
        None if kind == "memory" else asyncio.create_task(run_worker(broker, stop, concurrency=2))
    )
    try:
        assert await queue.enqueue("maintenance.purge_expired") is True

        async def purged() -> bool:
            return await _challenges(runtime) == 1

        await _wait_for(purged)
    finally:
        stop.set()
        if consumer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(consumer, 35)
        await queue.stop()


async def test_enqueue_without_a_broker_leaves_work_for_the_sweeper() -> None:
    assert await queue.enqueue("maintenance.purge_expired") is False


async def test_enqueue_of_unknown_job_is_an_error(runtime: Runtime) -> None:
    broker = queue.make_broker(QueueSettings())
    await queue.start(runtime, broker, worker=True)
    try:
        with pytest.raises(KeyError):
            await queue.enqueue("no.such.job")
    finally:
        await queue.stop()


async def test_job_failing_its_last_attempt_is_parked(runtime: Runtime) -> None:
    attempts = []

    async def always_fails(list_id: int) -> None:
        attempts.append(list_id)
        raise RuntimeError("relay exploded")

    broker = queue.make_broker(QueueSettings())
    broker.register_task(always_fails, task_name="test.always_fails", max_retries=2, delay=0.01)
    await queue.start(runtime, broker, worker=True)
    try:
        await queue.enqueue("test.always_fails", list_id=42)

        async def parked() -> bool:
            async with runtime.sessionmaker() as session:
                return (await session.execute(select(FailedJob))).first() is not None

        await _wait_for(parked)
    finally:
        await queue.stop()
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(select(FailedJob))).scalars().all()
    assert attempts == [42, 42]
    assert [(job.task_name, job.args, job.attempts) for job in rows] == [
        ("test.always_fails", {"list_id": 42}, 2)
    ]
    assert "relay exploded" in rows[0].error
