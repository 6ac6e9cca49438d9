"""Invitations: an owner invites, the invitee accepts through the link, over real SMTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, ListRole, MailingList, Subscriber
from oak_maillist.runtime import Runtime
from tests.api.mailing import jobs_relaying_to, link_token
from tests.factories import login, make_domain, make_list, make_user
from tests.sink import Sink

API = "/api/v1"


@pytest.fixture
async def mailing(runtime: Runtime, sink: Sink) -> AsyncIterator[None]:
    async with jobs_relaying_to(runtime, sink):
        yield


@dataclass
class World:
    board: MailingList  # Ann's private, invite-only list
    other: MailingList  # Otto's list
    ann: dict[str, str]
    otto: dict[str, str]

    def url(self, mlist: MailingList | None = None) -> str:
        return f"{API}/lists/{(mlist or self.board).id}/invitations"


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime) -> World:
    security = runtime.settings.security
    ann = await make_user(db, security, email="ann@example.org", display_name="Ann Owner")
    otto = await make_user(db, security, email="otto@example.org")
    domain = await make_domain(db, "lists.example.org")
    board = await make_list(
        db,
        domain,
        "board",
        name="Board",
        description="Where the board talks",
        visibility="private",
        subscription_policy="invite",
    )
    other = await make_list(db, domain, "other")
    db.add_all(
        [
            ListRole(list_id=board.id, user_id=ann.id, role="owner"),
            ListRole(list_id=other.id, user_id=otto.id, role="owner"),
            Subscriber(
                list_id=board.id,
                email="member@example.org",
                email_normalized="member@example.org",
                status="active",
            ),
        ]
    )
    await db.commit()
    return World(
        board,
        other,
        await login(client, "ann@example.org"),
        await login(client, "otto@example.org"),
    )


async def _actions(db: AsyncSession) -> list[tuple[str, int | None]]:
    rows = await db.execute(
        select(ActivityLog)
        .where(ActivityLog.action.startswith("invitation."))
        .order_by(ActivityLog.id)
    )
    return [(row.action, row.actor_id) for row in rows.scalars()]


async def _invite(
    client: httpx.AsyncClient, world: World, *emails: str, **fields: object
) -> httpx.Response:
    body = {"invitees": [{"email": email} for email in emails], **fields}
    return await client.post(world.url(), headers=world.ann, json=body)


@pytest.mark.usefixtures("mailing")
async def test_invitation_round_trip_over_smtp(
    client: httpx.AsyncClient, world: World, sink: Sink, db: AsyncSession
) -> None:
    created = await client.post(
        world.url(),
        headers=world.ann,
        json={
            "invitees": [
                {"email": "Grace@Example.org", "name": "Grace Hopper"},
                {"email": "member@example.org"},
                {"email": "grace@example.org", "name": "Same address again"},
            ],
            "note": "We meet on Tuesdays.\nBring ideas!",
        },
    )
    assert created.status_code == 201, created.text
    report = created.json()
    assert [(i["email"], i["name"]) for i in report["invited"]] == [
        ("Grace@example.org", "Grace Hopper")
    ]
    assert report["skipped"] == [{"email": "member@example.org", "reason": "already_subscribed"}]
    pending = (await client.get(world.url(), headers=world.ann)).json()
    assert (pending["total"], pending["items"][0]["email"]) == (1, "Grace@example.org")

    invitation = (await sink.wait_for(1))[0]
    assert invitation.recipients == ["Grace@example.org"]
    assert invitation.sender == "board-bounces@lists.example.org"
    message = invitation.message
    assert message["Subject"] == "Ann Owner invites you to join Board"
    body = message.get_content().replace("\r\n", "\n")
    assert "We meet on Tuesdays.\nBring ideas!" in body
    assert "168 hours" in body
    token = link_token(body, "invitation")

    # The page may show the list, and nothing else, to whoever holds the link.
    preview = await client.get(f"{API}/subscriptions/invitation", params={"token": token})
    assert preview.json() == {"list_name": "Board", "list_description": "Where the board talks"}

    accepted = await client.post(f"{API}/subscriptions/invitation/accept", json={"token": token})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "status": "active",
        "list_name": "Board",
        "email": "Grace@example.org",
    }
    welcome = (await sink.wait_for(2))[1].message
    assert (welcome["To"], welcome["Subject"]) == ("Grace@example.org", "Welcome to Board")
    grace = (
        await db.execute(
            select(Subscriber).where(Subscriber.email_normalized == "grace@example.org")
        )
    ).scalar_one()
    assert (grace.status, grace.source, grace.name) == ("active", "invite", "Grace Hopper")

    again = await client.post(f"{API}/subscriptions/invitation/accept", json={"token": token})
    assert (again.status_code, again.json()["error"]["code"]) == (404, "token_invalid")
    used = await client.get(f"{API}/subscriptions/invitation", params={"token": token})
    assert used.status_code == 404
    assert (await client.get(world.url(), headers=world.ann)).json()["total"] == 0
    ann_id = (await client.get(f"{API}/auth/me", headers=world.ann)).json()["id"]
    assert await _actions(db) == [("invitation.created", ann_id), ("invitation.accepted", None)]
    assert len(sink.received) == 2


@pytest.mark.usefixtures("mailing")
async def test_replaced_revoked_and_expired_invitations_are_refused(
    client: httpx.AsyncClient, world: World, sink: Sink, db: AsyncSession
) -> None:
    with time_machine.travel(time.time(), tick=True) as clock:
        await _invite(client, world, "x@example.org")
        first = link_token((await sink.wait_for(1))[0].message.get_content(), "invitation")
        # Inviting again replaces the invitation: only the newest link works.
        again = (await _invite(client, world, "x@example.org", language="zh-CN")).json()
        second_mail = (await sink.wait_for(2))[1].message
        assert second_mail["Subject"] == "Ann Owner 邀请您加入 Board"
        second = link_token(second_mail.get_content(), "invitation")
        replaced = await client.post(
            f"{API}/subscriptions/invitation/accept", json={"token": first}
        )
        assert replaced.json()["error"]["code"] == "token_invalid"

        invitation_id = again["invited"][0]["id"]
        # Another list's owner can neither see it through their list nor reach Ann's list.
        foreign = await client.delete(
            f"{world.url(world.other)}/{invitation_id}", headers=world.otto
        )
        assert (foreign.status_code, foreign.json()["error"]["code"]) == (
            404,
            "invitation_not_found",
        )
        assert (await client.get(world.url(), headers=world.otto)).status_code == 404
        revoked = await client.delete(f"{world.url()}/{invitation_id}", headers=world.ann)
        assert revoked.status_code == 204
        refused = await client.post(
            f"{API}/subscriptions/invitation/accept", json={"token": second}
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (404, "token_invalid")
        twice = await client.delete(f"{world.url()}/{invitation_id}", headers=world.ann)
        assert twice.status_code == 404

        await _invite(client, world, "late@example.org")
        late = link_token((await sink.wait_for(3))[2].message.get_content(), "invitation")
        assert (await client.get(world.url(), headers=world.ann)).json()["total"] == 1
        clock.shift(7 * 24 * 3600 + 60)
        expired = await client.post(f"{API}/subscriptions/invitation/accept", json={"token": late})
        assert (expired.status_code, expired.json()["error"]["code"]) == (404, "token_invalid")
        ann = await login(client, "ann@example.org")  # the old access token expired too
        assert (await client.get(world.url(), headers=ann)).json()["total"] == 0

    tampered = await client.get(f"{API}/subscriptions/invitation", params={"token": late + "x"})
    assert tampered.status_code == 404
    subscribers = (await db.execute(select(Subscriber.email_normalized))).scalars().all()
    assert list(subscribers) == ["member@example.org"]
    assert [action for action, _actor in await _actions(db)] == [
        "invitation.created",
        "invitation.created",
        "invitation.revoked",
        "invitation.created",
    ]


async def test_what_an_invitation_request_may_hold(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    too_many = [f"p{n}@example.org" for n in range(101)]
    assert (await _invite(client, world, *too_many)).status_code == 422
    assert (await _invite(client, world)).status_code == 422
    assert (await _invite(client, world, "not an address")).status_code == 422
    assert (await _invite(client, world, "a@example.org", note="bad\x00note")).status_code == 422
    world.board.is_active = False
    await db.commit()
    closed = await _invite(client, world, "a@example.org")
    assert (closed.status_code, closed.json()["error"]["code"]) == (403, "list_not_open")
    assert (await client.get(world.url(), headers=world.ann)).json()["total"] == 0
