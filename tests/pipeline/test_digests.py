"""A week of posts becomes the expected daily and weekly digests, in MIME (RFC 2046) and plain
text (RFC 1153), each sent once however often or concurrently the clock ticks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import cast

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import (
    Digest,
    EmailTemplate,
    MailingList,
    Message,
    OutboundMessage,
    Subscriber,
)
from oak_maillist.tasks.jobs import digest as digest_jobs
from tests.factories import make_domain, make_list
from tests.pipeline.conftest import MailService, message
from tests.sink import Received

MONDAY = datetime(2026, 11, 16, tzinfo=UTC)
READERS = {
    "daily@example.net": ("daily", "mime", "en"),
    "plain@example.net": ("daily", "plain", "zh-CN"),
    "weekly@example.net": ("weekly", "mime", "en"),
    "each@example.net": ("none", "mime", "en"),
}


@pytest.fixture
async def dev(db: AsyncSession) -> MailingList:
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", name="Developers", posting_policy="anyone")
    for email, (mode, fmt, language) in READERS.items():
        db.add(Subscriber(list_id=mlist.id, email=email, email_normalized=email, status="active",
                          digest_mode=mode, digest_format=fmt, language=language))  # fmt: skip
    await db.commit()
    return mlist


async def _post_week(service: MailService, db: AsyncSession) -> None:
    """Two posts a day, Monday to Sunday, the second of each day a reply to the first."""
    for day in range(7):
        for n in range(2):
            headers = {"In-Reply-To": f"<d{day}p0@example.com>"} if n else {}
            await service.deliver(
                message(subject=f"{'Re: ' if n else ''}Day {day}",
                        message_id=f"<d{day}p{n}@example.com>",
                        body=f"Post {n} of day {day}.\n{'-' * 30}\nafter a rule\n",
                        headers=headers),
                sender="alice@example.com", recipients=["dev@lists.example.org"],
            )  # fmt: skip
            await db.execute(
                update(Message)
                .where(Message.message_id == f"d{day}p{n}@example.com")
                .values(received_at=MONDAY + timedelta(days=day, hours=9 + n))
            )
            await db.commit()


def _digests(mails: list[Received]) -> dict[str, list[Received]]:
    found: dict[str, list[Received]] = {}
    for mail in mails:
        if "digest" in str(mail.message["From"]):
            found.setdefault(mail.recipients[0], []).append(mail)
    for copies in found.values():  # in period order (the sink sees them in any order)
        copies.sort(key=lambda mail: str(mail.message["Subject"]))
    return found


async def test_a_week_of_posts_makes_daily_and_weekly_digests_once(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    await _post_week(mail_service, db)
    posts = await mail_service.sink.wait_for(14)  # the one subscriber who takes each post
    assert {m.recipients[0] for m in posts} == {"each@example.net"}

    copies = 0
    for day in range(1, 8):  # each morning at 00:10 and, again, at 01:10: the second tick is idle
        morning = MONDAY + timedelta(days=day, minutes=10)
        copies += await digest_jobs.tick(at=morning.isoformat())
        assert await digest_jobs.tick(at=(morning + timedelta(hours=1)).isoformat()) == 0
    assert copies == 7 * 2 + 1
    mails = await mail_service.sink.wait_for(14 + copies)
    received = _digests(mails[14:])
    assert {k: len(v) for k, v in received.items()} == {
        "daily@example.net": 7, "plain@example.net": 7, "weekly@example.net": 1,
    }  # fmt: skip

    rows = (await db.scalars(select(Digest).order_by(Digest.kind, Digest.period_start))).all()
    daily = [r for r in rows if r.kind == "daily"]
    assert [(r.period_start, r.message_count, r.recipient_count) for r in daily] == [
        (MONDAY + timedelta(days=d), 2, 2) for d in range(7)
    ]
    weekly = [r for r in rows if r.kind == "weekly" and r.status == "queued"]
    assert [(r.period_start, r.period_end, r.message_count) for r in weekly] == [
        (MONDAY, MONDAY + timedelta(days=7), 14)
    ]

    # MIME: a table of contents, then a multipart/digest of message/rfc822 parts, then links
    first = received["daily@example.net"][0].message
    assert str(first["Subject"]) == "Developers daily digest, 2026-11-16 (issue 1)"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["List-Id"] == "Developers <dev.lists.example.org>"
    toc, bundle, footer = first.iter_parts()
    assert "1. Day 0 (Alice <alice@example.com>)" in toc.get_content()
    assert "2. Re: Day 0" in toc.get_content()
    assert bundle.get_content_type() == "multipart/digest"
    inner = [cast(EmailMessage, part.get_payload(0)) for part in bundle.iter_parts()]
    assert [str(m["Subject"]) for m in inner] == ["Day 0", "Re: Day 0"]
    assert inner[1]["In-Reply-To"] == "<d0p0@example.com>"
    assert "Post 1 of day 0." in inner[1].get_content()
    assert "/unsubscribe?token=" in footer.get_content()
    assert "/preferences?token=" in footer.get_content()

    # RFC 1153: one text/plain body, 70 hyphens after the preamble, 30 between messages,
    # a separator-like line in a post escaped, the end line underlined with asterisks
    plain = received["plain@example.net"][-1].message
    assert plain.get_content_type() == "text/plain"
    assert "每日摘要" in str(plain["Subject"])
    text = plain.get_content()
    lines = text.splitlines()
    assert "-" * 70 in lines
    assert lines.count("-" * 30) == 2  # between the two posts, and before the end line
    assert " " + "-" * 30 in lines  # the post's own rule, escaped
    end = "End of Developers Digest, Issue 7"
    assert lines[lines.index(end) + 1] == "*" * len(end)

    weekly_mail = received["weekly@example.net"][0].message
    assert "weekly digest, 2026-11-16 \u2013 2026-11-22" in str(weekly_mail["Subject"])
    _toc, weekly_bundle, _footer = weekly_mail.iter_parts()
    assert len(list(weekly_bundle.iter_parts())) == 14


async def test_concurrent_ticks_send_one_digest(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    await _post_week(mail_service, db)
    now = MONDAY + timedelta(days=1, minutes=5)
    made = await asyncio.gather(*(digest_jobs.tick(at=now.isoformat()) for _ in range(4)))
    assert sorted(made) == [0, 0, 0, 2]
    queued = (
        await db.scalars(select(OutboundMessage).where(OutboundMessage.kind == "digest"))
    ).all()
    assert sorted(row.recipient for row in queued) == ["daily@example.net", "plain@example.net"]


async def test_the_scheduled_job_runs_and_empty_periods_send_nothing(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    assert await digest_jobs.tick() == 0  # no posts yet: digests recorded as empty, none sent
    rows = (await db.scalars(select(Digest))).all()
    assert {(r.kind, r.status, r.recipient_count) for r in rows} == {
        ("daily", "empty", 0), ("weekly", "empty", 0),
    }  # fmt: skip
    assert await digest_jobs.tick() == 0
    assert len((await db.scalars(select(Digest))).all()) == 2


async def test_the_list_can_word_its_digest_footer(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    body = "Leave {{ list.name }}: {{ unsubscribe_url }}\nYour options: {{ preferences_url }}"
    db.add(EmailTemplate(list_id=dev.id, name="digest_footer", language="en", body=body))
    await db.commit()
    await _post_week(mail_service, db)
    await mail_service.sink.wait_for(14)
    now = MONDAY + timedelta(days=1, minutes=5)
    assert await digest_jobs.tick(at=now.isoformat()) == 2
    received = _digests((await mail_service.sink.wait_for(16))[14:])
    # the English reader gets the list's wording with their own links
    [english] = received["daily@example.net"]
    footer = list(english.message.iter_parts())[-1].get_content()
    assert footer.startswith("Leave Developers: http"), footer
    assert "/unsubscribe?token=" in footer
    assert "\nYour options: http" in footer
    # the Chinese reader (RFC 1153 text) gets the built-in Chinese footer: no override in zh-CN
    [chinese] = received["plain@example.net"]
    text = chinese.message.get_content()
    assert "退订：http" in text  # noqa: RUF001 - the Chinese colon
    assert "Leave Developers" not in text
    assert "\ue000" not in footer + text
