"""Every message of the MIME corpus goes in over SMTP and comes out of the archive API whole.

The unit tests (tests/unit/test_mime_corpus.py) hold the parser to the corpus' expected
results; here the same bytes travel the real path (SMTP socket, durable store, the posting
chain, the archive on disk, HTTP) and must come out as the parser reads them: subject,
sender, text, sanitised HTML, every attachment with its size, hash and bytes. Nothing accepted
is lost: each message is archived, or discarded as a duplicate of one that was.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import smtplib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.mail.parse import parse_message
from oak_maillist.models import InboundMessage, InboundStatus, MailingList, Message
from oak_maillist.runtime import Runtime
from tests.factories import make_domain, make_list
from tests.pipeline.conftest import MailService

CORPUS = Path("/work/shared/corpus/mime")
SETS = {
    "stalwart": sorted(CORPUS.glob("stalwart-mail-parser/*/*.eml")),
    "cpython": sorted((CORPUS / "cpython-test_email" / "messages").iterdir()),
    "mailman": sorted((CORPUS / "mailman-3.3.10" / "messages").iterdir()),
    "mime4j": sorted(CORPUS.glob("apache-james-mime4j/*/*.msg")),
}
LIST_ADDRESS = "corpus@lists.example.org"
# RFC 5321 §4.5.3.1.6: a line is at most 1000 octets with its CRLF; the server refuses more.
MAX_LINE = 1000


def _on_the_wire(data: bytes) -> bytes:
    """The message as an MTA sends it: CRLF line ends (smtplib leaves bytes as they are)."""
    wire = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    return wire if wire.endswith(b"\r\n") else wire + b"\r\n"  # DATA ends on a line end


def _too_long(data: bytes) -> bool:
    return any(len(line) + 2 > MAX_LINE for line in _on_the_wire(data).split(b"\r\n"))


def _send_all(port: int, files: list[Path]) -> dict[str, int]:
    """Send each file in one SMTP session; returns the reply code for each."""
    codes: dict[str, int] = {}
    client: smtplib.SMTP | None = None
    for path in files:
        if client is None:
            client = smtplib.SMTP("127.0.0.1", port, timeout=30)
            client.ehlo("corpus.example.com")
            client.esmtp_features.pop("size", None)
        try:
            client.sendmail("tester@example.com", [LIST_ADDRESS], _on_the_wire(path.read_bytes()))
            codes[str(path)] = 250
        except smtplib.SMTPDataError as exc:
            # The rest of a refused DATA is read as commands: start a new session.
            codes[str(path)] = exc.smtp_code
            client.close()
            client = None
    if client is not None:
        client.quit()
    return codes


@pytest.fixture
async def corpus_list(db: AsyncSession) -> MailingList:
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(
        db,
        domain,
        "corpus",
        posting_policy="anyone",
        archive_public=True,
        max_message_size=50 * 1024 * 1024,
    )
    await db.commit()
    return mlist


async def _wait_processed(
    runtime: Runtime, count: int, seconds: float = 120
) -> list[InboundMessage]:
    async with asyncio.timeout(seconds):
        while True:
            async with runtime.sessionmaker() as session:
                rows = list(
                    (
                        await session.scalars(select(InboundMessage).order_by(InboundMessage.id))
                    ).all()
                )
            if len(rows) >= count and all(r.status == InboundStatus.DONE for r in rows):
                return rows
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("name", sorted(SETS))
async def test_corpus_travels_whole(
    name: str,
    mail_service: MailService,
    corpus_list: MailingList,
    client: httpx.AsyncClient,
) -> None:
    files = SETS[name]
    assert files, f"no corpus files for {name}"
    codes = await asyncio.to_thread(_send_all, mail_service.smtp_port, files)
    refused = {str(f) for f in files if codes[str(f)] != 250}
    assert refused == {str(f) for f in files if _too_long(f.read_bytes())}, {
        n: codes[n] for n in refused
    }
    assert all(codes[n] == 500 for n in refused)
    accepted = [f for f in files if str(f) not in refused]
    rows = await _wait_processed(mail_service.runtime, len(accepted))
    assert len(rows) == len(accepted)
    base = f"/api/v1/lists/{corpus_list.id}"
    async with mail_service.runtime.sessionmaker() as session:
        archived = {m.inbound_id: m for m in (await session.scalars(select(Message))).all()}
    problems: list[str] = []
    for path, row in zip(accepted, rows, strict=True):
        expected = parse_message(_on_the_wire(path.read_bytes()))
        if row.outcome == "discard":
            assert any("duplicate" in reason for reason in row.reasons), (path, row.reasons)
            continue
        assert row.outcome == "accept", (path, row.reasons)
        message = archived[row.id]
        response = await client.get(f"{base}/messages/{message.id}")
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        got = (body["subject"], body["sender_email"], body["text"], body["html"])
        want = (expected.subject[:998], expected.sender.email, expected.text, expected.html)
        if got != want:
            problems.append(
                f"{path}: {[i for i in range(4) if got[i] != want[i]]} {got[:2]} != {want[:2]}"
            )
        attachments = [(a["filename"], a["size"], a["sha256"]) for a in body["attachments"]]
        wanted = [(a.filename[:255], a.size, a.sha256) for a in expected.attachments]
        if sorted(attachments) != sorted(wanted):
            problems.append(f"{path}: attachments {attachments} != {wanted}")
        for attachment in body["attachments"][:2]:
            download = await client.get(
                f"{base}/messages/{message.id}/attachments/{attachment['id']}"
            )
            assert download.status_code == 200, download.text
            assert hashlib.sha256(download.content).hexdigest() == attachment["sha256"]
        raw = await client.get(f"{base}/messages/{message.id}/raw")
        assert raw.content == _on_the_wire(path.read_bytes()), path
    assert problems == []
