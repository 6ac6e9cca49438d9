"""The AI moderation step of the posting chain: the stored verdict and the list's actions.

The provider is never called here. The score job (services.ai_moderation) stores a verdict
per list before the chain runs, outside any transaction; this rule reads it and applies the
list's action for its level: flagged held, caution accepted and marked, a provider failure
held (fail closed), unless the list says otherwise. Whitelisted senders skip it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.ai.base import ERROR, NONE
from oak_maillist.ai.policy import ListActions
from oak_maillist.models import AiModerationResult
from oak_maillist.moderation.rules import Action, Context, Verdict

VERDICT_ACTIONS = {"hold": Action.HOLD, "reject": Action.REJECT, "discard": Action.DISCARD}


@dataclass
class AiContext(Context):
    """The chain's context with this post's stored AI verdict for the list, if it has one."""

    ai_result: AiModerationResult | None = None

    @property
    def mark(self) -> str | None:
        """The level to mark an accepted post with (the list's action for it was "mark")."""
        result = self.ai_result
        if result is None or self.whitelisted or result.level == NONE:
            return None
        actions = ListActions(
            self.mlist.ai_flagged_action, self.mlist.ai_caution_action, self.mlist.ai_on_error
        )
        return result.level if actions.for_level(result.level) == "mark" else None


async def stored_result(
    session: AsyncSession, inbound_id: int, list_id: int
) -> AiModerationResult | None:
    """The latest verdict stored for a message to a list."""
    return await session.scalar(
        select(AiModerationResult)
        .where(AiModerationResult.inbound_id == inbound_id, AiModerationResult.list_id == list_id)
        .order_by(AiModerationResult.id.desc())
        .limit(1)
    )


def describe(result: AiModerationResult) -> str:
    if result.level == ERROR:
        return f"{result.provider} failed: {result.error or 'unknown error'}"
    labels = ", ".join(result.labels[:5])
    return f"score {result.score} from {result.provider}" + (f" ({labels})" if labels else "")


async def screen(ctx: Context) -> Verdict | None:
    if ctx.whitelisted or not ctx.mlist.ai_moderation_enabled:
        return None
    result = ctx.ai_result if isinstance(ctx, AiContext) else None
    if result is None:
        # Scoring was off when the post came in, or the list turned AI moderation on since.
        ctx.notes.append("ai_unscored: no AI verdict was stored for this post")
        return None
    mlist = ctx.mlist
    actions = ListActions(mlist.ai_flagged_action, mlist.ai_caution_action, mlist.ai_on_error)
    reason = "ai_error" if result.level == ERROR else f"ai_{result.level}"
    action = actions.for_level(result.level)
    detail = describe(result)
    if action in VERDICT_ACTIONS:
        return Verdict(VERDICT_ACTIONS[action], reason, detail)
    if result.level == NONE:
        ctx.notes.append(f"ai_score: {detail}")
    else:
        ctx.notes.append(f"{reason}: {detail}; {'marked' if action == 'mark' else 'accepted'}")
    return None
