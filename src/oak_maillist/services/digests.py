"""Daily and weekly digests: a period's accepted posts, one message per digest subscriber.

A digest row per (list, kind, period start) is the claim: it is inserted in the transaction
that queues the mail, so a repeated or concurrent scheduler tick finds it there (or fails on
the unique key) and sends nothing twice. A period starts where the list's previous digest of
that kind ended, so posts made while the service was down are not skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import DigestSettings, Settings
from oak_maillist.db.types import utcnow
from oak_maillist.delivery import digest as digest_mail
from oak_maillist.logging import get_logger
from oak_maillist.models import (
    Digest,
    DigestFormat,
    Domain,
    MailingList,
    Message,
    Subscriber,
    SubscriberStatus,
)
from oak_maillist.services import links, outbound, subscriptions, template_catalog, templates

log = get_logger(__name__)

KINDS = ("daily", "weekly")
LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FORMATS = frozenset(f.value for f in DigestFormat)


def period_end(kind: str, now: datetime, config: DigestSettings) -> datetime:
    """The latest digest boundary at or before `now` (UTC)."""
    today = now.astimezone(UTC).replace(hour=config.hour, minute=0, second=0, microsecond=0)
    if kind == "daily":
        return today if today <= now else today - timedelta(days=1)
    back = (today.weekday() - WEEKDAYS.index(config.weekly_day)) % 7
    boundary = today - timedelta(days=back)
    return boundary if boundary <= now else boundary - timedelta(days=7)


async def lists_with_subscribers(session: AsyncSession, kind: str) -> list[int]:
    """Active lists that have active subscribers taking this kind of digest."""
    rows = await session.scalars(
        select(Subscriber.list_id)
        .join(MailingList, MailingList.id == Subscriber.list_id)
        .where(
            Subscriber.status == SubscriberStatus.ACTIVE,
            Subscriber.digest_mode == kind,
            MailingList.is_active.is_(True),
        )
        .group_by(Subscriber.list_id)
    )
    return list(rows)


@dataclass(frozen=True)
class Outcome:
    digest_id: int | None
    messages: int
    recipients: int
    note: str


async def compile_digest(
    session: AsyncSession, settings: Settings, *, list_id: int, kind: str, now: datetime
) -> Outcome:
    """Compile and queue the list's due digest of this kind, if one is due and not yet made."""
    end = period_end(kind, now, settings.digest)
    last_end = await session.scalar(
        select(func.max(Digest.period_end)).where(Digest.list_id == list_id, Digest.kind == kind)
    )
    start = last_end if last_end is not None else end - LENGTH[kind]
    if start >= end:
        return Outcome(None, 0, 0, "not due")
    limit = settings.digest.max_messages
    posts = list(
        await session.scalars(
            select(Message)
            .where(
                Message.list_id == list_id,
                Message.received_at >= start,
                Message.received_at < end,
            )
            .order_by(Message.received_at, Message.id)
            .limit(limit + 1)
        )
    )
    if len(posts) > limit:  # the rest go in the next digest, from the first one left out
        end, posts = posts[limit].received_at, posts[:limit]
    row = Digest(list_id=list_id, kind=kind, period_start=start, period_end=end)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return Outcome(None, 0, 0, "made by another tick")
    if not posts:
        row.status = "empty"
        return Outcome(row.id, 0, 0, "no posts")
    mlist = await session.get(MailingList, list_id)
    domain = await session.get(Domain, mlist.domain_id) if mlist else None
    if mlist is None or domain is None:
        row.status = "empty"
        return Outcome(row.id, 0, 0, "list gone")
    row.issue = 1 + (
        await session.scalar(
            select(func.count(Digest.id)).where(
                Digest.list_id == list_id, Digest.status == "queued"
            )
        )
        or 0
    )
    recipients = await _queue_copies(session, settings, mlist, domain, row, posts)
    row.status, row.message_count, row.recipient_count = "queued", len(posts), recipients
    row.sent_at = utcnow()
    log.info(
        "digest_queued", list_id=list_id, kind=kind, messages=len(posts), recipients=recipients
    )
    return Outcome(row.id, len(posts), recipients, "queued")


async def _queue_copies(
    session: AsyncSession,
    settings: Settings,
    mlist: MailingList,
    domain: Domain,
    row: Digest,
    posts: list[Message],
) -> int:
    readers = list(
        await session.scalars(
            select(Subscriber)
            .where(
                Subscriber.list_id == mlist.id,
                Subscriber.status == SubscriberStatus.ACTIVE,
                Subscriber.digest_mode == row.kind,
            )
            .order_by(Subscriber.id)
        )
    )
    items = [_post(message) for message in posts]
    shared: dict[tuple[str, str], tuple[digest_mail.Shared, str]] = {}
    for reader in readers:
        language = template_catalog.pick_language(reader.language)
        fmt = reader.digest_format if reader.digest_format in FORMATS else DigestFormat.MIME
        if (language, fmt) not in shared:
            shared[language, fmt] = await _encode(
                session, mlist, domain, row, items, language, str(fmt)
            )
        encoded, footer = shared[language, fmt]
        token = links.make_token(
            settings, subscriptions.UNSUBSCRIBE, subscriber_id=reader.id, list_id=mlist.id
        )
        preferences = links.make_token(
            settings, subscriptions.PREFERENCES, subscriber_id=reader.id, list_id=mlist.id
        )
        data = digest_mail.personalise(
            encoded,
            recipient=reader.email,
            message_id=f"<digest.{row.id}.{reader.id}@{domain.name}>",
            unsubscribe_url=links.one_click_url(settings, token),
            footer=footer.replace(
                UNSUBSCRIBE_SLOT, links.page_url(settings, "unsubscribe", token)
            ).replace(PREFERENCES_SLOT, links.page_url(settings, "preferences", preferences)),
        )
        await outbound.queue_raw(
            session,
            data.decode("ascii"),
            kind="digest",
            list_id=mlist.id,
            sender=f"{mlist.local_part}-bounces@{domain.name}",
            recipient=reader.email,
        )
    return len(readers)


# The footer is rendered once per language with these in place of the reader's links, which
# then go in per reader (characters from Unicode's private use area: never in a template).
UNSUBSCRIBE_SLOT = "\ue000unsubscribe\ue000"
PREFERENCES_SLOT = "\ue000preferences\ue000"


async def _encode(
    session: AsyncSession,
    mlist: MailingList,
    domain: Domain,
    row: Digest,
    items: list[digest_mail.Post],
    language: str,
    fmt: str,
) -> tuple[digest_mail.Shared, str]:
    period = _period(row)
    list_variable = await templates.list_variable(session, mlist)
    rendered = await templates.render(
        session,
        name="digest",
        language=language,
        list_id=mlist.id,
        context={
            "list": list_variable,
            "period": period,
            "kind": row.kind,
            "issue": row.issue,
            "messages": [
                {"subject": p.subject, "sender": p.sender, "date": _day(p.date), "text": p.text}
                for p in items
            ],
        },
    )
    heading = digest_mail.Heading(
        list_name=mlist.name,
        list_address=f"{mlist.local_part}@{domain.name}",
        list_id=f"{mlist.local_part}.{domain.name}",
        subject=rendered.subject,
        preamble=rendered.body,
        end_line=f"End of {mlist.name} Digest, Issue {row.issue}",
        date=utcnow(),
    )
    footer = await templates.render(
        session,
        name="digest_footer",
        language=language,
        list_id=mlist.id,
        context={
            "list": list_variable,
            "unsubscribe_url": UNSUBSCRIBE_SLOT,
            "preferences_url": PREFERENCES_SLOT,
        },
    )
    return digest_mail.build(heading, items, fmt), footer.body.strip()


def _post(message: Message) -> digest_mail.Post:
    return digest_mail.Post(
        subject=message.subject or "(no subject)",
        sender_name=message.sender_name,
        sender_email=message.sender_email,
        date=message.date or message.received_at,
        message_id=message.message_id,
        in_reply_to=message.in_reply_to,
        text=message.text_body,
    )


def _period(row: Digest) -> str:
    last_day = row.period_end - timedelta(seconds=1)
    if row.kind == "daily" and _day(row.period_start) == _day(last_day):
        return _day(row.period_start)
    return f"{_day(row.period_start)} – {_day(last_day)}"  # noqa: RUF001 - an en dash


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")
