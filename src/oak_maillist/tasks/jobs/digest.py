"""The hourly digest tick: each list's due daily and weekly digests, compiled once."""

from __future__ import annotations

from datetime import datetime

from oak_maillist.db.engine import transaction
from oak_maillist.db.types import utcnow
from oak_maillist.logging import get_logger
from oak_maillist.services import digests
from oak_maillist.tasks.queue import current_runtime
from oak_maillist.tasks.registry import job

log = get_logger(__name__)


@job("digest.tick", cron=("5 * * * *",), timeout_seconds=600, max_retries=1)
async def tick(at: str | None = None) -> int:
    """Compile every due digest; a repeated or concurrent tick finds them made and sends none.

    Returns how many copies were queued. `at` (ISO 8601) stands in for the clock (tests).
    """
    runtime = current_runtime()
    now = datetime.fromisoformat(at) if at else utcnow()
    copies = 0
    for kind in digests.KINDS:
        async with transaction(runtime.sessionmaker) as session:
            list_ids = await digests.lists_with_subscribers(session, kind)
        for list_id in list_ids:
            async with transaction(runtime.sessionmaker) as session:
                outcome = await digests.compile_digest(
                    session, runtime.settings, list_id=list_id, kind=kind, now=now
                )
            copies += outcome.recipients
    return copies
