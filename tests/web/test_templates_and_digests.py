"""Editing an email template with its live preview in English and Chinese; a subscriber's
digest format, changed by an owner and from the preferences link in the welcome mail."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    choose_option,
    link_in,
    make_domain,
    make_list,
    new_page,
    outbound_mail,
    page_errors,
    screenshot,
    sign_in,
)


def test_admin_edits_a_template_with_a_live_preview_in_both_languages(
    page: Page, server: Server, admin_token: str
) -> None:
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/templates")
    page.get_by_test_id("template-welcome").click()
    expect(page.get_by_test_id("template-title")).to_have_text("Welcome")
    preview = page.get_by_test_id("template-preview")
    # The preview renders the sample data: the sample list is "Oak Developers".
    expect(page.get_by_test_id("preview-subject")).to_have_text("Welcome to Oak Developers")

    body = page.get_by_test_id("template-body")
    body.fill("Hello {{ address }}, welcome to {{ list.name }}!\n{{ preferences_url }}\n")
    expect(page.get_by_test_id("preview-body")).to_contain_text(
        "Hello ada@example.org, welcome to Oak Developers!"
    )
    body.fill("Hello {{ address \n")
    expect(page.get_by_test_id("template-error")).to_contain_text("Body, line")
    body.fill("Hello {{ address }}!\n{{ preferences_url }}\n")
    expect(preview).not_to_contain_text("line")
    page.get_by_test_id("template-save").click()
    expect(page.get_by_text("The English template was saved")).to_be_visible()
    expect(page.get_by_text("Site-wide override")).to_be_visible()
    assert_no_unknown_components(page)
    screenshot(page, "templates")

    # The Chinese template has its own source and preview.
    page.get_by_test_id("template-language").get_by_text("简体中文").click()
    expect(page.get_by_text("Built-in default")).to_be_visible()
    expect(page.get_by_test_id("preview-subject")).to_contain_text("Oak Developers")
    page.get_by_test_id("template-subject").fill("欢迎加入 {{ list.name }}")
    expect(page.get_by_test_id("preview-subject")).to_have_text("欢迎加入 Oak Developers")
    page.get_by_test_id("template-save").click()
    expect(page.get_by_text("The 简体中文 template was saved")).to_be_visible()

    saved = server.api("GET", "/templates/welcome/zh-CN", admin_token).json()
    assert saved["subject"] == "欢迎加入 {{ list.name }}"
    assert saved["source"] == "site"

    # Back to the default in English; the Chinese override stays.
    page.get_by_test_id("template-language").get_by_text("English").click()
    page.get_by_test_id("template-reset").click()
    page.locator(".el-popconfirm").get_by_role("button", name="Reset to default").click()
    expect(page.get_by_text("Built-in default")).to_be_visible()
    english = server.api("GET", "/templates/welcome/en", admin_token).json()
    assert english["source"] == "builtin"
    reset = server.api("DELETE", "/templates/welcome/zh-CN", admin_token)
    assert reset.status_code == 204


def test_templates_page_works_on_a_phone(browser: Browser, server: Server) -> None:
    page = new_page(browser, width=390, height=844)
    try:
        sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/templates")
        choose_option(page, "template-select", "Message footer")
        expect(page.get_by_test_id("template-title")).to_have_text("Message footer")
        # The footer has no subject.
        expect(page.get_by_test_id("template-subject")).to_have_count(0)
        expect(page.get_by_test_id("preview-body")).not_to_be_empty()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the phone"
        screenshot(page, "templates-phone")
    finally:
        errors = page_errors(page)
        page.context.close()
    assert errors == [], errors


def test_digest_format_from_the_owner_table_and_the_preferences_link(
    page: Page, browser: Browser, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "digest.example.org")
    list_id = make_list(server, admin_token, domain_id, "weekly", visibility="public")
    address = "digester@example.net"
    asked = server.api("POST", f"/lists/{list_id}/subscribe", json={"email": address})
    assert asked.status_code == 202, asked.text
    confirm = link_in(outbound_mail(server, "confirm", address), "/subscribe/confirm")
    confirmed = server.api(
        "POST", "/subscriptions/confirm", json={"token": urlsplit(confirm).query[len("token=") :]}
    )
    assert confirmed.status_code == 200, confirmed.text

    # The subscriber follows the preferences link in the welcome mail.
    link = link_in(outbound_mail(server, "welcome", address), "/preferences")
    subscriber = new_page(browser, width=390, height=844)
    try:
        subscriber.goto(link)
        expect(subscriber.get_by_test_id("digest-format")).to_have_count(0)
        subscriber.get_by_text("One digest a week").click()
        subscriber.get_by_test_id("digest-format-plain").click()
        screenshot(subscriber, "preferences-digest-phone")
        subscriber.get_by_test_id("preferences-save").click()
        expect(subscriber.get_by_text("Saved")).to_be_visible()
    finally:
        errors = page_errors(subscriber)
        subscriber.context.close()
    assert errors == [], errors

    def row() -> dict[str, str]:
        items = server.api("GET", f"/lists/{list_id}/subscribers", admin_token).json()["items"]
        found: dict[str, str] = next(item for item in items if item["email"] == address)
        return found

    assert (row()["digest_mode"], row()["digest_format"]) == ("weekly", "plain")

    # The owner switches it back to MIME from the subscribers table.
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/lists/{list_id}/subscribers")
    table = page.get_by_test_id("subscribers-table")
    expect(table).to_contain_text(address)
    choose_option(page, "subscriber-digest-format", "MIME digest")
    expect(page.get_by_text("Saved")).to_be_visible()
    assert row()["digest_format"] == "mime"
    choose_option(page, "subscriber-digest", "Every message")
    expect(page.get_by_test_id("subscriber-digest-format")).to_have_count(0)
    assert row()["digest_mode"] == "none"
