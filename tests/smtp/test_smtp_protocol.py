"""The SMTP edge's protocol features over real sockets: pipelining, SMTPUTF8, STARTTLS, LMTP."""

from __future__ import annotations

import asyncio
import datetime
import smtplib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from oak_maillist.models import InboundMessage
from oak_maillist.runtime import Runtime
from oak_maillist.smtp.server import bound_port, stop_servers
from tests.smtp.sockets import converse, serve

MESSAGE = (
    b"From: Alice <alice@example.com>\r\nTo: dev@lists.example.org\r\n"
    b"Subject: hello\r\nMessage-ID: <p1@example.com>\r\n\r\nBody line\r\n"
)


@pytest.mark.usefixtures("dev_list")
async def test_pipelined_commands_get_their_replies_in_order(runtime: Runtime) -> None:
    servers = await serve(runtime)
    port = bound_port(servers[0])

    envelope = (
        b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<dev@lists.example.org>\r\n"
        b"RCPT TO:<nobody@lists.example.org>\r\nDATA\r\n"
    )
    steps = [(b"EHLO client.example.com\r\n", 1), (envelope, 4), (MESSAGE + b".\r\nQUIT\r\n", 2)]
    try:
        replies = await asyncio.to_thread(converse, port, *steps)
    finally:
        await stop_servers(servers)
    assert replies[0].startswith("220 ")
    assert replies[1].startswith("250 ")
    assert replies[2:] == [
        "250 2.1.0 Sender OK",
        "250 2.1.5 Recipient OK",
        "550 5.1.1 No such list or address here",
        "354 End data with <CR><LF>.<CR><LF>",
        "250 2.0.0 Message accepted for delivery",
        "221 Bye",
    ]


@pytest.mark.usefixtures("dev_list")
async def test_smtputf8_addresses_and_headers_are_kept(runtime: Runtime) -> None:
    servers = await serve(runtime)
    port = bound_port(servers[0])
    raw = (
        "From: José <josé@exemple.fr>\r\nTo: dev@lists.example.org\r\n"
        "Subject: Ça marche — 好的\r\n\r\nCorps du message\r\n"
    ).encode()

    def send() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("client.example.com")
            assert client.has_extn("smtputf8")
            assert client.mail("josé@exemple.fr", ["SMTPUTF8", "BODY=8BITMIME"])[0] == 250
            assert client.rcpt("dev@lists.example.org")[0] == 250
            return client.data(raw)

    try:
        reply = await asyncio.to_thread(send)
    finally:
        await stop_servers(servers)
    assert reply == (250, b"2.0.0 Message accepted for delivery")
    async with runtime.sessionmaker() as session:
        stored = (await session.scalars(select(InboundMessage))).one()
    assert stored.envelope_from == "josé@exemple.fr"
    assert stored.raw == raw


def _self_signed(directory: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lists.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.mark.usefixtures("dev_list")
async def test_starttls_is_offered_and_mail_flows_over_it(runtime: Runtime, tmp_path: Path) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    servers = await serve(runtime, tls_cert_file=cert_file, tls_key_file=key_file)
    port = bound_port(servers[0])

    def send() -> tuple[bool, bool, str, tuple[int, bytes]]:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("client.example.com")
            offered = client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo("client.example.com")
            again = client.has_extn("starttls")
            assert isinstance(client.sock, ssl.SSLSocket)
            version = client.sock.version() or ""
            client.mail("alice@example.com")
            client.rcpt("dev@lists.example.org")
            return offered, again, version, client.data(MESSAGE)

    try:
        offered, again, version, reply = await asyncio.to_thread(send)
    finally:
        await stop_servers(servers)
    assert (offered, again) == (True, False)
    assert version.startswith("TLSv1.")
    assert reply == (250, b"2.0.0 Message accepted for delivery")


@pytest.fixture
async def lmtp_port(runtime: Runtime, dev_list: None) -> AsyncIterator[int]:
    servers = await serve(runtime, lmtp_enabled=True, lmtp_host="127.0.0.1", lmtp_port=0)
    yield bound_port(servers[1])
    await stop_servers(servers)


async def test_lmtp_answers_each_recipient_after_data(lmtp_port: int, runtime: Runtime) -> None:
    def send() -> dict[str, tuple[int, bytes]]:
        with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=10) as client:
            client.ehlo("mta.example.com")
            return client.sendmail(
                "alice@example.com",
                ["dev@lists.example.org", "nobody@lists.example.org"],
                MESSAGE,
            )

    refused = await asyncio.to_thread(send)
    assert refused == {"nobody@lists.example.org": (550, b"5.1.1 No such list or address here")}
    async with runtime.sessionmaker() as session:
        stored = (await session.scalars(select(InboundMessage))).one()
    assert stored.recipients == ["dev@lists.example.org"]


async def test_lmtp_gives_one_data_reply_per_recipient(lmtp_port: int) -> None:
    envelope = (
        b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<dev@lists.example.org>\r\n"
        b"RCPT TO:<dev-owner@lists.example.org>\r\nDATA\r\n"
    )
    steps = [(b"LHLO mta.example.com\r\n", 1), (envelope, 4), (MESSAGE + b".\r\n", 2)]
    replies = await asyncio.to_thread(converse, lmtp_port, *steps)
    assert replies[-3:] == [
        "354 End data with <CR><LF>.<CR><LF>",
        "250 2.0.0 Message accepted for delivery",
        "250 2.0.0 Message accepted for delivery",
    ]
