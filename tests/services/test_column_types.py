"""Column types read back what was written, on each backend: raw message bytes and long text
(both sent to MariaDB/MySQL as hexadecimal, see db.types.LongBinary and LongText)."""

from __future__ import annotations

import random

from sqlalchemy import literal, select, update

from oak_maillist.db.engine import transaction
from oak_maillist.db.types import LongText
from oak_maillist.models import InboundMessage
from oak_maillist.runtime import Runtime

RAWS = [
    b"",
    bytes(range(256)),
    b"\x00'\"\\\r\n%s%%(raw)s UNHEX(" * 40,
    "中文 ünïcode 😀\r\n".encode() * 5000,
    random.Random(5).randbytes(300_000),
]

_CODE_POINTS = [*range(1, 0xD800), *range(0xE000, 0x110000, 7)]  # UTF-8 carries no surrogate
_ANY = random.Random(7)
TEXTS = [
    "",
    "'\"\\\r\n%s%%(raw)s UNHEX( CONVERT( \x1a" * 40,  # (PostgreSQL text holds no NUL)
    "中文 ünïcode 😀\r\n" * 5000,
    "".join(map(chr, _ANY.choices(_CODE_POINTS, k=50_000))),
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


async def test_long_text_reads_back_exactly(runtime: Runtime) -> None:
    async with transaction(runtime.sessionmaker) as session:
        row = _inbound(b"")
        row.recipients = TEXTS  # JSON text kept as LongText
        session.add(row)
        await session.flush()
        echoed = [await session.scalar(select(literal(value, LongText()))) for value in TEXTS]
    assert echoed == TEXTS
    async with runtime.sessionmaker() as session:
        stored = await session.scalar(
            select(InboundMessage.recipients).where(InboundMessage.id == row.id)
        )
        assert stored == TEXTS
        found = await session.scalar(
            select(InboundMessage.id).where(InboundMessage.recipients == TEXTS)
        )
        assert found == row.id
