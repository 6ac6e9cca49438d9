"""User administration, profiles and password changes."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, SystemRole, User
from oak_maillist.runtime import Runtime
from tests.factories import DEFAULT_PASSWORD, login, make_user


@pytest.fixture
async def admin_headers(
    client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
) -> dict[str, str]:
    await make_user(db, runtime.settings.security, email="root@example.org", role=SystemRole.ADMIN)
    await db.commit()
    return await login(client, "root@example.org")


async def test_admin_creates_lists_searches_and_updates_users(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for n in range(25):
        created = await client.post(
            "/api/v1/users",
            headers=admin_headers,
            json={
                "email": f"member{n:02d}@example.org",
                "password": "member password 1",
                "display_name": f"Member {n}",
            },
        )
        assert created.status_code == 201, created.text
    page = (
        await client.get("/api/v1/users", headers=admin_headers, params={"page": 2, "per_page": 10})
    ).json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (26, 2, 10, 10)
    found = (
        await client.get("/api/v1/users", headers=admin_headers, params={"q": "member1"})
    ).json()
    assert {item["email"] for item in found["items"]} == {
        f"member1{n}@example.org" for n in range(10)
    }
    percent = (await client.get("/api/v1/users", headers=admin_headers, params={"q": "%"})).json()
    assert percent["total"] == 0  # LIKE wildcards in a search are literal
    admins = (
        await client.get("/api/v1/users", headers=admin_headers, params={"role": "admin"})
    ).json()
    assert [item["email"] for item in admins["items"]] == ["root@example.org"]
    user_id = found["items"][0]["id"]
    updated = await client.patch(
        f"/api/v1/users/{user_id}",
        headers=admin_headers,
        json={"role": "admin", "language": "zh-CN"},
    )
    assert updated.json()["role"] == "admin"
    assert updated.json()["language"] == "zh-CN"


async def test_deactivation_ends_sessions_at_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession, runtime: Runtime
) -> None:
    user = await make_user(db, runtime.settings.security, email="bob@example.org")
    await db.commit()
    bob = await login(client, "bob@example.org")
    assert (await client.get("/api/v1/auth/me", headers=bob)).status_code == 200
    response = await client.patch(
        f"/api/v1/users/{user.id}", headers=admin_headers, json={"is_active": False}
    )
    assert response.json()["is_active"] is False
    assert (await client.get("/api/v1/auth/me", headers=bob)).status_code == 401


async def test_last_admin_is_protected(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    me = (await client.get("/api/v1/users/me", headers=admin_headers)).json()
    for change in ({"role": "user"}, {"is_active": False}):
        response = await client.patch(
            f"/api/v1/users/{me['id']}", headers=admin_headers, json=change
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "last_admin"
    delete_self = await client.delete(f"/api/v1/users/{me['id']}", headers=admin_headers)
    assert delete_self.json()["error"]["code"] == "cannot_delete_self"


async def test_delete_user(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession, runtime: Runtime
) -> None:
    user = await make_user(db, runtime.settings.security, email="carol@example.org")
    await db.commit()
    await login(client, "carol@example.org")
    assert (
        await client.delete(f"/api/v1/users/{user.id}", headers=admin_headers)
    ).status_code == 204
    assert (await client.get(f"/api/v1/users/{user.id}", headers=admin_headers)).status_code == 404
    async with runtime.sessionmaker() as session:
        assert await session.get(User, user.id) is None
        actions = (await session.execute(select(ActivityLog.action))).scalars().all()
    assert "user.deleted" in actions


async def test_profile_and_password_change(
    client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
) -> None:
    await make_user(db, runtime.settings.security, email="dave@example.org")
    await db.commit()
    here = await login(client, "dave@example.org")
    elsewhere = await login(client, "dave@example.org")
    profile = await client.patch(
        "/api/v1/users/me", headers=here, json={"display_name": "Dave", "language": "zh-CN"}
    )
    assert (profile.json()["display_name"], profile.json()["language"]) == ("Dave", "zh-CN")
    refused = await client.patch("/api/v1/users/me", headers=here, json={"language": "fr"})
    assert refused.status_code == 422
    wrong = await client.post(
        "/api/v1/users/me/password",
        headers=here,
        json={"current_password": "not my password", "new_password": "a new password 1"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "wrong_password"
    changed = await client.post(
        "/api/v1/users/me/password",
        headers=here,
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a new password 1"},
    )
    assert changed.json() == {"other_sessions_revoked": 1}
    assert (await client.get("/api/v1/auth/me", headers=here)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=elsewhere)).status_code == 401
    await login(client, "dave@example.org", "a new password 1")


async def test_activity_log_for_admins(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/auth/login", json={"email": "root@example.org", "password": "bad one 1"}
    )
    page = (
        await client.get("/api/v1/activity", headers=admin_headers, params={"action": "auth."})
    ).json()
    actions = [item["action"] for item in page["items"]]
    assert actions[0] == "auth.login_failed"  # newest first
    assert "auth.login" in actions
    assert all(action.startswith("auth.") for action in actions)
    assert page["items"][0]["ip_address"] == "127.0.0.1"


async def test_settings_reject_unknown_keys(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    current = (await client.get("/api/v1/settings", headers=admin_headers)).json()
    assert current == {
        "registration_mode": "open",
        "site_name": "Oak Maillist",
        "default_language": "en",
        "list_defaults": {
            "visibility": "public",
            "subscription_policy": "open",
            "posting_policy": "members",
            "nonmember_action": "hold",
            "max_message_size": 10485760,
            "archive_enabled": True,
            "archive_public": False,
            "language": "en",
            "ai_moderation_enabled": False,
        },
    }
    bad = await client.patch("/api/v1/settings", headers=admin_headers, json={"jwt_secret": "x"})
    assert bad.status_code == 422
    bad_mode = await client.patch(
        "/api/v1/settings", headers=admin_headers, json={"registration_mode": "maybe"}
    )
    assert bad_mode.status_code == 422
