"""A post the AI step flags is held with its verdict; the moderator reports the verdict wrong
from the held message's page. The AI provider is an OpenAI-compatible /moderations endpoint
served by the test, answering as the real API does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.processes import free_port
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

VERDICT = {
    "id": "modr-1",
    "model": "omni-moderation-latest",
    "results": [
        {
            "flagged": True,
            "categories": {"harassment": True, "violence": False},
            "category_scores": {"harassment": 0.93, "violence": 0.02},
        }
    ],
}


class _Moderations(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        ok = self.path == "/moderations" and isinstance(request.get("input"), list)
        body = json.dumps(VERDICT if ok else {"error": {"message": "bad request"}}).encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test's output is pytest's."""


@pytest.fixture
def ai_provider(server: Server, admin_token: str) -> Iterator[None]:
    """The service's AI step pointed at the fake provider; switched off again afterwards, as
    the service is shared with the other tests."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), _Moderations)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    settings = {
        "enabled": True,
        "provider": "openai",
        "endpoint": f"http://127.0.0.1:{httpd.server_address[1]}",
        "api_key": "test-key",
    }
    changed = server.api("PATCH", "/settings/ai-moderation", admin_token, json=settings)
    assert changed.status_code == 200, changed.text
    try:
        yield
    finally:
        server.api("PATCH", "/settings/ai-moderation", admin_token, json={"enabled": False})
        httpd.shutdown()
        httpd.server_close()


def _wait_held(server: Server, token: str, list_id: int) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = server.api("GET", f"/lists/{list_id}/moderation", token).json()["items"]
        if items:
            held: dict[str, object] = items[0]
            return held
        time.sleep(0.3)
    raise AssertionError("the post was never held")


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
    held = _wait_held(server, admin_token, list_id)
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
