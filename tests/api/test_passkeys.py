"""Passkeys over HTTP with a software authenticator, and recorded real-world responses."""

from __future__ import annotations

import importlib
import json
import os
import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from OpenSSL.crypto import X509Store
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.api.v1.schemas.passkeys import AuthenticationCredential, RegistrationCredential
from oak_maillist.models import ActivityLog, AuthChallenge, Passkey, User
from oak_maillist.runtime import Runtime
from oak_maillist.services import crypto
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import challenges, passkey_verification, passkeys, totp, totp_codes
from oak_maillist.services.auth import login as login_service
from oak_maillist.services.auth import passkey_login as passkey_login_service
from tests.factories import DEFAULT_PASSWORD, login, make_user
from tests.softauthn import (
    NotAllowedError,
    SoftAuthenticator,
    b64url,
    b64url_decode,
    cbor,
    tamper,
)

API = "/api/v1/auth"
Json = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------


async def register_passkey(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    authenticator: SoftAuthenticator,
    name: str = "Laptop",
    edit: Callable[[Json], object] | None = None,
    **overrides: Any,
) -> httpx.Response:
    """register-options, the authenticator, register: what startRegistration() wraps."""
    ceremony = await client.post(f"{API}/passkey/register-options", headers=headers)
    assert ceremony.status_code == 200, ceremony.text
    body = ceremony.json()
    credential = authenticator.register(body["options"], **overrides)
    if edit is not None:
        edit(credential)
    return await client.post(
        f"{API}/passkey/register",
        headers=headers,
        json={"challenge_id": body["challenge_id"], "credential": credential, "name": name},
    )


async def auth_options(client: httpx.AsyncClient, mfa_token: str | None = None) -> Json:
    response = await client.post(
        f"{API}/passkey/auth-options", json={"mfa_token": mfa_token} if mfa_token else {}
    )
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def passkey_login(
    client: httpx.AsyncClient,
    authenticator: SoftAuthenticator,
    *,
    mfa_token: str | None = None,
    edit: Callable[[Json], object] | None = None,
    **overrides: Any,
) -> httpx.Response:
    """auth-options, the authenticator, login: what startAuthentication() wraps."""
    ceremony = await auth_options(client, mfa_token)
    credential = authenticator.authenticate(ceremony["options"], **overrides)
    if edit is not None:
        edit(credential)
    body: Json = {"challenge_id": ceremony["challenge_id"], "credential": credential}
    if mfa_token:
        body["mfa_token"] = mfa_token
    return await client.post(f"{API}/passkey/login", json=body)


def code(response: httpx.Response) -> str:
    value: str = response.json()["error"]["code"]
    return value


def bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def activity(runtime: Runtime, action: str) -> list[ActivityLog]:
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(ActivityLog).where(ActivityLog.action == action).order_by(ActivityLog.id)
        )
        return list(rows.scalars())


async def stored_passkeys(runtime: Runtime) -> list[Passkey]:
    async with runtime.sessionmaker() as session:
        return list((await session.execute(select(Passkey).order_by(Passkey.id))).scalars())


@pytest.fixture
async def alice(db: AsyncSession, runtime: Runtime) -> User:
    user = await make_user(db, runtime.settings.security, email="alice@example.org")
    await db.commit()
    return user


@pytest.fixture
async def alice_headers(client: httpx.AsyncClient, alice: User) -> dict[str, str]:
    return await login(client, alice.email)


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
async def enrolled(
    client: httpx.AsyncClient, alice_headers: dict[str, str], authenticator: SoftAuthenticator
) -> Json:
    """Alice with one passkey on `authenticator`; the API's answer for it."""
    response = await register_passkey(client, alice_headers, authenticator)
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


# --- the whole journey -----------------------------------------------------------------------


async def test_register_list_rename_then_sign_in_without_password(
    client: httpx.AsyncClient,
    runtime: Runtime,
    alice: User,
    alice_headers: dict[str, str],
    authenticator: SoftAuthenticator,
) -> None:
    ceremony = await client.post(f"{API}/passkey/register-options", headers=alice_headers)
    assert ceremony.status_code == 200
    options = ceremony.json()["options"]
    assert options["rp"] == {"id": "localhost", "name": "Oak Maillist"}
    assert options["user"]["id"] == b64url(alice.id.to_bytes(8, "big"))
    assert options["user"]["name"] == "alice@example.org"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["excludeCredentials"] == []
    assert options["attestation"] == "none"
    assert len(b64url_decode(options["challenge"])) == 32

    credential = authenticator.register(options)
    registered = await client.post(
        f"{API}/passkey/register",
        headers=alice_headers,
        json={
            "challenge_id": ceremony.json()["challenge_id"],
            "credential": credential,
            "name": "  Laptop  ",
        },
    )
    assert registered.status_code == 201, registered.text
    passkey = registered.json()
    assert set(passkey) == {"id", "name", "created_at", "last_used_at", "backed_up", "transports"}
    assert passkey["name"] == "Laptop"
    assert passkey["transports"] == ["internal", "hybrid"]
    assert passkey["last_used_at"] is None
    [row] = await stored_passkeys(runtime)
    assert row.credential_id == credential["id"]
    assert row.aaguid == "00000000-0000-0000-0000-000000000000"

    listed = await client.get(f"{API}/passkeys", headers=alice_headers)
    assert listed.json() == [passkey]
    renamed = await client.patch(
        f"{API}/passkeys/{passkey['id']}", headers=alice_headers, json={"name": "Work laptop"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Work laptop"
    again = await client.post(f"{API}/passkey/register-options", headers=alice_headers)
    assert [c["id"] for c in again.json()["options"]["excludeCredentials"]] == [credential["id"]]

    login_ceremony = await auth_options(client)
    assert login_ceremony["options"]["allowCredentials"] == []
    assert login_ceremony["options"]["rpId"] == "localhost"
    assert login_ceremony["options"]["userVerification"] == "required"
    assertion = authenticator.authenticate(login_ceremony["options"])
    signed_in = await client.post(
        f"{API}/passkey/login",
        json={"challenge_id": login_ceremony["challenge_id"], "credential": assertion},
    )
    assert signed_in.status_code == 200, signed_in.text
    assert set(signed_in.json()) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "user",
    }
    headers = bearer(signed_in)
    me = await client.get(f"{API}/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.org"
    current = (await client.get(f"{API}/sessions", headers=headers)).json()
    assert [s["auth_method"] for s in current if s["current"]] == ["passkey"]

    [row] = await stored_passkeys(runtime)
    assert row.sign_count == 1
    assert row.last_used_at is not None
    for action in ("auth.passkey_added", "auth.passkey_renamed", "auth.passkey_login"):
        [entry] = await activity(runtime, action)
        assert entry.actor_id == alice.id
        assert entry.target_id == str(passkey["id"])


async def test_authenticator_without_counter_signs_in_again_and_again(
    client: httpx.AsyncClient, alice_headers: dict[str, str], runtime: Runtime
) -> None:
    synced = SoftAuthenticator(counter_step=0, backed_up=True)
    registered = await register_passkey(client, alice_headers, synced)
    assert registered.json()["backed_up"] is True
    for _ in range(3):
        assert (await passkey_login(client, synced)).status_code == 200
    [row] = await stored_passkeys(runtime)
    assert row.sign_count == 0


# --- refused sign-ins ------------------------------------------------------------------------


def _set(path: tuple[str, ...], value: Callable[[Any], Any]) -> Callable[[Json], None]:
    def edit(credential: Json) -> None:
        target = credential
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value(target[path[-1]])

    return edit


REFUSALS: dict[str, tuple[dict[str, Any], Callable[[Json], object] | None]] = {
    "tampered signature": ({}, _set(("response", "signature"), tamper)),
    "tampered authenticator data": ({}, _set(("response", "authenticatorData"), tamper)),
    "tampered client data": (
        {},
        _set(("response", "clientDataJSON"), lambda v: b64url(b64url_decode(v) + b" ")),
    ),
    "wrong origin": ({"origin": "https://evil.example"}, None),
    "wrong rp id": ({"rp_id": "evil.example"}, None),
    "another challenge": ({"challenge": b64url(b"\x00" * 32)}, None),
    "no user verification": ({"user_verified": False}, None),
    "no user handle": ({"with_user_handle": False}, None),
    "another user's handle": (
        {},
        _set(("response", "userHandle"), lambda _: b64url((2**40).to_bytes(8, "big"))),
    ),
    "id and rawId differ": ({}, _set(("id",), lambda v: v[:-2])),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refused_sign_in_is_a_401_with_its_code(
    client: httpx.AsyncClient,
    runtime: Runtime,
    alice: User,
    authenticator: SoftAuthenticator,
    enrolled: Json,
    case: str,
) -> None:
    overrides, edit = REFUSALS[case]
    refused = await passkey_login(client, authenticator, edit=edit, **overrides)
    assert refused.status_code == 401, refused.text
    assert code(refused) == "passkey_invalid"
    [entry] = await activity(runtime, "auth.passkey_failed")
    assert (entry.actor_id, entry.target_id) == (alice.id, str(enrolled["id"]))
    assert [e.details["method"] for e in await activity(runtime, "auth.login")] == ["password"]
    # The same authenticator, answering properly, gets in: the refusal was for `case`.
    assert (await passkey_login(client, authenticator)).status_code == 200


async def test_counter_that_does_not_move_forward_is_refused_and_logged(
    client: httpx.AsyncClient, runtime: Runtime, authenticator: SoftAuthenticator, enrolled: Json
) -> None:
    assert (await passkey_login(client, authenticator)).status_code == 200  # counter 1
    replayed = await passkey_login(client, authenticator, sign_count=1)
    regressed = await passkey_login(client, authenticator, sign_count=0)
    for response in (replayed, regressed):
        assert response.status_code == 401
        assert code(response) == "passkey_counter_regression"
    entries = await activity(runtime, "auth.passkey_failed")
    assert [e.details for e in entries] == [
        {"reason": "passkey_counter_regression", "received": 1, "stored": 1},
        {"reason": "passkey_counter_regression", "received": 0, "stored": 1},
    ]
    # A forged answer with an old counter is only invalid: no alarm without the key.
    forged = await passkey_login(
        client, authenticator, sign_count=0, edit=_set(("response", "signature"), tamper)
    )
    assert code(forged) == "passkey_invalid"
    assert (await passkey_login(client, authenticator)).status_code == 200  # counter 2


async def test_challenge_is_single_use(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, enrolled: Json
) -> None:
    ceremony = await auth_options(client)
    first = authenticator.authenticate(ceremony["options"])
    body = {"challenge_id": ceremony["challenge_id"], "credential": first}
    assert (await client.post(f"{API}/passkey/login", json=body)).status_code == 200
    second = authenticator.authenticate(ceremony["options"])
    for credential in (first, second):
        reused = await client.post(
            f"{API}/passkey/login",
            json={"challenge_id": ceremony["challenge_id"], "credential": credential},
        )
        assert reused.status_code == 401
        assert code(reused) == "challenge_invalid"


async def test_failed_attempt_spends_the_challenge(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, enrolled: Json
) -> None:
    ceremony = await auth_options(client)
    good = authenticator.authenticate(ceremony["options"])
    bad = json.loads(json.dumps(good))
    bad["response"]["signature"] = tamper(bad["response"]["signature"])
    for credential, expected in ((bad, "passkey_invalid"), (good, "challenge_invalid")):
        response = await client.post(
            f"{API}/passkey/login",
            json={"challenge_id": ceremony["challenge_id"], "credential": credential},
        )
        assert code(response) == expected


async def test_unknown_passkey_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, enrolled: Json
) -> None:
    stranger = SoftAuthenticator()
    stranger.register({"rp": {"id": "localhost"}, "user": {"id": "AQ"}, "challenge": "AA"})
    response = await passkey_login(client, stranger)
    assert response.status_code == 401
    assert code(response) == "passkey_unknown"
    [entry] = await activity(runtime, "auth.passkey_failed")
    assert entry.actor_id is None


async def test_deactivated_user_cannot_sign_in_with_a_passkey(
    client: httpx.AsyncClient,
    db: AsyncSession,
    alice: User,
    authenticator: SoftAuthenticator,
    enrolled: Json,
) -> None:
    alice.is_active = False
    await db.commit()
    response = await passkey_login(client, authenticator)
    assert response.status_code == 401
    assert code(response) == "user_inactive"


async def test_unknown_challenge_id_is_refused(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, enrolled: Json
) -> None:
    ceremony = await auth_options(client)
    credential = authenticator.authenticate(ceremony["options"])
    for challenge_id in ("not-a-challenge", "x" * 200):
        response = await client.post(
            f"{API}/passkey/login", json={"challenge_id": challenge_id, "credential": credential}
        )
        assert response.status_code == 401
        assert code(response) == "challenge_invalid"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signature", "!!not base64!!"),
        ("signature", "A" * 2049),
        ("authenticatorData", ""),
        ("clientDataJSON", "A" * 8193),
        ("userHandle", "A" * 129),
    ],
)
async def test_malformed_or_oversized_credential_is_a_422(
    client: httpx.AsyncClient,
    authenticator: SoftAuthenticator,
    enrolled: Json,
    field: str,
    value: str,
) -> None:
    response = await passkey_login(
        client, authenticator, edit=_set(("response", field), lambda _: value)
    )
    assert response.status_code == 422
    assert code(response) == "validation_error"


async def test_mangled_answers_never_cause_a_500(
    client: httpx.AsyncClient,
    runtime: Runtime,
    alice_headers: dict[str, str],
    authenticator: SoftAuthenticator,
    enrolled: Json,
) -> None:
    """Whatever the bytes, a refusal: never a 500, never a session."""
    rng = random.Random(20261123)

    def mangle(value: str) -> str:
        data = bytearray(b64url_decode(value))
        how = rng.choice(["flip", "truncate", "extend", "random", "cbor"])
        if how == "flip" and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif how == "truncate":
            del data[rng.randrange(len(data) + 1) :]
        elif how == "extend":
            data += rng.randbytes(rng.randrange(1, 64))
        elif how == "random":
            data = bytearray(rng.randbytes(len(data)))
        else:
            data = bytearray(cbor({"fmt": "none", "attStmt": {}, "authData": bytes(data[:40])}))
        return b64url(bytes(data)) or "AA"

    for round_ in range(60):
        await runtime.limiter.reset()
        field = rng.choice(["clientDataJSON", "authenticatorData", "signature", "userHandle"])
        response = await passkey_login(
            client, authenticator, edit=_set(("response", field), mangle)
        )
        assert response.status_code in (401, 422), (round_, field, response.text)
        field = rng.choice(["clientDataJSON", "attestationObject"])
        response = await register_passkey(
            client, alice_headers, SoftAuthenticator(), edit=_set(("response", field), mangle)
        )
        assert response.status_code in (201, 403, 422), (round_, field, response.text)
        if response.status_code == 201:  # a changed AAGUID or flag: still the client's own key
            await client.delete(f"{API}/passkeys/{response.json()['id']}", headers=alice_headers)


# --- registration ----------------------------------------------------------------------------


REGISTRATION_REFUSALS: dict[str, tuple[dict[str, Any], Callable[[Json], object] | None]] = {
    "wrong origin": ({"origin": "https://evil.example"}, None),
    "wrong rp id": ({"rp_id": "evil.example"}, None),
    "another challenge": ({"challenge": b64url(b"\x00" * 32)}, None),
    "rawId not the attested id": (
        {},
        _set(("rawId",), lambda _: b64url(b"\x01" * 32)),
    ),
}


@pytest.mark.parametrize("case", list(REGISTRATION_REFUSALS))
async def test_refused_registration_is_a_403(
    client: httpx.AsyncClient,
    runtime: Runtime,
    alice_headers: dict[str, str],
    authenticator: SoftAuthenticator,
    case: str,
) -> None:
    overrides, edit = REGISTRATION_REFUSALS[case]
    if edit is not None:  # keep id and rawId equal, as the library checks that first
        inner = edit

        def edit(credential: Json) -> None:
            inner(credential)
            credential["id"] = credential["rawId"]

    refused = await register_passkey(
        client, alice_headers, SoftAuthenticator(), edit=edit, **overrides
    )
    assert refused.status_code == 403, refused.text
    assert code(refused) == "passkey_registration_invalid"
    assert await stored_passkeys(runtime) == []
    assert (await register_passkey(client, alice_headers, authenticator)).status_code == 201


async def test_registration_challenge_is_single_use_and_personal(
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    alice_headers: dict[str, str],
    authenticator: SoftAuthenticator,
) -> None:
    await make_user(db, runtime.settings.security, email="bob@example.org")
    await db.commit()
    bob_headers = await login(client, "bob@example.org")
    ceremony = (await client.post(f"{API}/passkey/register-options", headers=bob_headers)).json()
    credential = authenticator.register(ceremony["options"])
    body = {"challenge_id": ceremony["challenge_id"], "credential": credential}
    stolen = await client.post(f"{API}/passkey/register", headers=alice_headers, json=body)
    assert code(stolen) == "passkey_registration_invalid"
    # Alice's attempt spent it: Bob starts again.
    again = await client.post(f"{API}/passkey/register", headers=bob_headers, json=body)
    assert code(again) == "passkey_registration_invalid"
    assert await stored_passkeys(runtime) == []


async def test_registering_the_same_credential_twice_is_a_409(
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    alice_headers: dict[str, str],
    authenticator: SoftAuthenticator,
    enrolled: Json,
) -> None:
    [credential] = authenticator.credentials
    with pytest.raises(Exception, match="excluded"):  # a browser refuses already
        await register_passkey(client, alice_headers, authenticator)
    # A client that ignores excludeCredentials, for Alice and for Bob:
    twice = await register_passkey(
        client, alice_headers, authenticator, reuse=credential, honour_exclude=False
    )
    await make_user(db, runtime.settings.security, email="bob@example.org")
    await db.commit()
    bob_headers = await login(client, "bob@example.org")
    for_bob = await register_passkey(client, bob_headers, authenticator, reuse=credential)
    for response in (twice, for_bob):
        assert response.status_code == 409
        assert code(response) == "passkey_exists"
    assert len(await stored_passkeys(runtime)) == 1


async def test_passkeys_per_account_are_capped(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, alice_headers: dict[str, str]
) -> None:
    db.add_all(
        Passkey(
            user_id=alice.id,
            credential_id=b64url(bytes([n])),
            credential_id_hash=passkey_verification.credential_hash(bytes([n])),
            public_key=b"\x00",
        )
        for n in range(passkeys.MAX_PASSKEYS)
    )
    await db.commit()
    response = await client.post(f"{API}/passkey/register-options", headers=alice_headers)
    assert response.status_code == 409
    assert code(response) == "passkey_limit_reached"


async def test_name_is_bounded(
    client: httpx.AsyncClient,
    alice_headers: dict[str, str],
    authenticator: SoftAuthenticator,
    enrolled: Json,
) -> None:
    url = f"{API}/passkeys/{enrolled['id']}"
    for name in ("", "   ", "x" * 101):
        response = await client.patch(url, headers=alice_headers, json={"name": name})
        assert response.status_code == 422, name
    long = await register_passkey(client, alice_headers, SoftAuthenticator(), name="x" * 101)
    assert long.status_code == 422


# --- managing passkeys -----------------------------------------------------------------------


async def test_another_users_passkey_is_not_found(
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    alice_headers: dict[str, str],
    enrolled: Json,
) -> None:
    await make_user(db, runtime.settings.security, email="bob@example.org")
    await db.commit()
    bob_headers = await login(client, "bob@example.org")
    url = f"{API}/passkeys/{enrolled['id']}"
    assert (await client.get(f"{API}/passkeys", headers=bob_headers)).json() == []
    renamed = await client.patch(url, headers=bob_headers, json={"name": "mine"})
    deleted = await client.delete(url, headers=bob_headers)
    missing = await client.delete(f"{API}/passkeys/999999", headers=alice_headers)
    for response in (renamed, deleted, missing):
        assert response.status_code == 404
        assert code(response) == "passkey_not_found"
    assert (await client.get(f"{API}/passkeys", headers=alice_headers)).json()[0]["name"] == (
        "Laptop"
    )

    assert (await client.delete(url, headers=alice_headers)).status_code == 204
    assert (await client.get(f"{API}/passkeys", headers=alice_headers)).json() == []
    [entry] = await activity(runtime, "auth.passkey_removed")
    assert entry.target_id == str(enrolled["id"])


async def test_a_removed_passkey_no_longer_signs_in(
    client: httpx.AsyncClient,
    alice_headers: dict[str, str],
    authenticator: SoftAuthenticator,
    enrolled: Json,
) -> None:
    await client.delete(f"{API}/passkeys/{enrolled['id']}", headers=alice_headers)
    response = await passkey_login(client, authenticator)
    assert code(response) == "passkey_unknown"


# --- the passkey as a second factor ----------------------------------------------------------


async def _enable_totp(db: AsyncSession, runtime: Runtime, user: User) -> None:
    user.totp_secret = crypto.encrypt(
        totp_codes.new_secret(), runtime.settings.security, purpose=totp.ENCRYPTION_PURPOSE
    )
    user.totp_enabled = True
    await db.commit()


async def _mfa_token(client: httpx.AsyncClient, email: str = "alice@example.org") -> Json:
    response = await client.post(
        f"{API}/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert body["mfa_required"] is True
    return body


async def test_passkey_as_second_factor(
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    alice: User,
    authenticator: SoftAuthenticator,
    enrolled: Json,
) -> None:
    await _enable_totp(db, runtime, alice)
    step = await _mfa_token(client)
    assert "passkey" in step["methods"]

    ceremony = await auth_options(client, step["mfa_token"])
    options = ceremony["options"]
    assert [c["id"] for c in options["allowCredentials"]] == [authenticator.credentials[0].id]
    assert options["userVerification"] == "preferred"
    # A security key without a PIN will do after the password: no user verification needed.
    assertion = authenticator.authenticate(options, user_verified=False)
    signed_in = await client.post(
        f"{API}/passkey/login",
        json={
            "challenge_id": ceremony["challenge_id"],
            "credential": assertion,
            "mfa_token": step["mfa_token"],
        },
    )
    headers = bearer(signed_in)
    sessions = (await client.get(f"{API}/sessions", headers=headers)).json()
    assert [s["auth_method"] for s in sessions if s["current"]] == ["passkey"]
    [entry] = await activity(runtime, "auth.passkey_login")
    assert entry.details["mfa"] is True

    # The MFA step is spent.
    spent = await client.post(f"{API}/passkey/auth-options", json={"mfa_token": step["mfa_token"]})
    assert spent.status_code == 401
    assert code(spent) == "challenge_invalid"


async def test_second_factor_must_be_the_users_own_passkey(
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    alice: User,
    enrolled: Json,
) -> None:
    bob = await make_user(db, runtime.settings.security, email="bob@example.org")
    await db.commit()
    bobs_authenticator = SoftAuthenticator()
    registered = await register_passkey(client, await login(client, bob.email), bobs_authenticator)
    assert registered.status_code == 201
    await _enable_totp(db, runtime, alice)
    step = await _mfa_token(client)

    with pytest.raises(NotAllowedError):  # the browser would offer only Alice's
        await passkey_login(client, bobs_authenticator, mfa_token=step["mfa_token"])
    # Bob's passkey for Alice's step; and Alice's step with Bob's passwordless challenge.
    response = await passkey_login(
        client,
        bobs_authenticator,
        mfa_token=step["mfa_token"],
        credential=bobs_authenticator.credentials[0],
    )
    assert response.status_code == 401
    assert code(response) == "passkey_unknown"
    async with runtime.sessionmaker() as session:
        mfa = await challenges.find(
            session, kind=login_service.MFA_CHALLENGE, raw=step["mfa_token"]
        )
        assert mfa.attempts == 1


async def test_auth_options_for_a_bad_step_or_a_user_without_passkeys(
    client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime, alice: User
) -> None:
    bad = await client.post(f"{API}/passkey/auth-options", json={"mfa_token": "nope"})
    assert bad.status_code == 401
    assert code(bad) == "challenge_invalid"
    await _enable_totp(db, runtime, alice)
    step = await _mfa_token(client)
    assert "passkey" not in step["methods"]
    none = await client.post(f"{API}/passkey/auth-options", json={"mfa_token": step["mfa_token"]})
    assert none.status_code == 401
    assert code(none) == "passkey_unknown"
    # Passwordless options need no body at all.
    assert (await client.post(f"{API}/passkey/auth-options")).status_code == 200


async def test_passkey_sign_in_is_rate_limited(client: httpx.AsyncClient) -> None:
    statuses = [
        (await client.post(f"{API}/passkey/auth-options", json={})).status_code for _ in range(31)
    ]
    assert statuses == [200] * 30 + [429]


# --- recorded responses from real authenticators (corpus) ------------------------------------

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "webauthn"
VECTORS: list[Json] = json.loads(
    (CORPUS / "py_webauthn-2.5.2-vectors.json").read_text(encoding="utf-8")
)["vectors"]


def _bytes(value: Json) -> bytes:
    return b64url_decode(value["b64u"])


def _vector_id(vector: Json) -> str:
    """ "RegistrationResponsePacked::verify_attestation_from_yubikey_firefox" and the like."""
    source: str = vector["source_test"]
    _file, test_class, test = source.rsplit("::", 2)
    return f"{test_class.removeprefix('TestVerify')}::{test.removeprefix('test_')}"


def _not_on_our_path(vector: Json) -> str | None:
    """Why a vector's inputs cannot be given to our verification, or None."""
    if "pem_root_certs_bytes_by_fmt" in vector["inputs"]:
        return "refused for a root supplied per call; we request no attestation, trust no roots"
    return None


# py_webauthn's parsed structs name fields in snake case; the browser JSON in camel case.
_JSON_NAMES = {
    "raw_id": "rawId",
    "client_data_json": "clientDataJSON",
    "attestation_object": "attestationObject",
    "authenticator_data": "authenticatorData",
    "user_handle": "userHandle",
    "authenticator_attachment": "authenticatorAttachment",
}


def _browser_json(vector: Json) -> Json:
    """The credential as a browser sends it (a few vectors hold py_webauthn's parsed struct,
    bytes written {"b64u": ...}: the same recordings, written back in the JSON form)."""

    def written_back(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"b64u"}:
                return value["b64u"]
            return {
                _JSON_NAMES.get(key, key): written_back(item)
                for key, item in value.items()
                if item is not None
            }
        return value

    credential = vector["inputs"]["credential"]
    parsed: Json = written_back(
        json.loads(credential) if isinstance(credential, str) else credential
    )
    return parsed


def _origins(vector: Json) -> list[str]:
    origin = vector["inputs"]["expected_origin"]
    return [origin] if isinstance(origin, str) else list(origin)


def _rp(vector: Json, origin: str | None = None) -> passkey_verification.RelyingParty:
    inputs = vector["inputs"]
    return passkey_verification.RelyingParty(
        id=inputs["expected_rp_id"], name="Corpus", origin=origin or _origins(vector)[0]
    )


def _params(function: str) -> list[Any]:
    """The vectors our verification path can take; the others are left out, not skipped
    (`_not_on_our_path` says why), and test_most_corpus_vectors_apply keeps the count honest."""
    return [
        pytest.param(v, id=_vector_id(v))
        for v in VECTORS
        if v["function"] == function and _not_on_our_path(v) is None
    ]


def test_most_corpus_vectors_apply() -> None:
    left_out = [_vector_id(v) for v in VECTORS if _not_on_our_path(v) is not None]
    assert len(VECTORS) == 20
    assert len(left_out) <= 1, left_out


@pytest.fixture
def attestation_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[Json], None]:
    """Pin certificate-chain validation to a vector's time, as upstream does: the
    attestation certificates of old recordings have expired since."""

    def pin(vector: Json) -> None:
        when = vector["x509_validation_time"]
        if when is None:
            return

        def store() -> X509Store:
            pinned = X509Store()
            pinned.set_time(datetime.fromisoformat(when))
            return pinned

        # The package re-exports a function under the module's name: fetch the module itself.
        module = importlib.import_module("webauthn.helpers.validate_certificate_chain")
        monkeypatch.setattr(module, "_generate_new_cert_store", store)

    return pin


@pytest.mark.parametrize("vector", _params("verify_registration_response"))
def test_recorded_registration_through_our_verification(
    vector: Json, attestation_clock: Callable[[Json], None]
) -> None:
    attestation_clock(vector)
    credential = RegistrationCredential.model_validate(_browser_json(vector)).as_json()
    challenge = _bytes(vector["inputs"]["expected_challenge"])
    if "expected_error" in vector:
        with pytest.raises(passkey_verification.PasskeyRegistrationInvalidError):
            passkey_verification.verify_registration(
                credential, challenge=challenge, rp=_rp(vector)
            )
        return
    # A deployment has one origin (server.base_url): where upstream allows several, the
    # recording passes for the origin it was made at, and only for that one.
    client_data = json.loads(b64url_decode(credential["response"]["clientDataJSON"]))
    for origin in _origins(vector):
        rp = _rp(vector, origin)
        if origin != client_data["origin"]:
            with pytest.raises(passkey_verification.PasskeyRegistrationInvalidError):
                passkey_verification.verify_registration(credential, challenge=challenge, rp=rp)
            continue
        new = passkey_verification.verify_registration(credential, challenge=challenge, rp=rp)
        expected = vector["expected"]
        assert new.credential_id == _bytes(expected["credential_id"])
        assert new.public_key == _bytes(expected["credential_public_key"])
        assert new.sign_count == expected["sign_count"]
        assert new.aaguid == expected["aaguid"]
        assert new.backed_up == expected["credential_backed_up"]


@pytest.mark.parametrize("vector", _params("verify_authentication_response"))
def test_recorded_authentication_through_our_verification(vector: Json) -> None:
    inputs = vector["inputs"]
    credential = AuthenticationCredential.model_validate(_browser_json(vector)).as_json()

    def verify() -> Any:
        return passkey_verification.verify_assertion(
            credential,
            challenge=_bytes(inputs["expected_challenge"]),
            rp=_rp(vector),
            public_key=_bytes(inputs["credential_public_key"]),
            sign_count=inputs["credential_current_sign_count"],
            require_user_verification=bool(inputs.get("require_user_verification")),
        )

    if "expected_error" in vector:
        with pytest.raises(passkey_verification.PasskeyInvalidError):
            verify()
        return
    assert verify().new_sign_count == vector["expected"]["new_sign_count"]


def test_the_corpus_is_what_we_expect() -> None:
    functions = [v["function"] for v in VECTORS]
    assert functions.count("verify_registration_response") == 14
    assert functions.count("verify_authentication_response") == 6
    runnable = [v for v in VECTORS if _not_on_our_path(v) is None]
    assert len(runnable) == 19


async def test_recorded_registrations_are_stored_on_this_backend(
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    alice: User,
    alice_headers: dict[str, str],
    attestation_clock: Callable[[Json], None],
) -> None:
    """Real credentials (long ids, Ed25519 and P-256 keys, several authenticators) through
    register() with their recorded challenge planted, then listed over HTTP."""
    seen: dict[bytes, str] = {}
    for vector in VECTORS:
        if vector["function"] != "verify_registration_response" or _not_on_our_path(vector):
            continue
        if "expected_error" in vector:
            continue
        attestation_clock(vector)
        challenge_id = await challenges.create(
            db,
            kind=passkeys.REGISTER_CHALLENGE,
            ttl_seconds=60,
            user_id=alice.id,
            data={"challenge": vector["inputs"]["expected_challenge"]["b64u"]},
        )
        credential = RegistrationCredential.model_validate(_browser_json(vector))
        client_data = json.loads(b64url_decode(credential.response.client_data_json))
        credential_id = _bytes(vector["expected"]["credential_id"])
        try:
            await passkeys.register(
                db,
                alice,
                challenge_id=challenge_id,
                credential=credential.as_json(),
                name=_vector_id(vector)[:100],
                rp=_rp(vector, client_data["origin"]),
                origin=Origin(ip="127.0.0.1"),
            )
        except passkeys.PasskeyExistsError:
            assert credential_id in seen  # the same recording under another test's name
        else:
            seen[credential_id] = vector["expected"]["aaguid"]
        await db.commit()
    listed = (await client.get(f"{API}/passkeys", headers=alice_headers)).json()
    assert len(listed) == len(seen) == 6
    rows = await stored_passkeys(runtime)
    assert {b64url_decode(r.credential_id): r.aaguid for r in rows} == seen


async def test_recorded_assertion_signs_in_then_its_replay_is_caught(
    db: AsyncSession, runtime: Runtime, alice: User
) -> None:
    """py_webauthn's recorded ES256 assertion (counter 77 -> 78, no user verification, no user
    handle) as the second factor of a real MFA step; sent again, its counter has not moved."""
    [vector] = [v for v in VECTORS if v["source_test"].endswith("with_EC2_public_key")]
    inputs = vector["inputs"]
    credential_id = _bytes(vector["expected"]["credential_id"])
    db.add(
        Passkey(
            user_id=alice.id,
            credential_id=b64url(credential_id),
            credential_id_hash=passkey_verification.credential_hash(credential_id),
            public_key=_bytes(inputs["credential_public_key"]),
            sign_count=inputs["credential_current_sign_count"],
        )
    )
    alice.totp_enabled = True
    await db.commit()
    credential = AuthenticationCredential.model_validate(_browser_json(vector)).as_json()

    async def attempt() -> Any:
        step = await login_service.start_mfa(db, alice, runtime.settings.security)
        challenge_id = await challenges.create(
            db,
            kind=passkeys.AUTH_CHALLENGE,
            ttl_seconds=60,
            user_id=alice.id,
            data={"challenge": inputs["expected_challenge"]["b64u"]},
        )
        return await passkey_login_service.sign_in(
            db,
            challenge_id=challenge_id,
            credential=credential,
            mfa_token=step.mfa_token,
            rp=_rp(vector),
            settings=runtime.settings.security,
            origin=Origin(ip="127.0.0.1"),
        )

    pair = await attempt()
    assert pair.user.id == alice.id
    await db.commit()
    with pytest.raises(passkey_verification.PasskeyCounterRegressionError):
        await attempt()
    await db.rollback()
    [row] = await stored_passkeys(runtime)
    assert row.sign_count == 78


async def test_pending_challenges_are_stored_hashed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ceremony = await auth_options(client)
    async with runtime.sessionmaker() as session:
        [row] = (await session.execute(select(AuthChallenge))).scalars().all()
    assert row.kind == passkeys.AUTH_CHALLENGE
    assert row.challenge_hash == crypto.token_hash(ceremony["challenge_id"])
    assert row.data == {"challenge": ceremony["options"]["challenge"]}
