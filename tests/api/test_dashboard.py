"""The dashboard: totals and per-day growth, each caller seeing only the lists they run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import (
    Delivery,
    HeldMessage,
    InboundMessage,
    ListRole,
    MailingList,
    Message,
    Subscriber,
    SystemRole,
)
from oak_maillist.runtime import Runtime
from tests.factories import login, make_domain, make_list, make_user

URL = "/api/v1/dashboard"
# Noon, so "n days ago" never crosses midnight while the test runs.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def _ago(days: int, hours: int = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


@dataclass
class World:
    alpha: MailingList  # Ann owns it, Mo moderates it
    beta: MailingList  # Otto owns it
    headers: dict[str, dict[str, str]]


def _subscriber(mlist: MailingList, n: int, status: str, **dates: datetime) -> Subscriber:
    email = f"s{n}@example.org"
    return Subscriber(list_id=mlist.id, email=email, email_normalized=email, status=status, **dates)


def _message(mlist: MailingList, n: int, received_at: datetime) -> Message:
    return Message(list_id=mlist.id, message_id_hash=f"{n:064}", received_at=received_at)


async def _activity(db: AsyncSession, alpha: MailingList, beta: MailingList) -> None:
    """Alpha: 3 active, 1 gone, 1 pending; 4 messages (one long ago); 1 held; 1 queued.
    Beta: 2 active; 5 messages; 2 held; nothing queued."""
    db.add_all(
        [
            _subscriber(alpha, 1, "active", subscribed_at=_ago(0, 1)),
            _subscriber(alpha, 2, "active", subscribed_at=_ago(0, 2)),
            _subscriber(alpha, 3, "active", subscribed_at=_ago(2)),
            _subscriber(alpha, 4, "unsubscribed", subscribed_at=_ago(5), unsubscribed_at=_ago(1)),
            _subscriber(alpha, 5, "pending"),
            _subscriber(beta, 6, "active", subscribed_at=_ago(0)),
            _subscriber(beta, 7, "active", subscribed_at=_ago(100)),
            _message(alpha, 1, _ago(0, 1)),
            _message(alpha, 2, _ago(0, 3)),
            _message(alpha, 3, _ago(3)),
            _message(alpha, 4, _ago(40)),
            *[_message(beta, 10 + n, _ago(n)) for n in range(5)],
            Delivery(list_id=alpha.id, recipient="s1@example.org", status="queued"),
            Delivery(list_id=alpha.id, recipient="s2@example.org", status="sent"),
            Delivery(list_id=beta.id, recipient="s6@example.org", status="failed"),
        ]
    )
    inbound = InboundMessage(raw=b"Subject: held\r\n\r\nx\r\n")
    db.add(inbound)
    await db.flush()
    for mlist, status in (
        (alpha, "pending"),
        (alpha, "approved"),
        (beta, "pending"),
        (beta, "pending"),
    ):
        db.add(
            HeldMessage(list_id=mlist.id, inbound_id=inbound.id, reason="nonmember", status=status)
        )
    await db.commit()


@pytest.fixture
async def world(
    client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
) -> AsyncIterator[World]:
    with time_machine.travel(NOW, tick=False):
        security = runtime.settings.security
        people = {
            name: await make_user(db, security, email=f"{name}@example.org")
            for name in ("ann", "otto", "mo", "stranger")
        }
        await make_user(db, security, email="root@example.org", role=SystemRole.ADMIN)
        domain = await make_domain(db, "lists.example.org")
        alpha = await make_list(db, domain, "alpha", name="Alpha")
        beta = await make_list(db, domain, "beta", name="Beta")
        db.add_all(
            [
                ListRole(list_id=alpha.id, user_id=people["ann"].id, role="owner"),
                ListRole(list_id=alpha.id, user_id=people["mo"].id, role="moderator"),
                ListRole(list_id=beta.id, user_id=people["otto"].id, role="owner"),
            ]
        )
        await _activity(db, alpha, beta)
        headers = {
            name: await login(client, f"{name}@example.org")
            for name in ("ann", "otto", "mo", "stranger", "root")
        }
        yield World(alpha, beta, headers)


async def _get(client: httpx.AsyncClient, world: World, who: str, **params: Any) -> dict[str, Any]:
    response = await client.get(URL, headers=world.headers[who], params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _day(days: list[dict[str, Any]], ago: int) -> tuple[int, int, int]:
    entry = next(d for d in days if d["day"] == (TODAY - timedelta(days=ago)).isoformat())
    return entry["new_subscribers"], entry["unsubscribed"], entry["messages"]


async def test_an_owner_sees_only_their_list(client: httpx.AsyncClient, world: World) -> None:
    ann = await _get(client, world, "ann")
    assert ann["totals"] == {
        "users": None,
        "lists": 1,
        "active_subscribers": 3,
        "archived_messages": 4,
        "pending_moderation": 1,
        "pending_deliveries": 1,
    }
    assert ann["since"] == (TODAY - timedelta(days=29)).isoformat()
    assert [d["day"] for d in ann["days"]][-1] == TODAY.isoformat()
    assert len(ann["days"]) == 30
    assert [row["name"] for row in ann["lists"]] == ["Alpha"]
    alpha = ann["lists"][0]
    assert (alpha["active_subscribers"], alpha["messages"], alpha["pending_moderation"]) == (
        3,
        4,
        1,
    )
    assert alpha["address"] == "alpha@lists.example.org"
    for series in (ann["days"], alpha["days"]):
        assert _day(series, 0) == (2, 0, 2)
        assert _day(series, 1) == (0, 1, 0)
        assert _day(series, 2) == (1, 0, 0)
        assert _day(series, 3) == (0, 0, 1)
        assert _day(series, 5) == (1, 0, 0)
        assert sum(d["messages"] for d in series) == 3  # the post of 40 days ago is outside

    otto = await _get(client, world, "otto")
    assert (otto["totals"]["lists"], otto["totals"]["active_subscribers"]) == (1, 2)
    assert (otto["totals"]["archived_messages"], otto["totals"]["pending_moderation"]) == (5, 2)
    assert otto["totals"]["pending_deliveries"] == 0
    assert [row["name"] for row in otto["lists"]] == ["Beta"]
    assert sum(d["new_subscribers"] for d in otto["days"]) == 1

    assert (await _get(client, world, "mo"))["totals"] == ann["totals"]
    stranger = await _get(client, world, "stranger")
    assert stranger["lists"] == []
    assert stranger["totals"] == dict.fromkeys(ann["totals"], 0) | {"users": None}
    assert {sum(d[k] for d in stranger["days"]) for k in ("new_subscribers", "messages")} == {0}


async def test_an_admin_sees_everything_and_windows_vary(
    client: httpx.AsyncClient, world: World
) -> None:
    root = await _get(client, world, "root")
    assert root["totals"] == {
        "users": 5,
        "lists": 2,
        "active_subscribers": 5,
        "archived_messages": 9,
        "pending_moderation": 3,
        "pending_deliveries": 1,
    }
    assert [row["name"] for row in root["lists"]] == ["Alpha", "Beta"]  # most subscribers first
    assert _day(root["days"], 0) == (3, 0, 3)

    week = await _get(client, world, "root", days=7)
    assert len(week["days"]) == 7
    assert week["since"] == (TODAY - timedelta(days=6)).isoformat()
    long = await _get(client, world, "ann", days=60)
    assert sum(d["messages"] for d in long["days"]) == 4
    assert date.fromisoformat(long["days"][0]["day"]) == TODAY - timedelta(days=59)
    assert len((await _get(client, world, "ann", days=365))["days"]) == 365

    one = await _get(client, world, "root", list_id=world.beta.id)
    assert [row["name"] for row in one["lists"]] == ["Beta"]
    assert one["totals"]["active_subscribers"] == 2


async def test_bounds_and_other_peoples_lists(client: httpx.AsyncClient, world: World) -> None:
    ann = world.headers["ann"]
    for days in (0, 366, -1):
        response = await client.get(URL, headers=ann, params={"days": days})
        assert response.status_code == 422, days
    assert (
        await client.get(URL, headers=ann, params={"list_id": world.beta.id})
    ).status_code == 403
    assert (await client.get(URL, headers=ann, params={"list_id": 999_999})).status_code == 404
    assert (await client.get(URL)).status_code == 401
