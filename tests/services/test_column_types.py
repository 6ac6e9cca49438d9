"""Column types read back what was written, on each backend: raw message bytes (sent to
MariaDB/MySQL as hexadecimal, see db.types.LongBinary)."""

from __future__ import annotations

import random

from sqlalchemy import select, update

from oak_maillist.db.engine import transaction
from oak_maillist.models import InboundMessage
from oak_maillist.runtime import Runtime

RAWS = [
    b"",
    bytes(range(256)),
    b"\x00'\"\\\r\n%s%%(raw)s UNHEX(" * 40,
    "中文 ünïcode 😀\r\n".encode() * 5000,
    random.Random(5).randbytes(300_000),
]


def _inbound(raw: bytes) -> InboundMessage:
    return InboundMessage(raw=raw, size=len(raw), envelope_from="a@example.org", recipients=[])


async def test_raw_bytes_read_back_exactly(runtime: Runtime) -> None:
    async with transaction(runtime.sessionmaker) as session:
        alone = _inbound(RAWS[1])
        session.add(alone)
        await session.flush()  # one row
        together = [_inbound(raw) for raw in RAWS]
        session.add_all(together)
        await session.flush()  # several in one statement
        ids = [alone.id] + [row.id for row in together]
    async with runtime.sessionmaker() as session:
        rows = await session.execute(select(InboundMessage.id, InboundMessage.raw))
        stored = {row.id: row.raw for row in rows}
    assert [stored[i] for i in ids] == [RAWS[1], *RAWS]


async def test_raw_bytes_update_and_compare_exactly(runtime: Runtime) -> None:
    async with transaction(runtime.sessionmaker) as session:
        row = _inbound(b"before")
        session.add(row)
        await session.flush()
        await session.execute(
            update(InboundMessage).where(InboundMessage.id == row.id).values(raw=RAWS[2])
        )
    async with runtime.sessionmaker() as session:
        found = await session.scalar(select(InboundMessage.id).where(InboundMessage.raw == RAWS[2]))
        assert found == row.id
        assert (
            await session.scalar(select(InboundMessage.raw).where(InboundMessage.id == row.id))
            == RAWS[2]
        )
