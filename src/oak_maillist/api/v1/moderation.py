"""The moderation queue: held posts and moderators' decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oak_maillist.api.deps import (
    CurrentUser,
    IdPath,
    ModeratedList,
    OriginDep,
    PageDep,
    Principal,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.schemas.common import Page
from oak_maillist.api.v1.schemas.moderation import (
    AiVerdictOut,
    ApproveIn,
    AttachmentSummary,
    BulkIn,
    BulkItemOut,
    DecisionOut,
    DiscardIn,
    FeedbackIn,
    FeedbackOut,
    HeldDetail,
    HeldOut,
    RejectIn,
)
from oak_maillist.errors import AppError, ForbiddenError, NotFoundError
from oak_maillist.models import AiModerationResult, HeldMessage, HeldStatus
from oak_maillist.services import ai_feedback, moderation
from oak_maillist.services.access import Need, access_list, managed_list_ids

router = APIRouter(tags=["moderation"])

Reason = Annotated[
    str | None, Query(max_length=50, pattern=r"^[a-z_]+$", description="Filter by reason code")
]
Status = Annotated[HeldStatus | None, Query(description="Default: pending")]


def _ai(result: AiModerationResult | None) -> AiVerdictOut | None:
    if result is None:
        return None
    return AiVerdictOut.model_validate(result, from_attributes=True)


def held_out(held: HeldMessage, ai: AiModerationResult | None) -> HeldOut:
    return HeldOut(
        id=held.id,
        list_id=held.list_id,
        sender_email=held.sender_email,
        subject=held.subject,
        reason=held.reason,
        reasons=held.reasons,
        status=held.status,
        created_at=held.created_at,
        expires_at=held.expires_at,
        decided_by_id=held.decided_by_id,
        decided_at=held.decided_at,
        decision_note=held.decision_note,
        ai=_ai(ai),
    )


@router.get("/lists/{list_id}/moderation")
async def list_queue(
    mlist: ModeratedList,
    session: SessionDep,
    page: PageDep,
    reason: Reason = None,
    status: Status = None,
) -> Page[HeldOut]:
    """Held posts of one list, oldest first (moderators and owners)."""
    views, total = await moderation.queue(
        session,
        list_ids=[mlist.id],
        status=status or HeldStatus.PENDING,
        reason=reason,
        offset=page.offset,
        limit=page.per_page,
    )
    items = [held_out(v.held, v.ai) for v in views]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)


@router.get("/moderation")
async def full_queue(
    principal: CurrentUser,
    session: SessionDep,
    page: PageDep,
    reason: Reason = None,
    status: Status = None,
) -> Page[HeldOut]:
    """Held posts across every list the caller moderates (all lists for an administrator)."""
    list_ids = await managed_list_ids(session, principal.user, need=Need.MODERATOR)
    views, total = await moderation.queue(
        session,
        list_ids=list_ids,
        status=status or HeldStatus.PENDING,
        reason=reason,
        offset=page.offset,
        limit=page.per_page,
    )
    items = [held_out(v.held, v.ai) for v in views]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)


async def _held(session: SessionDep, principal: Principal, held_id: int) -> HeldMessage:
    """A held post, if the caller moderates its list; otherwise it does not exist for them."""
    held = await moderation.get(session, held_id)
    try:
        await access_list(session, held.list_id, principal.user, need=Need.MODERATOR)
    except (ForbiddenError, NotFoundError):
        raise moderation.HeldNotFoundError(held_id=held_id) from None
    return held


@router.get("/moderation/{held_id}")
async def get_held(held_id: IdPath, principal: CurrentUser, session: SessionDep) -> HeldDetail:
    """One held post with its text, sanitised HTML, attachments and AI verdict."""
    held = await _held(session, principal, held_id)
    raw, parsed = await moderation.original(session, held)
    base = held_out(held, await moderation.ai_result(session, held))
    return HeldDetail(
        **base.model_dump(),
        from_name=parsed.sender.name,
        to=[a.email for a in parsed.to],
        date=parsed.date,
        message_id=parsed.message_id,
        size=len(raw),
        text=parsed.text,
        html=parsed.html,
        attachments=[
            AttachmentSummary(filename=a.filename, content_type=a.content_type, size=len(a.content))
            for a in parsed.attachments
        ],
        defects=parsed.defects,
    )


async def _decision(
    session: SessionDep, held: HeldMessage, outcome: str, message_id: int | None
) -> DecisionOut:
    ai = await moderation.ai_result(session, held)
    return DecisionOut(held=held_out(held, ai), outcome=outcome, message_id=message_id)


@router.post("/moderation/{held_id}/approve")
async def approve(
    held_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    body: ApproveIn | None = None,
) -> DecisionOut:
    """Release the post: the rest of the posting chain runs, then it is archived and sent."""
    body = body or ApproveIn()
    held = await _held(session, principal, held_id)
    result = await moderation.approve(
        session,
        settings,
        held,
        user=principal.user,
        note=body.note,
        whitelist=body.whitelist,
        origin=origin,
    )
    message_id = result.message.id if result.message else None
    return await _decision(session, held, result.decision.action.value, message_id)


@router.post("/moderation/{held_id}/reject")
async def reject(
    held_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    body: RejectIn | None = None,
) -> DecisionOut:
    """Refuse the post and tell the poster why (the note), optionally blacklisting them."""
    body = body or RejectIn()
    held = await _held(session, principal, held_id)
    await moderation.reject(
        session,
        settings,
        held,
        user=principal.user,
        note=body.note,
        blacklist=body.blacklist,
        notify=body.notify,
        origin=origin,
    )
    return await _decision(session, held, "rejected", None)


@router.post("/moderation/{held_id}/discard")
async def discard(
    held_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
    body: DiscardIn | None = None,
) -> DecisionOut:
    """Drop the post silently (spam), optionally blacklisting the sender."""
    body = body or DiscardIn()
    held = await _held(session, principal, held_id)
    await moderation.discard(
        session, held, user=principal.user, note=body.note, blacklist=body.blacklist, origin=origin
    )
    return await _decision(session, held, "discarded", None)


@router.post("/moderation/{held_id}/feedback", status_code=201)
async def feedback(
    held_id: IdPath,
    body: FeedbackIn,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> FeedbackOut:
    """Mark the AI verdict on a held post wrong (held or already decided), optionally
    whitelisting the sender; a provider that learns (Rspamd, SpamAssassin) is taught it."""
    held = await _held(session, principal, held_id)
    given = await ai_feedback.give_feedback(
        session,
        held,
        kind=body.kind,
        note=body.note,
        whitelist=body.whitelist,
        user=principal.user,
        origin=origin,
    )
    return FeedbackOut.model_validate(given, from_attributes=True)


@router.post("/moderation/bulk")
async def bulk(
    body: BulkIn,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> list[BulkItemOut]:
    """One decision on up to 100 held posts; each answers for itself."""
    results: list[BulkItemOut] = []
    for held_id in dict.fromkeys(body.ids):
        try:
            async with session.begin_nested():
                held = await _held(session, principal, held_id)
                if body.action == "approve":
                    result = await moderation.approve(
                        session, settings, held, user=principal.user, note=body.note, origin=origin
                    )
                    outcome = result.decision.action.value
                elif body.action == "reject":
                    await moderation.reject(
                        session, settings, held, user=principal.user, note=body.note, origin=origin
                    )
                    outcome = "rejected"
                else:
                    await moderation.discard(
                        session, held, user=principal.user, note=body.note, origin=origin
                    )
                    outcome = "discarded"
            results.append(BulkItemOut(id=held_id, ok=True, outcome=outcome))
        except AppError as exc:
            results.append(BulkItemOut(id=held_id, ok=False, error=exc.code))
    return results
