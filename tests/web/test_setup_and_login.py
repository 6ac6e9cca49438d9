"""First run, sign-in and the dashboard, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    screenshot,
)


def test_setup_creates_the_admin_then_login_reaches_the_dashboard(
    page: Page, fresh_server: Server
) -> None:
    page.goto(fresh_server.url + "/lists")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_test_id("consent-necessary").click()
    expect(page.get_by_role("heading", name="Welcome to Oak Maillist")).to_be_visible()
    screenshot(page, "setup")

    page.get_by_test_id("setup-email").fill("not-an-address")
    page.get_by_test_id("setup-password").fill("short")
    page.get_by_test_id("setup-submit").click()
    expect(page.get_by_text("Enter a valid email address")).to_be_visible()
    expect(page.get_by_text("At least 8 characters")).to_be_visible()

    page.get_by_test_id("setup-email").fill(ADMIN_EMAIL)
    page.get_by_test_id("setup-name").fill("Ada Admin")
    page.get_by_test_id("setup-password").fill(ADMIN_PASSWORD)
    page.get_by_test_id("setup-confirm").fill(ADMIN_PASSWORD)
    page.get_by_test_id("setup-submit").click()
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()
    expect(page.get_by_test_id("stat-users")).to_contain_text("1")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    page.get_by_test_id("login-email").fill(ADMIN_EMAIL)
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("form-error")).to_contain_text(
        "The email address or password is wrong."
    )
    screenshot(page, "login-error")

    page.get_by_test_id("login-password").fill(ADMIN_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()
    expect(page.get_by_test_id("dashboard-stats")).to_be_visible()
    assert_no_unknown_components(page)
    screenshot(page, "dashboard")

    # Setup is over: the page now sends visitors to sign-in.
    page.goto(fresh_server.url + "/setup")
    expect(page).to_have_url(re.compile(r"/$"))
