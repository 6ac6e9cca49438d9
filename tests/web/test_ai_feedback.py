"""A post the AI step flags is held with its verdict; the moderator reports the verdict wrong
from the held message's page. The AI provider is an OpenAI-compatible /moderations endpoint
served by the tests (conftest.py), answering as the real API does."""

from __future__ import annotations

import pytest
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
    wait_held,
)


@pytest.mark.usefixtures("ai_provider")
def test_moderator_reports_a_false_positive_from_the_held_post(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "ai.example.org")
    list_id = make_list(
        server,
        admin_token,
        domain_id,
        "screened",
        posting_policy="anyone",
        ai_moderation_enabled=True,
        ai_flagged_action="hold",
    )
    server.send_mail("poet@example.net", "screened@ai.example.org", "A sharp review", "Harsh.")
    held = wait_held(server, admin_token, list_id)
    assert held["reason"] == "ai_flagged", held

    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/moderation/{held['id']}")
    expect(page.get_by_text("93 (flagged)")).to_be_visible()
    expect(page.get_by_text("harassment", exact=True)).to_be_visible()
    page.get_by_test_id("ai-feedback").click()
    page.get_by_test_id("feedback-note").fill("Criticism, not harassment")
    page.get_by_test_id("feedback-whitelist").click()
    assert_no_unknown_components(page)
    screenshot(page, "ai-feedback")
    page.get_by_test_id("feedback-submit").click()
    expect(page.get_by_text("the feedback was recorded")).to_be_visible()
    expect(page.get_by_test_id("ai-feedback-given")).to_be_visible()

    # The same verdict takes one report; the page says so in words.
    page.reload()
    page.get_by_test_id("ai-feedback").click()
    page.get_by_test_id("feedback-submit").click()
    expect(page.get_by_text("Feedback on this verdict was already given.")).to_be_visible()
    rules = server.api("GET", f"/lists/{list_id}/policies", admin_token).json()
    assert [(rule["kind"], rule["pattern"]) for rule in rules] == [
        ("whitelist", "poet@example.net")
    ]

    # Leave the shared queue as it was found: other tests read the queue across lists.
    done = server.api("POST", f"/moderation/{held['id']}/discard", admin_token, json={})
    assert done.status_code == 200, done.text
