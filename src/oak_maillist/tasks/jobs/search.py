"""The sweeper of the search backlog: posts archived but not indexed (services/search/backlog)."""

from __future__ import annotations

from datetime import timedelta

from oak_maillist.services import search
from oak_maillist.tasks.queue import current_runtime
from oak_maillist.tasks.registry import job

# A post waits this long in the backlog before the sweeper takes it: its batch indexes it
# within milliseconds of committing, unless the process died or indexing failed.
GRACE_SECONDS = 60


@job("search.sweep", cron=("* * * * *",), timeout_seconds=120, max_retries=1)
async def sweep(grace_seconds: int = GRACE_SECONDS) -> int:
    """Every minute: index the posts left in the search backlog (a worker that starts sweeps
    with no grace: what is there then was left by a process that died). How many."""
    return await search.sweep_backlog(
        current_runtime().sessionmaker, grace=timedelta(seconds=grace_seconds)
    )
