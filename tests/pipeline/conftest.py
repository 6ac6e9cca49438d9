"""A whole service in the test process: SMTP in on a real socket, jobs, the relay a real sink."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import smtplib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from oak_maillist.config import (
    IncomingSmtpSettings,
    OutgoingSmtpSettings,
    QueueSettings,
    SmtpSettings,
)
from oak_maillist.models import InboundMessage, InboundStatus, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services.search import backlog
from oak_maillist.smtp.server import bound_port, start_servers, stop_servers
from oak_maillist.tasks import queue
from tests.sink import Sink


@dataclass
class MailService:
    runtime: Runtime
    smtp_port: int
    sink: Sink

    def send(
        self,
        data: bytes | str,
        *,
        sender: str,
        recipients: list[str],
        declare_size: bool = True,
    ) -> dict[str, tuple[int, bytes]]:
        """Send one message over SMTP (blocking; call through `deliver`)."""
        raw = data.encode() if isinstance(data, str) else data
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as client:
            client.ehlo("client.example.com")
            if not declare_size:  # as a client that ignores SIZE would
                client.esmtp_features.pop("size", None)
            refused = client.sendmail(sender, recipients, raw)
        return refused

    async def deliver(
        self, data: bytes | str, *, sender: str, recipients: list[str], declare_size: bool = True
    ) -> InboundMessage:
        """Send a message and wait until the service has processed it."""
        before = await self._latest_id()
        await asyncio.to_thread(
            self.send, data, sender=sender, recipients=recipients, declare_size=declare_size
        )
        return await self.processed_after(before)

    async def _latest_id(self) -> int:
        async with self.runtime.sessionmaker() as session:
            found = await session.scalar(
                select(InboundMessage.id).order_by(InboundMessage.id.desc()).limit(1)
            )
            return found or 0

    async def processed_after(self, last_id: int, seconds: float = 20) -> InboundMessage:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            async with self.runtime.sessionmaker() as session:
                row = await session.scalar(
                    select(InboundMessage)
                    .where(InboundMessage.id > last_id)
                    .order_by(InboundMessage.id)
                    .limit(1)
                )
                if row is not None and row.status in (InboundStatus.DONE, InboundStatus.FAILED):
                    # ...and its posts indexed for search (after the commit, but on SQLite).
                    unindexed = await session.scalar(
                        select(func.count())
                        .select_from(backlog.BACKLOG)
                        .join(Message, Message.id == backlog.BACKLOG.c.message_id)
                        .where(Message.inbound_id == row.id)
                    )
                    if not unindexed:
                        return row
            await asyncio.sleep(0.05)
        raise AssertionError(f"no message after {last_id} was processed in {seconds}s")


@contextlib.asynccontextmanager
async def running_service(
    runtime: Runtime, sink: Sink, **sections: object
) -> AsyncIterator[MailService]:
    """SMTP in, jobs and the relay (the sink) in this process; `sections` replace settings."""
    smtp = SmtpSettings(
        incoming=IncomingSmtpSettings(host="127.0.0.1", port=0, max_message_size=1024 * 1024),
        outgoing=OutgoingSmtpSettings(
            host="127.0.0.1", port=sink.port, security="none", timeout_seconds=5
        ),
    )
    local = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"smtp": smtp, **sections})
    )
    await queue.start(local, queue.make_broker(QueueSettings()), worker=True)
    servers = await start_servers(local)
    try:
        yield MailService(local, bound_port(servers[0]), sink)
    finally:
        await stop_servers(servers)
        await queue.stop()


@pytest.fixture
async def started(runtime: Runtime) -> AsyncIterator[Runtime]:
    """Jobs run in this process (the in-memory broker), which is a worker: no SMTP."""
    await queue.start(runtime, queue.make_broker(QueueSettings()), worker=True)
    yield runtime
    await queue.stop()


@pytest.fixture
async def mail_service(runtime: Runtime, sink: Sink) -> AsyncIterator[MailService]:
    async with running_service(runtime, sink) as service:
        yield service


def message(
    *,
    sender: str = "Alice <alice@example.com>",
    to: str = "dev@lists.example.org",
    subject: str = "Hello",
    body: str = "Hello, list.\n",
    message_id: str | None = "<m1@example.com>",
    headers: dict[str, str] | None = None,
) -> str:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    lines.append("Date: Tue, 24 Nov 2026 10:00:00 +0000")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append("Content-Type: text/plain; charset=utf-8")
    return "\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")
