"""The passkey journey in a real browser: register a passkey on the profile page with
Chromium's virtual authenticator (CDP WebAuthn), sign out, and sign in with the passkey alone.

A browser refuses an IP address as the WebAuthn relying party, so this test runs its own
service at http://localhost:port with the relying party "localhost"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    new_page,
    page_errors,
    running_server,
    screenshot,
    sign_in,
)


@pytest.fixture
def localhost_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, host="localhost") as server:
        response = server.api(
            "POST",
            "/setup",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "display_name": "Ada Admin"},
        )
        assert response.status_code == 201, response.text
        yield server


def test_register_a_passkey_then_sign_in_with_it(
    browser: Browser, localhost_server: Server
) -> None:
    server = localhost_server
    page = new_page(browser)
    try:
        # A platform authenticator that keeps discoverable credentials and verifies the user,
        # answering every request at once (as if touched).
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

        sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/profile")
        page.get_by_placeholder("Passkey name").fill("Test laptop")
        page.get_by_test_id("passkey-add").click()
        expect(page.get_by_text("Passkey added")).to_be_visible()
        expect(page.get_by_role("cell", name="Test laptop")).to_be_visible()
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert len(stored["credentials"]) == 1
        assert stored["credentials"][0]["isResidentCredential"] is True
        passkeys = server.api(
            "GET", "/auth/passkeys", server.token(ADMIN_EMAIL, ADMIN_PASSWORD)
        ).json()
        assert [passkey["name"] for passkey in passkeys] == ["Test laptop"]
        assert_no_unknown_components(page)
        screenshot(page, "profile-passkey")

        page.get_by_test_id("user-menu").click()
        page.get_by_test_id("logout").click()
        expect(page).to_have_url(f"{server.url}/login")
        assert page.evaluate("localStorage.getItem('oak.session')") is None

        # No address typed: the passkey is discoverable and says who signs in.
        page.get_by_test_id("passkey-login").click()
        expect(page).to_have_url(f"{server.url}/")
        expect(page.get_by_test_id("user-menu")).to_contain_text("Ada Admin")
        assert page.evaluate("localStorage.getItem('oak.session')") is not None
        signed = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert signed["credentials"][0]["signCount"] >= 1
    finally:
        errors = page_errors(page)
        page.context.close()
    assert errors == [], errors
