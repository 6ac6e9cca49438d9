"""Joining and leaving a list by mail: double opt-in, welcome, unsubscribe, one-click, preferences.

Answers never reveal whether an address is subscribed: the caller always gets the same reply,
and only the mailbox owner sees what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ForbiddenError, NotFoundError
from oak_maillist.mail.compose import notice
from oak_maillist.models import (
    Domain,
    ListRole,
    ListRoleName,
    MailingList,
    Subscriber,
    SubscriberStatus,
    SubscriptionPolicy,
    SubscriptionRequest,
    User,
)
from oak_maillist.services import activity, links, outbound, templates, users
from oak_maillist.services.activity import Origin
from oak_maillist.services.crypto import new_token, token_hash

CONFIRM_LIFETIME = timedelta(hours=48)
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"


class ListClosedError(ForbiddenError):
    code = "list_not_open"
    template = "This list does not take subscriptions here: {reason}"


class TokenInvalidError(NotFoundError):
    code = "token_invalid"
    template = "This link has expired, was already used, or is not valid"


@dataclass(frozen=True)
class Outcome:
    status: str
    list_name: str
    address: str


async def _domain(session: AsyncSession, mlist: MailingList) -> Domain:
    domain = await session.get(Domain, mlist.domain_id)
    assert domain is not None  # noqa: S101 - a foreign key guarantees it
    return domain


async def send_mail(
    session: AsyncSession,
    mlist: MailingList,
    *,
    template: str,
    recipient: str,
    language: str,
    settings: Settings,
    reply_to: str | None = None,
    **context: Any,
) -> int:
    """Render a template for one recipient and queue it through the outbound relay path."""
    domain = await _domain(session, mlist)
    variables = {"list": await templates.list_variable(session, mlist), **context}
    rendered = await templates.render(
        session, name=template, language=language, list_id=mlist.id, context=variables
    )
    message = notice(
        sender=f"{mlist.local_part}-request@{domain.name}",
        sender_name=mlist.name,
        recipient=recipient,
        subject=rendered.subject,
        body=rendered.body,
        domain=domain.name,
        list_id_header=f"{mlist.name} <{mlist.local_part}.{domain.name}>",
        reply_to=reply_to,
    )
    row = await outbound.queue(
        session,
        message,
        kind=template,
        list_id=mlist.id,
        sender=f"{mlist.local_part}-bounces@{domain.name}",
        recipient=recipient,
    )
    return row.id


async def find_subscriber(session: AsyncSession, list_id: int, key: str) -> Subscriber | None:
    """The list's subscriber with this address key (users.normalize_email), if any."""
    return (
        await session.execute(
            select(Subscriber).where(
                Subscriber.list_id == list_id, Subscriber.email_normalized == key
            )
        )
    ).scalar_one_or_none()


async def request_subscription(
    session: AsyncSession,
    mlist: MailingList,
    *,
    email: str,
    name: str,
    language: str,
    digest_mode: str,
    settings: Settings,
    origin: Origin,
) -> None:
    """Start double opt-in: a confirmation mail goes to the address (unless it is already in)."""
    if not mlist.is_active:
        raise ListClosedError(reason="the list is not active")
    if mlist.subscription_policy == SubscriptionPolicy.INVITE:
        raise ListClosedError(reason="it is invite-only")
    address, key = users.normalize_email(email)
    subscriber = await find_subscriber(session, mlist.id, key)
    if subscriber is not None and subscriber.status in (
        SubscriberStatus.ACTIVE,
        SubscriberStatus.AWAITING_APPROVAL,
        SubscriberStatus.DISABLED,
    ):
        return  # same answer, no mail: nothing tells a stranger the address is on the list
    if subscriber is None:
        subscriber = Subscriber(list_id=mlist.id, email=address, email_normalized=key, source="web")
        session.add(subscriber)
    subscriber.status, subscriber.name = SubscriberStatus.PENDING, name[:200]
    subscriber.language, subscriber.digest_mode = language, digest_mode
    await session.flush()
    await ask_confirmation(session, mlist, subscriber, settings=settings)
    await activity.record(
        session,
        "subscriber.requested",
        actor_id=None,
        origin=origin,
        target_type="subscriber",
        target_id=subscriber.id,
        list_id=mlist.id,
    )


async def ask_confirmation(
    session: AsyncSession,
    mlist: MailingList,
    subscriber: Subscriber,
    *,
    settings: Settings,
    preapproved: bool = False,
) -> None:
    """Store a single-use confirmation token and mail its link to the subscriber's address."""
    await ask_confirmations(
        session, mlist, [subscriber], settings=settings, preapproved=preapproved
    )


async def ask_confirmations(
    session: AsyncSession,
    mlist: MailingList,
    subscribers: Sequence[Subscriber],
    *,
    settings: Settings,
    preapproved: bool = False,
) -> None:
    """`ask_confirmation` for many subscribers of one list, their tokens stored at once.

    `preapproved`: an owner put the addresses on the list (a CSV import), so confirming
    needs no owner's approval afterwards.
    """
    if not subscribers:
        return
    raw = {subscriber.id: new_token() for subscriber in subscribers}
    expires_at = utcnow() + CONFIRM_LIFETIME
    data = {"preapproved": True} if preapproved else {}
    await session.execute(
        insert(SubscriptionRequest),
        [
            {
                "list_id": mlist.id,
                "subscriber_id": subscriber.id,
                "kind": "confirm",
                "email_normalized": subscriber.email_normalized,
                "token_hash": token_hash(raw[subscriber.id]),
                "data": data,
                "expires_at": expires_at,
            }
            for subscriber in subscribers
        ],
    )
    # Referenced here, the domain stays in the session's identity map (which holds objects
    # weakly), so each mail's lookups of it (sender, `list` variable) need no query.
    _held_domain = await _domain(session, mlist)
    for subscriber in subscribers:
        await send_mail(
            session,
            mlist,
            template="confirm",
            recipient=subscriber.email,
            language=subscriber.language,
            settings=settings,
            # Replying to the mail confirms too (the -confirm+TOKEN address).
            reply_to=f"{mlist.local_part}-confirm+{raw[subscriber.id]}@{_held_domain.name}",
            address=subscriber.email,
            confirm_url=links.page_url(settings, "subscribe/confirm", raw[subscriber.id]),
            expires_hours=int(CONFIRM_LIFETIME.total_seconds() // 3600),
        )


async def confirm(
    session: AsyncSession, *, token: str, settings: Settings, origin: Origin
) -> Outcome:
    """Follow the confirmation link: the address is in (or waits for an owner's approval)."""
    request = (
        await session.execute(
            select(SubscriptionRequest).where(SubscriptionRequest.token_hash == token_hash(token))
        )
    ).scalar_one_or_none()
    now = utcnow()
    if (
        request is None
        or request.kind != "confirm"
        or request.used_at is not None
        or request.expires_at <= now
        or request.subscriber_id is None
    ):
        raise TokenInvalidError
    request.used_at = now
    subscriber = await session.get(Subscriber, request.subscriber_id)
    mlist = await session.get(MailingList, request.list_id)
    if subscriber is None or mlist is None or not mlist.is_active:
        raise TokenInvalidError
    approved = bool(request.data.get("preapproved"))
    if mlist.subscription_policy == SubscriptionPolicy.APPROVAL and not approved:
        subscriber.status = SubscriberStatus.AWAITING_APPROVAL
        await notify_owners(session, mlist, subscriber, settings=settings)
    else:
        await activate(session, mlist, subscriber, settings=settings)
    await activity.record(
        session,
        "subscriber.confirmed",
        actor_id=None,
        origin=origin,
        target_type="subscriber",
        target_id=subscriber.id,
        list_id=mlist.id,
    )
    return Outcome(str(subscriber.status), mlist.name, subscriber.email)


async def activate(
    session: AsyncSession, mlist: MailingList, subscriber: Subscriber, *, settings: Settings
) -> None:
    """Make a subscriber active and send the welcome mail with their own links."""
    subscriber.status, subscriber.subscribed_at = SubscriberStatus.ACTIVE, utcnow()
    subscriber.unsubscribed_at = None
    domain = await _domain(session, mlist)
    await send_mail(
        session,
        mlist,
        template="welcome",
        recipient=subscriber.email,
        language=subscriber.language,
        settings=settings,
        address=subscriber.email,
        unsubscribe_url=links.page_url(
            settings, "unsubscribe", _token(settings, UNSUBSCRIBE, subscriber)
        ),
        preferences_url=links.page_url(
            settings, "preferences", _token(settings, PREFERENCES, subscriber)
        ),
        list_address=f"{mlist.local_part}@{domain.name}",
        help_address=f"{mlist.local_part}-request@{domain.name}",
    )


async def notify_owners(
    session: AsyncSession, mlist: MailingList, subscriber: Subscriber, *, settings: Settings
) -> None:
    """Tell each of the list's owners, in their language, that an address waits for them."""
    owners = await session.execute(
        select(User)
        .join(ListRole, ListRole.user_id == User.id)
        .where(
            ListRole.list_id == mlist.id,
            ListRole.role == ListRoleName.OWNER,
            User.is_active.is_(True),
        )
        .order_by(User.id)
    )
    for owner in owners.scalars():
        await send_mail(
            session,
            mlist,
            template="subscription_request",
            recipient=owner.email,
            language=owner.language,
            settings=settings,
            requester_address=subscriber.email,
            requester_name=subscriber.name,
            requests_url=f"{settings.server.public_url}/lists/{mlist.id}/requests",
        )


def _token(settings: Settings, purpose: str, subscriber: Subscriber) -> str:
    return links.make_token(
        settings, purpose, subscriber_id=subscriber.id, list_id=subscriber.list_id
    )


def unsubscribe_token(settings: Settings, subscriber: Subscriber) -> str:
    """The token for this subscriber's unsubscribe links (pages and RFC 8058 one-click)."""
    return _token(settings, UNSUBSCRIBE, subscriber)


async def _linked(
    session: AsyncSession, settings: Settings, purpose: str, token: str
) -> tuple[Subscriber, MailingList]:
    link = links.read_token(settings, purpose, token)
    subscriber = await session.get(Subscriber, link.subscriber_id)
    mlist = await session.get(MailingList, link.list_id)
    if subscriber is None or mlist is None or subscriber.list_id != mlist.id:
        raise links.LinkInvalidError
    return subscriber, mlist


async def unsubscribe(
    session: AsyncSession, *, token: str, settings: Settings, origin: Origin, one_click: bool
) -> Outcome:
    """Leave the list through a signed link; repeating it changes nothing and still succeeds."""
    subscriber, mlist = await _linked(session, settings, UNSUBSCRIBE, token)
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        subscriber.status, subscriber.unsubscribed_at = SubscriberStatus.UNSUBSCRIBED, utcnow()
        await activity.record(
            session,
            "subscriber.unsubscribed",
            actor_id=None,
            origin=origin,
            target_type="subscriber",
            target_id=subscriber.id,
            list_id=mlist.id,
            one_click=one_click,
        )
        await send_mail(
            session,
            mlist,
            template="unsubscribe",
            recipient=subscriber.email,
            language=subscriber.language,
            settings=settings,
            address=subscriber.email,
            resubscribe_url=f"{settings.server.public_url}/lists/{mlist.id}/subscribe",
        )
    return Outcome(str(subscriber.status), mlist.name, subscriber.email)


async def preferences(
    session: AsyncSession, *, token: str, settings: Settings
) -> tuple[Subscriber, MailingList]:
    return await _linked(session, settings, PREFERENCES, token)


async def set_digest_mode(
    session: AsyncSession,
    *,
    token: str,
    digest_mode: str,
    settings: Settings,
    origin: Origin,
    digest_format: str | None = None,
) -> tuple[Subscriber, MailingList]:
    subscriber, mlist = await _linked(session, settings, PREFERENCES, token)
    digest_format = digest_format or subscriber.digest_format
    if (subscriber.digest_mode, subscriber.digest_format) != (digest_mode, digest_format):
        subscriber.digest_mode, subscriber.digest_format = digest_mode, digest_format
        await activity.record(
            session,
            "subscriber.preferences_changed",
            actor_id=None,
            origin=origin,
            target_type="subscriber",
            target_id=subscriber.id,
            list_id=mlist.id,
            digest_mode=digest_mode,
            digest_format=digest_format,
        )
    return subscriber, mlist
