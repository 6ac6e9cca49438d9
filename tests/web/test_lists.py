"""Creating a list and editing its settings from the browser; the site's defaults for new
lists, edited with the same fields."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    choose_option,
    make_domain,
    screenshot,
    sign_in,
)


def test_admin_creates_a_list_then_edits_its_settings(
    page: Page, server: Server, admin_token: str
) -> None:
    make_domain(server, admin_token, "create.example.org")
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/lists")
    page.get_by_test_id("list-create").click()
    expect(page).to_have_url(re.compile(r"/lists/new$"))

    page.get_by_test_id("list-local-part").fill("Bad Name")
    page.get_by_test_id("list-save").click()
    expect(page.get_by_text("Lowercase letters, digits")).to_be_visible()

    page.get_by_test_id("list-name").fill("Developers")
    page.get_by_test_id("list-local-part").fill("dev")
    choose_option(page, "list-domain", "create.example.org")
    page.get_by_test_id("list-description").fill("Talk about the code")
    screenshot(page, "list-create")
    page.get_by_test_id("list-save").click()

    expect(page).to_have_url(re.compile(r"/lists/\d+/subscribers$"))
    expect(page.get_by_role("heading", name="Developers")).to_be_visible()
    expect(page.get_by_text("dev@create.example.org")).to_be_visible()
    list_id = int(page.url.rstrip("/").split("/")[-2])

    page.get_by_role("tab", name="Settings").click()
    expect(page).to_have_url(re.compile(rf"/lists/{list_id}/settings$"))
    expect(page.get_by_test_id("list-name")).to_have_value("Developers")
    page.get_by_test_id("list-subject-prefix").fill("[dev]")
    choose_option(page, "list-posting-policy", "Every post is moderated")
    page.get_by_test_id("list-emergency-hold").click()
    page.get_by_test_id("list-save").click()
    expect(page.get_by_text("Saved")).to_be_visible()
    assert_no_unknown_components(page)
    screenshot(page, "list-settings")

    saved = server.api("GET", f"/lists/{list_id}", admin_token).json()
    assert saved["subject_prefix"] == "[dev]"
    assert saved["posting_policy"] == "moderated"
    assert saved["emergency_hold"] is True
    assert saved["description"] == "Talk about the code"

    page.goto(server.url + "/lists")
    page.get_by_test_id("list-search").fill("nothing-like-this")
    expect(page.get_by_test_id("state-empty")).to_contain_text("Nothing matches")
    page.get_by_test_id("list-search").fill("Devel")
    expect(page.get_by_test_id("lists-table")).to_contain_text("dev@create.example.org")


def test_site_defaults_are_what_a_new_list_starts_with(
    page: Page, server: Server, admin_token: str
) -> None:
    before: dict[str, Any] = server.api("GET", "/settings", admin_token).json()
    make_domain(server, admin_token, "defaults.example.org")
    try:
        sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/settings")
        expect(page.get_by_test_id("settings-site-name")).to_have_value(before["site_name"])
        choose_option(page, "list-subscription-policy", "Approval: an owner approves")
        size = page.get_by_test_id("list-max-size").locator("input")
        size.fill("2048")
        size.blur()
        page.get_by_test_id("list-archive-enabled").click()
        expect(page.get_by_test_id("list-archive-public").locator("input")).to_be_disabled()
        page.get_by_test_id("settings-save").click()
        expect(page.get_by_text("Saved")).to_be_visible()
        assert_no_unknown_components(page)
        screenshot(page, "settings")
        defaults = server.api("GET", "/settings", admin_token).json()["list_defaults"]
        assert defaults["subscription_policy"] == "approval"
        assert defaults["max_message_size"] == 2048 * 1024
        assert defaults["archive_enabled"] is False

        # The list form shows the same fields, starting from those defaults.
        page.goto(server.url + "/lists/new")
        expect(page.get_by_test_id("list-max-size").locator("input")).to_have_value("2048")
        expect(page.get_by_test_id("list-subscription-policy")).to_contain_text(
            "Approval: an owner approves"
        )
        expect(page.get_by_test_id("list-archive-enabled").locator("input")).not_to_be_checked()
    finally:
        restored = server.api(
            "PATCH", "/settings", admin_token, json={"list_defaults": before["list_defaults"]}
        )
        assert restored.status_code == 200, restored.text
