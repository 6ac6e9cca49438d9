"""The moderation queue: what is held, and moderators' decisions on it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ConflictError, NotFoundError
from oak_maillist.logging import get_logger
from oak_maillist.mail.parse import ParsedMessage, parse_message
from oak_maillist.models import (
    AiModerationResult,
    Domain,
    HeldMessage,
    HeldStatus,
    InboundMessage,
    MailingList,
    PatternType,
    PolicyKind,
    SenderPolicy,
    User,
)
from oak_maillist.moderation.rules import address_key
from oak_maillist.services import activity, list_locks, post_notices, posting
from oak_maillist.services.activity import Origin

log = get_logger(__name__)


class HeldNotFoundError(NotFoundError):
    code = "held_message_not_found"
    template = "Held message {held_id} does not exist"


class AlreadyDecidedError(ConflictError):
    code = "already_decided"
    template = "This message was already {status}"


@dataclass(frozen=True)
class HeldView:
    held: HeldMessage
    ai: AiModerationResult | None


async def get(session: AsyncSession, held_id: int) -> HeldMessage:
    held = await session.get(HeldMessage, held_id)
    if held is None:
        raise HeldNotFoundError(held_id=held_id)
    return held


async def queue(
    session: AsyncSession,
    *,
    list_ids: list[int] | None,
    status: str | None = HeldStatus.PENDING,
    reason: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[HeldView], int]:
    """Held posts of `list_ids` (None: every list), oldest first, with their AI verdicts."""
    conditions: list[ColumnElement[bool]] = []
    if list_ids is not None:
        if not list_ids:
            return [], 0
        conditions.append(HeldMessage.list_id.in_(list_ids))
    if status:
        conditions.append(HeldMessage.status == status)
    if reason:
        conditions.append(HeldMessage.reason == reason)
    total = await session.scalar(select(func.count(HeldMessage.id)).where(*conditions)) or 0
    rows = (
        await session.execute(
            select(HeldMessage, AiModerationResult)
            .outerjoin(AiModerationResult, AiModerationResult.id == HeldMessage.ai_result_id)
            .where(*conditions)
            .order_by(HeldMessage.created_at, HeldMessage.id)
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return [HeldView(held, ai) for held, ai in rows], total


async def ai_result(session: AsyncSession, held: HeldMessage) -> AiModerationResult | None:
    if held.ai_result_id is None:
        return None
    return await session.get(AiModerationResult, held.ai_result_id)


async def original(session: AsyncSession, held: HeldMessage) -> tuple[bytes, ParsedMessage]:
    row = await session.get(InboundMessage, held.inbound_id)
    raw = row.raw if row is not None else b""
    return raw, parse_message(raw)


async def _close(
    session: AsyncSession,
    held: HeldMessage,
    status: HeldStatus,
    *,
    user: User,
    note: str,
    policy: PolicyKind | None,
) -> None:
    """Decide a pending post once; optionally add an exact rule for its sender."""
    if held.status != HeldStatus.PENDING:
        raise AlreadyDecidedError(status=held.status)
    held.status = status
    held.decided_by_id = user.id
    held.decided_at = utcnow()
    held.decision_note = note[:2000]
    if policy is not None:
        await add_sender_rule(session, held, policy, user)


async def _record(
    session: AsyncSession, held: HeldMessage, *, user: User, origin: Origin, **details: object
) -> None:
    await activity.record(
        session,
        f"moderation.{held.status}",
        actor_id=user.id,
        origin=origin,
        target_type="held_message",
        target_id=held.id,
        list_id=held.list_id,
        **details,
    )


async def add_sender_rule(
    session: AsyncSession, held: HeldMessage, kind: PolicyKind, user: User
) -> SenderPolicy | None:
    """An exact rule for the held post's sender, at the end of the list's rules."""
    sender = address_key(held.sender_email)
    if "@" not in sender:
        return None
    position = await session.scalar(
        select(func.coalesce(func.max(SenderPolicy.position), 0)).where(
            SenderPolicy.list_id == held.list_id
        )
    )
    policy = SenderPolicy(
        list_id=held.list_id,
        kind=kind,
        pattern_type=PatternType.EXACT,
        pattern=sender,
        action="discard",
        position=(position or 0) + 1,
        note=f"added from held message {held.id}",
        created_by_id=user.id,
    )
    session.add(policy)
    await session.flush()
    return policy


async def approve(
    session: AsyncSession,
    settings: Settings,
    held: HeldMessage,
    *,
    user: User,
    note: str = "",
    whitelist: bool = False,
    origin: Origin,
) -> posting.PostResult:
    """Release a held post: the chain goes on after the rule that held it."""
    # The list's lock first: the chain archives the post, and _close may add a sender rule.
    await list_locks.lock_lists(session, [held.list_id])
    policy = PolicyKind.WHITELIST if whitelist else None
    await _close(session, held, HeldStatus.APPROVED, user=user, note=note, policy=policy)
    mlist = await session.get(MailingList, held.list_id)
    inbound = await session.get(InboundMessage, held.inbound_id)
    domain = await session.get(Domain, mlist.domain_id) if mlist else None
    if mlist is None or inbound is None or domain is None:
        raise HeldNotFoundError(held_id=held.id)
    result = await posting.run_chain(
        session,
        settings,
        mlist=mlist,
        domain=domain,
        inbound=inbound,
        parsed=parse_message(inbound.raw),
        resume_after=held.rule or None,
    )
    await _record(
        session, held, user=user, origin=origin, whitelist=whitelist,
        outcome=result.decision.action.value,
    )  # fmt: skip
    return result


async def reject(
    session: AsyncSession,
    settings: Settings,
    held: HeldMessage,
    *,
    user: User,
    note: str = "",
    blacklist: bool = False,
    notify: bool = True,
    origin: Origin,
) -> None:
    """Refuse a held post; the poster is told why (unless the post was automatic mail)."""
    policy = PolicyKind.BLACKLIST if blacklist else None
    await _close(session, held, HeldStatus.REJECTED, user=user, note=note, policy=policy)
    mlist = await session.get(MailingList, held.list_id)
    inbound = await session.get(InboundMessage, held.inbound_id)
    if notify and mlist is not None and inbound is not None:
        await post_notices.notify_poster(
            session,
            settings,
            mlist=mlist,
            parsed=parse_message(inbound.raw),
            envelope_from=inbound.envelope_from,
            template="poster_rejected",
            subject=held.subject,
            reason=f"rejected by a moderator ({held.reason})",
            note=note,
        )
    await _record(session, held, user=user, origin=origin, blacklist=blacklist)


async def discard(
    session: AsyncSession,
    held: HeldMessage,
    *,
    user: User,
    note: str = "",
    blacklist: bool = False,
    origin: Origin,
) -> None:
    """Drop a held post without telling anyone (spam); the raw message stays on record."""
    policy = PolicyKind.BLACKLIST if blacklist else None
    await _close(session, held, HeldStatus.DISCARDED, user=user, note=note, policy=policy)
    await _record(session, held, user=user, origin=origin, blacklist=blacklist)


async def expire(session: AsyncSession) -> int:
    """Held posts past their expiry nobody decided on: marked expired (kept on record)."""
    now = utcnow()
    result = await session.execute(
        update(HeldMessage)
        .where(HeldMessage.status == HeldStatus.PENDING, HeldMessage.expires_at < now)
        .values(status=HeldStatus.EXPIRED, decided_at=now, decision_note="expired undecided")
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        log.info("held_messages_expired", count=count)
    return count


async def pending_count(session: AsyncSession, list_ids: list[int] | None) -> int:
    conditions = [HeldMessage.status == HeldStatus.PENDING]
    if list_ids is not None:
        conditions.append(HeldMessage.list_id.in_(list_ids))
    return await session.scalar(select(func.count(HeldMessage.id)).where(*conditions)) or 0
