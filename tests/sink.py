"""A real SMTP sink on 127.0.0.1 for outbound tests; it can be told to refuse what comes next."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Sink:
    """Collects every message; `refuse_next` and `refuse_recipient` script failures."""

    received: list[Received] = field(default_factory=list)
    data_replies: deque[str] = field(default_factory=deque)
    recipient_replies: dict[str, str] = field(default_factory=dict)
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # Offer PIPELINING (RFC 2920) as Postfix and Exim do; aiosmtpd handles pipelined commands
    # but does not say so by itself.
    pipelining: bool = True

    async def handle_EHLO(  # noqa: N802 - aiosmtpd hook
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    def refuse_next(self, reply: str, times: int = 1) -> None:
        """Answer DATA of the next `times` transactions with `reply` (e.g. "451 4.3.0 busy")."""
        self.data_replies.extend([reply] * times)

    def refuse_recipient(self, address: str, reply: str) -> None:
        self.recipient_replies[address.lower()] = reply

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.recipient_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_replies:
            return self.data_replies.popleft()
        self.received.append(
            Received(
                envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b""
            )
        )
        self.arrived.set()
        return "250 2.0.0 queued"

    async def wait_for(self, count: int, seconds: float = 15) -> list[Received]:
        async with asyncio.timeout(seconds):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


async def start_sink() -> tuple[Sink, asyncio.Server]:
    sink = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", enable_SMTPUTF8=True), "127.0.0.1", 0
    )
    sink.port = server.sockets[0].getsockname()[1]
    return sink, server
