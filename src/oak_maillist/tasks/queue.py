"""The broker chosen by [queue] broker, and `enqueue`, through which core code hands over ids.

The database holds the work; the broker only carries ids, so a lost hand-off only delays
work until a sweeper finds it.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.middlewares import SmartRetryMiddleware

from oak_maillist.config import QueueSettings
from oak_maillist.delivery.pool import RelayPool
from oak_maillist.logging import get_logger
from oak_maillist.runtime import Runtime
from oak_maillist.tasks.registry import JobFunction, load_jobs

log = get_logger(__name__)

# Redis streams grow without bound unless capped; ids are small, so a generous cap is cheap.
REDIS_STREAM_MAXLEN = 100_000

_state: dict[str, Any] = {}


def make_broker(settings: QueueSettings) -> AsyncBroker:
    """A broker for the configured URL with every job registered on it."""
    from oak_maillist.tasks.worker import JobMiddleware

    broker: AsyncBroker
    if settings.broker == "memory":
        broker = InMemoryBroker(max_async_tasks=settings.concurrency)
    elif settings.broker.startswith(("redis://", "rediss://")):
        from taskiq_redis import RedisStreamBroker

        broker = RedisStreamBroker(
            settings.broker,
            queue_name="oak_maillist",
            consumer_group_name="oak_maillist",
            maxlen=REDIS_STREAM_MAXLEN,
            idle_timeout=settings.lease_seconds * 1000,
        )
    else:
        from taskiq_aio_pika import AioPikaBroker

        broker = AioPikaBroker(settings.broker, qos=settings.concurrency)
    broker.add_middlewares(
        SmartRetryMiddleware(
            default_retry_count=3,
            default_retry_label=True,
            default_delay=5,
            use_jitter=True,
            use_delay_exponent=True,
            max_delay_exponent=300,
        ),
        JobMiddleware(),
    )
    for job in load_jobs().values():
        broker.register_task(
            job.function if job.batched else _counted(job.function),
            task_name=job.name,
            max_retries=job.max_retries,
            **({"timeout": job.timeout_seconds} if job.timeout_seconds is not None else {}),
            **({"schedule": [{"cron": cron} for cron in job.cron]} if job.cron else {}),
        )
    return broker


def _counted(function: JobFunction) -> JobFunction:
    """`function` taking one of the worker's queue.concurrency slots while it runs (in a
    process that `limit_jobs` set up; elsewhere it runs at once)."""

    @functools.wraps(function)
    async def counted(*args: Any, **kwargs: Any) -> Any:
        slots: asyncio.Semaphore | None = _state.get("slots")
        if slots is None:
            return await function(*args, **kwargs)
        async with slots:
            return await function(*args, **kwargs)

    return counted


def limit_jobs(concurrency: int) -> None:
    """In a worker: at most `concurrency` jobs run at once, batched ones aside (they only
    wait for a batch; see registry.Job.batched)."""
    _state["slots"] = asyncio.Semaphore(concurrency)


async def start(runtime: Runtime, broker: AsyncBroker, *, worker: bool) -> None:
    """Connect the broker for this process; `worker` marks a process that runs jobs."""
    broker.is_worker_process = worker
    _state["runtime"] = runtime
    _state["broker"] = broker
    await broker.startup()


async def stop() -> None:
    broker: AsyncBroker | None = _state.pop("broker", None)
    _state.pop("runtime", None)
    _state.pop("slots", None)
    relays: RelayPool | None = _state.pop("relays", None)
    if broker is not None:
        await _settle(broker)
        await broker.shutdown()
    if relays is not None:
        await relays.close()


async def _settle(broker: AsyncBroker, seconds: float = 10) -> None:
    """Let jobs the in-memory broker is running finish (cancel them after `seconds`), so that
    nothing of this process's work outlives it. Other brokers' workers do this themselves."""
    running: set[asyncio.Task[Any]] = set(getattr(broker, "_running_tasks", ()))
    if not running:
        return
    _done, pending = await asyncio.wait(running, timeout=seconds)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1)
        log.warning("jobs_cancelled_at_stop", count=len(pending))


def is_running() -> bool:
    """Whether this process has a started queue (False while shutting down)."""
    return "runtime" in _state


def is_shared() -> bool:
    """Whether jobs this process hands out may run in other processes (a real broker).

    With the in-memory broker every job runs here, so splitting work into more jobs only
    makes them compete for the same connections and the same database lock.
    """
    broker: AsyncBroker | None = _state.get("broker")
    return broker is not None and not isinstance(broker, InMemoryBroker)


def relay_pool() -> RelayPool:
    """This process's reused relay connections, made on first use from `smtp.outgoing`."""
    relays: RelayPool | None = _state.get("relays")
    if relays is None:
        outgoing = current_runtime().settings.smtp.outgoing
        relays = _state["relays"] = RelayPool(
            outgoing.max_connections, outgoing.rate_limit_per_second
        )
    return relays


def current_runtime() -> Runtime:
    """The runtime of this process, for jobs (which receive only ids)."""
    runtime: Runtime | None = _state.get("runtime")
    if runtime is None:
        raise RuntimeError("the job queue is not started in this process")
    return runtime


def enqueue_after_commit(session: AsyncSession, task_name: str, **kwargs: Any) -> None:
    """Hand a job to the broker once `session` commits (never if it rolls back).

    Core code writes its rows and calls this; the job sees committed rows only.
    """
    pending: list[tuple[str, dict[str, Any]]] = session.info.setdefault(_PENDING, [])
    pending.append((task_name, kwargs))
    if not session.info.get(_HOOKED):
        session.info[_HOOKED] = True
        event.listen(session.sync_session, "after_commit", _after_commit)
        event.listen(session.sync_session, "after_rollback", _after_rollback)


_PENDING = "oak_pending_jobs"
_HOOKED = "oak_jobs_hooked"
_in_flight: set[asyncio.Task[bool]] = set()


def _after_commit(sync_session: Session) -> None:
    loop = asyncio.get_running_loop()
    for task_name, kwargs in sync_session.info.pop(_PENDING, []):
        task = loop.create_task(enqueue(task_name, **kwargs))
        _in_flight.add(task)  # keep a reference until it is done
        task.add_done_callback(_in_flight.discard)


def _after_rollback(sync_session: Session) -> None:
    sync_session.info.pop(_PENDING, None)


async def enqueue(task_name: str, **kwargs: Any) -> bool:
    """Hand a job to the broker after the caller's transaction committed.

    Returns False when no broker runs in this process (a CLI command, say): the work is in
    the database and the sweeper will pick it up.
    """
    broker: AsyncBroker | None = _state.get("broker")
    if broker is None:
        return False
    task = broker.find_task(task_name)
    if task is None:
        raise KeyError(f"unknown job {task_name!r}")
    await task.kiq(**kwargs)
    return True
