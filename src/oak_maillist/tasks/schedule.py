"""The clock: exactly one process runs it and kicks scheduled jobs onto the broker."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from taskiq import AsyncBroker, TaskiqScheduler
from taskiq.cli.scheduler.run import SchedulerLoop
from taskiq.schedule_sources import LabelScheduleSource

from oak_maillist.logging import get_logger

log = get_logger(__name__)


def make_scheduler(broker: AsyncBroker) -> TaskiqScheduler:
    """Schedules come from the jobs' `cron` declarations (UTC)."""
    return TaskiqScheduler(broker, sources=[LabelScheduleSource(broker)])


async def run_scheduler(broker: AsyncBroker, stop: asyncio.Event) -> None:
    """Tick until `stop` is set."""
    scheduler = make_scheduler(broker)
    for source in scheduler.sources:
        await source.startup()
    await scheduler.startup()
    log.info("scheduler_started")
    loop_task = asyncio.create_task(
        SchedulerLoop(scheduler).run(update_interval=timedelta(minutes=1), skip_first_run=True)
    )
    try:
        await stop.wait()
    finally:
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task
        await scheduler.shutdown()
        for source in scheduler.sources:
            await source.shutdown()
