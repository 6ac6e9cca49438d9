"""Index rows written together: a batch of posts processed in one transaction writes each kind
of row with one statement (executemany) just before it commits, not one statement per post.

Only sessions that `collect` was called on defer; elsewhere `write` runs at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import TextClause
from sqlalchemy.ext.asyncio import AsyncSession

_PENDING = "oak_search_pending"

Row = dict[str, Any] | list[Any]


@dataclass
class _Rows:
    rows: list[Row] = field(default_factory=list)
    packed: str | None = None


def collect(session: AsyncSession) -> None:
    """From now on this session's index rows wait for `write_collected`."""
    session.info.setdefault(_PENDING, {})


async def write(
    session: AsyncSession,
    statement: TextClause,
    rows: list[Row],
    *,
    packed: str | None = None,
) -> None:
    """Insert index rows, now or (in a collecting session) with the batch's.

    `packed` names the statement's one parameter that takes all the rows (lists of values)
    as a JSON array, for a statement that reads them with JSON_TABLE: aiomysql escapes each
    value of each row in Python, which cost more than making the rows (MariaDB, 5 KB posts:
    about 80 term rows each).
    """
    if not rows:
        return
    pending: dict[TextClause, _Rows] | None = session.info.get(_PENDING)
    if pending is None:
        await _execute(session, statement, _Rows(rows, packed))
        return
    entry = pending.setdefault(statement, _Rows(packed=packed))
    entry.rows.extend(rows)


async def write_collected(session: AsyncSession) -> None:
    """Write what the session collected (before its transaction commits)."""
    pending: dict[TextClause, _Rows] | None = session.info.get(_PENDING)
    if not pending:
        return
    session.info[_PENDING] = {}
    for statement, entry in pending.items():
        await _execute(session, statement, entry)


async def _execute(session: AsyncSession, statement: TextClause, entry: _Rows) -> None:
    if entry.packed is not None:
        packed = json.dumps(entry.rows, ensure_ascii=False)
        await session.execute(statement, {entry.packed: packed})
    else:
        named = cast(list[dict[str, Any]], entry.rows)  # executemany: each row by column name
        await session.execute(statement, named if len(named) > 1 else named[0])
