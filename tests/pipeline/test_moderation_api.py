"""The moderation queue over HTTP, on posts that came in over SMTP."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import HeldMessage, ListRole, MailingList, Message, SenderPolicy
from oak_maillist.runtime import Runtime
from tests.factories import login, make_domain, make_list, make_user
from tests.pipeline.conftest import MailService, message

TO = ["dev@lists.example.org"]


@pytest.fixture
async def setup(db: AsyncSession, runtime: Runtime) -> dict[str, object]:
    domain = await make_domain(db, "lists.example.org")
    dev = await make_list(db, domain, "dev", name="Developers")
    other = await make_list(db, domain, "other")
    security = runtime.settings.security
    moderator = await make_user(db, security, "mod@example.org")
    stranger = await make_user(db, security, "mod-elsewhere@example.org")
    db.add(ListRole(list_id=dev.id, user_id=moderator.id, role="moderator"))
    db.add(ListRole(list_id=other.id, user_id=stranger.id, role="moderator"))
    await db.commit()
    return {"dev": dev, "other": other}


async def _hold(mail_service: MailService, sender: str, subject: str, n: int) -> int:
    await mail_service.deliver(
        message(sender=sender, subject=subject, message_id=f"<held{n}@example.net>"),
        sender=sender,
        recipients=TO,
    )
    async with mail_service.runtime.sessionmaker() as session:
        held = await session.scalar(select(HeldMessage).order_by(HeldMessage.id.desc()).limit(1))
        assert held is not None
        return held.id


async def test_queue_listing_detail_and_approval(
    mail_service: MailService, setup: dict[str, object], client: httpx.AsyncClient
) -> None:
    dev = setup["dev"]
    assert isinstance(dev, MailingList)
    first = await _hold(mail_service, "bob@example.net", "First", 1)
    second = await _hold(mail_service, "carol@example.net", "Second", 2)
    auth = await login(client, "mod@example.org")

    page = (await client.get(f"/api/v1/lists/{dev.id}/moderation", headers=auth)).json()
    assert [item["id"] for item in page["items"]] == [first, second]
    assert page["items"][0]["reason"] == "nonmember"
    assert page["total"] == 2
    filtered = await client.get("/api/v1/moderation?reason=too_big", headers=auth)
    assert filtered.json()["total"] == 0

    detail = (await client.get(f"/api/v1/moderation/{first}", headers=auth)).json()
    assert (detail["subject"], detail["from_name"], detail["text"].strip()) == (
        "First",
        "",
        "Hello, list.",
    )

    approved = await client.post(
        f"/api/v1/moderation/{first}/approve", json={"whitelist": True}, headers=auth
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["outcome"] == "accept"
    assert body["held"]["status"] == "approved"
    async with mail_service.runtime.sessionmaker() as session:
        post = await session.get(Message, body["message_id"])
        assert post is not None
        assert post.subject == "First"
        rule = await session.scalar(select(SenderPolicy))
        assert rule is not None
        assert (rule.kind, rule.pattern, rule.list_id) == ("whitelist", "bob@example.net", dev.id)

    again = await client.post(f"/api/v1/moderation/{first}/approve", headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_decided"

    # whitelisted now: bob's next post goes straight through
    row = await mail_service.deliver(
        message(sender="bob@example.net", message_id="<later@example.net>"),
        sender="bob@example.net",
        recipients=TO,
    )
    assert row.outcome == "accept"
    remaining = (await client.get("/api/v1/moderation", headers=auth)).json()
    assert [item["id"] for item in remaining["items"]] == [second]


async def test_reject_with_blacklist_notifies_the_poster(
    mail_service: MailService, setup: dict[str, object], client: httpx.AsyncClient
) -> None:
    held = await _hold(mail_service, "spam@example.net", "Buy now", 1)
    await mail_service.sink.wait_for(2)  # moderator notice and poster notice
    auth = await login(client, "mod@example.org")
    response = await client.post(
        f"/api/v1/moderation/{held}/reject",
        json={"note": "Off topic here.", "blacklist": True},
        headers=auth,
    )
    assert response.status_code == 200, response.text
    mails = await mail_service.sink.wait_for(3)
    notice = mails[-1].message
    assert mails[-1].recipients == ["spam@example.net"]
    assert "Off topic here." in notice.get_content()
    row = await mail_service.deliver(
        message(sender="spam@example.net", message_id="<again@example.net>"),
        sender="spam@example.net",
        recipients=TO,
    )
    assert row.outcome == "discard"
    assert "blacklisted" in row.reasons[0]


async def test_moderators_of_other_lists_see_nothing(
    mail_service: MailService, setup: dict[str, object], client: httpx.AsyncClient
) -> None:
    held = await _hold(mail_service, "bob@example.net", "Private", 1)
    auth = await login(client, "mod-elsewhere@example.org")
    assert (await client.get("/api/v1/moderation", headers=auth)).json()["total"] == 0
    for method, path in (
        ("GET", f"/api/v1/moderation/{held}"),
        ("POST", f"/api/v1/moderation/{held}/approve"),
        ("POST", f"/api/v1/moderation/{held}/discard"),
    ):
        response = await client.request(method, path, headers=auth)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "held_message_not_found"
    dev = setup["dev"]
    assert isinstance(dev, MailingList)
    denied = await client.get(f"/api/v1/lists/{dev.id}/moderation", headers=auth)
    assert denied.status_code in (403, 404)


async def test_bulk_decisions_answer_per_item(
    mail_service: MailService, setup: dict[str, object], client: httpx.AsyncClient
) -> None:
    ids = [await _hold(mail_service, f"p{n}@example.net", f"Post {n}", n) for n in range(3)]
    auth = await login(client, "mod@example.org")
    await client.post(f"/api/v1/moderation/{ids[0]}/discard", headers=auth)
    response = await client.post(
        "/api/v1/moderation/bulk",
        json={"ids": [*ids, 999_999], "action": "discard", "note": "spam wave"},
        headers=auth,
    )
    assert response.status_code == 200, response.text
    assert [(r["id"], r["ok"], r["error"]) for r in response.json()] == [
        (ids[0], False, "already_decided"),
        (ids[1], True, ""),
        (ids[2], True, ""),
        (999_999, False, "held_message_not_found"),
    ]


async def test_approval_resumes_the_chain_after_the_holding_rule(
    mail_service: MailService,
    setup: dict[str, object],
    client: httpx.AsyncClient,
    db: AsyncSession,
) -> None:
    dev = setup["dev"]
    assert isinstance(dev, MailingList)
    dev.emergency_hold = True
    await db.merge(dev)
    await db.commit()
    held = await _hold(mail_service, "bob@example.net", "Twice held", 1)
    auth = await login(client, "mod@example.org")
    response = await client.post(f"/api/v1/moderation/{held}/approve", headers=auth)
    body = response.json()
    # approved past the membership rule, the emergency hold still applies
    assert body["outcome"] == "hold"
    queue = (await client.get(f"/api/v1/lists/{dev.id}/moderation", headers=auth)).json()
    assert [item["reason"] for item in queue["items"]] == ["emergency"]
    second = queue["items"][0]["id"]
    final = (await client.post(f"/api/v1/moderation/{second}/approve", headers=auth)).json()
    assert final["outcome"] == "accept"
    assert final["message_id"]


async def test_held_posts_expire(
    mail_service: MailService, setup: dict[str, object], db: AsyncSession
) -> None:
    from datetime import timedelta

    from oak_maillist.db.types import utcnow
    from oak_maillist.services import moderation

    held_id = await _hold(mail_service, "bob@example.net", "Old", 1)
    held = await db.get(HeldMessage, held_id)
    assert held is not None
    held.expires_at = utcnow() - timedelta(minutes=1)
    await db.commit()
    assert await moderation.expire(db) == 1
    await db.commit()
    await db.refresh(held)
    assert held.status == "expired"
    assert await moderation.expire(db) == 0
