"""A post from a non-member is held; a moderator approves it from the queue."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    make_domain,
    make_list,
    screenshot,
    sign_in,
)


def _wait_held(server: Server, token: str, list_id: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items: list[dict[str, object]] = server.api(
            "GET", f"/lists/{list_id}/moderation", token
        ).json()["items"]
        if items:
            return items
        time.sleep(0.3)
    raise AssertionError("the post was never held")


def test_moderator_approves_a_held_post(page: Page, server: Server, admin_token: str) -> None:
    domain_id = make_domain(server, admin_token, "mod.example.org")
    list_id = make_list(server, admin_token, domain_id, "held", nonmember_action="hold")
    server.send_mail(
        "stranger@example.net", "held@mod.example.org", "Hello from outside", "May I post?"
    )
    held = _wait_held(server, admin_token, list_id)

    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/moderation")
    table = page.get_by_test_id("moderation-table")
    expect(table).to_contain_text("Hello from outside")
    expect(table).to_contain_text("stranger@example.net")
    expect(table).to_contain_text("Not a member")
    expect(page.get_by_test_id("pending-badge")).to_be_visible()
    assert_no_unknown_components(page)
    screenshot(page, "moderation")

    page.get_by_text("Hello from outside").click()
    expect(page.get_by_role("heading", name="Hello from outside")).to_be_visible()
    expect(page.get_by_text("May I post?")).to_be_visible()
    screenshot(page, "moderation-detail")
    page.go_back()

    table.get_by_test_id("held-approve").first.click()
    expect(page.get_by_text("Approved: Hello from outside")).to_be_visible()
    expect(page.get_by_test_id("state-empty")).to_contain_text("Nothing is waiting")

    decided = server.api("GET", f"/moderation/{held[0]['id']}", admin_token).json()
    assert decided["status"] == "approved"
