"""Housekeeping: expired sign-in state and used tokens are deleted hourly."""

from __future__ import annotations

from oak_maillist.db.engine import transaction
from oak_maillist.services import cleanup
from oak_maillist.tasks.queue import current_runtime
from oak_maillist.tasks.registry import job


@job("maintenance.purge_expired", cron=("17 * * * *",))
async def purge_expired() -> dict[str, int]:
    """Delete expired sessions, refresh tokens, challenges and used subscription tokens."""
    async with transaction(current_runtime().sessionmaker) as session:
        return await cleanup.purge_expired(session)
