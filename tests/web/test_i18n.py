"""English and Chinese: the same keys, browser detection, switching, Element Plus following."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DIST,
    Server,
    new_page,
    screenshot,
    sign_in,
)

LOCALES = DIST.parent / "src" / "i18n" / "locales"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_en_and_zh_cn_have_the_same_keys_placeholders_and_plural_rule() -> None:
    en = _flatten(json.loads((LOCALES / "en.json").read_text()))
    zh = _flatten(json.loads((LOCALES / "zh-CN.json").read_text()))
    assert sorted(en) == sorted(zh)
    for key, text in en.items():
        assert text.strip(), key
        assert zh[key].strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(zh[key])), key
        # "@" is vue-i18n syntax (linked messages) and would break a message.
        assert "@" not in text + zh[key], key
        # "|" separates plural forms: English may have two or three ("{n} list | {n} lists",
        # or a zero form first), Chinese has one form (its plural rule always picks it).
        assert "|" not in zh[key], key
        forms = [form.strip() for form in text.split("|")]
        assert len(forms) <= 3, key
        assert all(forms), key


def test_first_visit_follows_the_browser_language(browser: Browser, server: Server) -> None:
    page = new_page(browser, locale="zh-CN")
    try:
        page.goto(server.url + "/login")
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        expect(page.get_by_test_id("cookie-banner")).to_contain_text("Cookie 与本地存储")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        screenshot(page, "login-zh-CN")
    finally:
        page.context.close()


def test_switching_language_changes_the_app_and_element_plus_and_is_saved(
    page: Page, server: Server, admin_token: str
) -> None:
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/users")
    try:
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        # Element Plus's own text: the pagination total.
        expect(page.locator(".el-pagination__total")).to_contain_text("Total")

        page.get_by_test_id("lang-switch").click()
        page.get_by_test_id("lang-zh-CN").click()
        expect(page.get_by_role("heading", name="用户")).to_be_visible()
        expect(page.get_by_test_id("nav-lists")).to_contain_text("邮件列表")
        expect(page.locator(".el-pagination__total")).to_contain_text("共")
        screenshot(page, "users-zh-CN")

        # The choice is the user's preference now: it holds after a reload.
        me = server.api("GET", "/auth/me", admin_token).json()
        assert me["language"] == "zh-CN"
        page.reload()
        expect(page.get_by_role("heading", name="用户")).to_be_visible()

        page.get_by_test_id("lang-switch").click()
        page.get_by_test_id("lang-en").click()
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        expect(page.locator(".el-pagination__total")).to_contain_text("Total")
    finally:
        server.api("PATCH", "/users/me", admin_token, json={"language": "en"})


def test_api_errors_are_shown_in_the_interface_language(browser: Browser, server: Server) -> None:
    page = new_page(browser, locale="zh-CN")
    try:
        page.goto(server.url + "/login")
        # An address of its own: the administrator's sign-ins count toward a per-account limit
        # that the other tests' sign-ins within the minute may have used up.
        page.get_by_test_id("login-email").fill("nobody-here@example.org")
        page.get_by_test_id("login-password").fill("not the password")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("form-error")).to_contain_text("邮箱地址或密码错误")
    finally:
        page.context.close()
