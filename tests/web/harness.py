"""The web app in a real browser: the built SPA served by a real `oak-maillist serve` on SQLite,
driven by Python Playwright through Debian's chromium (never a downloaded browser)."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Playwright

from tests.conftest import TEST_SECRET
from tests.processes import REPO, Service, base_env, free_port, run

CHROMIUM = Path("/usr/bin/chromium")
DIST = REPO / "frontend" / "dist"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "frontend" / "e2e" / "screenshots"
ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct horse battery"
# Actions wait at most this long (ms); each test is also bounded by pytest-timeout.
ACTION_TIMEOUT_MS = 15_000


def require_build() -> None:
    """Fail (never skip) when the browser or the build is missing: the web tests must run."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    assert (DIST / "index.html").is_file(), f"{DIST} has no build: cd frontend && npm run build"


@dataclass
class Server:
    """A running service: its HTTP base URL and SMTP port."""

    url: str
    smtp_port: int
    service: Service
    database: Path

    def api(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def token(self, email: str, password: str) -> str:
        token: str = self.tokens(email, password)["access_token"]
        return token

    def tokens(self, email: str, password: str) -> dict[str, Any]:
        """Sign in through the API. The service allows an account 10 sign-ins a minute and the
        suite signs the administrator in for most tests: on 429 wait as told, a few times."""
        for _attempt in range(3):
            response = self.api("POST", "/auth/login", json={"email": email, "password": password})
            if response.status_code != 429:
                break
            wait = response.json()["error"]["details"].get("retry_after", 5)
            time.sleep(min(float(wait) + 0.5, 30))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def send_mail(self, sender: str, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = f"<{time.monotonic_ns()}@example.net>"
        message.set_content(body)
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=15) as client:
            client.send_message(message)


@contextmanager
def running_server(tmp_path: Path, host: str = "127.0.0.1") -> Iterator[Server]:
    """`oak-maillist serve` with a fresh SQLite database and the built web app, reached by the
    browser at http://`host`:port. Passkeys need a domain there: a browser refuses an IP
    address as the WebAuthn relying party, so their tests use "localhost"."""
    require_build()
    http_port, smtp_port, relay_port = free_port(), free_port(), free_port()
    env = base_env(f"sqlite://{tmp_path / 'web.db'}", tmp_path) | {
        "OAK__SERVER__HOST": "127.0.0.1",
        "OAK__SERVER__PORT": str(http_port),
        "OAK__SERVER__BASE_URL": f"http://{host}:{http_port}",
        "OAK__SERVER__STATIC_DIR": str(DIST),
        "OAK__SMTP__INCOMING__HOST": "127.0.0.1",
        "OAK__SMTP__INCOMING__PORT": str(smtp_port),
        # Nothing listens there: deliveries are deferred, never sent anywhere.
        "OAK__SMTP__OUTGOING__HOST": "127.0.0.1",
        "OAK__SMTP__OUTGOING__PORT": str(relay_port),
        "OAK__SMTP__OUTGOING__SECURITY": "none",
        "OAK__SECURITY__JWT_SECRET": TEST_SECRET,
        "OAK__SECURITY__WEBAUTHN_RP_ID": host,
        "OAK__LOGGING__LEVEL": "warning",
    }
    migrated = run(env, "migrate", "up")
    assert migrated.returncode == 0, migrated.stderr
    service = Service(env, tmp_path / "serve.log", "serve")
    try:
        url = f"http://{host}:{http_port}"
        service.wait_ready(f"{url}/health/ready")
        yield Server(url=url, smtp_port=smtp_port, service=service, database=tmp_path / "web.db")
    finally:
        _status, output = service.stop()
    assert "Traceback" not in output, output[-5000:]


def outbound_mail(server: Server, kind: str, recipient: str) -> EmailMessage:
    """The newest mail of `kind` (a template name: confirm, list_invite, ...) queued for
    `recipient`. Nothing listens on the relay port, so what the service sends stays in its
    outbound queue, where the test reads it as the recipient would: the links in it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{server.database}?mode=ro", uri=True, timeout=10) as db:
            row = db.execute(
                "SELECT raw FROM outbound_messages WHERE kind = ? AND recipient = ?"
                " ORDER BY id DESC LIMIT 1",
                (kind, recipient),
            ).fetchone()
        if row:
            parsed = email.message_from_string(row[0], policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            return parsed
        time.sleep(0.3)
    raise AssertionError(f"no {kind} mail was queued for {recipient}")


def link_in(message: EmailMessage, path: str) -> str:
    """The first link in a mail's text whose path starts with `path` (/invitation, ...)."""
    part = message.get_body(("plain",))
    assert part is not None, "the mail has no text part"
    text = part.get_content()
    found = re.search(rf"https?://[^\s]+{re.escape(path)}[^\s]*", text)
    assert found, f"no {path} link in: {text}"
    return found.group()


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def new_page(
    browser: Browser,
    *,
    locale: str = "en-US",
    width: int = 1280,
    height: int = 860,
) -> Page:
    context = browser.new_context(
        locale=locale, viewport={"width": width, "height": height}, device_scale_factor=1
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    errors = _PAGE_ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


# Uncaught script errors per page (by id): a test fails if the app threw.
_PAGE_ERRORS: dict[int, list[str]] = {}


def page_errors(page: Page) -> list[str]:
    return _PAGE_ERRORS.pop(id(page), [])


def sign_in(page: Page, server: Server, email: str, password: str, path: str = "/") -> None:
    """Start signed in (tokens from the API) with cookies accepted, then open `path`."""
    pair = server.tokens(email, password)
    page.goto(f"{server.url}/login")
    page.evaluate(
        """([access, refresh]) => {
            localStorage.setItem('oak.consent', 'all')
            localStorage.setItem('oak.session', JSON.stringify({ access, refresh }))
        }""",
        [pair["access_token"], pair["refresh_token"]],
    )
    page.goto(f"{server.url}{path}")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # A full-page shot of a scrolled page draws the sticky header and sidebar mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


def assert_no_unknown_components(page: Page) -> None:
    """An Element Plus component used but not registered renders as a bare <el-*> tag."""
    unknown = page.evaluate(
        """() => [...document.querySelectorAll('*')]
            .map((el) => el.tagName.toLowerCase())
            .filter((tag) => tag.startsWith('el-'))"""
    )
    assert unknown == [], f"unregistered Element Plus components: {sorted(set(unknown))}"


def make_domain(server: Server, token: str, name: str) -> int:
    response = server.api("POST", "/domains", token, json={"name": name})
    assert response.status_code == 201, response.text
    domain_id: int = response.json()["id"]
    return domain_id


def make_list(server: Server, token: str, domain_id: int, local_part: str, **fields: Any) -> int:
    body = {"domain_id": domain_id, "local_part": local_part, "name": local_part.title(), **fields}
    response = server.api("POST", "/lists", token, json=body)
    assert response.status_code == 201, response.text
    list_id: int = response.json()["id"]
    return list_id


def make_user(server: Server, token: str, email: str, password: str, role: str = "user") -> None:
    body = {"email": email, "password": password, "display_name": email.split("@")[0], "role": role}
    response = server.api("POST", "/users", token, json=body)
    assert response.status_code == 201, response.text


def choose_option(page: Page, select_testid: str, label: str) -> None:
    """Open an Element Plus select and click one of its options."""
    page.get_by_test_id(select_testid).click()
    page.locator(".el-select-dropdown__item:visible", has_text=label).first.click()


def wait_held(server: Server, token: str, list_id: int) -> dict[str, Any]:
    """The first message held on a list, once the service has held one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = server.api("GET", f"/lists/{list_id}/moderation", token).json()["items"]
        if items:
            held: dict[str, Any] = items[0]
            return held
        time.sleep(0.3)
    raise AssertionError("the post was never held")


def api_until(
    server: Server,
    token: str,
    path: str,
    check: Callable[[Any], bool],
    seconds: float = 15,
) -> Any:
    """GET `path` until `check` accepts the JSON: the page may show a change before the
    request that stores it has finished."""
    deadline = time.monotonic() + seconds
    while True:
        body = server.api("GET", path, token).json()
        if check(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)
