"""A post to a list through the posting chain, and what each outcome does.

accept: archived (and handed to delivery); hold: queued for moderators, who are told, and
the poster is told; reject: the poster gets a notice; discard: logged. Every outcome is
recorded with its reasons on the inbound row, so nothing accepted by SMTP vanishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

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
    MailingList,
    Message,
)
from oak_maillist.moderation import ai, chain
from oak_maillist.moderation.rules import Action
from oak_maillist.services import archive, fanout, list_locks, post_notices, search

log = get_logger(__name__)


@dataclass(frozen=True)
class PostResult:
    decision: chain.Decision
    message: Message | None = None
    held: HeldMessage | None = None


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
    """An archived post becomes searchable (now, or after the batch commits: see
    search.index_new) and goes to the list's subscribers."""
    await search.index_new(session, message)
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
    await list_locks.lock_lists(session, [mlist.id])  # before the chain reads the archive
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
        await post_notices.notify_moderators(session, settings, mlist=mlist, held=held)
        await post_notices.notify_poster(
            session,
            settings,
            mlist=mlist,
            parsed=parsed,
            envelope_from=envelope_from,
            template="poster_held",
            subject=parsed.subject,
            reasons=post_notices.for_poster(decision.reasons),
        )
        return PostResult(decision, held=held)
    if decision.action is Action.REJECT:
        await post_notices.notify_poster(
            session,
            settings,
            mlist=mlist,
            parsed=parsed,
            envelope_from=envelope_from,
            template="poster_rejected",
            subject=parsed.subject,
            reason=post_notices.for_poster(decision.reasons[-1:])[0],
            note="",
        )
    return PostResult(decision)


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
