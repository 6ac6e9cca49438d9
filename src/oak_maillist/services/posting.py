"""A post to a list through the posting chain, and what each outcome does.

accept: archived (and handed to delivery); hold: queued for moderators, who are told, and
the poster is told; reject: the poster gets a notice; discard: logged. Every outcome is
recorded with its reasons on the inbound row, so nothing accepted by SMTP vanishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.logging import get_logger
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.metrics import MESSAGES_DECIDED
from oak_maillist.models import (
    Domain,
    HeldMessage,
    InboundMessage,
    ListRole,
    MailingList,
    Message,
    Subscriber,
    User,
)
from oak_maillist.moderation import ai, chain
from oak_maillist.moderation.rules import Action, address_key
from oak_maillist.services import archive, fanout, outbound, search, subscriptions

log = get_logger(__name__)

POSTER_NOTICES = ("poster_held", "poster_rejected")
# Precedence values of mail that must never get an automatic answer (RFC 3834 §2, §3.1.8).
QUIET_PRECEDENCE = frozenset({"bulk", "junk", "list"})


@dataclass(frozen=True)
class PostResult:
    decision: chain.Decision
    message: Message | None = None
    held: HeldMessage | None = None


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


def list_identity(mlist: MailingList, domain: Domain) -> tuple[str, str]:
    """(post address, List-Id value) of a list."""
    return f"{mlist.local_part}@{domain.name}", f"{mlist.local_part}.{domain.name}"


# Session info: posts a batch accepted, made searchable and handed to delivery together
# (see collect_accepted).
_ACCEPTED = "oak_accepted_posts"


def collect_accepted(session: AsyncSession) -> None:
    """From now on posts this session accepts wait for `publish_accepted`: the batch's posts
    and threads are then inserted by one flush, not one or two each."""
    session.info.setdefault(_ACCEPTED, [])


async def publish(session: AsyncSession, mlist: MailingList, message: Message) -> None:
    """An archived post becomes searchable and goes to the list's subscribers."""
    await search.index(session, message, fresh=True)
    await fanout.fan_out(session, mlist, message)


async def publish_accepted(session: AsyncSession) -> None:
    """Publish the posts collected since `collect_accepted` (before the transaction commits)."""
    accepted: list[tuple[MailingList, Message]] | None = session.info.get(_ACCEPTED)
    if not accepted:
        return
    session.info[_ACCEPTED] = []
    await session.flush()
    for mlist, message in accepted:
        await publish(session, mlist, message)


def post_message_id(parsed: ParsedMessage, raw: bytes, domain: str) -> str:
    """The Message-ID a post is archived under (a stable one made up if it has none)."""
    return parsed.message_id or archive.synthetic_message_id(raw, domain)


async def run_chain(
    session: AsyncSession,
    settings: Settings,
    *,
    mlist: MailingList,
    domain: Domain,
    inbound: InboundMessage,
    parsed: ParsedMessage,
    resume_after: str | None = None,
) -> PostResult:
    """Decide on one stored post to one list and carry the decision out (in the caller's
    transaction); `resume_after` names the rule a moderator approved the post past."""
    raw, envelope_from, inbound_id = inbound.raw, inbound.envelope_from, inbound.id
    message_id = post_message_id(parsed, raw, domain.name)
    address, list_id_value = list_identity(mlist, domain)
    ctx = ai.AiContext(
        session=session,
        settings=settings,
        mlist=mlist,
        list_address=address,
        list_id_value=list_id_value,
        parsed=parsed,
        envelope_from=envelope_from,
        message_id_hash=archive.id_hash(message_id),
        size=len(raw),
        # A list with AI moderation off reads no verdict (its rule and mark ignore one).
        ai_result=(
            await ai.stored_result(session, inbound_id, mlist.id)
            if mlist.ai_moderation_enabled
            else None
        ),
    )
    decision = await chain.decide(ctx, resume_after=resume_after)
    MESSAGES_DECIDED.labels(decision.action.value).inc()
    log.info(
        "post_decided",
        list_id=mlist.id,
        inbound_id=inbound_id,
        action=decision.action.value,
        reason=decision.reason,
    )
    if decision.action is Action.ACCEPT:
        message = await archive.store(
            session,
            settings.archive,
            mlist=mlist,
            raw=raw,
            parsed=parsed,
            message_id=message_id,
            inbound_id=inbound_id,
            ai_level=ctx.mark,
        )
        accepted: list[tuple[MailingList, Message]] | None = session.info.get(_ACCEPTED)
        if accepted is None:
            await publish(session, mlist, message)
        else:
            accepted.append((mlist, message))
        return PostResult(decision, message=message)
    if decision.action is Action.HOLD:
        held = await hold(
            session,
            settings,
            mlist=mlist,
            parsed=parsed,
            inbound_id=inbound_id,
            decision=decision,
            ai_result_id=ctx.ai_result.id if ctx.ai_result else None,
        )
        await notify_moderators(session, settings, mlist=mlist, held=held)
        await notify_poster(
            session,
            settings,
            mlist=mlist,
            parsed=parsed,
            envelope_from=envelope_from,
            template="poster_held",
            subject=parsed.subject,
            reasons=for_poster(decision.reasons),
        )
        return PostResult(decision, held=held)
    if decision.action is Action.REJECT:
        await notify_poster(
            session,
            settings,
            mlist=mlist,
            parsed=parsed,
            envelope_from=envelope_from,
            template="poster_rejected",
            subject=parsed.subject,
            reason=for_poster(decision.reasons[-1:])[0],
            note="",
        )
    return PostResult(decision)


AI_REASON_FOR_POSTER = "ai: automated content screening asked for a moderator's review"


def for_poster(reasons: list[str]) -> list[str]:
    """Reasons as the poster may read them: an AI verdict's score, labels and provider stay
    with the moderators (telling them would help a spammer tune the next try)."""
    return [AI_REASON_FOR_POSTER if r.startswith("ai_") else r for r in reasons]


async def hold(
    session: AsyncSession,
    settings: Settings,
    *,
    mlist: MailingList,
    parsed: ParsedMessage,
    inbound_id: int,
    decision: chain.Decision,
    ai_result_id: int | None = None,
) -> HeldMessage:
    now = utcnow()
    held = HeldMessage(
        list_id=mlist.id,
        inbound_id=inbound_id,
        sender_email=(parsed.sender.email or "")[:320],
        subject=parsed.subject[:998],
        reason=decision.reason,
        reasons=decision.reasons,
        rule=decision.rule,
        ai_result_id=ai_result_id,
        created_at=now,
        expires_at=now + timedelta(days=settings.moderation.hold_expiry_days),
    )
    session.add(held)
    await session.flush()
    return held


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
