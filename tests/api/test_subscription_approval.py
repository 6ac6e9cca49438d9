"""Lists that need an owner's approval: confirm by mail, owners are told, approve or reject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, ListRole, MailingList, Subscriber
from oak_maillist.runtime import Runtime
from tests.api.mailing import jobs_relaying_to, link_token
from tests.factories import login, make_domain, make_list, make_user
from tests.sink import Received, Sink

API = "/api/v1"


@pytest.fixture
async def mailing(runtime: Runtime, sink: Sink) -> AsyncIterator[None]:
    async with jobs_relaying_to(runtime, sink):
        yield


@dataclass
class World:
    club: MailingList
    other: MailingList
    ann: dict[str, str]  # owner, reads Chinese
    mo: dict[str, str]  # moderator
    otto: dict[str, str]  # owner of the other list

    @property
    def requests(self) -> str:
        return f"{API}/lists/{self.club.id}/subscription-requests"


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime) -> World:
    security = runtime.settings.security
    people = {
        name: await make_user(db, security, email=f"{name}@example.org", language=language)
        for name, language in (("ann", "zh-CN"), ("bob", "en"), ("mo", "en"), ("otto", "en"))
    }
    domain = await make_domain(db, "lists.example.org")
    club = await make_list(db, domain, "club", name="Club", subscription_policy="approval")
    other = await make_list(db, domain, "other", subscription_policy="approval")
    db.add_all(
        [
            ListRole(list_id=club.id, user_id=people["ann"].id, role="owner"),
            ListRole(list_id=club.id, user_id=people["bob"].id, role="owner"),
            ListRole(list_id=club.id, user_id=people["mo"].id, role="moderator"),
            ListRole(list_id=other.id, user_id=people["otto"].id, role="owner"),
        ]
    )
    await db.commit()
    return World(
        club,
        other,
        *[await login(client, f"{name}@example.org") for name in ("ann", "mo", "otto")],
    )


async def _confirmed(client: httpx.AsyncClient, world: World, sink: Sink, email: str) -> int:
    """Subscribe `email` and follow its confirmation link; the number of mails received."""
    seen = len(sink.received)
    asked = await client.post(
        f"{API}/lists/{world.club.id}/subscribe", json={"email": email, "name": "New Bie"}
    )
    assert asked.status_code == 202
    mail = (await sink.wait_for(seen + 1))[seen]
    assert mail.recipients == [email]
    token = link_token(mail.message.get_content(), "subscribe/confirm")
    confirmed = await client.post(f"{API}/subscriptions/confirm", json={"token": token})
    assert confirmed.json()["status"] == "awaiting_approval"
    return seen + 1


def _by_recipient(received: list[Received]) -> dict[str, Received]:
    return {mail.recipients[0]: mail for mail in received}


async def _actions(db: AsyncSession) -> list[tuple[str, str]]:
    rows = await db.execute(
        select(ActivityLog.action, ActivityLog.details)
        .where(ActivityLog.action.in_(("subscriber.approved", "subscriber.rejected")))
        .order_by(ActivityLog.id)
    )
    return [(action, str(details.get("reason", ""))) for action, details in rows]


@pytest.mark.usefixtures("mailing")
async def test_owners_are_told_and_approval_sends_the_welcome(
    client: httpx.AsyncClient, world: World, sink: Sink, db: AsyncSession
) -> None:
    seen = await _confirmed(client, world, sink, "Newbie@example.org")
    owners = _by_recipient((await sink.wait_for(seen + 2))[seen:])
    assert set(owners) == {"ann@example.org", "bob@example.org"}
    english = owners["bob@example.org"].message
    assert english["Subject"] == "[Club] Subscription request from Newbie@example.org"
    assert f"/lists/{world.club.id}/requests" in english.get_content()
    assert "订阅申请" in owners["ann@example.org"].message["Subject"]

    assert (await client.get(world.requests, headers=world.mo)).status_code == 403
    assert (await client.get(world.requests, headers=world.otto)).status_code == 403
    waiting = (await client.get(world.requests, headers=world.ann)).json()
    assert waiting["total"] == 1
    item = waiting["items"][0]
    assert (item["email"], item["name"], item["source"]) == ("Newbie@example.org", "New Bie", "web")
    assert "waiting_since" in item

    foreign = await client.post(
        f"{API}/lists/{world.other.id}/subscription-requests/{item['id']}/approve",
        headers=world.otto,
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (
        404,
        "subscription_request_not_found",
    )
    approved = await client.post(f"{world.requests}/{item['id']}/approve", headers=world.ann)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["subscribed_at"] is not None) == (
        "active",
        True,
    )
    welcome = (await sink.wait_for(seen + 3))[seen + 2].message
    assert (welcome["To"], welcome["Subject"]) == ("Newbie@example.org", "Welcome to Club")
    twice = await client.post(f"{world.requests}/{item['id']}/approve", headers=world.ann)
    assert twice.status_code == 404
    assert (await client.get(world.requests, headers=world.ann)).json()["total"] == 0
    assert await _actions(db) == [("subscriber.approved", "")]
    assert len(sink.received) == seen + 3


@pytest.mark.usefixtures("mailing")
async def test_rejection_tells_the_requester_and_removes_them(
    client: httpx.AsyncClient, world: World, sink: Sink, db: AsyncSession
) -> None:
    for email in ("nope@example.org", "quiet@example.org"):
        seen = await _confirmed(client, world, sink, email)
        await sink.wait_for(seen + 2)  # both owners told
    waiting = (await client.get(world.requests, headers=world.ann)).json()["items"]
    ids = {item["email"]: item["id"] for item in waiting}

    rejected = await client.post(
        f"{world.requests}/{ids['nope@example.org']}/reject",
        headers=world.ann,
        json={"reason": "Members of the board only"},
    )
    assert rejected.status_code == 204
    notice = (await sink.wait_for(7))[6].message
    assert (notice["To"], notice["Subject"]) == (
        "nope@example.org",
        "Your request to join Club was declined",
    )
    assert "Reason: Members of the board only" in notice.get_content()

    silent = await client.post(
        f"{world.requests}/{ids['quiet@example.org']}/reject", headers=world.ann
    )
    assert silent.status_code == 204
    quiet = (await sink.wait_for(8))[7].message
    assert quiet["To"] == "quiet@example.org"
    assert "Reason" not in quiet.get_content()

    left = (await db.execute(select(Subscriber).where(Subscriber.list_id == world.club.id))).all()
    assert left == []
    assert (await client.get(world.requests, headers=world.ann)).json()["total"] == 0
    assert await _actions(db) == [
        ("subscriber.rejected", "Members of the board only"),
        ("subscriber.rejected", ""),
    ]
    bad = await client.post(
        f"{world.requests}/{ids['quiet@example.org']}/reject",
        headers=world.ann,
        json={"reason": "x" * 1001},
    )
    assert bad.status_code == 422
