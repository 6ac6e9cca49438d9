"""Sender policy rules over HTTP: validation, order, scopes and who may change them."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ListRole, MailingList, SystemRole
from oak_maillist.runtime import Runtime
from tests.factories import login, make_list, make_user


@pytest.fixture
async def dev(db: AsyncSession, runtime: Runtime) -> MailingList:
    mlist = await make_list(db)
    security = runtime.settings.security
    owner = await make_user(db, security, "owner@example.org")
    moderator = await make_user(db, security, "mod@example.org")
    await make_user(db, security, "admin@example.org", role=SystemRole.ADMIN)
    db.add(ListRole(list_id=mlist.id, user_id=owner.id, role="owner"))
    db.add(ListRole(list_id=mlist.id, user_id=moderator.id, role="moderator"))
    await db.commit()
    return mlist


async def test_rules_are_validated_normalised_and_ordered(
    client: httpx.AsyncClient, dev: MailingList
) -> None:
    auth = await login(client, "owner@example.org")
    url = f"/api/v1/lists/{dev.id}/policies"
    created = []
    for body in (
        {"kind": "whitelist", "pattern_type": "exact", "pattern": "Alice@Example.COM"},
        {
            "kind": "blacklist",
            "pattern_type": "domain",
            "pattern": "spam.test",
            "include_subdomains": True,
        },
        {"kind": "blacklist", "pattern_type": "glob", "pattern": "*@*.bad.test", "position": 1},
    ):
        response = await client.post(url, json=body, headers=auth)
        assert response.status_code == 201, response.text
        created.append(response.json())
    assert [c["pattern"] for c in created] == ["alice@example.com", "@spam.test", "*@*.bad.test"]
    rules = (await client.get(url, headers=auth)).json()
    assert [(r["pattern"], r["position"]) for r in rules] == [
        ("*@*.bad.test", 1),
        ("alice@example.com", 2),
        ("@spam.test", 3),
    ]
    for bad in (
        {"kind": "whitelist", "pattern_type": "exact", "pattern": "not-an-address"},
        {"kind": "whitelist", "pattern_type": "glob", "pattern": "plain@example.com"},
        {"kind": "whitelist", "pattern_type": "domain", "pattern": "a@b@c"},
        {"kind": "greylist", "pattern_type": "exact", "pattern": "a@b.c"},
    ):
        response = await client.post(url, json=bad, headers=auth)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] in ("invalid_policy_pattern", "validation_error")

    ids = [r["id"] for r in rules]
    reordered = await client.put(f"{url}/order", json={"ids": list(reversed(ids))}, headers=auth)
    assert [r["id"] for r in reordered.json()] == list(reversed(ids))
    wrong = await client.put(f"{url}/order", json={"ids": ids[:2]}, headers=auth)
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "invalid_policy_order"

    moved = await client.patch(
        f"/api/v1/policies/{ids[0]}", json={"position": 1, "note": "first"}, headers=auth
    )
    assert moved.status_code == 200
    assert moved.json()["position"] == 1
    assert (await client.delete(f"/api/v1/policies/{ids[1]}", headers=auth)).status_code == 204
    left = (await client.get(url, headers=auth)).json()
    assert [r["position"] for r in left] == [1, 2]


async def test_moderators_read_owners_write_admins_own_global_rules(
    client: httpx.AsyncClient, dev: MailingList
) -> None:
    owner = await login(client, "owner@example.org")
    moderator = await login(client, "mod@example.org")
    admin = await login(client, "admin@example.org")
    rule = {"kind": "blacklist", "pattern_type": "exact", "pattern": "x@y.test"}
    url = f"/api/v1/lists/{dev.id}/policies"
    made = (await client.post(url, json=rule, headers=owner)).json()
    assert (await client.get(url, headers=moderator)).status_code == 200
    assert (await client.post(url, json=rule, headers=moderator)).status_code == 403
    assert (
        await client.get(f"/api/v1/policies/{made['id']}", headers=moderator)
    ).status_code == 200
    denied = await client.patch(
        f"/api/v1/policies/{made['id']}", json={"note": "x"}, headers=moderator
    )
    assert denied.status_code == 403

    assert (await client.post("/api/v1/policies", json=rule, headers=owner)).status_code == 403
    made_global = await client.post("/api/v1/policies", json=rule, headers=admin)
    assert made_global.status_code == 201
    assert made_global.json()["list_id"] is None
    hidden = await client.get(f"/api/v1/policies/{made_global.json()['id']}", headers=owner)
    assert hidden.status_code == 404
