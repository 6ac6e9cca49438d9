"""Moderators' feedback on AI verdicts, and teaching it to providers that learn.

A moderator marks the verdict on a held post a false positive (caution or flagged, but fine)
or a false negative (none, but risky), optionally whitelisting the sender. Rspamd and
SpamAssassin then learn the post as ham or spam in the learn job, outside any transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.ai.base import CAUTION, FLAGGED, NONE
from oak_maillist.config import AiModerationSettings, Settings
from oak_maillist.errors import ConflictError
from oak_maillist.models import (
    AiFeedback,
    AiModerationResult,
    HeldMessage,
    InboundMessage,
    PolicyKind,
    User,
)
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.ai_moderation import effective_config
from oak_maillist.services.moderation import add_sender_rule
from oak_maillist.tasks.queue import enqueue_after_commit

LEARN_JOB = "ai.learn"


class NoAiVerdictError(ConflictError):
    code = "no_ai_verdict"
    template = "Held message {held_id} has no AI verdict to give feedback on"


class FeedbackNotApplicableError(ConflictError):
    code = "feedback_not_applicable"
    template = "A {kind} does not apply to a verdict of level {level}"


class FeedbackExistsError(ConflictError):
    code = "feedback_already_given"
    template = "Feedback on this verdict was already given ({kind})"


async def give_feedback(
    session: AsyncSession,
    held: HeldMessage,
    *,
    kind: str,
    note: str,
    whitelist: bool,
    user: User,
    origin: Origin,
) -> AiFeedback:
    """A moderator says the verdict on a held post was wrong; the provider learns it later
    (LEARN_JOB) where it can. A false positive needs a caution or flagged verdict, a false
    negative a verdict of none."""
    result = await session.get(AiModerationResult, held.ai_result_id) if held.ai_result_id else None
    if result is None:
        raise NoAiVerdictError(held_id=held.id)
    wanted = (CAUTION, FLAGGED) if kind == "false_positive" else (NONE,)
    if result.level not in wanted:
        raise FeedbackNotApplicableError(kind=kind.replace("_", " "), level=result.level)
    existing = await session.scalar(select(AiFeedback).where(AiFeedback.result_id == result.id))
    if existing is not None:
        raise FeedbackExistsError(kind=existing.kind)
    feedback = AiFeedback(result_id=result.id, user_id=user.id, kind=kind, note=note[:2000])
    session.add(feedback)
    await session.flush()
    if whitelist:
        await add_sender_rule(session, held, PolicyKind.WHITELIST, user)
    await activity.record(
        session,
        "moderation.ai_feedback",
        actor_id=user.id,
        origin=origin,
        target_type="held_message",
        target_id=held.id,
        list_id=held.list_id,
        kind=kind,
        whitelist=whitelist,
    )
    enqueue_after_commit(session, LEARN_JOB, feedback_id=feedback.id)
    return feedback


@dataclass(frozen=True)
class Lesson:
    """A feedback to teach the provider: the raw post, and whether it is spam."""

    feedback_id: int
    raw: bytes
    spam: bool
    config: AiModerationSettings


async def lesson(session: AsyncSession, settings: Settings, feedback_id: int) -> Lesson | None:
    """What to teach for a feedback not yet sent (None: sent, gone, or another provider now)."""
    feedback = await session.get(AiFeedback, feedback_id)
    if feedback is None or feedback.sent_to_provider:
        return None
    result = await session.get(AiModerationResult, feedback.result_id)
    row = await session.get(InboundMessage, result.inbound_id) if result else None
    config = await effective_config(session, settings)
    if result is None or row is None or result.provider != config.provider:
        return None
    return Lesson(feedback.id, row.raw, feedback.kind == "false_negative", config)


async def mark_learned(session: AsyncSession, feedback_id: int) -> None:
    feedback = await session.get(AiFeedback, feedback_id)
    if feedback is not None:
        feedback.sent_to_provider = True
