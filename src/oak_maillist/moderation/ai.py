"""The AI moderation step of the posting chain.

Scoring content is issue #7 (providers, thresholds, the review queue); until a provider is
built, this step lets every post through and says so in the post's reasons when the list asks
for AI moderation, so that nobody mistakes an unscored post for a scored one.
"""

from __future__ import annotations

from oak_maillist.moderation.rules import Context, Verdict


async def screen(ctx: Context) -> Verdict | None:
    if ctx.whitelisted or not ctx.mlist.ai_moderation_enabled:
        return None
    if ctx.settings.ai_moderation.enabled:
        ctx.notes.append("ai_unscored: no AI provider is built into this version yet")
    return None
