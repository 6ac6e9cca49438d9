"""Index rows written together: a batch of posts processed in one transaction writes each kind
of row with one statement (executemany) just before it commits, not one statement per post.

Only sessions that `collect` was called on defer; elsewhere `write` runs at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause
from sqlalchemy.ext.asyncio import AsyncSession

_PENDING = "oak_search_pending"

Row = dict[str, Any]


@dataclass
class _Rows:
    rows: list[Row] = field(default_factory=list)
    order: Callable[[Row], Any] | None = None


def collect(session: AsyncSession) -> None:
    """From now on this session's index rows wait for `write_collected`."""
    session.info.setdefault(_PENDING, {})


async def write(
    session: AsyncSession,
    statement: TextClause,
    rows: list[Row],
    *,
    order: Callable[[Row], Any] | None = None,
) -> None:
    """Insert index rows, now or (in a collecting session) with the batch's; `order` sorts
    the rows of one statement (locks taken in key order cannot deadlock each other)."""
    if not rows:
        return
    pending: dict[TextClause, _Rows] | None = session.info.get(_PENDING)
    if pending is None:
        if order is not None:
            rows = sorted(rows, key=order)
        await session.execute(statement, rows if len(rows) > 1 else rows[0])
        return
    entry = pending.setdefault(statement, _Rows(order=order))
    entry.rows.extend(rows)


async def write_collected(session: AsyncSession) -> None:
    """Write what the session collected (before its transaction commits)."""
    pending: dict[TextClause, _Rows] | None = session.info.get(_PENDING)
    if not pending:
        return
    session.info[_PENDING] = {}
    for statement, entry in pending.items():
        rows = sorted(entry.rows, key=entry.order) if entry.order else entry.rows
        await session.execute(statement, rows if len(rows) > 1 else rows[0])
