"""One mail transaction in two round trips over an aiosmtplib connection (RFC 2920 PIPELINING).

aiosmtplib sends each command and waits for its reply: a transaction for 100 recipients costs
103 round trips, about 50 µs of CPU each, which caps a process near 12,000 recipients a second
before anything else is done. Relays advertise PIPELINING so that a client can send MAIL FROM,
every RCPT TO and DATA in one write and read the replies together. aiosmtplib keeps doing what
it does well (connecting, EHLO, STARTTLS, AUTH, RSET, QUIT, the non-pipelined fallback); for one
envelope this module lends the connection's transport a reader that collects a given number of
replies, then gives the transport back, so aiosmtplib's state is exactly as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

# The longest reply line RFC 5321 §4.5.3.1.5 allows is 512 octets; allow generous slack.
MAX_REPLY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Reply:
    code: int
    text: str


@dataclass(frozen=True)
class Answers:
    """The relay's answers to one pipelined transaction."""

    mail: Reply
    recipients: list[Reply]  # one per recipient, in order
    data: Reply  # the answer to DATA, or to the message when DATA was accepted (354)
    message_sent: bool  # whether `data` answers the message (the transaction is over)

    @property
    def closing(self) -> bool:
        """The relay said 421: it is closing the connection."""
        return any(r.code == 421 for r in (self.mail, *self.recipients, self.data))


class _Collector(asyncio.Protocol):
    """Reads whole replies (multi-line ones too) until `wanted` have arrived."""

    def __init__(self, owner: asyncio.BaseProtocol, wanted: int) -> None:
        self.owner = owner
        self.wanted = wanted
        self.replies: list[Reply] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._lines: list[str] = []

    def expect(self, more: int) -> None:
        self.wanted += more
        self.done = asyncio.get_running_loop().create_future()
        self._settle()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > MAX_REPLY_BYTES:
            self._fail(aiosmtplib.SMTPResponseException(-1, "reply too long"))
            return
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[: end + 1]).rstrip(b"\r\n").decode("utf-8", "replace")
            del self._buffer[: end + 1]
            if len(line) < 3 or not line[:3].isdigit():
                self._fail(aiosmtplib.SMTPResponseException(-1, f"malformed reply: {line!r}"))
                return
            self._lines.append(line[4:])
            if line[3:4] != "-":
                self.replies.append(Reply(int(line[:3]), "\n".join(self._lines)))
                self._lines = []
        self._settle()

    def _settle(self) -> None:
        if len(self.replies) >= self.wanted and not self.done.done():
            self.done.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("the relay closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected("connection lost"))
        self.owner.connection_lost(exc)  # aiosmtplib learns it is disconnected


def supported(client: aiosmtplib.SMTP, sender: str, recipients: Sequence[str]) -> bool:
    """Whether this transaction can be pipelined: the relay offers it and the addresses are
    ASCII (SMTPUTF8 ones take aiosmtplib's own path, which knows the extension)."""
    return (
        client.is_connected
        and client.protocol is not None
        and client.protocol.transport is not None
        and client.supports_extension("pipelining")
        and sender.isascii()
        and all(recipient.isascii() for recipient in recipients)
    )


async def transact(
    client: aiosmtplib.SMTP, sender: str, recipients: Sequence[str], message: bytes
) -> Answers:
    """Send one envelope pipelined; raises on a lost connection or a timeout (the client is
    closed then: what was answered is not known for certain)."""
    protocol = client.protocol
    transport = protocol.transport if protocol is not None else None
    if protocol is None or not isinstance(transport, asyncio.Transport):
        raise aiosmtplib.SMTPServerDisconnected("not connected")
    group = b"MAIL FROM:<%s>\r\n" % sender.encode() + b"".join(
        b"RCPT TO:<%s>\r\n" % recipient.encode() for recipient in recipients
    )
    collector = _Collector(protocol, len(recipients) + 2)
    sent = False
    transport.set_protocol(collector)
    try:
        async with asyncio.timeout(client.timeout):
            transport.write(group + b"DATA\r\n")
            await collector.done
            mail, *answers, data = collector.replies[: len(recipients) + 2]
            if data.code == 354:
                body = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message))
                collector.expect(1)
                transport.write(body + b".\r\n")
                await collector.done
                data = collector.replies[-1]
                sent = True
    except BaseException:
        client.close()
        raise
    finally:
        if not transport.is_closing():
            transport.set_protocol(protocol)
    return Answers(mail, answers, data, message_sent=sent)
