"""Subscribers of a list: listing, changes, approving requests, CSV import and export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from oak_maillist.api.deps import (
    CurrentUser,
    IdPath,
    ModeratedList,
    OriginDep,
    OwnedList,
    PageDep,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, Page
from oak_maillist.api.v1.schemas.subscribers import (
    ImportResult,
    ImportRowError,
    RejectIn,
    SubscriberCreate,
    SubscriberOut,
    SubscriberUpdate,
    SubscriptionRequestOut,
)
from oak_maillist.db.types import utcnow
from oak_maillist.models import DigestMode, SubscriberStatus
from oak_maillist.services import csv_import, subscribers

router = APIRouter(prefix="/lists", tags=["subscribers"])

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


@router.get("/{list_id}/subscribers")
async def list_subscribers(
    mlist: ModeratedList,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_CONTROL_CHARS, description="Search address or name"),
    ] = None,
    status: Annotated[SubscriberStatus | None, Query()] = None,
    digest_mode: Annotated[DigestMode | None, Query()] = None,
) -> Page[SubscriberOut]:
    """Subscribers ordered by address (moderators and owners)."""
    rows, total = await subscribers.list_subscribers(
        session,
        list_id=mlist.id,
        offset=page.offset,
        limit=page.per_page,
        query=q,
        status=status,
        digest_mode=digest_mode,
    )
    return Page(
        items=[SubscriberOut.model_validate(row) for row in rows],
        total=total,
        page=page.page,
        per_page=page.per_page,
    )


@router.post("/{list_id}/subscribers", status_code=status.HTTP_201_CREATED)
async def add_subscriber(
    mlist: OwnedList,
    body: SubscriberCreate,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> SubscriberOut:
    subscriber = await subscribers.add_subscriber(
        session,
        mlist,
        email=body.email,
        name=body.name,
        digest_mode=body.digest_mode,
        digest_format=body.digest_format,
        status=SubscriberStatus(body.status),
        language=body.language,
        actor=principal.user,
        origin=origin,
    )
    return SubscriberOut.model_validate(subscriber)


@router.post(
    "/{list_id}/subscribers/import",
    max_body_size=csv_import.MAX_IMPORT_BYTES,
    form_limits={"max_files": 1},
)
async def import_subscribers(
    mlist: OwnedList,
    file: Annotated[
        UploadFile,
        File(description="CSV, UTF-8 with or without BOM; header: email, name, digest_mode"),
    ],
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    dry_run: Annotated[bool, Query(description="Check and report, write nothing")] = False,
    mode: Annotated[
        Literal["active", "confirm"],
        Query(
            description="active: the owner asserts consent; confirm: each new address is "
            f"mailed a confirmation link (at most {csv_import.MAX_CONFIRM_ROWS:,} rows)"
        ),
    ] = "active",
) -> ImportResult:
    """Add the new, valid rows; report every rejected row (owners)."""
    report = await csv_import.import_csv(
        session,
        mlist,
        source=file.file,
        dry_run=dry_run,
        mode=mode,
        filename=file.filename or "",
        actor=principal.user,
        origin=origin,
        settings=settings,
    )
    return ImportResult(
        dry_run=report.dry_run,
        mode=mode,
        total_rows=report.total_rows,
        imported=report.imported,
        skipped=report.skipped,
        skipped_by_reason=dict(report.skipped_by_reason),
        errors=[ImportRowError.model_validate(vars(error)) for error in report.errors],
        errors_truncated=report.errors_truncated,
    )


@router.get(
    "/{list_id}/subscribers/export", response_class=StreamingResponse, responses=CSV_RESPONSE
)
async def export_subscribers(
    mlist: OwnedList,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
    status: Annotated[SubscriberStatus | None, Query()] = None,
) -> StreamingResponse:
    """All subscribers (or those with one status) as CSV, streamed (owners)."""
    await subscribers.record_export(
        session, mlist, actor=principal.user, origin=origin, status=status
    )
    # The log entry must stand even if the download is cut short, and the body streams after
    # this function returns (the session dependency commits only after that).
    await session.commit()
    filename = f"{mlist.local_part}-subscribers-{utcnow():%Y%m%d}.csv"
    return StreamingResponse(
        subscribers.export_csv(session, list_id=mlist.id, status=status),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{list_id}/subscribers/{subscriber_id:int}")
async def get_subscriber(
    mlist: ModeratedList, subscriber_id: IdPath, session: SessionDep
) -> SubscriberOut:
    subscriber = await subscribers.get_subscriber(
        session, list_id=mlist.id, subscriber_id=subscriber_id
    )
    return SubscriberOut.model_validate(subscriber)


@router.patch("/{list_id}/subscribers/{subscriber_id:int}")
async def update_subscriber(
    mlist: OwnedList,
    subscriber_id: IdPath,
    body: SubscriberUpdate,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> SubscriberOut:
    """Change name, status, digest mode or language (owners)."""
    subscriber = await subscribers.get_subscriber(
        session, list_id=mlist.id, subscriber_id=subscriber_id
    )
    await subscribers.update_subscriber(
        session,
        subscriber,
        name=body.name,
        status=SubscriberStatus(body.status) if body.status else None,
        digest_mode=body.digest_mode,
        digest_format=body.digest_format,
        language=body.language,
        actor=principal.user,
        origin=origin,
    )
    return SubscriberOut.model_validate(subscriber)


@router.delete("/{list_id}/subscribers/{subscriber_id:int}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_subscriber(
    mlist: OwnedList,
    subscriber_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> None:
    subscriber = await subscribers.get_subscriber(
        session, list_id=mlist.id, subscriber_id=subscriber_id
    )
    await subscribers.remove_subscriber(session, subscriber, actor=principal.user, origin=origin)


@router.get("/{list_id}/subscription-requests")
async def list_subscription_requests(
    mlist: OwnedList, session: SessionDep, page: PageDep
) -> Page[SubscriptionRequestOut]:
    """Confirmed addresses waiting for approval, longest waiting first (owners)."""
    rows, total = await subscribers.list_awaiting(
        session, list_id=mlist.id, offset=page.offset, limit=page.per_page
    )
    return Page(
        items=[SubscriptionRequestOut.model_validate(row) for row in rows],
        total=total,
        page=page.page,
        per_page=page.per_page,
    )


@router.post("/{list_id}/subscription-requests/{subscriber_id}/approve")
async def approve_subscription_request(
    mlist: OwnedList,
    subscriber_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> SubscriberOut:
    """The address becomes an active subscriber and gets the welcome mail (owners)."""
    subscriber = await subscribers.approve(
        session, mlist, subscriber_id, actor=principal.user, origin=origin, settings=settings
    )
    return SubscriberOut.model_validate(subscriber)


@router.post(
    "/{list_id}/subscription-requests/{subscriber_id}/reject",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def reject_subscription_request(
    mlist: OwnedList,
    subscriber_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    body: RejectIn | None = None,
) -> None:
    """The requester is told, with the reason if one is given, and removed (owners)."""
    await subscribers.reject(
        session,
        mlist,
        subscriber_id,
        reason=body.reason if body else "",
        actor=principal.user,
        origin=origin,
        settings=settings,
    )
