"""Fixtures for the browser tests: one shared service with an administrator, one browser."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.processes import free_port
from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    launch,
    new_page,
    page_errors,
    require_build,
    running_server,
)


@pytest.fixture(autouse=True)
def _clean_tables() -> None:
    """Overrides the suite's async table cleanup: these tests own a whole service and database,
    and sync Playwright runs its own event loop, where an async fixture cannot run."""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require_build()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A service whose first administrator exists (created through /setup)."""
    with running_server(tmp_path_factory.mktemp("web")) as server:
        response = server.api(
            "POST",
            "/setup",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "display_name": "Ada Admin"},
        )
        assert response.status_code == 201, response.text
        yield server


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A service that has never been set up."""
    with running_server(tmp_path) as server:
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = new_page(browser)
    yield page
    errors = page_errors(page)
    page.context.close()
    assert errors == [], errors


@pytest.fixture(scope="session")
def admin_token(server: Server) -> str:
    return server.token(ADMIN_EMAIL, ADMIN_PASSWORD)


# An OpenAI-compatible /moderations endpoint served by the tests, answering as the real API does.
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
