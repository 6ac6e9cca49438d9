"""Creating a list and editing its settings from the browser."""

from __future__ import annotations

import re

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
