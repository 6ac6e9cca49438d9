"""Rows one flush inserts get ascending ids in the order they were added, on every backend;
on SQLite (db.sqlite_ids) several rows of a table go in one INSERT, numbered as SQLite would
number them, after the largest id even when the newest rows were deleted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, event, select

from oak_maillist.db.engine import transaction
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
