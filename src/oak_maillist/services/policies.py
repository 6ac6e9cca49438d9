"""Sender policies: creating, changing, ordering and removing whitelist and blacklist rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.errors import InvalidInputError, NotFoundError
from oak_maillist.models import PatternType, SenderPolicy
from oak_maillist.moderation.policies import normalize_pattern
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin

MAX_RULES_PER_SCOPE = 10_000


class PolicyNotFoundError(NotFoundError):
    code = "policy_not_found"
    template = "Sender policy {policy_id} does not exist"


class PolicyOrderError(InvalidInputError):
    code = "invalid_policy_order"
    template = "The order must name each rule of this scope exactly once"


class TooManyPoliciesError(InvalidInputError):
    code = "too_many_policies"
    template = "A list (or the global scope) holds at most {limit} rules"


def _scope(list_id: int | None) -> Any:
    return SenderPolicy.list_id.is_(None) if list_id is None else SenderPolicy.list_id == list_id


async def list_policies(session: AsyncSession, list_id: int | None) -> list[SenderPolicy]:
    """The rules of one list (or the global ones), in the order they are read."""
    rows = await session.scalars(
        select(SenderPolicy).where(_scope(list_id)).order_by(SenderPolicy.position, SenderPolicy.id)
    )
    return list(rows)


async def get(session: AsyncSession, policy_id: int) -> SenderPolicy:
    policy = await session.get(SenderPolicy, policy_id)
    if policy is None:
        raise PolicyNotFoundError(policy_id=policy_id)
    return policy


async def create(
    session: AsyncSession,
    *,
    list_id: int | None,
    kind: str,
    pattern_type: str,
    pattern: str,
    include_subdomains: bool,
    action: str,
    note: str,
    position: int | None,
    actor_id: int,
    origin: Origin,
) -> SenderPolicy:
    """Add a rule; at `position` (1-based) it moves the rules from there down, else it goes last."""
    rules = await list_policies(session, list_id)
    if len(rules) >= MAX_RULES_PER_SCOPE:
        raise TooManyPoliciesError(limit=MAX_RULES_PER_SCOPE)
    policy = SenderPolicy(
        list_id=list_id,
        kind=kind,
        pattern_type=pattern_type,
        pattern=normalize_pattern(pattern_type, pattern),
        include_subdomains=include_subdomains and pattern_type == PatternType.DOMAIN,
        action=action,
        note=note,
        created_by_id=actor_id,
    )
    session.add(policy)
    index = len(rules) if position is None else max(0, min(position - 1, len(rules)))
    rules.insert(index, policy)
    _renumber(rules)
    await session.flush()
    await activity.record(
        session,
        "policy.created",
        actor_id=actor_id,
        origin=origin,
        target_type="sender_policy",
        target_id=policy.id,
        list_id=list_id,
        kind=kind,
        pattern=policy.pattern,
    )
    return policy


def _renumber(rules: list[SenderPolicy]) -> None:
    for number, rule in enumerate(rules, start=1):
        rule.position = number


async def update(
    session: AsyncSession,
    policy: SenderPolicy,
    *,
    actor_id: int,
    origin: Origin,
    **fields: Any,
) -> SenderPolicy:
    position = fields.pop("position", None)
    pattern_type = fields.get("pattern_type") or policy.pattern_type
    if "pattern" in fields or "pattern_type" in fields:
        fields["pattern"] = normalize_pattern(pattern_type, fields.get("pattern", policy.pattern))
    for name, value in fields.items():
        if value is not None:
            setattr(policy, name, value)
    if policy.pattern_type != PatternType.DOMAIN:
        policy.include_subdomains = False
    if position is not None:
        rules = [r for r in await list_policies(session, policy.list_id) if r.id != policy.id]
        rules.insert(max(0, min(position - 1, len(rules))), policy)
        _renumber(rules)
    await session.flush()
    await activity.record(
        session,
        "policy.updated",
        actor_id=actor_id,
        origin=origin,
        target_type="sender_policy",
        target_id=policy.id,
        list_id=policy.list_id,
        fields=sorted(fields) + (["position"] if position is not None else []),
    )
    return policy


async def reorder(
    session: AsyncSession, list_id: int | None, ids: list[int], *, actor_id: int, origin: Origin
) -> list[SenderPolicy]:
    rules = await list_policies(session, list_id)
    by_id = {rule.id: rule for rule in rules}
    if len(ids) != len(set(ids)) or set(ids) != set(by_id):
        raise PolicyOrderError
    ordered = [by_id[i] for i in ids]
    _renumber(ordered)
    await session.flush()
    await activity.record(
        session,
        "policy.reordered",
        actor_id=actor_id,
        origin=origin,
        target_type="sender_policy",
        list_id=list_id,
        count=len(ordered),
    )
    return ordered


async def delete(
    session: AsyncSession, policy: SenderPolicy, *, actor_id: int, origin: Origin
) -> None:
    list_id = policy.list_id
    await session.delete(policy)
    await session.flush()
    _renumber(await list_policies(session, list_id))
    await activity.record(
        session,
        "policy.deleted",
        actor_id=actor_id,
        origin=origin,
        target_type="sender_policy",
        target_id=policy.id,
        list_id=list_id,
        pattern=policy.pattern,
    )


async def count(session: AsyncSession, list_id: int | None) -> int:
    return await session.scalar(select(func.count(SenderPolicy.id)).where(_scope(list_id))) or 0
