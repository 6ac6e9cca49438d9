"""Quick end-to-end sign-in: register, login, me, refresh, logout."""

from __future__ import annotations

import httpx


async def test_register_login_refresh_logout(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/auth/register",
        json={"email": "new@example.org", "password": "long enough password"},
    )
    assert created.status_code == 201, created.text
    login = await client.post(
        "/api/v1/auth/login", json={"email": "NEW@example.org", "password": "long enough password"}
    )
    assert login.status_code == 200, login.text
    tokens = login.json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["email"] == "new@example.org"
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    reused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    after = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    )
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "session_revoked"
