"""The SMTP edge over a real socket: full reply transcripts."""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import IncomingSmtpSettings, SmtpSettings
from oak_maillist.models import Domain, InboundMessage, MailingList
from oak_maillist.runtime import Runtime
from oak_maillist.smtp.server import bound_port, start_servers, stop_servers
from tests.factories import make_domain, make_list

MESSAGE = (
    b"From: Alice <alice@example.com>\r\nTo: dev@lists.example.org\r\n"
    b"Subject: hello\r\nMessage-ID: <m1@example.com>\r\n\r\nBody line\r\n"
)


async def _serve(runtime: Runtime, **incoming: object) -> tuple[list[asyncio.Server], int]:
    smtp = SmtpSettings(incoming=IncomingSmtpSettings(host="127.0.0.1", port=0, **incoming))  # type: ignore[arg-type]
    local = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"smtp": smtp})
    )
    servers = await start_servers(local)
    return servers, bound_port(servers[0])


@pytest.fixture
async def smtp_port(runtime: Runtime) -> AsyncIterator[int]:
    servers, port = await _serve(runtime, max_recipients=3, max_message_size=64 * 1024)
    yield port
    await stop_servers(servers)


@pytest.fixture
async def lists(db: AsyncSession) -> None:
    domain = await make_domain(db, "lists.example.org")
    await make_list(db, domain, "dev", max_message_size=2048)
    await make_list(db, domain, "old", is_active=False)
    await db.commit()


def _client(port: int) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", port, timeout=10)


async def _in_thread(function: object, *args: object) -> object:
    return await asyncio.to_thread(function, *args)  # type: ignore[arg-type]


def _conversation(
    port: int,
    sender: str,
    recipients: list[str],
    data: bytes | None,
    mail_options: tuple[str, ...] = (),
) -> list[tuple[int, bytes]]:
    transcript = []
    with _client(port) as client:
        transcript.append(client.ehlo("client.example.com"))
        transcript.append(client.mail(sender, list(mail_options)))
        for recipient in recipients:
            transcript.append(client.rcpt(recipient))
        if data is not None:
            transcript.append(client.data(data))
    return transcript


async def test_ehlo_advertises_extensions(smtp_port: int) -> None:
    def ehlo() -> tuple[int, bytes]:
        with _client(smtp_port) as client:
            return client.ehlo("client.example.com")

    code, text = await asyncio.to_thread(ehlo)
    assert code == 250
    lines = text.decode().splitlines()
    assert {"SIZE 65536", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES"} <= set(lines)
    assert not any(line.startswith("AUTH") for line in lines)


@pytest.mark.usefixtures("lists")
async def test_unknown_recipient_and_open_relay_are_refused(smtp_port: int) -> None:
    transcript = await asyncio.to_thread(
        _conversation,
        smtp_port,
        "a@example.com",
        ["nobody@lists.example.org", "victim@gmail.com", "dev@other.example.org"],
        None,
    )
    assert transcript[1] == (250, b"2.1.0 Sender OK")
    assert transcript[2:] == [(550, b"5.1.1 No such list or address here")] * 3


@pytest.mark.usefixtures("lists")
async def test_inactive_list_is_refused(smtp_port: int) -> None:
    transcript = await asyncio.to_thread(
        _conversation, smtp_port, "a@example.com", ["old@lists.example.org"], None
    )
    assert transcript[2] == (550, b"5.2.1 This list is not accepting mail")


@pytest.mark.usefixtures("lists")
async def test_declared_size_over_list_maximum_is_refused(smtp_port: int) -> None:
    transcript = await asyncio.to_thread(
        _conversation, smtp_port, "a@example.com", ["dev@lists.example.org"], None, ("SIZE=4096",)
    )
    assert transcript[2] == (552, b"5.3.4 Message is larger than this list accepts")


@pytest.mark.usefixtures("lists")
async def test_accepted_message_is_stored_before_250(smtp_port: int, runtime: Runtime) -> None:
    transcript = await asyncio.to_thread(
        _conversation,
        smtp_port,
        "alice@example.com",
        ["dev@lists.example.org", "DEV-request@lists.example.org", "dev-owner@lists.example.org"],
        MESSAGE,
    )
    assert transcript[2:5] == [(250, b"2.1.5 Recipient OK")] * 3
    assert transcript[5] == (250, b"2.0.0 Message accepted for delivery")
    async with runtime.sessionmaker() as session:
        stored = (await session.execute(select(InboundMessage))).scalars().all()
    assert len(stored) == 1
    assert stored[0].raw == MESSAGE
    assert stored[0].envelope_from == "alice@example.com"
    assert stored[0].recipients == [
        "dev@lists.example.org",
        "DEV-request@lists.example.org",
        "dev-owner@lists.example.org",
    ]
    assert stored[0].peer == "127.0.0.1"
    assert stored[0].helo == "client.example.com"
    assert stored[0].status == "received"


@pytest.mark.usefixtures("lists")
async def test_concurrent_senders_each_get_250_only_once_their_message_is_stored(
    smtp_port: int, runtime: Runtime
) -> None:
    """Messages whose DATA ends together are committed together: each 250 still comes only
    after its own row is committed (a client looks for it as soon as it has the reply)."""
    loop = asyncio.get_running_loop()
    senders = 12

    async def stored(sender: str) -> list[bytes]:
        async with runtime.sessionmaker() as session:
            rows = await session.scalars(
                select(InboundMessage).where(InboundMessage.envelope_from == sender)
            )
            return [row.raw for row in rows]

    def send(number: int) -> tuple[tuple[int, bytes], bool]:
        sender = f"user{number}@example.com"
        data = MESSAGE.replace(b"<m1@", f"<m{number}@".encode())
        reply = _conversation(smtp_port, sender, ["dev@lists.example.org"], data)[-1]
        seen = asyncio.run_coroutine_threadsafe(stored(sender), loop).result(timeout=10)
        return reply, seen == [data]

    with ThreadPoolExecutor(senders) as pool:
        results = await asyncio.gather(
            *(loop.run_in_executor(pool, send, number) for number in range(senders))
        )
    assert results == [((250, b"2.0.0 Message accepted for delivery"), True)] * senders


@pytest.mark.usefixtures("lists")
async def test_too_many_recipients(smtp_port: int) -> None:
    transcript = await asyncio.to_thread(
        _conversation, smtp_port, "a@example.com", ["dev@lists.example.org"] * 4, None
    )
    assert [code for code, _ in transcript[2:]] == [250, 250, 250, 452]
    assert transcript[-1][1].startswith(b"4.5.3")


@pytest.mark.usefixtures("lists")
async def test_connection_limit_answers_421(runtime: Runtime) -> None:
    servers, port = await _serve(runtime, max_connections=1)
    try:

        def two_connections() -> tuple[int, bytes | str]:
            with _client(port) as first:
                first.ehlo()
                try:
                    smtplib.SMTP("127.0.0.1", port, timeout=5)
                except smtplib.SMTPConnectError as exc:
                    return exc.smtp_code, exc.smtp_error
            return 0, b""

        assert await asyncio.to_thread(two_connections) == (
            421,
            b"4.7.0 Too many connections; try again later",
        )
    finally:
        await stop_servers(servers)


@pytest.mark.usefixtures("lists")
async def test_store_failure_answers_451(smtp_port: int, runtime: Runtime) -> None:
    from sqlalchemy import text

    async with runtime.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE inbound_messages RENAME TO inbound_away"))
    try:
        transcript = await asyncio.to_thread(
            _conversation, smtp_port, "a@example.com", ["dev@lists.example.org"], MESSAGE
        )
    finally:
        async with runtime.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE inbound_away RENAME TO inbound_messages"))
    assert transcript[-1] == (451, b"4.3.0 Could not store the message; try again later")


async def test_a_client_over_its_rate_gets_a_temporary_refusal(
    runtime: Runtime, lists: None
) -> None:
    servers, port = await _serve(runtime, rate_limit_per_minute=2, rate_limit_exempt=[])
    try:

        def three_transactions() -> list[tuple[int, bytes]]:
            replies = []
            with _client(port) as client:
                client.ehlo("client.example.com")
                for _ in range(3):
                    replies.append(client.mail("a@example.com"))
                    client.rset()
            return replies

        replies = await asyncio.to_thread(three_transactions)
    finally:
        await stop_servers(servers)
    assert replies == [
        (250, b"2.1.0 Sender OK"),
        (250, b"2.1.0 Sender OK"),
        (450, b"4.7.1 Too many messages from your address; try again later"),
    ]


async def test_rcpt_remembers_lists_found_for_a_moment_and_unknown_ones_not_at_all(
    runtime: Runtime, db: AsyncSession, lists: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oak_maillist.smtp import handler

    servers, port = await _serve(runtime)
    try:

        def rcpt(address: str) -> int:
            with _client(port) as client:
                client.ehlo("client.example.com")
                client.mail("alice@example.com")
                return client.rcpt(address)[0]

        assert await asyncio.to_thread(rcpt, "new@lists.example.org") == 550
        domain = await db.scalar(select(Domain).where(Domain.name == "lists.example.org"))
        assert domain is not None
        dev = await db.scalar(select(MailingList).where(MailingList.local_part == "dev"))
        assert dev is not None
        await make_list(db, domain, "new")
        await db.commit()
        # an unknown address is asked anew: the new list takes mail at once
        assert await asyncio.to_thread(rcpt, "new@lists.example.org") == 250
        assert await asyncio.to_thread(rcpt, "dev@lists.example.org") == 250
        dev.is_active = False
        await db.commit()
        # the answer found a moment ago still holds (processing checks the list again) ...
        assert await asyncio.to_thread(rcpt, "dev@lists.example.org") == 250
        # ... until it is older than the time it is kept
        monkeypatch.setattr(handler, "RECIPIENT_TTL_SECONDS", 0.0)
        assert await asyncio.to_thread(rcpt, "dev@lists.example.org") == 550
    finally:
        await stop_servers(servers)
