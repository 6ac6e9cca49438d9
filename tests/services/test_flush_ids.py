"""Rows one flush inserts get ascending ids in the order they were added, on every backend;
on SQLite (db.sqlite_ids) several rows of a table go in one INSERT, numbered as SQLite would
number them, after the largest id even when the newest rows were deleted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, event, select

from oak_maillist.db.engine import transaction
from oak_maillist.db.sqlite_ids import SqliteSession
from oak_maillist.db.types import utcnow
from oak_maillist.models import AuthChallenge
from oak_maillist.runtime import Runtime


@contextmanager
def _inserts(runtime: Runtime) -> Iterator[list[int]]:
    """The number of rows each INSERT INTO auth_challenges statement sent."""
    sent: list[int] = []

    def count(_conn: object, _cursor: object, statement: str, params: object, *_: object) -> None:
        if statement.startswith("INSERT INTO auth_challenges"):
            sent.append(len(params) if isinstance(params, list) else 1)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


async def _add(runtime: Runtime, names: list[str]) -> list[int]:
    async with transaction(runtime.sessionmaker) as session:
        rows = [
            AuthChallenge(kind="passkey", challenge_hash=name, expires_at=utcnow())
            for name in names
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def test_rows_of_one_flush_are_numbered_in_the_order_added(runtime: Runtime) -> None:
    first = await _add(runtime, ["a", "b", "c"])
    assert first == sorted(first)
    async with transaction(runtime.sessionmaker) as session:
        await session.execute(
            delete(AuthChallenge).where(AuthChallenge.id == first[-1])
        )  # the newest one
    with _inserts(runtime) as sent:
        second = await _add(runtime, ["d", "e", "f", "g"])
        alone = await _add(runtime, ["h"])
    assert second == sorted(second)
    assert second[0] > first[1]
    assert alone[0] > second[-1]
    async with runtime.sessionmaker() as session:
        names = {
            row[0]: row[1]
            for row in await session.execute(select(AuthChallenge.id, AuthChallenge.challenge_hash))
        }
    assert [names[i] for i in second] == list("defg")
    if runtime.backend == "sqlite":
        # One statement for the four rows, numbered as SQLite numbers an INTEGER PRIMARY KEY.
        assert sent == [4, 1]
        assert second == list(range(first[1] + 1, first[1] + 5))
        assert alone == [second[-1] + 1]


async def test_rows_with_chosen_ids_in_the_same_flush_leave_the_numbering_to_the_database(
    runtime: Runtime,
) -> None:
    if runtime.backend != "sqlite":
        # Elsewhere the database numbers every row itself (a chosen id would not move
        # PostgreSQL's sequence on): nothing numbers rows before the flush.
        assert runtime.sessionmaker.kw.get("sync_session_class") is not SqliteSession
        return
    assert runtime.sessionmaker.kw.get("sync_session_class") is SqliteSession
    first = await _add(runtime, ["p", "q"])
    chosen = first[-1] + 2  # the next id but one: the database's own numbering must skip it
    async with transaction(runtime.sessionmaker) as session:
        rows = [
            AuthChallenge(kind="passkey", challenge_hash=name, expires_at=utcnow())
            for name in ("r", "s", "t")
        ]
        rows[0].id = chosen
        session.add_all(rows)
        await session.flush()
        ids = [row.id for row in rows]
    assert ids[0] == chosen
    assert len(set(ids)) == 3
    assert ids[1] < ids[2]
