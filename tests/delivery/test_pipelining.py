"""Pipelined transactions (RFC 2920) over a real aiosmtpd sink: one write for MAIL, every RCPT
and DATA; each recipient's own answer; refusals, a refused DATA and a relay that hangs up leave
the connection clean or closed; a relay without PIPELINING gets one command at a time; dots at
line starts are stuffed and the message arrives byte for byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP

from oak_maillist.delivery import relay
from tests.sink import Sink

MESSAGE = b"Subject: hi\r\n\r\nline one\r\n.leading dot\r\n..two\r\nend\r\n"


class Tap:
    """A TCP proxy in front of the sink that keeps each chunk the client wrote."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.chunks: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, keep: bool) -> None:
            while data := await src.read(65536):
                if keep:
                    self.chunks.append(data)
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    sink = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", enable_SMTPUTF8=True), "127.0.0.1", 0
    )
    sink.port = server.sockets[0].getsockname()[1]
    yield sink
    server.close()
    await server.wait_closed()


@pytest.fixture
async def tap(sink: Sink) -> AsyncIterator[Tap]:
    tap = Tap(sink.port)
    server = await asyncio.start_server(tap.handle, "127.0.0.1", 0)
    tap.port = server.sockets[0].getsockname()[1]
    yield tap
    server.close()


async def _client(port: int) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5)
    await client.connect()
    return client


async def test_one_write_carries_mail_every_rcpt_and_data(sink: Sink, tap: Tap) -> None:
    client = await _client(tap.port)
    recipients = [f"r{n}@example.net" for n in range(50)]
    results = await relay.send_bulk(
        client, sender="dev-bounces@example.org", recipients=recipients, message=MESSAGE
    )
    assert {r.outcome for r in results.values()} == {relay.Outcome.SENT}
    [envelope] = await sink.wait_for(1)
    assert envelope.recipients == recipients
    assert envelope.data == MESSAGE  # dot-stuffing undone by the relay: byte for byte
    group = next(chunk for chunk in tap.chunks if chunk.startswith(b"MAIL FROM"))
    assert group.count(b"RCPT TO:") == 50
    assert group.endswith(b"DATA\r\n")
    # aiosmtplib has its connection back, in a clean state
    assert (await client.noop()).code == 250
    await client.quit()


async def test_each_recipient_gets_its_own_answer(sink: Sink) -> None:
    sink.refuse_recipient("gone@example.net", "550 5.1.1 no such user")
    sink.refuse_recipient("full@example.net", "452 4.2.2 mailbox full")
    client = await _client(sink.port)
    results = await relay.send_bulk(
        client,
        sender="dev-bounces@example.org",
        recipients=["a@example.net", "gone@example.net", "full@example.net", "b@example.net"],
        message=MESSAGE,
    )
    assert results["a@example.net"].outcome is relay.Outcome.SENT
    assert results["b@example.net"].outcome is relay.Outcome.SENT
    assert results["gone@example.net"] == relay.Result(
        relay.Outcome.PERMANENT, 550, "5.1.1 no such user"
    )
    assert results["full@example.net"].outcome is relay.Outcome.TEMPORARY
    [envelope] = await sink.wait_for(1)
    assert envelope.recipients == ["a@example.net", "b@example.net"]
    await client.quit()


async def test_everyone_refused_then_the_next_transaction_goes_through(sink: Sink) -> None:
    sink.refuse_recipient("gone@example.net", "550 5.1.1 no such user")
    client = await _client(sink.port)
    refused = await relay.send_bulk(
        client, sender="dev-bounces@example.org", recipients=["gone@example.net"], message=MESSAGE
    )
    assert refused["gone@example.net"].code == 550
    # DATA was refused (no valid recipient): the transaction was reset, the next one works
    sent = await relay.send_bulk(
        client, sender="dev-bounces@example.org", recipients=["a@example.net"], message=MESSAGE
    )
    assert sent["a@example.net"].outcome is relay.Outcome.SENT
    assert len(await sink.wait_for(1)) == 1
    await client.quit()


async def test_a_refused_message_is_everyones_answer(sink: Sink) -> None:
    sink.refuse_next("554 5.7.1 rejected as spam")
    client = await _client(sink.port)
    results = await relay.send_bulk(
        client,
        sender="dev-bounces@example.org",
        recipients=["a@example.net", "b@example.net"],
        message=MESSAGE,
    )
    assert {r.code for r in results.values()} == {554}
    assert {r.outcome for r in results.values()} == {relay.Outcome.PERMANENT}
    envelopes = [relay.Envelope("dev-bounces@example.org", "c@example.net", MESSAGE)]
    [again] = await relay.send_each(client, envelopes)
    assert again.outcome is relay.Outcome.SENT
    await client.quit()


async def test_personalised_messages_go_one_transaction_each(sink: Sink, tap: Tap) -> None:
    client = await _client(tap.port)
    envelopes = [
        relay.Envelope(f"dev-bounces+{n}@example.org", f"r{n}@example.net", MESSAGE + b"%d" % n)
        for n in range(5)
    ]
    results = await relay.send_each(client, envelopes)
    assert [r.outcome for r in results] == [relay.Outcome.SENT] * 5
    received = await sink.wait_for(5)
    assert [(m.sender, m.recipients) for m in received] == [
        (f"dev-bounces+{n}@example.org", [f"r{n}@example.net"]) for n in range(5)
    ]
    assert [m.data for m in received] == [e.message + b"\r\n" for e in envelopes]
    assert sum(chunk.startswith(b"MAIL FROM") for chunk in tap.chunks) == 5
    await client.quit()


async def test_a_relay_without_pipelining_gets_one_command_at_a_time(sink: Sink, tap: Tap) -> None:
    sink.pipelining = False
    client = await _client(tap.port)
    recipients = ["a@example.net", "b@example.net"]
    results = await relay.send_bulk(
        client, sender="dev-bounces@example.org", recipients=recipients, message=MESSAGE
    )
    assert {r.outcome for r in results.values()} == {relay.Outcome.SENT}
    mail = next(chunk for chunk in tap.chunks if chunk.startswith(b"MAIL FROM"))
    assert b"RCPT" not in mail
    await client.quit()


async def test_a_relay_that_hangs_up_mid_transaction_is_a_temporary_failure() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 flaky ESMTP\r\n")
        await reader.readline()  # EHLO
        writer.write(b"250-flaky\r\n250 PIPELINING\r\n")
        await reader.readline()  # MAIL FROM
        writer.write(b"250 2.1.0 OK\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = await _client(port)
    results = await relay.send_bulk(
        client, sender="dev-bounces@example.org", recipients=["a@example.net"], message=MESSAGE
    )
    assert results["a@example.net"].outcome is relay.Outcome.TEMPORARY
    assert not client.is_connected
    server.close()
