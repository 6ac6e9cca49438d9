"""Joining and leaving: the public pages' API (subscribe, confirm, unsubscribe, RFC 8058
one-click, preferences, accepting an invitation) and the owners' invitations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, status

from oak_maillist.api.deps import (
    OPTIONAL_AUTH,
    CurrentUser,
    IdPath,
    LimiterDep,
    OriginDep,
    OwnedList,
    PageDep,
    ReadableList,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, Page
from oak_maillist.api.v1.schemas.invitations import (
    InvitationPreview,
    ListInvitationCreate,
    ListInvitationOut,
    ListInvitationsCreated,
    SkippedInvitee,
)
from oak_maillist.api.v1.schemas.subscriptions import (
    PreferencesIn,
    PreferencesOut,
    SubscribeIn,
    SubscribeOut,
    SubscriptionOut,
    TokenIn,
)
from oak_maillist.models import MailingList, Subscriber
from oak_maillist.services import invitations, subscriptions

router = APIRouter(tags=["subscriptions"])


@router.post(
    "/lists/{list_id}/subscribe",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=OPTIONAL_AUTH,
)
async def subscribe(
    mlist: ReadableList,
    body: SubscribeIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> SubscribeOut:
    """Ask to join a public list; the answer is the same whether or not the address is on it."""
    await limiter.hit("subscribe_ip", origin.ip)
    await limiter.hit("subscribe_address", body.email.lower())
    await subscriptions.request_subscription(
        session,
        mlist,
        email=body.email,
        name=body.name,
        language=body.language,
        digest_mode=body.digest_mode,
        settings=settings,
        origin=origin,
    )
    return SubscribeOut()


def _out(outcome: subscriptions.Outcome) -> SubscriptionOut:
    return SubscriptionOut(
        status=outcome.status, list_name=outcome.list_name, email=outcome.address
    )


@router.post("/subscriptions/confirm")
async def confirm(
    body: TokenIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> SubscriptionOut:
    """The link in the confirmation mail: single use, expires after 48 hours."""
    await limiter.hit("subscribe_ip", origin.ip)
    return _out(
        await subscriptions.confirm(session, token=body.token, settings=settings, origin=origin)
    )


@router.post("/subscriptions/unsubscribe")
async def unsubscribe(
    body: TokenIn, session: SessionDep, settings: SettingsDep, origin: OriginDep
) -> SubscriptionOut:
    """The unsubscribe page's button (the link in every mail carries a signed token)."""
    return _out(
        await subscriptions.unsubscribe(
            session, token=body.token, settings=settings, origin=origin, one_click=False
        )
    )


@router.post("/subscriptions/one-click")
async def one_click(
    token: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_CONTROL_CHARS)],
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    list_unsubscribe: Annotated[Literal["One-Click"], Form(alias="List-Unsubscribe")] = "One-Click",
) -> SubscriptionOut:
    """RFC 8058: a mail client POSTs `List-Unsubscribe=One-Click` (form-urlencoded or
    multipart); no login, no cookie. The signed token is the authority, so a POST without
    the body is honoured too; any other value of the field is refused."""
    return _out(
        await subscriptions.unsubscribe(
            session, token=token, settings=settings, origin=origin, one_click=True
        )
    )


def _preferences(subscriber: Subscriber, mlist: MailingList) -> PreferencesOut:
    return PreferencesOut(
        list_id=mlist.id,
        list_name=mlist.name,
        email=subscriber.email,
        digest_mode=subscriber.digest_mode,  # type: ignore[arg-type]
        digest_format=subscriber.digest_format,  # type: ignore[arg-type]
        status=subscriber.status,
    )


@router.get("/subscriptions/preferences")
async def get_preferences(
    token: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_CONTROL_CHARS)],
    session: SessionDep,
    settings: SettingsDep,
) -> PreferencesOut:
    return _preferences(*await subscriptions.preferences(session, token=token, settings=settings))


@router.put("/subscriptions/preferences")
async def set_preferences(
    body: PreferencesIn, session: SessionDep, settings: SettingsDep, origin: OriginDep
) -> PreferencesOut:
    """Change the digest mode from the link in the welcome mail."""
    return _preferences(
        *await subscriptions.set_digest_mode(
            session,
            token=body.token,
            digest_mode=body.digest_mode,
            digest_format=body.digest_format,
            settings=settings,
            origin=origin,
        )
    )


@router.post("/lists/{list_id}/invitations", status_code=status.HTTP_201_CREATED)
async def invite(
    mlist: OwnedList,
    body: ListInvitationCreate,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> ListInvitationsCreated:
    """Mail each address a single-use link to join, valid 7 days (owners)."""
    report = await invitations.invite(
        session,
        mlist,
        [invitations.Invitee(invitee.email, invitee.name) for invitee in body.invitees],
        note=body.note,
        language=body.language or mlist.language,
        actor=principal.user,
        origin=origin,
        settings=settings,
    )
    return ListInvitationsCreated(
        invited=[ListInvitationOut.model_validate(i, from_attributes=True) for i in report.invited],
        skipped=[SkippedInvitee.model_validate(s, from_attributes=True) for s in report.skipped],
    )


@router.get("/lists/{list_id}/invitations")
async def list_invitations(
    mlist: OwnedList, session: SessionDep, page: PageDep
) -> Page[ListInvitationOut]:
    """Invitations neither accepted nor expired, newest first (owners)."""
    rows, total = await invitations.list_pending(
        session, list_id=mlist.id, offset=page.offset, limit=page.per_page
    )
    return Page(
        items=[ListInvitationOut.model_validate(row, from_attributes=True) for row in rows],
        total=total,
        page=page.page,
        per_page=page.per_page,
    )


@router.delete(
    "/lists/{list_id}/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def revoke_invitation(
    mlist: OwnedList,
    invitation_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> None:
    """Withdraw a pending invitation; its link stops working (owners)."""
    await invitations.revoke(session, mlist, invitation_id, actor=principal.user, origin=origin)


@router.get("/subscriptions/invitation")
async def read_invitation(
    token: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_CONTROL_CHARS)],
    session: SessionDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> InvitationPreview:
    """The list an invitation link is for (its name and description only)."""
    await limiter.hit("subscribe_ip", origin.ip)
    mlist = await invitations.lookup(session, token=token)
    return InvitationPreview(list_name=mlist.name, list_description=mlist.description)


@router.post("/subscriptions/invitation/accept")
async def accept_invitation(
    body: TokenIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> SubscriptionOut:
    """The invitation link's button: the address joins and gets the welcome mail; single use."""
    await limiter.hit("subscribe_ip", origin.ip)
    return _out(
        await invitations.accept(session, token=body.token, settings=settings, origin=origin)
    )
