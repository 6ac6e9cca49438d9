"""Email templates over HTTP: site-wide and per-list overrides, preview, who may do what."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, ListRole, SystemRole
from oak_maillist.runtime import Runtime
from tests.factories import login, make_domain, make_list, make_user

API = "/api/v1"
WELCOME_ZH = {
    "subject": "欢迎来到 {{ list.name }}",
    "body": "{{ address }} 您好\n发信地址 {{ list_address }}\n",
}
CONFIRM_EN = {
    "subject": "Confirm {{ list.name }}",
    "body": "Click {{ confirm_url }} within {{ expires_hours }} hours.\n",
}


@dataclass
class World:
    list_id: int
    other_list_id: int
    admin: dict[str, str]
    owner: dict[str, str]
    other_owner: dict[str, str]
    moderator: dict[str, str]
    stranger: dict[str, str]


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime) -> World:
    security = runtime.settings.security
    await make_user(db, security, email="root@example.org", role=SystemRole.ADMIN)
    people = {
        name: await make_user(db, security, email=f"{name}@example.org")
        for name in ("ann", "otto", "mo", "stranger")
    }
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", name="Developers", visibility="private")
    other = await make_list(db, domain, "ops", name="Operations", visibility="private")
    db.add_all(
        [
            ListRole(list_id=mlist.id, user_id=people["ann"].id, role="owner"),
            ListRole(list_id=mlist.id, user_id=people["mo"].id, role="moderator"),
            ListRole(list_id=other.id, user_id=people["otto"].id, role="owner"),
        ]
    )
    await db.commit()
    return World(
        list_id=mlist.id,
        other_list_id=other.id,
        admin=await login(client, "root@example.org"),
        owner=await login(client, "ann@example.org"),
        other_owner=await login(client, "otto@example.org"),
        moderator=await login(client, "mo@example.org"),
        stranger=await login(client, "stranger@example.org"),
    )


async def _actions(db: AsyncSession) -> list[tuple[str, str, int | None]]:
    rows = await db.execute(
        select(ActivityLog)
        .where(ActivityLog.action.startswith("template."))
        .order_by(ActivityLog.id)
    )
    return [(row.action, row.target_id, row.list_id) for row in rows.scalars()]


async def test_admin_overrides_the_site_wide_welcome_in_chinese(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    url = f"{API}/templates/welcome/zh-CN"
    catalog = (await client.get(f"{API}/templates", headers=world.admin)).json()
    assert [item["name"] for item in catalog] == [
        "confirm",
        "welcome",
        "unsubscribe",
        "list_invite",
        "subscription_request",
        "subscription_rejected",
        "command_results",
        "moderation_notice",
        "poster_held",
        "poster_rejected",
        "bounce_warning",
        "bounce_notice",
        "digest",
        "footer",
        "digest_footer",
    ]
    welcome = next(item for item in catalog if item["name"] == "welcome")
    assert {v["name"] for v in welcome["variables"]} >= {"list", "address", "unsubscribe_url"}
    assert welcome["overridden_languages"] == []

    before = (await client.get(url, headers=world.admin)).json()
    assert (before["source"], before["overridden"]) == ("builtin", False)
    assert before["subject"].startswith("欢迎加入")

    saved = await client.put(url, headers=world.admin, json=WELCOME_ZH)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["source"], saved.json()["overridden"]) == ("site", True)
    after = (await client.get(url, headers=world.admin)).json()
    assert (after["subject"], after["body"]) == (WELCOME_ZH["subject"], WELCOME_ZH["body"])
    catalog = (await client.get(f"{API}/templates", headers=world.admin)).json()
    assert next(i for i in catalog if i["name"] == "welcome")["overridden_languages"] == ["zh-CN"]
    # English is untouched.
    english = (await client.get(f"{API}/templates/welcome/en", headers=world.admin)).json()
    assert english["source"] == "builtin"

    preview = await client.post(
        f"{API}/templates/preview",
        headers=world.admin,
        json={"name": "welcome", "language": "zh-CN"},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "subject": "欢迎来到 Oak Developers",
        "body": "ada@example.org 您好\n发信地址 dev@lists.example.org\n",
    }
    # The list inherits the site-wide override.
    inherited = await client.get(
        f"{API}/lists/{world.list_id}/templates/welcome/zh-CN", headers=world.owner
    )
    assert (inherited.json()["source"], inherited.json()["overridden"]) == ("site", False)

    reset = await client.delete(url, headers=world.admin)
    assert reset.status_code == 204
    again = (await client.get(url, headers=world.admin)).json()
    assert (again["source"], again["subject"]) == ("builtin", before["subject"])
    assert await _actions(db) == [
        ("template.updated", "welcome/zh-CN", None),
        ("template.reset", "welcome/zh-CN", None),
    ]


async def test_owner_overrides_confirm_for_their_list(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    url = f"{API}/lists/{world.list_id}/templates/confirm/en"
    saved = await client.put(url, headers=world.owner, json=CONFIRM_EN)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["source"], saved.json()["overridden"]) == ("list", True)
    listing = (
        await client.get(f"{API}/lists/{world.list_id}/templates", headers=world.owner)
    ).json()
    assert next(i for i in listing if i["name"] == "confirm")["overridden_languages"] == ["en"]
    # Site-wide, nothing changed.
    site = (await client.get(f"{API}/templates/confirm/en", headers=world.admin)).json()
    assert site["source"] == "builtin"

    preview = await client.post(
        f"{API}/templates/preview",
        headers=world.owner,
        json={"name": "confirm", "language": "en", "list_id": world.list_id},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "subject": "Confirm Developers",  # the list's own name stands in for the sample's
        "body": "Click https://lists.example.org/subscribe/confirm?token=3f9a1c within 48 hours.\n",
    }
    draft = await client.post(
        f"{API}/templates/preview",
        headers=world.owner,
        json={
            "name": "confirm",
            "language": "zh-CN",
            "subject": "{{ list.address }}",
            "body": "x\n",
        },
    )
    assert draft.json() == {"subject": "dev@lists.example.org", "body": "x\n"}

    reset = await client.delete(url, headers=world.owner)
    assert reset.status_code == 204
    back = (await client.get(url, headers=world.owner)).json()
    assert (back["source"], back["overridden"]) == ("builtin", False)
    assert back["subject"] == "Please confirm your subscription to {{ list.name }}"
    assert await _actions(db) == [
        ("template.updated", "confirm/en", world.list_id),
        ("template.reset", "confirm/en", world.list_id),
    ]


async def test_strangers_moderators_and_anonymous_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    base = f"{API}/lists/{world.list_id}/templates"
    saved = await client.put(f"{base}/confirm/en", headers=world.owner, json=CONFIRM_EN)
    assert saved.status_code == 200
    calls = [
        ("GET", base, None),
        ("GET", f"{base}/confirm/en", None),
        ("PUT", f"{base}/confirm/en", {"subject": "Mine", "body": "x\n"}),
        ("DELETE", f"{base}/confirm/en", None),
    ]
    for headers, status in (
        (world.other_owner, 404),  # a private list does not exist for the owner of another
        (world.stranger, 404),
        (world.moderator, 403),
        ({}, 401),
    ):
        for method, url, body in calls:
            response = await client.request(method, url, headers=headers, json=body)
            assert response.status_code == status, (method, url, headers, response.text)
    for headers, status in ((world.owner, 403), (world.moderator, 403), ({}, 401)):
        for method, url, body in (
            ("GET", f"{API}/templates", None),
            ("GET", f"{API}/templates/confirm/en", None),
            ("PUT", f"{API}/templates/confirm/en", CONFIRM_EN),
            ("DELETE", f"{API}/templates/confirm/en", None),
        ):
            response = await client.request(method, url, headers=headers, json=body)
            assert response.status_code == status, (method, url, headers, response.text)
    # Preview: owners of some list and administrators; a list only by its owner.
    preview = {"name": "confirm", "language": "en", "list_id": world.list_id}
    for headers, status in (
        (world.other_owner, 404),
        (world.moderator, 403),
        (world.stranger, 403),
        ({}, 401),
        (world.admin, 200),
    ):
        response = await client.post(f"{API}/templates/preview", headers=headers, json=preview)
        assert response.status_code == status, (headers, response.text)
    own = await client.post(
        f"{API}/templates/preview", headers=world.other_owner, json={"name": "confirm"}
    )
    assert own.status_code == 200
    # Nothing the refused callers sent changed the template.
    kept = (await client.get(f"{base}/confirm/en", headers=world.owner)).json()
    assert (kept["source"], kept["subject"]) == ("list", CONFIRM_EN["subject"])


async def test_invalid_templates_answer_422_with_the_line(
    client: httpx.AsyncClient, world: World
) -> None:
    site = f"{API}/templates/welcome/en"
    own = f"{API}/lists/{world.list_id}/templates/welcome/en"
    cases = [
        ({"subject": "Hi", "body": "one\ntwo\n{% for %}\n"}, "template_invalid", "body", 3),
        ({"subject": "Hi", "body": "one\n{{ confirm_url }}\n"}, "template_invalid", "body", 2),
        ({"subject": "Hi {{ nope }}", "body": "x\n"}, "template_invalid", "subject", 1),
        ({"subject": "Hi", "body": "\n{{ ''.__class__ }}\n"}, "template_unsafe", "body", 2),
    ]
    for body, code, field, line in cases:
        for url, headers in ((site, world.admin), (own, world.owner)):
            response = await client.put(url, headers=headers, json=body)
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == code
            assert (error["details"]["field"], error["details"]["line"]) == (field, line)
            assert error["details"]["message"]
        preview = await client.post(
            f"{API}/templates/preview", headers=world.owner, json={"name": "welcome", **body}
        )
        assert preview.status_code == 422
        assert preview.json()["error"]["details"]["line"] == line
    assert (await client.get(site, headers=world.admin)).json()["source"] == "builtin"
    assert (await client.get(own, headers=world.owner)).json()["source"] == "builtin"

    unknown = await client.get(f"{API}/templates/nope/en", headers=world.admin)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "template_not_found")
    unknown_put = await client.put(
        f"{API}/lists/{world.list_id}/templates/nope/en", headers=world.owner, json=CONFIRM_EN
    )
    assert unknown_put.json()["error"]["code"] == "template_not_found"
    language = await client.get(f"{API}/templates/welcome/fr", headers=world.admin)
    assert language.status_code == 422
    too_long = await client.put(
        site, headers=world.admin, json={"subject": "Hi", "body": "x" * 16_001}
    )
    assert too_long.status_code == 422
    footer = await client.put(
        f"{API}/templates/footer/en", headers=world.admin, json={"subject": "Hi", "body": "-- \n"}
    )
    assert footer.json()["error"]["details"]["field"] == "subject"
