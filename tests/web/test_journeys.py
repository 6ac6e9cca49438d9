"""Whole journeys through the UI: a visitor registers and signs in; an administrator adds a
domain then a list on it; a visitor subscribes, confirms from the mail, then unsubscribes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    choose_option,
    link_in,
    make_domain,
    make_list,
    outbound_mail,
    screenshot,
    sign_in,
)


@pytest.mark.timeout(90)
def test_a_visitor_registers_then_signs_in(page: Page, server: Server, admin_token: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_test_id("consent-necessary").click()
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/register$"))
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()

    page.get_by_test_id("register-email").fill("not-an-address")
    page.get_by_test_id("register-password").fill("short")
    page.get_by_test_id("register-submit").click()
    expect(page.get_by_text("Enter a valid email address")).to_be_visible()
    expect(page.get_by_text("At least 8 characters")).to_be_visible()

    page.get_by_test_id("register-email").fill("rita@example.net")
    page.get_by_test_id("register-name").fill("Rita Reader")
    page.get_by_test_id("register-password").fill("rita password 1")
    screenshot(page, "register")
    page.get_by_test_id("register-submit").click()
    expect(page.get_by_role("heading", name="Hello, Rita Reader")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))

    # The same address cannot register twice.
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{server.url}/register")
    page.get_by_test_id("register-email").fill("rita@example.net")
    page.get_by_test_id("register-password").fill("another password")
    page.get_by_test_id("register-submit").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/register$"))

    page.get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_test_id("login-email").fill("rita@example.net")
    page.get_by_test_id("login-password").fill("rita password 1")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("heading", name="Hello, Rita Reader")).to_be_visible()
    assert_no_unknown_components(page)

    users = server.api("GET", "/users", admin_token, params={"q": "rita@example.net"}).json()
    found = [user for user in users["items"] if user["email"] == "rita@example.net"]
    assert len(found) == 1, users
    assert found[0]["role"] == "user"


@pytest.mark.timeout(90)
def test_admin_adds_a_domain_then_a_list_on_it(
    page: Page, server: Server, admin_token: str
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/")
    page.get_by_test_id("nav-domains").click()
    expect(page).to_have_url(re.compile(r"/domains$"))
    expect(page.get_by_role("heading", name="Domains")).to_be_visible()

    page.get_by_test_id("domain-add").click()
    dialog = page.get_by_role("dialog", name="Add domain")
    expect(dialog).to_be_visible()
    page.get_by_test_id("domain-name").fill("not a domain")
    page.get_by_test_id("domain-save").click()
    expect(dialog.get_by_text("A domain name such as lists.example.org")).to_be_visible()

    page.get_by_test_id("domain-name").fill("journey.example.org")
    page.get_by_test_id("domain-save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("journey.example.org was added")).to_be_visible()

    # The new domain opens on its DNS records, each host and value with a copy button.
    item = page.locator(".el-collapse-item", has_text="journey.example.org")
    records = item.locator(".records .el-table__body tr")
    expect(records.first).to_be_visible()
    assert records.count() >= 2
    expect(item.get_by_text("DKIM", exact=True).first).to_be_visible()
    expect(item.get_by_text("0 lists", exact=True)).to_be_visible()
    copy_buttons = item.get_by_role("button", name="Copy")
    expect(copy_buttons).to_have_count(2 * records.count())
    first_host = records.first.locator(".mono").first.inner_text().strip()
    assert first_host, "the first DNS record has no host"
    copy_buttons.first.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == first_host
    assert_no_unknown_components(page)
    screenshot(page, "domain-created")

    page.get_by_test_id("nav-lists").click()
    expect(page).to_have_url(re.compile(r"/lists$"))
    page.get_by_test_id("list-create").click()
    expect(page).to_have_url(re.compile(r"/lists/new$"))
    page.get_by_test_id("list-name").fill("Journeys")
    page.get_by_test_id("list-local-part").fill("journeys")
    choose_option(page, "list-domain", "journey.example.org")
    page.get_by_test_id("list-description").fill("Where the journeys are told")
    page.get_by_test_id("list-save").click()

    expect(page).to_have_url(re.compile(r"/lists/\d+/subscribers$"))
    expect(page.get_by_role("heading", name="Journeys")).to_be_visible()
    expect(page.get_by_text("journeys@journey.example.org")).to_be_visible()
    list_id = int(page.url.rstrip("/").split("/")[-2])

    # The domain page now counts the list on it.
    page.get_by_test_id("nav-domains").click()
    item = page.locator(".el-collapse-item", has_text="journey.example.org")
    expect(item.get_by_text("1 list", exact=True)).to_be_visible()

    saved = server.api("GET", f"/lists/{list_id}", admin_token).json()
    assert saved["address"] == "journeys@journey.example.org", saved
    assert saved["description"] == "Where the journeys are told"


@pytest.mark.timeout(90)
def test_a_visitor_confirms_from_the_mail_then_unsubscribes(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "leaving.example.org")
    list_id = make_list(server, admin_token, domain_id, "goodbye", visibility="public")
    address = "traveller@example.net"

    page.goto(f"{server.url}/lists/{list_id}/subscribe")
    page.get_by_test_id("consent-necessary").click()
    expect(page.get_by_role("heading", name="Goodbye")).to_be_visible()
    page.get_by_test_id("subscribe-email").fill(address)
    page.get_by_test_id("subscribe-submit").click()
    expect(page.get_by_test_id("subscribe-done")).to_contain_text("Check your email")

    confirm = link_in(outbound_mail(server, "confirm", address), "/subscribe/confirm")
    page.goto(confirm)
    expect(page.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
    page.get_by_test_id("confirm-submit").click()
    expect(page.get_by_test_id("confirm-done")).to_contain_text("You are subscribed")
    expect(page.get_by_test_id("confirm-done")).to_contain_text(address)
    screenshot(page, "confirm-done")

    # The confirmation link is single use.
    page.goto(confirm)
    page.get_by_test_id("confirm-submit").click()
    expect(page.get_by_test_id("state-error")).to_contain_text("This link does not work")

    def status() -> str:
        body = server.api("GET", f"/lists/{list_id}/subscribers", admin_token).json()
        statuses: dict[str, str] = {item["email"]: item["status"] for item in body["items"]}
        return statuses[address]

    assert status() == "active"

    leave = link_in(outbound_mail(server, "welcome", address), "/unsubscribe")
    page.goto(leave)
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    page.get_by_test_id("unsubscribe-submit").click()
    done = page.get_by_test_id("unsubscribe-done")
    expect(done).to_contain_text("You are unsubscribed")
    expect(done).to_contain_text(f"{address} will no longer receive mail from Goodbye")
    assert_no_unknown_components(page)
    screenshot(page, "unsubscribe-done")

    assert status() == "unsubscribed"
