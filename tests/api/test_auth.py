"""Sign-in as an attacker would try it: forged tokens, stolen refresh tokens, guessing."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, ListRole, RefreshToken, SystemRole, User, UserSession
from oak_maillist.ratelimit import LIMITS
from oak_maillist.runtime import Runtime
from oak_maillist.services import system_settings
from oak_maillist.services.auth import login as login_service
from oak_maillist.services.auth import passwords
from oak_maillist.services.auth.tokens import signing_key
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import DEFAULT_PASSWORD, login, make_list, make_user

KEY = signing_key(make_settings("sqlite::memory:").security)


@pytest.fixture
async def alice(db: AsyncSession, runtime: Runtime) -> User:
    user = await make_user(db, runtime.settings.security, email="alice@example.org")
    await db.commit()
    return user


async def _tokens(
    client: httpx.AsyncClient, email: str = "alice@example.org", agent: str = "pytest"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/login",
        headers={"User-Agent": agent},
        json={"email": email, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/v1/auth/me", headers=_bearer(token))


# --- login -----------------------------------------------------------------------------------


async def test_login_answers_the_token_contract(client: httpx.AsyncClient, alice: User) -> None:
    body = await _tokens(client)
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], KEY, algorithms=["HS256"])
    assert set(claims) >= {"sub", "sid", "exp", "iat", "jti"}
    assert claims["sub"] == str(alice.id)
    assert claims["exp"] - claims["iat"] == 900


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, alice: User
) -> None:
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.org", "password": "nope nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "bob@example.org", "password": "nope nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


async def test_failed_login_is_logged_and_counted(
    client: httpx.AsyncClient, alice: User, runtime: Runtime
) -> None:
    await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.org", "password": "x" * 9}
    )
    async with runtime.sessionmaker() as session:
        user = await session.get(User, alice.id)
        entries = (await session.execute(select(ActivityLog.action))).scalars().all()
    assert user is not None
    assert user.failed_login_count == 1
    assert "auth.login_failed" in entries


async def test_repeated_failures_slow_the_account_down_then_it_recovers(
    client: httpx.AsyncClient, alice: User
) -> None:
    with time_machine.travel(time.time(), tick=True) as clock:
        for _ in range(login_service.FREE_FAILURES + 1):
            await client.post(
                "/api/v1/auth/login",
                json={"email": "alice@example.org", "password": "wrong password"},
            )
        locked = await client.post(
            "/api/v1/auth/login", json={"email": "alice@example.org", "password": DEFAULT_PASSWORD}
        )
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "account_locked"
        assert 1 <= int(locked.headers["retry-after"]) <= 61
        clock.shift(timedelta(minutes=2))
        assert (
            await client.post(
                "/api/v1/auth/login",
                json={"email": "alice@example.org", "password": DEFAULT_PASSWORD},
            )
        ).status_code == 200


async def test_lockout_is_capped(alice: User) -> None:
    user = User(failed_login_count=100)
    login_service._count_failure(user)
    assert user.locked_until is not None
    from oak_maillist.db.types import utcnow

    assert user.locked_until - utcnow() <= login_service.LOCK_CAP


async def test_login_rate_limit_per_ip_answers_429_with_retry_after(
    client: httpx.AsyncClient, alice: User
) -> None:
    limit = LIMITS["login_ip"].amount
    statuses = []
    for n in range(limit + 1):
        response = await client.post(
            "/api/v1/auth/login", json={"email": f"nobody{n}@example.org", "password": "whatever1"}
        )
        statuses.append(response.status_code)
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


async def test_password_hash_is_upgraded_when_costs_change(
    client: httpx.AsyncClient, runtime: Runtime, db: AsyncSession
) -> None:
    weak = runtime.settings.security.model_copy(update={"argon2_time_cost": 2})
    user = await make_user(db, weak, email="old@example.org")
    await db.commit()
    old_hash = user.password_hash
    assert old_hash is not None
    assert passwords.needs_rehash(old_hash, runtime.settings.security)
    await _tokens(client, "old@example.org")
    async with runtime.sessionmaker() as session:
        fresh = await session.get(User, user.id)
    assert fresh is not None
    assert fresh.password_hash != old_hash
    assert fresh.password_hash is not None
    assert not passwords.needs_rehash(fresh.password_hash, runtime.settings.security)


async def test_deactivated_user_cannot_log_in(
    client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
) -> None:
    await make_user(db, runtime.settings.security, email="gone@example.org", is_active=False)
    await db.commit()
    response = await client.post(
        "/api/v1/auth/login", json={"email": "gone@example.org", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"


# --- access tokens ---------------------------------------------------------------------------


def _forge(claims: dict[str, object], key: bytes | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or KEY, algorithm=algorithm)


async def test_jwt_attacks_are_401(client: httpx.AsyncClient, alice: User) -> None:
    real = jwt.decode((await _tokens(client))["access_token"], KEY, algorithms=["HS256"])
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(
        b"="
    )
    payload = base64.urlsafe_b64encode(json.dumps(real).encode()).rstrip(b"=")
    forged = {
        "alg none": f"{header.decode()}.{payload.decode()}.",
        "other key": _forge(real, key=b"another-secret-of-32-bytes-length"),
        "raw secret": _forge(real, key=TEST_SECRET.encode()),
        "HS512": _forge(real, key=KEY * 2, algorithm="HS512"),
        "missing sid": _forge({k: v for k, v in real.items() if k != "sid"}),
        "missing jti": _forge({k: v for k, v in real.items() if k != "jti"}),
        "expired": _forge(real | {"exp": int(time.time()) - 60, "iat": int(time.time()) - 960}),
        "garbage": "not.a.jwt",
        "other user": _forge(real | {"sub": str(alice.id + 1000)}),
        "unknown session": _forge(real | {"sid": 987654}),
    }
    codes = {}
    for name, token in forged.items():
        response = await _me(client, token)
        assert response.status_code == 401, name
        codes[name] = response.json()["error"]["code"]
    assert codes["expired"] == "token_expired"
    for name in ("alg none", "other key", "raw secret", "HS512", "missing sid", "garbage"):
        assert codes[name] == "token_invalid", name
    assert codes["unknown session"] == codes["other user"] == "session_revoked"


async def test_missing_or_malformed_authorization_is_401(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer"}):
        response = await client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


async def test_token_of_deleted_or_deactivated_user_is_401(
    client: httpx.AsyncClient, alice: User, runtime: Runtime
) -> None:
    token = (await _tokens(client))["access_token"]
    async with runtime.sessionmaker() as session, session.begin():
        user = await session.get(User, alice.id)
        assert user is not None
        user.is_active = False
    deactivated = await _me(client, token)
    assert deactivated.status_code == 401
    assert deactivated.json()["error"]["code"] == "user_inactive"
    async with runtime.sessionmaker() as session, session.begin():
        user = await session.get(User, alice.id)
        await session.delete(user)
    assert (await _me(client, token)).status_code == 401


# --- refresh tokens and sessions -------------------------------------------------------------


async def test_refresh_rotates_and_stores_only_hashes(
    client: httpx.AsyncClient, alice: User, runtime: Runtime
) -> None:
    first = await _tokens(client)
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await _me(client, second["access_token"])).status_code == 200
    async with runtime.sessionmaker() as session:
        stored = (await session.execute(select(RefreshToken.token_hash))).scalars().all()
    assert first["refresh_token"] not in stored
    assert second["refresh_token"] not in stored
    assert len(stored) == 2


async def test_reused_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient, alice: User, runtime: Runtime
) -> None:
    stolen = await _tokens(client)
    victim = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    ).json()
    thief = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]}
    )
    assert thief.status_code == 401
    assert thief.json()["error"]["code"] == "refresh_token_reused"
    # both branches of the session are dead: access token and the newest refresh token
    assert (await _me(client, victim["access_token"])).status_code == 401
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": victim["refresh_token"]}
    )
    assert again.status_code == 401
    async with runtime.sessionmaker() as session:
        actions = (await session.execute(select(ActivityLog.action))).scalars().all()
        revoked = (await session.execute(select(UserSession.revoked_reason))).scalars().all()
    assert "auth.refresh_token_reused" in actions
    assert revoked == ["token_reuse"]


async def test_unknown_and_expired_refresh_tokens(client: httpx.AsyncClient, alice: User) -> None:
    unknown = await client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert unknown.json()["error"]["code"] == "refresh_token_invalid"
    tokens = await _tokens(client)
    with time_machine.travel(time.time() + 8 * 86400):
        late = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert late.status_code == 401
    assert late.json()["error"]["code"] == "refresh_token_invalid"


async def test_access_token_expires_after_its_lifetime(
    client: httpx.AsyncClient, alice: User
) -> None:
    token = (await _tokens(client))["access_token"]
    with time_machine.travel(time.time() + 901 + 5):
        response = await _me(client, token)
    assert response.json()["error"]["code"] == "token_expired"


async def test_sessions_listed_and_revoked_take_effect_at_once(
    client: httpx.AsyncClient, alice: User
) -> None:
    laptop = await _tokens(client, agent="Firefox on laptop")
    phone = await _tokens(client, agent="Safari on phone")
    listing = (
        await client.get("/api/v1/auth/sessions", headers=_bearer(laptop["access_token"]))
    ).json()
    assert {row["user_agent"] for row in listing} == {"Firefox on laptop", "Safari on phone"}
    current = [row for row in listing if row["current"]]
    assert len(current) == 1
    assert current[0]["user_agent"] == "Firefox on laptop"
    assert {"id", "ip_address", "created_at", "last_used_at", "current"} <= set(listing[0])
    phone_id = next(row["id"] for row in listing if not row["current"])
    revoked = await client.delete(
        f"/api/v1/auth/sessions/{phone_id}", headers=_bearer(laptop["access_token"])
    )
    assert revoked.status_code == 204
    assert (await _me(client, phone["access_token"])).json()["error"]["code"] == "session_revoked"
    assert (await _me(client, laptop["access_token"])).status_code == 200


async def test_cannot_revoke_someone_elses_session(
    client: httpx.AsyncClient, alice: User, db: AsyncSession, runtime: Runtime
) -> None:
    await make_user(db, runtime.settings.security, email="bob@example.org")
    await db.commit()
    bob = await _tokens(client, "bob@example.org")
    alice_tokens = await _tokens(client)
    alice_session = jwt.decode(alice_tokens["access_token"], KEY, algorithms=["HS256"])["sid"]
    response = await client.delete(
        f"/api/v1/auth/sessions/{alice_session}", headers=_bearer(bob["access_token"])
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
    assert (await _me(client, alice_tokens["access_token"])).status_code == 200


async def test_revoke_others_and_logout(client: httpx.AsyncClient, alice: User) -> None:
    keep, other1, other2 = await _tokens(client), await _tokens(client), await _tokens(client)
    response = await client.post(
        "/api/v1/auth/sessions/revoke-others", headers=_bearer(keep["access_token"])
    )
    assert response.json() == {"revoked": 2}
    assert (await _me(client, other1["access_token"])).status_code == 401
    assert (await _me(client, other2["access_token"])).status_code == 401
    assert (await _me(client, keep["access_token"])).status_code == 200
    assert (
        await client.post("/api/v1/auth/logout", headers=_bearer(keep["access_token"]))
    ).status_code == 204
    assert (await _me(client, keep["access_token"])).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": keep["refresh_token"]}
    )
    assert refresh.status_code == 401


# --- registration and first run --------------------------------------------------------------


async def test_registration_modes(
    client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
) -> None:
    admin = await make_user(
        db, runtime.settings.security, email="root@example.org", role=SystemRole.ADMIN
    )
    await db.commit()
    headers = await login(client, admin.email)
    short = await client.post(
        "/api/v1/auth/register", json={"email": "s@example.org", "password": "short"}
    )
    assert short.status_code == 422
    assert short.json()["error"]["code"] == "password_too_short"
    bad_email = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-address", "password": "long enough 1"}
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["error"]["details"]["fields"][0]["field"] == "body.email"

    assert (
        await client.patch(
            "/api/v1/settings", headers=headers, json={"registration_mode": "closed"}
        )
    ).status_code == 200
    closed = await client.post(
        "/api/v1/auth/register", json={"email": "c@example.org", "password": "long enough 1"}
    )
    assert closed.status_code == 403
    assert closed.json()["error"]["code"] == "registration_closed"

    await client.patch("/api/v1/settings", headers=headers, json={"registration_mode": "invite"})
    uninvited = await client.post(
        "/api/v1/auth/register", json={"email": "i@example.org", "password": "long enough 1"}
    )
    assert uninvited.json()["error"]["code"] == "invitation_required"
    invitation = (
        await client.post(
            "/api/v1/users/invitations", headers=headers, json={"email": "i@example.org"}
        )
    ).json()
    token = invitation["invite_url"].split("invitation=")[1]
    wrong_address = await client.post(
        "/api/v1/auth/register",
        json={"email": "j@example.org", "password": "long enough 1", "invitation_token": token},
    )
    assert wrong_address.status_code == 403
    accepted = await client.post(
        "/api/v1/auth/register",
        json={"email": "i@example.org", "password": "long enough 1", "invitation_token": token},
    )
    assert accepted.status_code == 201, accepted.text
    reused = await client.post(
        "/api/v1/auth/register",
        json={"email": "i@example.org", "password": "long enough 1", "invitation_token": token},
    )
    assert reused.status_code == 403


async def test_duplicate_registration_is_409(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": "ALICE@example.org", "password": "long enough 1"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user_exists"


async def test_first_run_setup_then_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/setup/status")).json() == {"setup_required": True}
    created = await client.post(
        "/api/v1/setup", json={"email": "first@example.org", "password": "first admin password"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["user"]["role"] == "admin"
    assert (await client.get("/api/v1/setup/status")).json() == {"setup_required": False}
    again = await client.post(
        "/api/v1/setup", json={"email": "second@example.org", "password": "second admin password"}
    )
    assert again.status_code == 404
    me = await _me(client, created.json()["access_token"])
    assert me.json()["role"] == "admin"


async def test_me_counts_the_lists_the_caller_owns_and_moderates(
    client: httpx.AsyncClient, alice: User, db: AsyncSession
) -> None:
    headers = await login(client, alice.email)
    before = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert (before["owned_lists"], before["moderated_lists"]) == (0, 0)
    lists = [await make_list(db) for _ in range(3)]
    db.add_all(
        [
            ListRole(list_id=lists[0].id, user_id=alice.id, role="owner"),
            ListRole(list_id=lists[1].id, user_id=alice.id, role="moderator"),
            ListRole(list_id=lists[2].id, user_id=alice.id, role="moderator"),
        ]
    )
    await db.commit()
    after = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert (after["email"], after["owned_lists"], after["moderated_lists"]) == (alice.email, 1, 2)


async def test_system_info_tells_the_web_app_how_to_register(
    client: httpx.AsyncClient, alice: User, db: AsyncSession, runtime: Runtime
) -> None:
    info = (await client.get("/api/v1/system/info")).json()
    assert info["registration_mode"] == "open"
    assert info["password_min_length"] == runtime.settings.security.password_min_length
    await system_settings.update(db, {"registration_mode": "closed"}, actor_id=None)
    await db.commit()
    assert (await client.get("/api/v1/system/info")).json()["registration_mode"] == "closed"
