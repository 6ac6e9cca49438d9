"""Turning on TOTP from the profile and signing in through the MFA step; the public subscribe
page a visitor reaches from a list's link."""

from __future__ import annotations

import pyotp
from playwright.sync_api import Page, expect

from tests.web.harness import (
    Server,
    assert_no_unknown_components,
    make_domain,
    make_list,
    make_user,
    screenshot,
    sign_in,
)


def test_enable_totp_then_sign_in_through_the_mfa_step(
    page: Page, server: Server, admin_token: str
) -> None:
    make_user(server, admin_token, "totp@example.org", "totp password 1")
    sign_in(page, server, "totp@example.org", "totp password 1", "/profile")
    page.get_by_test_id("totp-setup").click()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("totp-enable").click()
    codes = page.get_by_test_id("backup-codes").locator("li")
    expect(codes).to_have_count(10)
    backup_code = codes.first.inner_text().strip()
    assert_no_unknown_components(page)
    screenshot(page, "profile-totp")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-email").fill("totp@example.org")
    page.get_by_test_id("login-password").fill("totp password 1")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_test_id("mfa-code").fill("000000")
    page.get_by_test_id("mfa-submit").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    screenshot(page, "login-mfa")
    # The code that turned TOTP on is spent (no replay); a backup code works once.
    page.get_by_test_id("mfa-code").fill(backup_code)
    page.get_by_test_id("mfa-submit").click()
    expect(page.get_by_role("heading", name="Hello, totp")).to_be_visible()


def test_a_visitor_subscribes_from_the_public_page(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "public.example.org")
    list_id = make_list(
        server, admin_token, domain_id, "news", description="Monthly news", visibility="public"
    )
    page.goto(f"{server.url}/lists/{list_id}/subscribe")
    expect(page.get_by_role("heading", name="News")).to_be_visible()
    expect(page.get_by_text("Monthly news")).to_be_visible()
    page.get_by_test_id("subscribe-email").fill("reader@example.net")
    page.get_by_test_id("subscribe-submit").click()
    expect(page.get_by_test_id("subscribe-done")).to_contain_text("Check your email")
    screenshot(page, "public-subscribe")

    listed = server.api(
        "GET", f"/lists/{list_id}/subscribers", admin_token, params={"status": "pending"}
    ).json()
    assert [item["email"] for item in listed["items"]] == ["reader@example.net"]
