"""Joining and leaving a list by mail, end to end over real SMTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import MailingList, Subscriber
from oak_maillist.runtime import Runtime
from tests.api.mailing import jobs_relaying_to, link_token
from tests.factories import make_domain, make_list
from tests.sink import Sink


@pytest.fixture
async def mailing(runtime: Runtime, sink: Sink) -> AsyncIterator[None]:
    """Jobs run in this process and the relay is the sink."""
    async with jobs_relaying_to(runtime, sink):
        yield


@pytest.fixture
async def lists(db: AsyncSession) -> dict[str, MailingList]:
    domain = await make_domain(db, "lists.example.org")
    found = {
        "open": await make_list(db, domain, "dev", name="Developers"),
        "invite": await make_list(db, domain, "board", subscription_policy="invite"),
        "private": await make_list(db, domain, "staff", visibility="private"),
    }
    await db.commit()
    return found


async def _subscriber(runtime: Runtime, email: str) -> Subscriber:
    async with runtime.sessionmaker() as session:
        row = (
            await session.execute(select(Subscriber).where(Subscriber.email == email))
        ).scalar_one()
    return row


@pytest.mark.usefixtures("mailing")
async def test_round_trip_subscribe_confirm_welcome_preferences_one_click(
    client: httpx.AsyncClient, lists: dict[str, MailingList], sink: Sink, runtime: Runtime
) -> None:
    list_id = lists["open"].id
    asked = await client.post(
        f"/api/v1/lists/{list_id}/subscribe",
        json={"email": "Newbie@Example.org", "name": "New Bie"},
    )
    assert asked.status_code == 202
    confirmation = (await sink.wait_for(1))[0]
    assert confirmation.recipients == ["Newbie@example.org"]
    assert confirmation.sender == "dev-bounces@lists.example.org"
    message = confirmation.message
    assert message["From"].addresses[0].addr_spec == "dev-request@lists.example.org"
    assert "Developers" in message["Subject"]
    assert (await _subscriber(runtime, "Newbie@example.org")).status == "pending"

    token = link_token(message.get_content(), "subscribe/confirm")
    confirmed = await client.post("/api/v1/subscriptions/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {
        "status": "active",
        "list_name": "Developers",
        "email": "Newbie@example.org",
    }
    welcome = (await sink.wait_for(2))[1].message
    assert welcome["To"] == "Newbie@example.org"
    reused = await client.post("/api/v1/subscriptions/confirm", json={"token": token})
    assert reused.status_code == 404
    assert reused.json()["error"]["code"] == "token_invalid"

    preferences = link_token(welcome.get_content(), "preferences")
    shown = (
        await client.get("/api/v1/subscriptions/preferences", params={"token": preferences})
    ).json()
    assert (shown["digest_mode"], shown["status"]) == ("none", "active")
    changed = await client.put(
        "/api/v1/subscriptions/preferences", json={"token": preferences, "digest_mode": "weekly"}
    )
    assert changed.json()["digest_mode"] == "weekly"

    unsubscribe = link_token(welcome.get_content(), "unsubscribe")
    # RFC 8058: what a mail client sends, and nothing more (no login, no cookie)
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with bare:
        one_click = await bare.post(
            "/api/v1/subscriptions/one-click",
            params={"token": unsubscribe},
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert one_click.status_code == 200, one_click.text
    assert one_click.json()["status"] == "unsubscribed"
    assert (await _subscriber(runtime, "Newbie@example.org")).status == "unsubscribed"
    goodbye = (await sink.wait_for(3))[2].message
    assert goodbye["To"] == "Newbie@example.org"
    again = await client.post("/api/v1/subscriptions/unsubscribe", json={"token": unsubscribe})
    assert again.json()["status"] == "unsubscribed"  # idempotent, no second goodbye
    assert len(sink.received) == 3


@pytest.mark.usefixtures("mailing")
async def test_answers_never_reveal_membership(
    client: httpx.AsyncClient, lists: dict[str, MailingList], sink: Sink, db: AsyncSession
) -> None:
    list_id = lists["open"].id
    db.add(
        Subscriber(
            list_id=list_id,
            email="member@example.org",
            email_normalized="member@example.org",
            status="active",
        )
    )
    await db.commit()
    member = await client.post(
        f"/api/v1/lists/{list_id}/subscribe", json={"email": "member@example.org"}
    )
    stranger = await client.post(
        f"/api/v1/lists/{list_id}/subscribe", json={"email": "other@example.org"}
    )
    assert member.status_code == stranger.status_code == 202
    assert member.json() == stranger.json()
    received = await sink.wait_for(1)
    assert [r.recipients for r in received] == [["other@example.org"]]


@pytest.mark.usefixtures("mailing")
async def test_tampered_and_expired_tokens_are_refused(
    client: httpx.AsyncClient, lists: dict[str, MailingList], sink: Sink
) -> None:
    list_id = lists["open"].id
    with time_machine.travel(time.time(), tick=True) as clock:
        await client.post(f"/api/v1/lists/{list_id}/subscribe", json={"email": "late@example.org"})
        token = link_token((await sink.wait_for(1))[0].message.get_content(), "subscribe/confirm")
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        bad = await client.post("/api/v1/subscriptions/confirm", json={"token": tampered})
        assert bad.json()["error"]["code"] == "token_invalid"
        clock.shift(49 * 3600)
        expired = await client.post("/api/v1/subscriptions/confirm", json={"token": token})
        assert expired.status_code == 404
        assert expired.json()["error"]["code"] == "token_invalid"
    forged = await client.post(
        "/api/v1/subscriptions/one-click",
        params={"token": "1.1.AAAAAAAAAAAAAAAAAAAAAA"},
        data={"List-Unsubscribe": "One-Click"},
    )
    assert forged.status_code == 404
    assert forged.json()["error"]["code"] == "link_invalid"
    wrong_body = await client.post(
        "/api/v1/subscriptions/one-click",
        params={"token": "1.1.x"},
        data={"List-Unsubscribe": "Yes"},
    )
    assert wrong_body.status_code == 422
    assert wrong_body.json()["error"]["details"]["fields"][0]["field"] == "body.List-Unsubscribe"


async def test_invite_only_and_private_lists(
    client: httpx.AsyncClient, lists: dict[str, MailingList]
) -> None:
    invite = await client.post(
        f"/api/v1/lists/{lists['invite'].id}/subscribe", json={"email": "x@example.org"}
    )
    assert invite.status_code == 403
    assert invite.json()["error"]["code"] == "list_not_open"
    private = await client.post(
        f"/api/v1/lists/{lists['private'].id}/subscribe", json={"email": "x@example.org"}
    )
    assert private.status_code == 404


async def test_subscription_bombing_is_limited(
    client: httpx.AsyncClient, lists: dict[str, MailingList]
) -> None:
    list_id = lists["open"].id
    statuses = [
        (
            await client.post(
                f"/api/v1/lists/{list_id}/subscribe", json={"email": "victim@example.org"}
            )
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [202] * 5 + [429]


@pytest.mark.usefixtures("mailing")
async def test_one_click_accepts_multipart_form(
    client: httpx.AsyncClient, lists: dict[str, MailingList], db: AsyncSession, runtime: Runtime
) -> None:
    from oak_maillist.services import subscriptions

    subscriber = Subscriber(
        list_id=lists["open"].id,
        email="m@example.org",
        email_normalized="m@example.org",
        status="active",
    )
    db.add(subscriber)
    await db.commit()
    token = subscriptions.unsubscribe_token(runtime.settings, subscriber)
    response = await client.post(
        "/api/v1/subscriptions/one-click",
        params={"token": token},
        files={"List-Unsubscribe": (None, "One-Click")},
    )
    assert response.status_code == 200, response.text
    assert (await _subscriber(runtime, "m@example.org")).status == "unsubscribed"
