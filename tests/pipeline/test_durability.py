"""A message answered with 250 survives the death of the process that took it."""

from __future__ import annotations

import asyncio
import smtplib
import time
from pathlib import Path

import redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import InboundMessage, Message
from oak_maillist.runtime import Runtime
from tests.conftest import TEST_SECRET, redis_url
from tests.factories import make_domain, make_list
from tests.pipeline.conftest import message
from tests.processes import Service, base_env, free_port


def _env(database_url: str, tmp_path: Path, http_port: int, smtp_port: int) -> dict[str, str]:
    return base_env(database_url, tmp_path) | {
        "OAK__SERVER__PORT": str(http_port),
        "OAK__SERVER__HOST": "127.0.0.1",
        "OAK__SMTP__INCOMING__PORT": str(smtp_port),
        "OAK__SMTP__INCOMING__HOST": "127.0.0.1",
        "OAK__SECURITY__JWT_SECRET": TEST_SECRET,
        "OAK__ARCHIVE__STORAGE_PATH": str(tmp_path / "archives"),
    }


def _send(port: int) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("client.example.com")
        client.mail("alice@example.com")
        client.rcpt("dev@lists.example.org")
        return client.data(message(subject="Survivor", message_id="<survivor@example.com>"))


async def test_a_killed_process_loses_nothing(
    db: AsyncSession, runtime: Runtime, database_url: str, tmp_path: Path, backend: str
) -> None:
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", posting_policy="anyone")
    await db.commit()
    # A broker nobody consumes from stands for a hand-off lost with the process.
    orphan_broker = redis_url(backend, 1)
    redis.Redis.from_url(orphan_broker).flushdb()

    http_port, smtp_port = free_port(), free_port()
    env = _env(database_url, tmp_path, http_port, smtp_port)
    first = Service(
        env | {"OAK__QUEUE__BROKER": orphan_broker},
        tmp_path / "first.log",
        "serve",
        "--role",
        "http,smtp",
    )
    try:
        first.wait_ready(f"http://127.0.0.1:{http_port}/health/ready")
        code, _reply = await asyncio.to_thread(_send, smtp_port)
        assert code == 250
    finally:
        first.kill()
    async with runtime.sessionmaker() as session:
        stored = (await session.scalars(select(InboundMessage))).all()
        assert [(row.status, row.envelope_from) for row in stored] == [
            ("received", "alice@example.com")
        ]

    http_port = free_port()
    second = Service(
        _env(database_url, tmp_path, http_port, free_port()),
        tmp_path / "second.log",
        "serve",
        "--role",
        "http,smtp,worker",
    )
    try:
        second.wait_ready(f"http://127.0.0.1:{http_port}/health/ready")
        deadline = time.monotonic() + 30
        archived: list[Message] = []
        while time.monotonic() < deadline and not archived:
            async with runtime.sessionmaker() as session:
                archived = list(
                    (
                        await session.scalars(select(Message).where(Message.list_id == mlist.id))
                    ).all()
                )
            await asyncio.sleep(0.2)
        assert [m.subject for m in archived] == ["Survivor"], second.output()[-3000:]
        async with runtime.sessionmaker() as session:
            row = await session.scalar(select(InboundMessage))
            assert row is not None
            assert (row.status, row.outcome) == ("done", "accept")
    finally:
        status, output = second.stop()
        redis.Redis.from_url(orphan_broker).flushdb()
    assert status == 0, output[-3000:]
