"""TOTP two-factor sign-in and backup codes over HTTP, with codes from the real oathtool."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.models import ActivityLog, AuthChallenge, BackupCode, User
from oak_maillist.runtime import Runtime
from oak_maillist.services import system_settings
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import login as login_service
from oak_maillist.services.auth import totp, totp_codes
from oak_maillist.services.crypto import decrypt, token_hash
from tests.factories import DEFAULT_PASSWORD, login, make_user

API = "/api/v1/auth"
# One second into a time step, so a test has 29 seconds before the step changes by itself.
START = datetime(2031, 5, 4, 12, 0, 1, tzinfo=UTC)
ORIGIN = Origin(ip="127.0.0.1", user_agent="pytest")
BACKUP_CODE = re.compile(
    r"[23456789abcdefghjkmnpqrstuvwxyz]{5}-[23456789abcdefghjkmnpqrstuvwxyz]{5}"
)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """The process clock at START, ticking; `clock.shift(totp_codes.PERIOD)` moves one step on.
    The app runs in this process, so it sees the same time as oathtool's --now."""
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


@pytest.fixture
async def user(db: AsyncSession, settings: Settings) -> User:
    created = await make_user(db, settings.security, email="totp@example.org")
    await db.commit()
    return created


@pytest.fixture
async def headers(client: httpx.AsyncClient, user: User) -> dict[str, str]:
    return await login(client, user.email)


@pytest.fixture
async def reader(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """Reads the committed state; each check starts a fresh transaction (MySQL snapshots)."""
    async with runtime.sessionmaker() as session:
        yield session


def oathtool(secret: str, *, steps_ago: int = 0) -> str:
    """The code the reference implementation gives for the (travelled) current time."""
    program = shutil.which("oathtool")
    assert program is not None, "oathtool is not installed (Debian package oathtool)"
    at = int(time.time()) - steps_ago * totp_codes.PERIOD
    result = subprocess.run(
        [program, "--totp", "-b", secret, "--now", f"@{at}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    code = result.stdout.strip()
    assert re.fullmatch(r"[0-9]{6}", code), code
    return code


def wrong_code(secret: str) -> str:
    """A well-formed code valid for no step in the window."""
    now = totp_codes.time_step(time.time())
    valid = {totp_codes.code_for_step(secret, now + offset) for offset in range(-2, 3)}
    return next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in valid)


async def enable_totp(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    setup = await client.post(f"{API}/mfa/totp/setup", headers=headers)
    assert setup.status_code == 200, setup.text
    secret: str = setup.json()["secret"]
    enabled = await client.post(
        f"{API}/mfa/totp/enable", headers=headers, json={"code": oathtool(secret)}
    )
    assert enabled.status_code == 200, enabled.text
    return secret, enabled.json()["backup_codes"]


async def start_login(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post(
        f"{API}/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True, body
    assert "access_token" not in body
    token: str = body["mfa_token"]
    return token


async def verify(client: httpx.AsyncClient, mfa_token: str, code: str) -> httpx.Response:
    return await client.post(f"{API}/mfa/totp/verify", json={"mfa_token": mfa_token, "code": code})


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def current_auth_method(client: httpx.AsyncClient, tokens: dict[str, Any]) -> str:
    listed = await client.get(
        f"{API}/sessions", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert listed.status_code == 200, listed.text
    method: str = next(row["auth_method"] for row in listed.json() if row["current"])
    return method


async def fresh_user(reader: AsyncSession, user_id: int) -> User:
    await reader.rollback()
    found = await reader.get(User, user_id, populate_existing=True)
    assert found is not None
    return found


async def backup_rows(reader: AsyncSession, user_id: int) -> list[BackupCode]:
    await reader.rollback()
    rows = await reader.execute(
        select(BackupCode)
        .where(BackupCode.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def activity_actions(reader: AsyncSession, user_id: int) -> list[ActivityLog]:
    await reader.rollback()
    rows = await reader.execute(
        select(ActivityLog).where(ActivityLog.actor_id == user_id).order_by(ActivityLog.id)
    )
    return list(rows.scalars())


async def test_totp_sign_in_from_setup_to_disable(
    client: httpx.AsyncClient,
    clock: time_machine.Traveller,
    user: User,
    headers: dict[str, str],
    reader: AsyncSession,
    settings: Settings,
) -> None:
    # Setup: a secret to scan, not enabled yet, stored encrypted.
    setup = await client.post(f"{API}/mfa/totp/setup", headers=headers)
    assert setup.status_code == 200, setup.text
    body = setup.json()
    secret = body["secret"]
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    assert len(base64.b32decode(secret)) == 20
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc, unquote(uri.path)) == (
        "otpauth",
        "totp",
        "/Oak Maillist:totp@example.org",
    )
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["Oak Maillist"]}
    assert body["qr_svg"].startswith("<svg")
    assert body["qr_svg"].endswith("</svg>")
    stored = await fresh_user(reader, user.id)
    assert stored.totp_enabled is False
    assert stored.totp_secret is not None
    assert secret not in stored.totp_secret
    assert decrypt(stored.totp_secret, settings.security, purpose="totp") == secret

    # Enable with a code from oathtool: ten backup codes, stored hashed.
    enabled = await client.post(
        f"{API}/mfa/totp/enable", headers=headers, json={"code": oathtool(secret)}
    )
    assert enabled.status_code == 200, enabled.text
    codes = enabled.json()["backup_codes"]
    assert list(enabled.json()) == ["backup_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert all(BACKUP_CODE.fullmatch(code) for code in codes)
    stored = await fresh_user(reader, user.id)
    assert stored.totp_enabled is True
    assert stored.totp_last_step == totp_codes.time_step(time.time())
    rows = await backup_rows(reader, user.id)
    assert len(rows) == 10
    assert all(row.used_at is None for row in rows)
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)
        assert not any(
            code in row.code_hash or code.replace("-", "") in row.code_hash for code in codes
        )
    status = await client.get(f"{API}/mfa/status", headers=headers)
    assert status.json() == {"totp_enabled": True, "backup_codes_remaining": 10}

    # Sign out; signing in now asks for the second factor.
    assert (await client.post(f"{API}/logout", headers=headers)).status_code == 204
    first = await client.post(
        f"{API}/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert first.status_code == 200
    step = first.json()
    assert step["mfa_required"] is True
    assert {"totp", "backup_code"} <= set(step["methods"])
    assert step["expires_in"] == settings.security.session_token_expiration_seconds

    # A fresh code (the enabling code's step is spent) gives the same answer as a login.
    clock.shift(totp_codes.PERIOD)
    code = oathtool(secret)
    signed_in = await verify(client, step["mfa_token"], code)
    assert signed_in.status_code == 200, signed_in.text
    tokens = signed_in.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert tokens["token_type"] == "bearer"
    assert tokens["user"]["email"] == user.email
    assert tokens["user"]["totp_enabled"] is True
    assert await current_auth_method(client, tokens) == "totp"
    # The step is closed: its token cannot be used again.
    again = await verify(client, step["mfa_token"], code)
    assert (again.status_code, error_code(again)) == (401, "challenge_invalid")

    # The same code on a new sign-in is a replay.
    replayed = await verify(client, await start_login(client, user.email), code)
    assert replayed.status_code == 401
    assert error_code(replayed) == "mfa_code_invalid"

    # A backup code works once, typed in any case and spacing.
    typed = codes[0].upper().replace("-", " ")
    by_backup = await verify(client, await start_login(client, user.email), typed)
    assert by_backup.status_code == 200, by_backup.text
    assert await current_auth_method(client, by_backup.json()) == "backup_code"
    rows = await backup_rows(reader, user.id)
    assert sum(row.used_at is not None for row in rows) == 1
    twice = await verify(client, await start_login(client, user.email), codes[0])
    assert (twice.status_code, error_code(twice)) == (401, "mfa_code_invalid")
    me = {"Authorization": f"Bearer {by_backup.json()['access_token']}"}
    status = await client.get(f"{API}/mfa/status", headers=me)
    assert status.json() == {"totp_enabled": True, "backup_codes_remaining": 9}

    # Five wrong codes end the step; even a right code cannot revive it.
    mfa_token = await start_login(client, user.email)
    for _ in range(5):
        wrong = await verify(client, mfa_token, wrong_code(secret))
        assert (wrong.status_code, error_code(wrong)) == (401, "mfa_code_invalid")
    await reader.rollback()
    challenge = (
        await reader.execute(
            select(AuthChallenge).where(AuthChallenge.challenge_hash == token_hash(mfa_token))
        )
    ).scalar_one()
    assert challenge.attempts == 5
    assert challenge.used_at is not None
    clock.shift(totp_codes.PERIOD)
    dead = await verify(client, mfa_token, oathtool(secret))
    assert (dead.status_code, error_code(dead)) == (401, "challenge_invalid")

    # Disable: a wrong password is refused, the right one turns TOTP off.
    refused = await client.post(
        f"{API}/mfa/totp/disable", headers=me, json={"password": "not the password"}
    )
    assert (refused.status_code, error_code(refused)) == (422, "wrong_password")
    assert (await fresh_user(reader, user.id)).totp_enabled is True
    disabled = await client.post(
        f"{API}/mfa/totp/disable", headers=me, json={"password": DEFAULT_PASSWORD}
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {"totp_enabled": False, "backup_codes_remaining": 0}
    stored = await fresh_user(reader, user.id)
    assert (stored.totp_enabled, stored.totp_secret, stored.totp_last_step) == (False, None, None)
    assert await backup_rows(reader, user.id) == []
    await login(client, user.email)  # tokens straight away

    # Every event is in the activity log, and no secret or code is.
    entries = await activity_actions(reader, user.id)
    actions = [entry.action for entry in entries]
    for action in (
        "auth.mfa_setup_started",
        "auth.mfa_enabled",
        "auth.backup_code_used",
        "auth.mfa_failed",
        "auth.mfa_disabled",
    ):
        assert action in actions
    assert actions.count("auth.mfa_failed") == 8  # replay, backup reuse, 5 wrong, password
    logged = repr([(entry.action, entry.details) for entry in entries])
    for value in (secret, code, *codes, *(c.replace("-", "") for c in codes)):
        assert value not in logged


async def test_enable_needs_a_valid_code_for_the_pending_secret(
    client: httpx.AsyncClient,
    clock: time_machine.Traveller,
    user: User,
    headers: dict[str, str],
    reader: AsyncSession,
) -> None:
    no_setup = await client.post(f"{API}/mfa/totp/enable", headers=headers, json={"code": "123456"})
    assert (no_setup.status_code, error_code(no_setup)) == (409, "totp_not_set_up")
    setup = await client.post(f"{API}/mfa/totp/setup", headers=headers)
    secret = setup.json()["secret"]
    refused = await client.post(
        f"{API}/mfa/totp/enable", headers=headers, json={"code": wrong_code(secret)}
    )
    assert (refused.status_code, error_code(refused)) == (422, "totp_code_invalid")
    assert (await fresh_user(reader, user.id)).totp_enabled is False
    assert await backup_rows(reader, user.id) == []
    assert "auth.mfa_failed" in [e.action for e in await activity_actions(reader, user.id)]
    # The same request with the right code succeeds: the refusal was about the code.
    accepted = await client.post(
        f"{API}/mfa/totp/enable", headers=headers, json={"code": oathtool(secret)}
    )
    assert accepted.status_code == 200, accepted.text
    for path in ("/mfa/totp/setup", "/mfa/totp/enable"):
        twice = await client.post(f"{API}{path}", headers=headers, json={"code": "123456"})
        assert (twice.status_code, error_code(twice)) == (409, "totp_already_enabled")


async def test_setup_again_replaces_the_pending_secret(
    client: httpx.AsyncClient, clock: time_machine.Traveller, headers: dict[str, str]
) -> None:
    first = (await client.post(f"{API}/mfa/totp/setup", headers=headers)).json()["secret"]
    second = (await client.post(f"{API}/mfa/totp/setup", headers=headers)).json()["secret"]
    assert first != second
    if oathtool(first) != oathtool(second):  # equal codes by chance: 1 in a million
        stale = await client.post(
            f"{API}/mfa/totp/enable", headers=headers, json={"code": oathtool(first)}
        )
        assert (stale.status_code, error_code(stale)) == (422, "totp_code_invalid")
    current = await client.post(
        f"{API}/mfa/totp/enable", headers=headers, json={"code": oathtool(second)}
    )
    assert current.status_code == 200, current.text


async def test_issuer_is_the_site_name(
    client: httpx.AsyncClient, db: AsyncSession, headers: dict[str, str]
) -> None:
    await system_settings.update(db, {"site_name": "Acme: Lists"}, actor_id=None)
    await db.commit()
    setup = await client.post(f"{API}/mfa/totp/setup", headers=headers)
    uri = urlsplit(setup.json()["otpauth_uri"])
    assert unquote(uri.path) == "/Acme: Lists:totp@example.org"
    assert parse_qs(uri.query)["issuer"] == ["Acme: Lists"]


async def test_one_step_of_drift_is_accepted_two_are_not(
    client: httpx.AsyncClient,
    clock: time_machine.Traveller,
    user: User,
    headers: dict[str, str],
) -> None:
    secret, _codes = await enable_totp(client, headers)
    clock.shift(10 * totp_codes.PERIOD)  # far from the step spent on enabling
    mfa_token = await start_login(client, user.email)
    two_ago = await verify(client, mfa_token, oathtool(secret, steps_ago=2))
    assert (two_ago.status_code, error_code(two_ago)) == (401, "mfa_code_invalid")
    two_ahead = await verify(client, mfa_token, oathtool(secret, steps_ago=-2))
    assert (two_ahead.status_code, error_code(two_ahead)) == (401, "mfa_code_invalid")
    one_ago = await verify(client, mfa_token, oathtool(secret, steps_ago=1))
    assert one_ago.status_code == 200, one_ago.text
    one_ahead = await verify(
        client, await start_login(client, user.email), oathtool(secret, steps_ago=-1)
    )
    assert one_ahead.status_code == 200, one_ahead.text
    # Now the step ahead is the last one used, so the current code is too old.
    behind = await verify(client, await start_login(client, user.email), oathtool(secret))
    assert (behind.status_code, error_code(behind)) == (401, "mfa_code_invalid")


async def test_verify_with_an_unknown_or_expired_token(
    client: httpx.AsyncClient,
    clock: time_machine.Traveller,
    user: User,
    headers: dict[str, str],
    settings: Settings,
) -> None:
    secret, _codes = await enable_totp(client, headers)
    unknown = await verify(client, "not-a-token", oathtool(secret))
    assert (unknown.status_code, error_code(unknown)) == (401, "challenge_invalid")
    mfa_token = await start_login(client, user.email)
    clock.shift(settings.security.session_token_expiration_seconds + 1)
    expired = await verify(client, mfa_token, oathtool(secret))
    assert (expired.status_code, error_code(expired)) == (401, "challenge_invalid")
    # The code was not spent: a live step accepts it.
    live = await verify(client, await start_login(client, user.email), oathtool(secret))
    assert live.status_code == 200, live.text


async def test_concurrent_requests_cannot_both_spend_one_code(
    client: httpx.AsyncClient,
    clock: time_machine.Traveller,
    user: User,
    headers: dict[str, str],
    reader: AsyncSession,
) -> None:
    secret, codes = await enable_totp(client, headers)
    clock.shift(totp_codes.PERIOD)
    for code in (oathtool(secret), codes[0]):
        tokens = [await start_login(client, user.email) for _ in range(2)]
        answers = await asyncio.gather(*(verify(client, token, code) for token in tokens))
        assert sorted(answer.status_code for answer in answers) == [200, 401], [
            answer.text for answer in answers
        ]
    rows = await backup_rows(reader, user.id)
    assert sum(row.used_at is not None for row in rows) == 1


async def test_a_code_raced_by_two_transactions_is_spent_once(
    client: httpx.AsyncClient,
    clock: time_machine.Traveller,
    user: User,
    headers: dict[str, str],
    runtime: Runtime,
    settings: Settings,
) -> None:
    """The second transaction reads the code as unspent before the first commits; only the
    conditional UPDATE, waiting on the first one's row lock, can refuse it."""
    secret, codes = await enable_totp(client, headers)
    clock.shift(totp_codes.PERIOD)
    for code in (oathtool(secret), codes[0]):
        first_token, second_token = [await start_login(client, user.email) for _ in range(2)]
        async with runtime.sessionmaker() as first, runtime.sessionmaker() as second:
            await totp.verify_login(
                first,
                mfa_token=first_token,
                code=code,
                settings=settings.security,
                origin=ORIGIN,
                limiter=runtime.limiter,
            )
            racer = asyncio.create_task(
                totp.verify_login(
                    second,
                    mfa_token=second_token,
                    code=code,
                    settings=settings.security,
                    origin=ORIGIN,
                    limiter=runtime.limiter,
                )
            )
            await asyncio.sleep(0.5)
            assert not racer.done(), "the second transaction should wait for the first"
            await first.commit()
            with pytest.raises(login_service.MfaCodeInvalidError):
                await racer


async def test_disable_and_regenerate_need_the_password_or_a_code(
    client: httpx.AsyncClient,
    clock: time_machine.Traveller,
    user: User,
    headers: dict[str, str],
    reader: AsyncSession,
) -> None:
    not_yet = await client.post(
        f"{API}/mfa/backup-codes/regenerate", headers=headers, json={"password": DEFAULT_PASSWORD}
    )
    assert (not_yet.status_code, error_code(not_yet)) == (409, "totp_not_enabled")
    secret, old_codes = await enable_totp(client, headers)
    clock.shift(totp_codes.PERIOD)
    for path in ("/mfa/totp/disable", "/mfa/backup-codes/regenerate"):
        empty = await client.post(f"{API}{path}", headers=headers, json={})
        assert (empty.status_code, error_code(empty)) == (422, "password_or_code_required")
        wrong = await client.post(
            f"{API}{path}", headers=headers, json={"code": wrong_code(secret)}
        )
        assert (wrong.status_code, error_code(wrong)) == (422, "totp_code_invalid")

    regenerated = await client.post(
        f"{API}/mfa/backup-codes/regenerate", headers=headers, json={"code": oathtool(secret)}
    )
    assert regenerated.status_code == 200, regenerated.text
    new_codes = regenerated.json()["backup_codes"]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    rows = await backup_rows(reader, user.id)
    assert len(rows) == 10
    assert all(row.used_at is None for row in rows)
    old = await verify(client, await start_login(client, user.email), old_codes[1])
    assert (old.status_code, error_code(old)) == (401, "mfa_code_invalid")
    assert (await verify(client, await start_login(client, user.email), new_codes[1])).is_success

    by_backup_code = await client.post(
        f"{API}/mfa/totp/disable", headers=headers, json={"code": new_codes[2]}
    )
    assert by_backup_code.status_code == 200, by_backup_code.text
    assert (await fresh_user(reader, user.id)).totp_enabled is False
    actions = [entry.action for entry in await activity_actions(reader, user.id)]
    assert "auth.backup_codes_regenerated" in actions
    assert "auth.mfa_disabled" in actions
    again = await client.post(
        f"{API}/mfa/totp/disable", headers=headers, json={"password": DEFAULT_PASSWORD}
    )
    assert (again.status_code, error_code(again)) == (409, "totp_not_enabled")


async def test_status_before_setup(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    status = await client.get(f"{API}/mfa/status", headers=headers)
    assert status.status_code == 200
    assert status.json() == {"totp_enabled": False, "backup_codes_remaining": 0}


@pytest.mark.parametrize(
    "code", ["12345", "1234567", "abcdefghj0", "abcde-fghjk-m", "1" * 33, "\u0661" * 6]
)
async def test_malformed_codes_are_validation_errors(
    client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    verified = await verify(client, "token", code)
    assert (verified.status_code, error_code(verified)) == (422, "validation_error")
    assert verified.json()["error"]["details"]["fields"][0]["field"] == "body.code"
    enabling = await client.post(
        f"{API}/mfa/totp/enable", headers=headers, json={"code": "abcde-fghjk"}
    )
    assert (enabling.status_code, error_code(enabling)) == (422, "validation_error")
