"""Issue 3's whole journey in one story, the way a new user lives it."""

from __future__ import annotations

import time

import httpx
import time_machine

from oak_maillist.services.auth import totp_codes
from tests.api.test_passkeys import passkey_login, register_passkey
from tests.api.test_totp import oathtool
from tests.softauthn import SoftAuthenticator

API = "/api/v1/auth"
PASSWORD = "a long and lovely password"


def _bearer(body: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_register_totp_mfa_login_passkey_sessions(client: httpx.AsyncClient) -> None:
    with time_machine.travel(time.time(), tick=True) as clock:
        registered = await client.post(
            f"{API}/register",
            headers={"User-Agent": "Firefox"},
            json={"email": "journey@example.org", "password": PASSWORD},
        )
        assert registered.status_code == 201, registered.text
        first = _bearer(registered.json())

        # TOTP with a code from a real authenticator implementation (oathtool)
        secret = (await client.post(f"{API}/mfa/totp/setup", headers=first)).json()["secret"]
        enabled = await client.post(
            f"{API}/mfa/totp/enable", headers=first, json={"code": oathtool(secret)}
        )
        assert len(enabled.json()["backup_codes"]) == 10
        assert (await client.post(f"{API}/logout", headers=first)).status_code == 204
        assert (await client.get(f"{API}/me", headers=first)).status_code == 401

        # password, then the MFA step with the next code
        step = await client.post(
            f"{API}/login",
            headers={"User-Agent": "Firefox"},
            json={"email": "journey@example.org", "password": PASSWORD},
        )
        assert step.json()["mfa_required"] is True
        clock.shift(totp_codes.PERIOD)
        verified = await client.post(
            f"{API}/mfa/totp/verify",
            headers={"User-Agent": "Firefox"},
            json={"mfa_token": step.json()["mfa_token"], "code": oathtool(secret)},
        )
        assert verified.status_code == 200, verified.text
        laptop = _bearer(verified.json())

        # a passkey, then a sign-in with the passkey alone
        authenticator = SoftAuthenticator()
        added = await register_passkey(client, laptop, authenticator, name="Phone")
        assert added.status_code == 201, added.text
        phone_login = await passkey_login(client, authenticator)
        assert phone_login.status_code == 200, phone_login.text
        phone = _bearer(phone_login.json())

        # both sessions are listed; revoking the phone's ends it at once
        sessions = (await client.get(f"{API}/sessions", headers=laptop)).json()
        assert sorted(s["auth_method"] for s in sessions) == ["passkey", "totp"]
        phone_session = next(s["id"] for s in sessions if s["auth_method"] == "passkey")
        revoked = await client.delete(f"{API}/sessions/{phone_session}", headers=laptop)
        assert revoked.status_code == 204
        assert (await client.get(f"{API}/me", headers=phone)).status_code == 401
        assert (await client.get(f"{API}/me", headers=laptop)).json()["totp_enabled"] is True
