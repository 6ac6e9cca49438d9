"""The cookie banner: nothing but strictly necessary storage until the visitor chooses."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.harness import Server


def _storage(page: Page) -> dict[str, str]:
    stored: dict[str, str] = page.evaluate("() => ({ ...localStorage })")
    return stored


def test_nothing_is_stored_before_accepting_and_the_choice_is_remembered(
    page: Page, server: Server
) -> None:
    page.goto(server.url + "/login")
    banner = page.get_by_test_id("cookie-banner")
    expect(banner).to_be_visible()
    # Switching language before choosing works but is not remembered on the device.
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert _storage(page) == {}
    assert page.evaluate("() => document.cookie") == ""
    assert page.context.cookies() == []

    page.get_by_test_id("consent-accept").click()
    expect(banner).to_be_hidden()
    assert _storage(page) == {"oak.consent": "all"}

    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("lang-en").click()
    assert _storage(page) == {"oak.consent": "all", "oak.locale": "en"}

    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(banner).to_be_hidden()


def test_necessary_only_keeps_preferences_off_the_device(page: Page, server: Server) -> None:
    page.goto(server.url + "/login")
    page.get_by_test_id("consent-necessary").click()
    expect(page.get_by_test_id("cookie-banner")).to_be_hidden()
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert _storage(page) == {"oak.consent": "necessary"}
    page.reload()
    expect(page.get_by_test_id("cookie-banner")).to_be_hidden()
    # Not remembered: the browser's language (English here) applies again.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # The choice can be changed later.
    page.get_by_test_id("cookie-settings").click()
    expect(page.get_by_test_id("cookie-banner")).to_be_visible()
    page.get_by_test_id("consent-accept").click()
    assert _storage(page) == {"oak.consent": "all"}
