"""Running jobs: per-job logs, metrics and parking of jobs that failed their last attempt."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from taskiq import AsyncBroker, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.receiver import Receiver

from oak_maillist.db.engine import transaction
from oak_maillist.logging import get_logger
from oak_maillist.metrics import JOB_DURATION, JOBS
from oak_maillist.models import FailedJob
from oak_maillist.tasks import queue
from oak_maillist.tasks.jobs import inbound as inbound_jobs
from oak_maillist.tasks.queue import current_runtime, is_running

log = get_logger(__name__)


class JobMiddleware(TaskiqMiddleware):
    """Logs start, end, duration and outcome of every job; parks it after its last try."""

    def __init__(self) -> None:
        super().__init__()
        self._started: dict[str, float] = {}

    async def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        self._started[message.task_id] = time.perf_counter()
        log.info(
            "job_started",
            job=message.task_name,
            job_id=message.task_id,
            attempt=int(message.labels.get("_retries", 0)) + 1,
        )
        return message

    async def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        elapsed = time.perf_counter() - self._started.pop(message.task_id, time.perf_counter())
        outcome = "error" if result.is_err else "ok"
        JOBS.labels(message.task_name, outcome).inc()
        JOB_DURATION.labels(message.task_name).observe(elapsed)
        log.info(
            "job_finished",
            job=message.task_name,
            job_id=message.task_id,
            outcome=outcome,
            duration_ms=round(elapsed * 1000, 2),
        )

    async def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        attempt = int(message.labels.get("_retries", 0)) + 1
        max_retries = int(message.labels.get("max_retries", 3))
        if not is_running() or isinstance(exception, asyncio.CancelledError):
            # Cut off by shutdown: the work is still in the database, where the sweeper of
            # the next start finds it; nothing to park.
            log.info("job_interrupted", job=message.task_name, job_id=message.task_id)
            return
        log.warning(
            "job_failed",
            job=message.task_name,
            job_id=message.task_id,
            attempt=attempt,
            error=type(exception).__name__,
        )
        if attempt >= max_retries:
            await park(message.task_name, dict(message.kwargs), repr(exception), attempt)


async def park(task_name: str, args: dict[str, Any], error: str, attempts: int) -> None:
    """Keep a job that will not be retried where an admin can see and replay it."""
    async with transaction(current_runtime().sessionmaker) as session:
        session.add(
            FailedJob(task_name=task_name, args=args, error=error[:10_000], attempts=attempts)
        )
    log.error("job_parked", job=task_name, attempts=attempts)


async def run_worker(broker: AsyncBroker, stop: asyncio.Event, *, concurrency: int) -> None:
    """Consume jobs from a real broker until `stop` is set: `concurrency` jobs at once, and
    besides them enough batched ones (stored messages to process) to fill the batch that runs
    and the next one. With `concurrency` taken for both, batches held 4 messages at most, and
    one worker archived 91-102 posts/s against 235-243 (bench/ingest.py --workers 1, 5 KB).

    The in-memory broker runs jobs itself as they are kicked, so it needs no consumer.
    """
    queue.limit_jobs(concurrency)
    slots = concurrency + 2 * inbound_jobs.MAX_BATCH
    receiver = Receiver(
        broker,
        max_async_tasks=slots,
        max_prefetch=slots,
        run_startup=False,
        propagate_exceptions=True,
        wait_tasks_timeout=30,
    )
    await receiver.listen(stop)
