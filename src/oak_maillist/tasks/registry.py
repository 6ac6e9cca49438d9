"""Every background job by name, with its schedule; registered on whichever broker runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Job:
    name: str
    function: JobFunction
    # Cron expressions (UTC) for the scheduler; empty for jobs that are only kicked.
    cron: tuple[str, ...] = ()
    # None: the job bounds its own work (taskiq's per-job timer costs ~80 µs a job).
    timeout_seconds: int | None = 300
    max_retries: int = 3
    labels: dict[str, Any] = field(default_factory=dict)
    # True: a call only hands its item to a batch that this process runs and waits for it
    # (inbound.process). It holds no connection, so it does not count against a worker's
    # queue.concurrency, and a worker takes enough of them at once to fill its batches.
    batched: bool = False


JOBS: dict[str, Job] = {}


def job(
    name: str,
    *,
    cron: tuple[str, ...] = (),
    timeout_seconds: int | None = 300,
    max_retries: int = 3,
    batched: bool = False,
) -> Callable[[JobFunction], JobFunction]:
    """Declare a job. Jobs take ids and plain values, never ORM objects, and are idempotent."""

    def register(function: JobFunction) -> JobFunction:
        if name in JOBS:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = Job(name, function, cron, timeout_seconds, max_retries, batched=batched)
        return function

    return register


def load_jobs() -> dict[str, Job]:
    """Import the job modules (they register themselves) and return the registry."""
    import oak_maillist.tasks.jobs  # noqa: F401 - registration by import

    return JOBS
