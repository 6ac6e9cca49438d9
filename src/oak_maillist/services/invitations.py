"""Invitations: an owner invites addresses, each invitee accepts through a link in their mail.

An invitation is a subscription_requests row (kind "invite") holding the hash of a random,
single-use token that expires; nothing is on the list until the invitee accepts. Inviting an
address again replaces its pending invitation, so only the newest link works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import NotFoundError
from oak_maillist.models import MailingList, Subscriber, SubscriberStatus, SubscriptionRequest, User
from oak_maillist.services import activity, links, subscriptions
from oak_maillist.services.activity import Origin
from oak_maillist.services.crypto import new_token, token_hash
from oak_maillist.services.subscriptions import ListClosedError, Outcome, TokenInvalidError
from oak_maillist.services.users import InvalidEmailError, normalize_email

KIND = "invite"
LIFETIME = timedelta(days=7)
# Per request (the API schema holds it): one owner's form, not a bulk mailer (CSV import is).
MAX_INVITEES = 100
# Already on the list: inviting them would only confuse.
ON_LIST = (SubscriberStatus.ACTIVE, SubscriberStatus.DISABLED)


class InvitationNotFoundError(NotFoundError):
    code = "invitation_not_found"
    template = "Invitation {invitation_id} is not pending on this list"


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str = ""


@dataclass(frozen=True)
class Invitation:
    """A pending invitation as owners see it."""

    id: int
    email: str
    name: str
    language: str
    invited_by_id: int | None
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, row: SubscriptionRequest) -> Invitation:
        data = row.data
        invited_by = data.get("invited_by")
        return cls(
            id=row.id,
            email=str(data.get("email", row.email_normalized)),
            name=str(data.get("name", "")),
            language=str(data.get("language", "en")),
            invited_by_id=invited_by if isinstance(invited_by, int) else None,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )


@dataclass(frozen=True)
class Skipped:
    email: str
    reason: str  # already_subscribed, invalid_email


@dataclass
class InviteReport:
    invited: list[Invitation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


async def invite(
    session: AsyncSession,
    mlist: MailingList,
    invitees: Sequence[Invitee],
    *,
    note: str,
    language: str,
    actor: User,
    origin: Origin,
    settings: Settings,
) -> InviteReport:
    """Mail each new address an invitation; addresses already on the list are skipped."""
    if not mlist.is_active:
        raise ListClosedError(reason="the list is not active")
    report = InviteReport()
    wanted: dict[str, tuple[str, str]] = {}  # key -> (address, name); the first spelling wins
    for invitee in invitees:
        try:
            address, key = normalize_email(invitee.email)
        except InvalidEmailError:
            report.skipped.append(Skipped(invitee.email, "invalid_email"))
            continue
        wanted.setdefault(key, (address, invitee.name))
    on_list = await _on_list(session, mlist.id, list(wanted))
    for key, (address, name) in wanted.items():
        if key in on_list:
            report.skipped.append(Skipped(address, "already_subscribed"))
            continue
        data = {"email": address, "name": name, "language": language, "invited_by": actor.id}
        row, raw = await _store(session, mlist.id, key, data)
        await subscriptions.send_mail(
            session,
            mlist,
            template="list_invite",
            recipient=address,
            language=language,
            settings=settings,
            address=address,
            accept_url=links.page_url(settings, "invitation", raw),
            inviter=actor.display_name or actor.email,
            expires_hours=int(LIFETIME.total_seconds() // 3600),
            invite_note=note,
        )
        report.invited.append(Invitation.of(row))
        await activity.record(
            session,
            "invitation.created",
            actor_id=actor.id,
            origin=origin,
            target_type="invitation",
            target_id=row.id,
            list_id=mlist.id,
            email=address,
        )
    return report


async def _on_list(session: AsyncSession, list_id: int, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    rows = await session.execute(
        select(Subscriber.email_normalized).where(
            Subscriber.list_id == list_id,
            Subscriber.email_normalized.in_(keys),
            Subscriber.status.in_(ON_LIST),
        )
    )
    return set(rows.scalars())


async def _store(
    session: AsyncSession, list_id: int, key: str, data: dict[str, object]
) -> tuple[SubscriptionRequest, str]:
    """Replace any pending invitation for the address; the new row and its raw token."""
    await session.execute(
        delete(SubscriptionRequest).where(
            SubscriptionRequest.list_id == list_id,
            SubscriptionRequest.kind == KIND,
            SubscriptionRequest.email_normalized == key,
            SubscriptionRequest.used_at.is_(None),
        )
    )
    raw = new_token()
    row = SubscriptionRequest(
        list_id=list_id,
        kind=KIND,
        email_normalized=key,
        token_hash=token_hash(raw),
        data=data,
        expires_at=utcnow() + LIFETIME,
    )
    session.add(row)
    await session.flush()
    return row, raw


def _pending(list_id: int) -> list[ColumnElement[bool]]:
    return [
        SubscriptionRequest.list_id == list_id,
        SubscriptionRequest.kind == KIND,
        SubscriptionRequest.used_at.is_(None),
        SubscriptionRequest.expires_at > utcnow(),
    ]


async def list_pending(
    session: AsyncSession, *, list_id: int, offset: int, limit: int
) -> tuple[list[Invitation], int]:
    """Invitations not yet accepted and not expired, newest first, and how many there are."""
    conditions = _pending(list_id)
    total = (
        await session.execute(
            select(func.count()).select_from(SubscriptionRequest).where(*conditions)
        )
    ).scalar_one()
    rows = await session.execute(
        select(SubscriptionRequest)
        .where(*conditions)
        .order_by(SubscriptionRequest.created_at.desc(), SubscriptionRequest.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [Invitation.of(row) for row in rows.scalars()], int(total)


async def revoke(
    session: AsyncSession, mlist: MailingList, invitation_id: int, *, actor: User, origin: Origin
) -> None:
    """Withdraw a pending invitation: its link stops working at once."""
    row = await session.get(SubscriptionRequest, invitation_id)
    if row is None or row.list_id != mlist.id or row.kind != KIND or row.used_at is not None:
        raise InvitationNotFoundError(invitation_id=invitation_id)
    email = Invitation.of(row).email
    await session.delete(row)
    await session.flush()
    await activity.record(
        session,
        "invitation.revoked",
        actor_id=actor.id,
        origin=origin,
        target_type="invitation",
        target_id=invitation_id,
        list_id=mlist.id,
        email=email,
    )


async def _valid(session: AsyncSession, token: str) -> tuple[SubscriptionRequest, MailingList]:
    """The invitation a token opens, and its list; expired, used or revoked ones are refused."""
    row = (
        await session.execute(
            select(SubscriptionRequest).where(SubscriptionRequest.token_hash == token_hash(token))
        )
    ).scalar_one_or_none()
    if row is None or row.kind != KIND or row.used_at is not None or row.expires_at <= utcnow():
        raise TokenInvalidError
    mlist = await session.get(MailingList, row.list_id)
    if mlist is None or not mlist.is_active:
        raise TokenInvalidError
    return row, mlist


async def lookup(session: AsyncSession, *, token: str) -> MailingList:
    """The list an invitation is for, so the page can name it; the token is not used up."""
    return (await _valid(session, token))[1]


async def accept(
    session: AsyncSession, *, token: str, settings: Settings, origin: Origin
) -> Outcome:
    """Follow the invitation link: the address is on the list and gets the welcome mail.

    The token is consumed by a compare-and-set, so two clicks at once cannot both succeed.
    """
    row, mlist = await _valid(session, token)
    consumed = await session.execute(
        update(SubscriptionRequest)
        .where(SubscriptionRequest.id == row.id, SubscriptionRequest.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(consumed, "rowcount", 0) != 1:
        raise TokenInvalidError
    invitation = Invitation.of(row)
    subscriber = await _subscriber_for(session, mlist, row.email_normalized, invitation)
    row.subscriber_id = subscriber.id
    if subscriber.status not in ON_LIST:
        subscriber.name = subscriber.name or invitation.name
        subscriber.language, subscriber.source = invitation.language, "invite"
        await subscriptions.activate(session, mlist, subscriber, settings=settings)
    await activity.record(
        session,
        "invitation.accepted",
        actor_id=None,
        origin=origin,
        target_type="subscriber",
        target_id=subscriber.id,
        list_id=mlist.id,
        invitation_id=row.id,
    )
    return Outcome(str(subscriber.status), mlist.name, subscriber.email)


async def _subscriber_for(
    session: AsyncSession, mlist: MailingList, key: str, invitation: Invitation
) -> Subscriber:
    """The address's subscriber row on the list, created (as invited) if there is none."""
    found = await subscriptions.find_subscriber(session, mlist.id, key)
    if found is not None:
        return found
    subscriber = Subscriber(
        list_id=mlist.id,
        email=invitation.email,
        email_normalized=key,
        name=invitation.name,
        language=invitation.language,
        status=SubscriberStatus.INVITED,
        source="invite",
    )
    try:
        async with session.begin_nested():  # someone subscribed the address meanwhile
            session.add(subscriber)
            await session.flush()
    except IntegrityError:
        found = await subscriptions.find_subscriber(session, mlist.id, key)
        if found is None:
            raise
        return found
    return subscriber
