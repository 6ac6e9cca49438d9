"""What the sidebar shows follows the user's role; on a phone it folds into a drawer."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    make_user,
    new_page,
    screenshot,
    sign_in,
)

ADMIN_ONLY = ("nav-domains", "nav-users", "nav-settings")


def test_a_plain_member_sees_no_admin_items(page: Page, server: Server, admin_token: str) -> None:
    make_user(server, admin_token, "member@example.org", "member password 1")
    sign_in(page, server, "member@example.org", "member password 1")
    expect(page.get_by_role("heading", name="Hello, member")).to_be_visible()
    for visible in ("nav-dashboard", "nav-lists", "nav-profile"):
        expect(page.get_by_test_id(visible)).to_be_visible()
    for hidden in (*ADMIN_ONLY, "nav-moderation"):
        expect(page.get_by_test_id(hidden)).to_have_count(0)
    expect(page.get_by_test_id("stat-users")).to_have_count(0)
    screenshot(page, "dashboard-member")

    # Admin pages are out of reach by URL too.
    page.goto(server.url + "/users")
    expect(page).to_have_url(re.compile(r"/$"))


def test_an_admin_sees_the_admin_items(page: Page, server: Server) -> None:
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD)
    for visible in (*ADMIN_ONLY, "nav-moderation"):
        expect(page.get_by_test_id(visible)).to_be_visible()


def test_on_a_phone_the_sidebar_folds_into_a_drawer(browser: Browser, server: Server) -> None:
    page = new_page(browser, width=390, height=844)
    try:
        sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD)
        expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()
        expect(page.get_by_test_id("sidebar")).to_have_count(0)
        toggle = page.get_by_test_id("menu-toggle")
        expect(toggle).to_be_visible()
        # Nothing overflows the phone's width.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        screenshot(page, "phone-dashboard")

        toggle.click()
        drawer = page.get_by_test_id("drawer-menu")
        expect(drawer).to_be_visible()
        screenshot(page, "phone-menu")
        drawer.get_by_test_id("nav-lists").click()
        expect(page).to_have_url(re.compile(r"/lists$"))
        expect(drawer).to_be_hidden()
    finally:
        page.context.close()
