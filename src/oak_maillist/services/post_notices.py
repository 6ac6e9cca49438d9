"""What posters and moderators are told about held and rejected posts.

Moderators hear of each held post with approve and reject links; the poster hears of a hold
or a rejection, at most `max_notices_per_sender_per_day` times, and never when the post is
automatic mail (bounces, auto-replies, list and bulk mail: RFC 3834).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.logging import get_logger
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.models import HeldMessage, ListRole, MailingList, Subscriber, User
from oak_maillist.moderation.rules import address_key
from oak_maillist.services import outbound, subscriptions

log = get_logger(__name__)

POSTER_NOTICES = ("poster_held", "poster_rejected")
# Precedence values of mail that must never get an automatic answer (RFC 3834 §2, §3.1.8).
QUIET_PRECEDENCE = frozenset({"bulk", "junk", "list"})


def is_automatic(parsed: ParsedMessage, envelope_from: str) -> bool:
    """Mail that must not be answered: bounces, auto-replies, list and bulk mail."""
    auto = parsed.auto_submitted.strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if parsed.precedence.strip().lower() in QUIET_PRECEDENCE or parsed.list_id.strip():
        return True
    envelope = envelope_from.strip().strip("<>").strip()  # the null sender "<>" is a bounce
    local = envelope.rpartition("@")[0].lower()
    return (
        not envelope
        or local in {"mailer-daemon", "postmaster"}
        or (local.endswith(("-bounces", "-request")) or "-bounces+" in local)
    )


AI_REASON_FOR_POSTER = "ai: automated content screening asked for a moderator's review"


def for_poster(reasons: list[str]) -> list[str]:
    """Reasons as the poster may read them: an AI verdict's score, labels and provider stay
    with the moderators (telling them would help a spammer tune the next try)."""
    return [AI_REASON_FOR_POSTER if r.startswith("ai_") else r for r in reasons]


async def moderators(session: AsyncSession, list_id: int) -> list[User]:
    """The active users who moderate or own a list."""
    return list(
        (
            await session.scalars(
                select(User)
                .join(ListRole, ListRole.user_id == User.id)
                .where(ListRole.list_id == list_id, User.is_active.is_(True))
                .distinct()
            )
        ).all()
    )


async def notify_moderators(
    session: AsyncSession, settings: Settings, *, mlist: MailingList, held: HeldMessage
) -> None:
    base = str(settings.server.base_url).rstrip("/")
    for user in await moderators(session, mlist.id):
        await subscriptions.send_mail(
            session,
            mlist,
            template="moderation_notice",
            recipient=user.email,
            language=user.language,
            settings=settings,
            sender=held.sender_email,
            subject=held.subject,
            reasons=held.reasons,
            approve_url=f"{base}/moderation/{held.id}?action=approve",
            reject_url=f"{base}/moderation/{held.id}?action=reject",
            queue_url=f"{base}/lists/{mlist.id}/moderation",
        )


async def notify_poster(
    session: AsyncSession,
    settings: Settings,
    *,
    mlist: MailingList,
    parsed: ParsedMessage,
    envelope_from: str,
    template: str,
    **context: Any,
) -> bool:
    """Tell the poster about their post: never for automatic mail (RFC 3834), and at most
    `max_notices_per_sender_per_day` times."""
    recipient = (parsed.sender.email or envelope_from).strip()
    if "@" not in recipient or is_automatic(parsed, envelope_from):
        return False
    key = address_key(recipient)
    sent = await outbound.sent_since(
        session, recipient=recipient, kinds=POSTER_NOTICES, since=utcnow() - timedelta(days=1)
    )
    if sent >= settings.moderation.max_notices_per_sender_per_day:
        log.info("poster_notice_suppressed", list_id=mlist.id, template=template)
        return False
    language = await session.scalar(
        select(Subscriber.language).where(
            Subscriber.list_id == mlist.id, Subscriber.email_normalized == key
        )
    )
    await subscriptions.send_mail(
        session,
        mlist,
        template=template,
        recipient=recipient,
        language=language or mlist.language,
        settings=settings,
        **context,
    )
    return True
