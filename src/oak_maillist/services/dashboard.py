"""The dashboard: totals and day-by-day growth, counted by the database, scoped to the caller.

Administrators see every list; anyone else sees the lists they own or moderate. Days are UTC
days: every backend stores naive UTC times, and each one's date() of such a time is its UTC day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.models import (
    Delivery,
    DeliveryStatus,
    Domain,
    HeldMessage,
    HeldStatus,
    MailingList,
    Message,
    Subscriber,
    SubscriberStatus,
    SystemRole,
    User,
)
from oak_maillist.services import lists
from oak_maillist.services.access import Need, access_list, managed_list_ids

MAX_DAYS = 365
# Per-list series for this many lists at most (those with the most subscribers first); the
# totals and the summed series always cover every list in scope.
MAX_GROWTH_LISTS = 50
WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)
SERIES = ("new_subscribers", "unsubscribed", "messages")


@dataclass(frozen=True)
class Totals:
    users: int | None  # administrators only
    lists: int
    active_subscribers: int
    archived_messages: int
    pending_moderation: int
    pending_deliveries: int


@dataclass(frozen=True)
class Day:
    day: date
    new_subscribers: int = 0
    unsubscribed: int = 0
    messages: int = 0


@dataclass(frozen=True)
class ListGrowth:
    list_id: int
    name: str
    address: str
    active_subscribers: int
    messages: int
    pending_moderation: int
    days: list[Day]


@dataclass(frozen=True)
class Dashboard:
    totals: Totals
    since: date
    days: list[Day]  # summed over every list in scope
    lists: list[ListGrowth] = field(default_factory=list)


def _scoped(column: Any, scope: list[int] | None) -> list[ColumnElement[bool]]:
    return [] if scope is None else [column.in_(scope)]


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int((await session.execute(query)).scalar_one())


async def totals(session: AsyncSession, scope: list[int] | None, *, is_admin: bool) -> Totals:
    """How many of each thing there is in scope (None: every list)."""
    count = select(func.count())
    return Totals(
        users=await _count(session, count.select_from(User)) if is_admin else None,
        lists=await _count(
            session, count.select_from(MailingList).where(*_scoped(MailingList.id, scope))
        ),
        active_subscribers=await _count(
            session,
            count.select_from(Subscriber).where(
                Subscriber.status == SubscriberStatus.ACTIVE,
                *_scoped(Subscriber.list_id, scope),
            ),
        ),
        archived_messages=await _count(
            session, count.select_from(Message).where(*_scoped(Message.list_id, scope))
        ),
        pending_moderation=await _count(
            session,
            count.select_from(HeldMessage).where(
                HeldMessage.status == HeldStatus.PENDING, *_scoped(HeldMessage.list_id, scope)
            ),
        ),
        pending_deliveries=await _count(
            session,
            count.select_from(Delivery).where(
                Delivery.status.in_(WAITING), *_scoped(Delivery.list_id, scope)
            ),
        ),
    )


async def _per_day(
    session: AsyncSession, list_column: Any, when: Any, since: datetime, scope: list[int] | None
) -> list[tuple[int, date, int]]:
    """(list id, UTC day, rows) for rows whose `when` falls on or after `since`."""
    # date() of a naive UTC timestamp is its UTC day on SQLite, PostgreSQL and MariaDB alike;
    # typed Date, each driver's answer (a string on SQLite) comes back as a date.
    day = func.date(when, type_=Date)
    query = (
        select(list_column, day, func.count())
        .where(when >= since, *_scoped(list_column, scope))
        .group_by(list_column, day)
    )
    return [(int(list_id), on, int(n)) for list_id, on, n in await session.execute(query)]


async def growth(
    session: AsyncSession, scope: list[int] | None, *, first_day: date
) -> dict[int, dict[date, dict[str, int]]]:
    """Per list, per UTC day from `first_day`: subscribers who joined, who left, messages."""
    since = datetime.combine(first_day, time.min, tzinfo=UTC)
    sources = {
        "new_subscribers": (Subscriber.list_id, Subscriber.subscribed_at),
        "unsubscribed": (Subscriber.list_id, Subscriber.unsubscribed_at),
        "messages": (Message.list_id, Message.received_at),
    }
    found: dict[int, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for series, (list_column, when) in sources.items():
        for list_id, day, count in await _per_day(session, list_column, when, since, scope):
            found[list_id][day][series] = count
    return found


def _series(first_day: date, days: int, counts: dict[date, dict[str, int]]) -> list[Day]:
    """Every day in the window, zeros included, oldest first."""
    dates = (first_day + timedelta(days=offset) for offset in range(days))
    return [Day(day, **counts.get(day, {})) for day in dates]


def _summed(per_list: dict[int, dict[date, dict[str, int]]]) -> dict[date, dict[str, int]]:
    summed: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SERIES, 0))
    for by_day in per_list.values():
        for day, counts in by_day.items():
            for series, count in counts.items():
                summed[day][series] += count
    return summed


async def _lists_in(session: AsyncSession, scope: list[int] | None) -> list[tuple[int, str, str]]:
    query = select(MailingList.id, MailingList.name, MailingList.local_part, Domain.name).join(
        Domain, Domain.id == MailingList.domain_id
    )
    rows = await session.execute(query.where(*_scoped(MailingList.id, scope)))
    return [(list_id, name, f"{local}@{domain}") for list_id, name, local, domain in rows]


async def dashboard(
    session: AsyncSession, user: User, *, days: int, list_id: int | None = None
) -> Dashboard:
    """The caller's dashboard for the last `days` days (today included); `list_id` narrows
    it to one list the caller owns or moderates."""
    if list_id is not None:
        await access_list(session, list_id, user, need=Need.MODERATOR)
        scope: list[int] | None = [list_id]
    else:
        scope = await managed_list_ids(session, user, need=Need.MODERATOR)
    first_day = utcnow().date() - timedelta(days=days - 1)
    per_list = await growth(session, scope, first_day=first_day)
    in_scope = await _lists_in(session, scope)
    counts = await lists.counts(session, [list_id for list_id, _name, _address in in_scope])
    in_scope.sort(key=lambda row: (-counts[row[0]].subscribers, row[1], row[0]))
    return Dashboard(
        totals=await totals(session, scope, is_admin=user.role == SystemRole.ADMIN),
        since=first_day,
        days=_series(first_day, days, _summed(per_list)),
        lists=[
            ListGrowth(
                list_id=list_id,
                name=name,
                address=address,
                active_subscribers=counts[list_id].subscribers,
                messages=counts[list_id].messages,
                pending_moderation=counts[list_id].pending_moderation,
                days=_series(first_day, days, per_list.get(list_id, {})),
            )
            for list_id, name, address in in_scope[:MAX_GROWTH_LISTS]
        ],
    )
