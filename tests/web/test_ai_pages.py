"""AI moderation statistics (moderators), AI moderation settings and site-wide sender rules
(administrators): their loading, empty and error states, who sees them, and Chinese glyphs in
the zh-CN screenshots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    api_until,
    assert_no_unknown_components,
    choose_option,
    make_domain,
    make_list,
    make_user,
    new_page,
    page_errors,
    screenshot,
    sign_in,
    wait_held,
)

ALIYUN_ENDPOINT = "https://green-cip.cn-shanghai.aliyuncs.com/"


def _reset_ai_settings(server: Server, token: str) -> None:
    """The shared service's AI settings as the other tests expect them: the file's."""
    changed = server.api("GET", "/settings/ai-moderation", token).json()["overridden"]
    if changed:
        reset = server.api("POST", "/ai-moderation/settings/reset", token, json={"names": changed})
        assert reset.status_code == 200, reset.text
        assert reset.json()["overridden"] == []


def _api_error(route: Route, status: int, code: str) -> None:
    body = {"error": {"code": code, "message": f"server says {code}", "details": {}}}
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


@pytest.mark.usefixtures("ai_provider")
def test_ai_statistics_per_list_with_filters_and_states(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "stats.example.org")
    list_id = make_list(
        server,
        admin_token,
        domain_id,
        "scored",
        posting_policy="anyone",
        ai_moderation_enabled=True,
        ai_flagged_action="hold",
    )
    server.send_mail("loud@example.net", "scored@stats.example.org", "Very loud", "Shouting.")
    held = wait_held(server, admin_token, list_id)
    assert held["reason"] == "ai_flagged", held
    # The moderator overturns the AI's hold.
    done = server.api("POST", f"/moderation/{held['id']}/approve", admin_token, json={})
    assert done.status_code == 200, done.text

    # Loading: the first answer waits until the test lets it through.
    waiting: list[Route] = []
    page.route("**/api/v1/ai-moderation/stats*", lambda route: waiting.append(route))
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/")
    page.get_by_test_id("nav-ai-stats").click()
    expect(page.get_by_test_id("state-loading")).to_be_visible()
    for route in waiting:
        route.continue_()
    page.unroute("**/api/v1/ai-moderation/stats*")
    expect(page.get_by_role("heading", name="AI moderation statistics")).to_be_visible()

    choose_option(page, "ai-stats-list", "Scored")
    table = page.get_by_test_id("ai-stats-table")
    row = table.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Scored")
    expect(row).to_contain_text("openai 1")
    expect(row.get_by_test_id("level-flagged")).to_have_text("Flagged 1")
    expect(row.get_by_test_id("level-none")).to_have_text("None 0")
    expect(row).to_contain_text("1 held · 1 released · 0 refused")
    expect(row.get_by_test_id("overturn-rate")).to_have_text("Overturned 100%")
    expect(row.get_by_test_id("latency")).to_contain_text(" ms")
    expect(page.get_by_test_id("ai-stats-summary")).to_contain_text("Scored")
    stats = server.api(
        "GET", "/ai-moderation/stats", admin_token, params={"list_id": list_id, "days": 7}
    ).json()
    assert stats["lists"][0]["levels"]["flagged"] == 1
    assert_no_unknown_components(page)
    screenshot(page, "ai-stats")

    # The period filter asks the server again.
    with page.expect_request("**/api/v1/ai-moderation/stats?days=7*") as request:
        choose_option(page, "ai-stats-days", "Last 7 days")
    assert f"list_id={list_id}" in request.value.url
    expect(row.get_by_test_id("level-flagged")).to_have_text("Flagged 1")

    # Chinese, with real glyphs in the screenshot.
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.get_by_role("heading", name="AI 审核统计")).to_be_visible()
    expect(row.get_by_test_id("level-flagged")).to_have_text("被标记 1")
    screenshot(page, "ai-stats-zh-CN")
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("lang-en").click()

    # An API failure is said in words, and "Try again" recovers.
    page.route(
        "**/api/v1/ai-moderation/stats*", lambda route: _api_error(route, 500, "internal_error")
    )
    page.reload()
    error = page.get_by_test_id("state-error")
    expect(error).to_contain_text("The server had a problem. Please try again later.")
    page.unroute("**/api/v1/ai-moderation/stats*")
    error.get_by_role("button", name="Try again").click()
    expect(page.get_by_test_id("ai-stats-table")).to_be_visible()


def test_a_plain_user_sees_no_ai_or_site_pages(
    page: Page, server: Server, admin_token: str
) -> None:
    make_user(server, admin_token, "plain.ai@example.org", "plain user password")
    sign_in(page, server, "plain.ai@example.org", "plain user password", "/ai-moderation")
    # Moderating nothing, the statistics are empty, and the sidebar does not offer them.
    expect(page.get_by_test_id("state-empty")).to_contain_text(
        "No posts were scored in this period"
    )
    expect(page.get_by_test_id("nav-profile")).to_be_visible()
    for entry in ("nav-ai-stats", "nav-sender-rules", "nav-ai-settings", "nav-settings"):
        expect(page.get_by_test_id(entry)).to_have_count(0)
    # Administrators' pages say "no access" to others.
    for path in ("/policies", "/settings/ai-moderation"):
        page.goto(f"{server.url}{path}")
        expect(page.get_by_test_id("no-access")).to_be_visible()
        expect(page.get_by_test_id("ai-save")).to_have_count(0)


def test_ai_settings_show_secrets_only_as_set_or_not(
    page: Page, server: Server, admin_token: str
) -> None:
    _reset_ai_settings(server, admin_token)
    try:
        sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/")
        page.get_by_test_id("nav-ai-settings").click()
        expect(page.get_by_role("heading", name="AI moderation", exact=True)).to_be_visible()
        expect(page.get_by_test_id("secret-access_key_id-status")).to_have_text("Not set")
        expect(page.get_by_test_id("secret-access_key_secret-status")).to_have_text("Not set")
        expect(page.get_by_test_id("ai-circuit")).to_contain_text("working")

        choose_option(page, "ai-provider", "OpenAI-compatible")
        expect(page.get_by_test_id("secret-api_key-status")).to_have_text("Not set")
        expect(page.get_by_test_id("secret-access_key_id-status")).to_have_count(0)
        # The server's rules, said as you type.
        endpoint = page.get_by_test_id("ai-endpoint")
        endpoint.fill("ftp://models.example.net")
        endpoint.blur()
        expect(
            page.get_by_text("This provider needs an http:// or https:// address.")
        ).to_be_visible()
        endpoint.fill("http://127.0.0.1:9/v1")
        endpoint.blur()
        expect(
            page.get_by_text("This provider needs an http:// or https:// address.")
        ).to_have_count(0)
        medium = page.get_by_test_id("ai-medium").locator("input")
        medium.fill("95")
        medium.blur()
        expect(
            page.get_by_text("The medium threshold must not exceed the high one.")
        ).to_be_visible()
        medium.fill("40")
        medium.blur()
        expect(
            page.get_by_text("The medium threshold must not exceed the high one.")
        ).to_have_count(0)

        page.get_by_test_id("secret-api_key").fill("sk-never-shown-again")
        page.get_by_test_id("ai-save").click()
        expect(page.get_by_text("Saved", exact=True)).to_be_visible()
        expect(page.get_by_test_id("secret-api_key-status")).to_have_text("Set")
        expect(page.get_by_test_id("secret-api_key")).to_have_value("")
        stored: dict[str, Any] = server.api("GET", "/settings/ai-moderation", admin_token).json()
        assert stored["provider"] == "openai"
        assert stored["endpoint"] == "http://127.0.0.1:9/v1"
        assert stored["medium_risk_threshold"] == 40
        assert stored["api_key_set"] is True
        assert "sk-never-shown-again" not in json.dumps(stored)
        page.reload()
        expect(page.get_by_test_id("secret-api_key-status")).to_have_text("Set")
        assert "sk-never-shown-again" not in page.content()
        assert_no_unknown_components(page)

        # One real call to the saved provider: nothing listens there, and the page says so.
        page.get_by_test_id("ai-test").click()
        result = page.get_by_test_id("ai-test-result")
        expect(result).to_contain_text("openai did not answer as expected")
        expect(result).to_contain_text("openai: ConnectError")
        screenshot(page, "ai-settings")

        # The endpoint changed here goes back to the site default (the configuration file's).
        overrides = page.get_by_test_id("ai-overrides")
        expect(overrides.get_by_test_id("override-endpoint")).to_be_visible()
        overrides.get_by_test_id("reset-endpoint").click()
        expect(page.get_by_text("Endpoint: back to the site default")).to_be_visible()
        expect(overrides.get_by_test_id("override-endpoint")).to_have_count(0)
        expect(overrides.get_by_test_id("override-provider")).to_be_visible()
        expect(page.get_by_test_id("ai-endpoint")).to_have_value(ALIYUN_ENDPOINT)
        stored = server.api("GET", "/settings/ai-moderation", admin_token).json()
        assert stored["endpoint"] == ALIYUN_ENDPOINT
        assert "endpoint" not in stored["overridden"]

        # Clearing a secret falls back to the configuration file's (none here).
        page.get_by_test_id("secret-api_key-clear").click()
        page.locator(".el-popconfirm").get_by_role("button", name="Clear").click()
        expect(page.get_by_test_id("secret-api_key-status")).to_have_text("Not set")

        # The server's refusal is translated by its code.
        page.route(
            "**/api/v1/settings/ai-moderation",
            lambda route: (
                _api_error(route, 422, "ai_settings_invalid")
                if route.request.method == "PATCH"
                else route.continue_()
            ),
        )
        page.get_by_test_id("ai-high").locator("input").fill("90")
        page.get_by_test_id("ai-save").click()
        expect(page.get_by_test_id("form-error")).to_contain_text(
            "The AI moderation settings are not valid."
        )
        page.unroute("**/api/v1/settings/ai-moderation")

        # Refused: "no access", with nothing to try again.
        page.route(
            "**/api/v1/settings/ai-moderation", lambda route: _api_error(route, 403, "forbidden")
        )
        page.reload()
        expect(page.get_by_test_id("state-refused")).to_contain_text(
            "You do not have permission to do that."
        )
        expect(page.get_by_role("button", name="Try again")).to_have_count(0)
        page.unroute("**/api/v1/settings/ai-moderation")
        # Load failure, then a retry.
        page.route(
            "**/api/v1/settings/ai-moderation",
            lambda route: _api_error(route, 500, "internal_error"),
        )
        page.reload()
        expect(page.get_by_test_id("state-error")).to_contain_text("The server had a problem.")
        page.unroute("**/api/v1/settings/ai-moderation")
        page.get_by_role("button", name="Try again").click()
        expect(page.get_by_test_id("ai-save")).to_be_visible()
    finally:
        _reset_ai_settings(server, admin_token)


def test_site_wide_sender_rules(page: Page, server: Server, admin_token: str) -> None:
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/")
    try:
        page.get_by_test_id("nav-sender-rules").click()
        expect(page.get_by_role("heading", name="Sender rules")).to_be_visible()
        expect(page.get_by_test_id("state-empty")).to_contain_text("No site-wide rules yet")

        page.get_by_test_id("policy-add").click()
        page.get_by_test_id("policy-pattern").fill("not an address")
        page.get_by_test_id("policy-pattern").blur()
        dialog = page.get_by_test_id("policy-dialog")
        expect(dialog).to_contain_text("alice@example.com")
        page.get_by_test_id("policy-pattern").fill("spammer@junk.example")
        page.get_by_test_id("policy-note").fill("site-wide block")
        page.get_by_test_id("policy-save").click()
        table = page.get_by_test_id("policies-table")
        expect(table).to_contain_text("spammer@junk.example")

        page.get_by_test_id("policy-add").click()
        page.get_by_test_id("policy-dialog").get_by_text("Allow").click()
        page.get_by_test_id("policy-pattern").fill("boss@partner.example")
        page.get_by_test_id("policy-save").click()
        expect(table.locator("tbody tr")).to_have_count(2)
        table.locator("tbody tr").nth(1).get_by_test_id("policy-up").click()
        expect(table.locator("tbody tr").first).to_contain_text("boss@partner.example")
        wanted = [
            ("whitelist", "boss@partner.example", None),
            ("blacklist", "spammer@junk.example", None),
        ]

        def rows(body: Any) -> list[tuple[str, str, int | None]]:
            return [(rule["kind"], rule["pattern"], rule["list_id"]) for rule in body]

        rules = api_until(server, admin_token, "/policies", lambda body: rows(body) == wanted)
        assert rows(rules) == wanted
        assert_no_unknown_components(page)
        screenshot(page, "sender-rules")

        table.locator("tr", has_text="spammer@junk.example").get_by_test_id("policy-remove").click()
        page.locator(".el-popconfirm").get_by_role("button", name="Remove").click()
        expect(table.locator("tbody tr")).to_have_count(1)

        page.route("**/api/v1/policies", lambda route: _api_error(route, 500, "internal_error"))
        page.reload()
        expect(page.get_by_test_id("state-error")).to_contain_text("The server had a problem.")
    finally:
        # Site-wide rules reach every list on the shared service: leave none behind.
        for rule in server.api("GET", "/policies", admin_token).json():
            server.api("DELETE", f"/policies/{rule['id']}", admin_token)


def test_zh_cn_screenshots_draw_chinese_glyphs(browser: Browser, server: Server) -> None:
    """With a CJK font installed (fonts-noto-cjk, scripts/ensure-services.sh) Chinese text
    is drawn as glyphs; without one each character is the same empty box."""
    page = new_page(browser, locale="zh-CN")
    try:
        page.goto(server.url + "/login")
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        drawn = page.evaluate(
            """() => {
                const canvas = document.createElement('canvas')
                canvas.width = 64
                canvas.height = 64
                const ctx = canvas.getContext('2d')
                const draw = (text) => {
                    ctx.clearRect(0, 0, 64, 64)
                    ctx.font = `40px ${getComputedStyle(document.body).fontFamily}`
                    ctx.fillText(text, 4, 48)
                    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',')
                }
                return { han: draw('审'), other: draw('登'), missing: draw('\\u{10FFFD}') }
            }"""
        )
        assert drawn["han"] != drawn["missing"], "no CJK font: apt-get install fonts-noto-cjk"
        assert drawn["han"] != drawn["other"], "Chinese characters are all drawn alike"
        screenshot(page, "login-zh-CN")
    finally:
        errors = page_errors(page)
        page.context.close()
    assert errors == [], errors
