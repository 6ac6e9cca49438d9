"""Mailing lists: who sees and changes what, settings, deactivation, owners and moderators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, Domain, ListRole, Subscriber, SystemRole
from oak_maillist.runtime import Runtime
from tests.factories import login, make_domain, make_list, make_user


@dataclass
class World:
    domain: Domain
    admin: dict[str, str]


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime) -> World:
    security = runtime.settings.security
    await make_user(db, security, email="root@example.org", role=SystemRole.ADMIN)
    for name in ("ann", "otto", "mo", "stranger"):
        await make_user(db, security, email=f"{name}@example.org")
    domain = await make_domain(db, "lists.example.org")
    await db.commit()
    return World(domain, await login(client, "root@example.org"))


async def _create(
    client: httpx.AsyncClient, admin: dict[str, str], **fields: object
) -> dict[str, Any]:
    body = {
        "domain_id": fields.pop("domain_id"),
        "local_part": fields.pop("local_part"),
        "name": fields.pop("name", "A list"),
        **fields,
    }
    response = await client.post("/api/v1/lists", headers=admin, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_create_with_every_setting_and_counts(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    domain = world.domain
    created = await _create(
        client,
        world.admin,
        domain_id=domain.id,
        local_part="Dev",
        name="Developers",
        visibility="private",
        subscription_policy="approval",
        posting_policy="moderated",
        subject_prefix="[dev]",
        reply_to_mode="list",
        footer="-- \nDev list",
        max_message_size=2048,
        archive_public=True,
        ai_moderation_enabled=True,
    )
    assert created["address"] == "dev@lists.example.org"
    for key, value in {
        "local_part": "dev",
        "visibility": "private",
        "subscription_policy": "approval",
        "posting_policy": "moderated",
        "subject_prefix": "[dev]",
        "reply_to_mode": "list",
        "max_message_size": 2048,
        "archive_public": True,
        "ai_moderation_enabled": True,
        "is_active": True,
        "my_role": "admin",
    }.items():
        assert created[key] == value, key
    db.add(
        Subscriber(
            list_id=created["id"],
            email="s@example.org",
            email_normalized="s@example.org",
            status="active",
        )
    )
    await db.commit()
    again = (await client.get(f"/api/v1/lists/{created['id']}", headers=world.admin)).json()
    assert again["counts"] == {"subscribers": 1, "messages": 0, "pending_moderation": 0}


async def test_bad_names_and_duplicates(client: httpx.AsyncClient, world: World) -> None:
    domain = world.domain
    for local in ("dev-request", "dev-bounces", "bad name", "-dev", "dev+x"):
        response = await client.post(
            "/api/v1/lists",
            headers=world.admin,
            json={"domain_id": domain.id, "local_part": local, "name": "x"},
        )
        assert response.status_code == 422, local
        assert response.json()["error"]["code"] == "invalid_list_address"
    await _create(client, world.admin, domain_id=domain.id, local_part="dev")
    duplicate = await client.post(
        "/api/v1/lists",
        headers=world.admin,
        json={"domain_id": domain.id, "local_part": "DEV", "name": "x"},
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "list_exists"
    no_domain = await client.post(
        "/api/v1/lists",
        headers=world.admin,
        json={"domain_id": 999999, "local_part": "x", "name": "x"},
    )
    assert no_domain.json()["error"]["code"] == "domain_not_found"
    needs_address = await client.post(
        "/api/v1/lists",
        headers=world.admin,
        json={
            "domain_id": domain.id,
            "local_part": "y",
            "name": "y",
            "reply_to_mode": "address",
        },
    )
    assert needs_address.json()["error"]["code"] == "invalid_list_setting"


async def test_owners_moderators_and_strangers(client: httpx.AsyncClient, world: World) -> None:
    domain = world.domain
    admin = world.admin
    private = await _create(
        client, admin, domain_id=domain.id, local_part="secret", visibility="private"
    )
    other = await _create(
        client, admin, domain_id=domain.id, local_part="other", visibility="private"
    )
    public = await _create(client, admin, domain_id=domain.id, local_part="open")
    for email, role in (("ann@example.org", "owner"), ("mo@example.org", "moderator")):
        granted = await client.post(
            f"/api/v1/lists/{private['id']}/roles",
            headers=admin,
            json={"email": email, "role": role},
        )
        assert granted.status_code == 201, granted.text
    ann = await login(client, "ann@example.org")
    mo = await login(client, "mo@example.org")
    stranger = await login(client, "stranger@example.org")

    seen = (await client.get("/api/v1/lists", headers=ann)).json()
    assert {item["local_part"] for item in seen["items"]} == {"secret", "open"}
    assert (await client.get("/api/v1/lists")).json()["total"] == 1  # anonymous: public only
    # another owner's private list does not exist for Ann; the public one is read-only
    assert (await client.get(f"/api/v1/lists/{other['id']}", headers=ann)).status_code == 404
    assert (
        await client.put(f"/api/v1/lists/{other['id']}", headers=ann, json={"name": "x"})
    ).status_code == 404
    assert (
        await client.put(f"/api/v1/lists/{public['id']}", headers=ann, json={"name": "x"})
    ).status_code == 403
    assert (await client.get(f"/api/v1/lists/{private['id']}", headers=stranger)).status_code == 404
    # a moderator sees the list but cannot change settings
    assert (await client.get(f"/api/v1/lists/{private['id']}", headers=mo)).json()[
        "my_role"
    ] == "moderator"
    refused = await client.put(f"/api/v1/lists/{private['id']}", headers=mo, json={"footer": "x"})
    assert refused.status_code == 403
    changed = await client.put(
        f"/api/v1/lists/{private['id']}",
        headers=ann,
        json={"footer": "bye", "subject_prefix": "[s]"},
    )
    assert (changed.json()["footer"], changed.json()["subject_prefix"]) == ("bye", "[s]")
    roles = (await client.get(f"/api/v1/lists/{private['id']}/roles", headers=mo)).json()
    assert {(r["email"], r["role"]) for r in roles} == {
        ("root@example.org", "owner"),
        ("ann@example.org", "owner"),
        ("mo@example.org", "moderator"),
    }


async def test_deactivate_keeps_everything_and_only_admin_reactivates(
    client: httpx.AsyncClient, world: World
) -> None:
    domain = world.domain
    admin = world.admin
    created = await _create(client, admin, domain_id=domain.id, local_part="dev")
    await client.post(
        f"/api/v1/lists/{created['id']}/roles",
        headers=admin,
        json={"email": "otto@example.org", "role": "owner"},
    )
    otto = await login(client, "otto@example.org")
    assert (await client.delete(f"/api/v1/lists/{created['id']}", headers=otto)).status_code == 204
    state = (await client.get(f"/api/v1/lists/{created['id']}", headers=otto)).json()
    assert state["is_active"] is False
    refused = await client.put(
        f"/api/v1/lists/{created['id']}", headers=otto, json={"is_active": True}
    )
    assert refused.json()["error"]["code"] == "reactivate_needs_admin"
    back = await client.put(
        f"/api/v1/lists/{created['id']}", headers=admin, json={"is_active": True}
    )
    assert back.json()["is_active"] is True


async def test_last_owner_stays(
    client: httpx.AsyncClient, world: World, db: AsyncSession, runtime: Runtime
) -> None:
    domain = world.domain
    mlist = await make_list(db, domain, "solo")
    ann = await make_user(db, runtime.settings.security, email="ann2@example.org")
    db.add(ListRole(list_id=mlist.id, user_id=ann.id, role="owner"))
    await db.commit()
    headers = await login(client, "ann2@example.org")
    response = await client.delete(
        f"/api/v1/lists/{mlist.id}/roles/owner/{ann.id}", headers=headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"


SITE_DEFAULTS = {
    "visibility": "private",
    "subscription_policy": "approval",
    "posting_policy": "moderated",
    "nonmember_action": "reject",
    "max_message_size": 4096,
    "archive_enabled": False,
    "archive_public": True,
    "language": "zh-CN",
    "ai_moderation_enabled": True,
}


async def test_new_lists_take_the_site_defaults(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    domain = world.domain
    admin = world.admin
    before = (await client.get("/api/v1/settings", headers=admin)).json()
    assert before["list_defaults"] == {
        "visibility": "public",
        "subscription_policy": "open",
        "posting_policy": "members",
        "nonmember_action": "hold",
        "max_message_size": 10 * 1024 * 1024,
        "archive_enabled": True,
        "archive_public": False,
        "language": "en",
        "ai_moderation_enabled": False,
    }
    plain = await _create(client, admin, domain_id=domain.id, local_part="plain")
    assert {key: plain[key] for key in SITE_DEFAULTS} == before["list_defaults"]

    half = {key: SITE_DEFAULTS[key] for key in ("visibility", "max_message_size")}
    changed = await client.patch(
        "/api/v1/settings",
        headers=admin,
        json={"list_defaults": half},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["list_defaults"] == before["list_defaults"] | half
    rest = await client.patch(
        "/api/v1/settings",
        headers=admin,
        json={"list_defaults": SITE_DEFAULTS, "site_name": "Lists"},
    )
    assert rest.json()["list_defaults"] == SITE_DEFAULTS
    assert rest.json()["site_name"] == "Lists"

    defaulted = await _create(client, admin, domain_id=domain.id, local_part="defaulted")
    assert {key: defaulted[key] for key in SITE_DEFAULTS} == SITE_DEFAULTS
    chosen = await _create(
        client,
        admin,
        domain_id=domain.id,
        local_part="chosen",
        visibility="public",
        archive_enabled=True,
        max_message_size=2048,
    )
    assert (chosen["visibility"], chosen["archive_enabled"], chosen["max_message_size"]) == (
        "public",
        True,
        2048,
    )
    assert chosen["posting_policy"] == "moderated"  # what was not given is the site's default
    # Lists that exist keep their settings.
    again = (await client.get(f"/api/v1/lists/{plain['id']}", headers=admin)).json()
    assert again["visibility"] == "public"

    for bad in (
        {"max_message_size": 10},
        {"visibility": "secret"},
        {"posting_policy": None, "colour": "red"},
    ):
        refused = await client.patch(
            "/api/v1/settings",
            headers=admin,
            json={"list_defaults": bad},
        )
        assert refused.status_code == 422, bad
    logged = (
        (
            await db.execute(
                select(ActivityLog)
                .where(ActivityLog.action == "settings.updated")
                .order_by(ActivityLog.id)
            )
        )
        .scalars()
        .all()
    )
    assert [entry.details["changes"] for entry in logged] == [
        {"list_defaults": half},
        {"list_defaults": SITE_DEFAULTS, "site_name": "Lists"},
    ]
