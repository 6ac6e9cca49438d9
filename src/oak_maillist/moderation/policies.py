"""Sender policies: which whitelist or blacklist rule, if any, an address falls under."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.errors import InvalidInputError
from oak_maillist.models import PatternType, SenderPolicy

MAX_PATTERN = 320


class InvalidPatternError(InvalidInputError):
    code = "invalid_policy_pattern"
    template = "The pattern {pattern!r} is not a valid {pattern_type} rule: {reason}"


def normalize_pattern(pattern_type: str, pattern: str) -> str:
    """The stored form of a pattern, lowercased; raises InvalidPatternError when unusable."""
    value = pattern.strip().lower()

    def refuse(reason: str) -> InvalidPatternError:
        return InvalidPatternError(pattern=pattern, pattern_type=pattern_type, reason=reason)

    if not value or len(value) > MAX_PATTERN or any(c.isspace() or ord(c) < 32 for c in value):
        raise refuse("it must be 1 to 320 characters without spaces")
    if pattern_type == PatternType.EXACT:
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain or any(c in value for c in "*?[]"):
            raise refuse("an exact rule is one address, like alice@example.com")
        return value
    if pattern_type == PatternType.DOMAIN:
        domain = value.removeprefix("@")
        if not domain or "@" in domain or "." not in domain.strip("."):
            raise refuse("a domain rule looks like @example.com")
        return "@" + domain.strip(".")
    if pattern_type == PatternType.GLOB:
        if not any(c in value for c in "*?["):
            raise refuse("a glob rule needs * ? or [...]; use an exact rule for one address")
        return value
    raise refuse("unknown pattern type")


def matches(policy: SenderPolicy, address: str) -> bool:
    """Whether `address` (any case) falls under `policy`."""
    address = address.strip().lower()
    if not address:
        return False
    if policy.pattern_type == PatternType.EXACT:
        return address == policy.pattern
    if policy.pattern_type == PatternType.DOMAIN:
        domain = address.rpartition("@")[2]
        wanted = policy.pattern.removeprefix("@")
        return domain == wanted or (policy.include_subdomains and domain.endswith("." + wanted))
    return fnmatch.fnmatchcase(address, policy.pattern)


def first_match(policies: Sequence[SenderPolicy], addresses: Iterable[str]) -> SenderPolicy | None:
    """The first rule, in order, that any of the sender's addresses falls under."""
    candidates = [a for a in addresses if a]
    for policy in policies:
        if any(matches(policy, address) for address in candidates):
            return policy
    return None


# A session whose info holds this key (a dict) keeps each list's rules once read: processing
# a batch of posts in one transaction reads them once (see services.processing.prepare).
MEMO = "oak_sender_policies"


async def effective(session: AsyncSession, list_id: int) -> list[SenderPolicy]:
    """The rules a post to `list_id` meets: the list's own by position, then the global ones."""
    memo: dict[int, list[SenderPolicy]] | None = session.info.get(MEMO)
    if memo is not None and list_id in memo:
        return memo[list_id]
    rows = (
        await session.scalars(
            select(SenderPolicy)
            .where(or_(SenderPolicy.list_id == list_id, SenderPolicy.list_id.is_(None)))
            .order_by(SenderPolicy.list_id.is_(None), SenderPolicy.position, SenderPolicy.id)
        )
    ).all()
    if memo is not None:
        memo[list_id] = list(rows)
    return list(rows)
