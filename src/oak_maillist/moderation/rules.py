"""The rules of the posting chain: each answers one question about a post and says why.

A rule returns None to let the post go on down the chain, or a Verdict. Rules read what they
need from the Context; the chain (chain.py) decides their order.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.models import (
    ListRole,
    MailingList,
    Message,
    PolicyKind,
    PostingPolicy,
    SenderPolicy,
    Subscriber,
    SubscriberStatus,
    User,
)
from oak_maillist.moderation import policies
from oak_maillist.services import archive_memo
from oak_maillist.services.users import InvalidEmailError, normalize_email


@functools.lru_cache(maxsize=4096)
def address_key(address: str) -> str:
    """The lowercased key an address is stored under; a malformed one is just lowercased.

    Remembered: posters write again and again, and validating an address takes longer than
    an indexed query.
    """
    address = address.strip()
    if not address:
        return ""
    try:
        return normalize_email(address)[1]
    except InvalidEmailError:
        return address.lower()


class Action(enum.StrEnum):
    ACCEPT = "accept"
    HOLD = "hold"
    REJECT = "reject"
    DISCARD = "discard"


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str  # a stable code: loop, duplicate, blacklisted, nonmember, ...
    detail: str = ""

    def describe(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


@dataclass
class Context:
    """One post to one list, and what the rules found out about it so far."""

    session: AsyncSession
    settings: Settings
    mlist: MailingList
    list_address: str  # dev@lists.example.org
    list_id_value: str  # dev.lists.example.org (the List-Id, RFC 2919)
    parsed: ParsedMessage
    envelope_from: str
    message_id_hash: str
    size: int
    notes: list[str] = field(default_factory=list)  # reasons that did not stop the post
    whitelisted: bool = False
    _policy: SenderPolicy | None = None
    _policy_loaded: bool = False

    @property
    def senders(self) -> list[str]:
        """The poster's address keys (as subscribers are stored), From first, no duplicates."""
        found = [address_key(self.parsed.sender.email), address_key(self.envelope_from)]
        return list(dict.fromkeys(a for a in found if a))

    async def policy(self) -> SenderPolicy | None:
        if not self._policy_loaded:
            rules = await policies.effective(self.session, self.mlist.id)
            self._policy = policies.first_match(rules, self.senders)
            self._policy_loaded = True
        return self._policy


async def loop(ctx: Context) -> Verdict | None:
    """Mail this list already sent (its List-Id, or its address in X-Loop) is not sent again."""
    list_id = ctx.parsed.list_id.strip().lower()
    ours = ctx.list_id_value.lower()
    if list_id.endswith(f"<{ours}>") or list_id == ours:
        return Verdict(Action.DISCARD, "loop", f"carries this list's List-Id {ours}")
    if any(ctx.list_address.lower() in value.lower() for value in ctx.parsed.x_loop):
        return Verdict(Action.DISCARD, "loop", f"X-Loop names {ctx.list_address}")
    return None


_ARCHIVED = (
    select(Message.id)
    .where(Message.list_id == bindparam("list_id"), Message.message_id_hash == bindparam("hash"))
    .limit(1)
)


async def duplicate(ctx: Context) -> Verdict | None:
    """A Message-ID the archive already holds for this list is a duplicate (cross-posts and
    retransmissions); the first copy was delivered."""
    memo = archive_memo.memo(ctx.session)
    known = memo.known(ctx.mlist.id, [ctx.message_id_hash]) if memo else None
    if known is not None:
        hit = known.get(ctx.message_id_hash)
        if hit is not None and archive_memo.unflushed(hit):
            await ctx.session.flush()  # the first copy came in this batch: name its id
        found = hit.id if hit else None
    else:
        found = await ctx.session.scalar(
            _ARCHIVED, {"list_id": ctx.mlist.id, "hash": ctx.message_id_hash}
        )
    if found is not None:
        return Verdict(Action.DISCARD, "duplicate", f"Message-ID already archived as {found}")
    return None


async def blacklist(ctx: Context) -> Verdict | None:
    policy = await ctx.policy()
    if policy is None or policy.kind != PolicyKind.BLACKLIST:
        return None
    action = Action.REJECT if policy.action == "reject" else Action.DISCARD
    scope = "global" if policy.list_id is None else "list"
    return Verdict(action, "blacklisted", f"{scope} rule {policy.id} ({policy.pattern})")


async def whitelist(ctx: Context) -> Verdict | None:
    """A whitelisted sender skips membership, moderation and AI checks (not size or emergency)."""
    policy = await ctx.policy()
    if policy is not None and policy.kind == PolicyKind.WHITELIST:
        ctx.whitelisted = True
        scope = "global" if policy.list_id is None else "list"
        ctx.notes.append(f"whitelisted: {scope} rule {policy.id} ({policy.pattern})")
    return None


async def _is_member(ctx: Context) -> bool:
    count = await ctx.session.scalar(
        select(func.count(Subscriber.id)).where(
            Subscriber.list_id == ctx.mlist.id,
            Subscriber.email_normalized.in_(ctx.senders),
            Subscriber.status == SubscriberStatus.ACTIVE,
        )
    )
    return bool(count)


async def _is_staff(ctx: Context) -> bool:
    """The poster is one of the list's owners or moderators (by their account's address)."""
    count = await ctx.session.scalar(
        select(func.count(ListRole.id))
        .join(User, User.id == ListRole.user_id)
        .where(
            ListRole.list_id == ctx.mlist.id,
            User.email_normalized.in_(ctx.senders),
            User.is_active.is_(True),
        )
    )
    return bool(count)


async def posting_policy(ctx: Context) -> Verdict | None:
    if ctx.whitelisted:
        return None
    policy = ctx.mlist.posting_policy
    if policy == PostingPolicy.ANYONE:
        return None
    if policy == PostingPolicy.MEMBERS:
        if await _is_member(ctx) or await _is_staff(ctx):
            return None
        action = Action(ctx.mlist.nonmember_action)
        who = ", ".join(ctx.senders) or "an empty sender"
        return Verdict(action, "nonmember", f"{who} is not subscribed")
    if await _is_staff(ctx):
        return None
    if policy == PostingPolicy.ANNOUNCE:
        return Verdict(Action.HOLD, "announce_only", "only owners and moderators post here")
    return Verdict(Action.HOLD, "moderated", "every post to this list is reviewed")


async def max_size(ctx: Context) -> Verdict | None:
    limit = ctx.mlist.max_message_size
    if limit and ctx.size > limit:
        return Verdict(Action.HOLD, "too_big", f"{ctx.size} bytes, the limit is {limit}")
    return None


async def emergency(ctx: Context) -> Verdict | None:
    if ctx.mlist.emergency_hold:
        return Verdict(Action.HOLD, "emergency", "the list holds every post for now")
    return None
