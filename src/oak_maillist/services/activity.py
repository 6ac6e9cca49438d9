"""The activity log: every security event and every owner or admin action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.logging import get_logger
from oak_maillist.models import ActivityLog

log = get_logger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where a request came from."""

    ip: str = ""
    user_agent: str = ""


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None,
    origin: Origin | None = None,
    target_type: str = "",
    target_id: str | int = "",
    list_id: int | None = None,
    **details: Any,
) -> None:
    """Add one entry (committed with the caller's transaction) and mirror it to the log."""
    origin = origin or Origin()
    session.add(
        ActivityLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            list_id=list_id,
            ip_address=origin.ip[:45],
            user_agent=origin.user_agent[:500],
            details=details,
        )
    )
    log.info(
        "activity",
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=str(target_id),
        ip=origin.ip,
    )


async def list_entries(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    action: str | None = None,
    actor_id: int | None = None,
) -> tuple[list[ActivityLog], int]:
    """A page of entries, newest first, with the total matching."""
    query = select(ActivityLog)
    if action:
        query = query.where(ActivityLog.action.startswith(action, autoescape=True))
    if actor_id is not None:
        query = query.where(ActivityLog.actor_id == actor_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (
        (
            await session.execute(
                query.order_by(ActivityLog.created_at.desc(), ActivityLog.id.desc())
                .offset(offset)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return list(rows), int(total)
