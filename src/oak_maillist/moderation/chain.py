"""The posting chain: a table of rules read top to bottom; the first verdict decides.

The model is GNU Mailman's built-in chain (loop, duplicates, sender filters, membership,
moderation, size, emergency, then accept), with every reason recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from oak_maillist.moderation import ai, rules
from oak_maillist.moderation.rules import Action, Context, Verdict

Rule = Callable[[Context], Awaitable[Verdict | None]]

CHAIN: tuple[tuple[str, Rule], ...] = (
    ("loop", rules.loop),
    ("duplicate", rules.duplicate),
    ("blacklist", rules.blacklist),
    ("whitelist", rules.whitelist),
    ("posting_policy", rules.posting_policy),
    ("max_size", rules.max_size),
    ("emergency", rules.emergency),
    ("ai", ai.screen),
)
RULE_NAMES = tuple(name for name, _rule in CHAIN)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str  # the deciding rule's reason code ("accepted" when nothing stopped the post)
    rule: str  # the deciding rule's name in CHAIN ("" when accepted)
    reasons: list[str] = field(default_factory=list)  # every reason, deciding one last


async def decide(ctx: Context, *, resume_after: str | None = None) -> Decision:
    """Run the chain, or the part after `resume_after` (a moderator approved a post held there).

    Rules before the resumption point still run when they only gather facts (the whitelist),
    never when they could stop the post again.
    """
    start = RULE_NAMES.index(resume_after) + 1 if resume_after in RULE_NAMES else 0
    for index, (name, rule) in enumerate(CHAIN):
        if index < start:
            if name == "whitelist":
                await rule(ctx)
            continue
        verdict = await rule(ctx)
        if verdict is not None:
            return Decision(verdict.action, verdict.reason, name, [*ctx.notes, verdict.describe()])
    return Decision(Action.ACCEPT, "accepted", "", [*ctx.notes, "accepted"])
