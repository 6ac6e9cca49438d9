"""What the sidebar shows follows the user's role (an administrator, a list's moderator, a
subscriber); admin pages opened by URL say "no access"; on a phone the sidebar folds into a
drawer."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    make_domain,
    make_list,
    make_user,
    new_page,
    screenshot,
    sign_in,
    wait_held,
)

ADMIN_ONLY = (
    "nav-domains",
    "nav-users",
    "nav-settings",
    "nav-ai-settings",
    "nav-sender-rules",
)
ADMIN_URLS = ("/domains", "/users", "/settings", "/settings/ai-moderation", "/policies")


def _expect_no_access(page: Page, server: Server, path: str) -> None:
    """An admin page opened by URL: the shell stays, the page says so, nothing breaks."""
    page.goto(server.url + path)
    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_test_id("no-access")).to_contain_text("No access")
    expect(page).to_have_url(server.url + path)
    expect(page.get_by_test_id("nav-dashboard")).to_be_visible()
    expect(page.get_by_test_id("state-error")).to_have_count(0)


def test_a_plain_member_sees_no_admin_items(page: Page, server: Server, admin_token: str) -> None:
    domain_id = make_domain(server, admin_token, "readers.example.org")
    list_id = make_list(server, admin_token, domain_id, "readers")
    make_user(server, admin_token, "member@example.org", "member password 1")
    added = server.api(
        "POST", f"/lists/{list_id}/subscribers", admin_token, json={"email": "member@example.org"}
    )
    assert added.status_code == 201, added.text
    sign_in(page, server, "member@example.org", "member password 1")
    expect(page.get_by_role("heading", name="Hello, member")).to_be_visible()
    for visible in ("nav-dashboard", "nav-lists", "nav-archive", "nav-profile"):
        expect(page.get_by_test_id(visible)).to_be_visible()
    for hidden in (*ADMIN_ONLY, "nav-moderation", "nav-ai-stats", "nav-templates"):
        expect(page.get_by_test_id(hidden)).to_have_count(0)
    expect(page.get_by_test_id("stat-users")).to_have_count(0)
    screenshot(page, "dashboard-member")

    # A subscriber reads the list's archive; its staff pages are not theirs.
    page.goto(f"{server.url}/lists/{list_id}/archive")
    expect(page.get_by_test_id("archive-search")).to_be_visible()
    expect(page.get_by_test_id("state-error")).to_have_count(0)
    expect(page.get_by_test_id("list-tabs")).to_have_count(0)

    # Admin pages are out of reach by URL too.
    for path in (*ADMIN_URLS, "/lists/new"):
        _expect_no_access(page, server, path)
    screenshot(page, "no-access")


def test_a_list_moderator_sees_their_queue_and_archive_but_no_admin_items(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "staff.example.org")
    mine = make_list(server, admin_token, domain_id, "mine", nonmember_action="hold")
    theirs = make_list(server, admin_token, domain_id, "theirs", nonmember_action="hold")
    make_user(server, admin_token, "moderator@example.org", "moderator password 1")
    granted = server.api(
        "POST",
        f"/lists/{mine}/roles",
        admin_token,
        json={"email": "moderator@example.org", "role": "moderator"},
    )
    assert granted.status_code == 201, granted.text
    server.send_mail("outsider@example.net", "mine@staff.example.org", "For my list", "Hi mine")
    server.send_mail("outsider@example.net", "theirs@staff.example.org", "Not mine", "Hi there")
    held = [wait_held(server, admin_token, mine), wait_held(server, admin_token, theirs)]
    try:
        _moderator_journey(page, server, mine, theirs)
    finally:
        # The service is shared: leave no pending post in the other tests' queue.
        for item in held:
            server.api("POST", f"/moderation/{item['id']}/discard", admin_token, json={})


def _moderator_journey(page: Page, server: Server, mine: int, theirs: int) -> None:

    sign_in(page, server, "moderator@example.org", "moderator password 1")
    expect(page.get_by_role("heading", name="Hello, moderator")).to_be_visible()
    for visible in ("nav-moderation", "nav-archive", "nav-ai-stats", "nav-lists"):
        expect(page.get_by_test_id(visible)).to_be_visible()
    for hidden in ADMIN_ONLY:
        expect(page.get_by_test_id(hidden)).to_have_count(0)
    # The badge counts what waits on their list only.
    expect(page.get_by_test_id("pending-badge")).to_have_text("1")

    page.get_by_test_id("nav-moderation").click()
    table = page.get_by_test_id("moderation-table")
    expect(table).to_contain_text("For my list")
    expect(table).not_to_contain_text("Not mine")
    screenshot(page, "moderation-moderator")

    page.goto(f"{server.url}/lists/{mine}/moderation")
    expect(page.get_by_test_id("moderation-table")).to_contain_text("For my list")
    tabs = page.get_by_test_id("list-tabs")
    expect(tabs).to_contain_text("Archive")
    expect(tabs).not_to_contain_text("Settings")
    tabs.get_by_text("Archive").click()
    expect(page).to_have_url(re.compile(rf"/lists/{mine}/archive$"))
    expect(page.get_by_test_id("archive-search")).to_be_visible()
    expect(page.get_by_test_id("state-error")).to_have_count(0)

    # Another list's queue by URL: "no access", and no retry button that cannot help.
    page.goto(f"{server.url}/lists/{theirs}/moderation")
    refused = page.get_by_test_id("state-refused")
    expect(refused).to_contain_text("No access")
    expect(refused).to_contain_text("You do not have permission")
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)

    for path in (*ADMIN_URLS, "/lists/new"):
        _expect_no_access(page, server, path)


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

        # The main pages fit the phone's width too (wide tables scroll inside themselves).
        for path in ("/lists", "/moderation", "/ai-moderation", "/users", "/settings", "/profile"):
            page.goto(server.url + path)
            expect(page.locator("h1").first).to_be_visible()
            expect(page.get_by_test_id("state-loading")).to_have_count(0)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide on a 390px phone"
        screenshot(page, "phone-profile")
    finally:
        page.context.close()
