"""Fixtures for the browser tests: one shared service with an administrator, one browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

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
