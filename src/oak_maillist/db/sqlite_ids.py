"""On SQLite, rows that one flush inserts several of get their ids before the flush.

SQLAlchemy inserts rows whose ids the database assigns with `INSERT ... RETURNING`, and on
SQLite it cannot send several in one statement (SQLite does not promise the order of the
rows RETURNING gives back), so a batch of posts cost one INSERT per thread and per post.
With their ids known, the rows of a table go in one executemany. The ids are the ones
SQLite would give (an INTEGER PRIMARY KEY without AUTOINCREMENT takes the table's largest id
plus one), read inside the write transaction, where no other writer can insert (see
`engine.transaction`). A flush outside one that raced another writer would fail on the
duplicate id, never overwrite a row.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, event, func, inspect, select
from sqlalchemy.orm import InstanceState, Session, UOWTransaction

from oak_maillist.db.base import IdMixin


class SqliteSession(Session):
    """The session class of SQLite engines (see the module)."""


@event.listens_for(SqliteSession, "before_flush")
def _number_new_rows(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    waiting: defaultdict[Table, list[tuple[int, IdMixin]]] = defaultdict(list)
    numbered: set[Table] = set()  # tables with new rows whose ids the caller chose
    for instance in session.new:
        if not isinstance(instance, IdMixin):
            continue
        state: InstanceState[Any] = inspect(instance)
        table = state.mapper.local_table
        if not isinstance(table, Table):
            continue
        if state.dict.get("id") is None:
            waiting[table].append((state.insert_order or 0, instance))
        else:
            numbered.add(table)
    for table, rows in waiting.items():
        if len(rows) < 2 or table in numbered:
            # One row: RETURNING costs no more than asking for the largest id. Rows with
            # chosen ids among them: SQLite numbers the others around those as it inserts.
            continue
        largest = session.connection().execute(select(func.max(table.c.id))).scalar()
        rows.sort(key=lambda row: row[0])  # the order in which the flush inserts them
        for number, (_order, instance) in enumerate(rows, start=(largest or 0) + 1):
            instance.id = number
