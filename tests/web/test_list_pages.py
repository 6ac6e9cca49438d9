"""The pages an owner reaches from a list and from the mail the service sends: subscription
requests, the team (roles and invitations) with the invitee's page, sender rules, bounces."""

from __future__ import annotations

import smtplib
import time
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr

from oak_maillist.config import SecuritySettings
from oak_maillist.mail import verp
from oak_maillist.services import crypto
from oak_maillist.services.composing import VERP_PURPOSE
from tests.conftest import TEST_SECRET
from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    api_until,
    assert_no_unknown_components,
    link_in,
    make_domain,
    make_list,
    make_user,
    new_page,
    outbound_mail,
    page_errors,
    screenshot,
    sign_in,
)


def _subscribers(server: Server, token: str, list_id: int) -> dict[str, str]:
    body = server.api("GET", f"/lists/{list_id}/subscribers", token, params={"per_page": 100})
    return {item["email"]: item["status"] for item in body.json()["items"]}


def _confirmed_request(server: Server, list_id: int, address: str) -> None:
    """A visitor asks to join and follows the link in the confirmation mail."""
    asked = server.api("POST", f"/lists/{list_id}/subscribe", json={"email": address})
    assert asked.status_code == 202, asked.text
    link = link_in(outbound_mail(server, "confirm", address), "/subscribe/confirm")
    token = urlsplit(link).query.removeprefix("token=")
    confirmed = server.api("POST", "/subscriptions/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "awaiting_approval"


def test_owner_approves_one_request_and_declines_another(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "club.example.org")
    list_id = make_list(
        server,
        admin_token,
        domain_id,
        "club",
        visibility="public",
        subscription_policy="approval",
    )
    _confirmed_request(server, list_id, "grace@example.net")
    _confirmed_request(server, list_id, "mallory@example.net")

    # The owners' notice links to the page.
    notice = outbound_mail(server, "subscription_request", ADMIN_EMAIL)
    path = urlsplit(link_in(notice, f"/lists/{list_id}/requests")).path
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, path)
    table = page.get_by_test_id("requests-table")
    expect(table).to_contain_text("grace@example.net")
    expect(table).to_contain_text("mallory@example.net")
    badge = page.get_by_test_id("requests-badge")
    expect(badge).to_have_text("2")
    assert_no_unknown_components(page)
    screenshot(page, "requests")

    table.locator("tr", has_text="grace@example.net").get_by_test_id("request-approve").click()
    expect(page.get_by_text("grace@example.net is now subscribed")).to_be_visible()
    expect(badge).to_have_text("1")
    # Every page of the list shows what waits on its Requests tab.
    page.get_by_test_id("list-tabs").get_by_text("Subscribers").click()
    expect(page.get_by_test_id("requests-badge")).to_have_text("1")
    page.get_by_test_id("list-tabs").get_by_text("Requests").click()
    table.locator("tr", has_text="mallory@example.net").get_by_test_id("request-reject").click()
    page.get_by_test_id("request-reason").fill("Members only")
    page.get_by_test_id("request-reject-confirm").click()
    expect(page.get_by_test_id("state-empty")).to_contain_text("No one is waiting")
    expect(page.get_by_test_id("requests-badge")).to_have_count(0)

    statuses = _subscribers(server, admin_token, list_id)
    assert statuses["grace@example.net"] == "active"
    assert statuses.get("mallory@example.net") in (None, "unsubscribed")
    declined = outbound_mail(server, "subscription_rejected", "mallory@example.net")
    assert "Members only" in declined.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_owner_builds_a_team_and_an_invitee_joins_from_the_link(
    page: Page, browser: Browser, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "team.example.org")
    list_id = make_list(
        server, admin_token, domain_id, "crew", subscription_policy="invite", description="Crew"
    )
    make_user(server, admin_token, "mod@example.org", "moderator password")

    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/lists/{list_id}/team")
    page.get_by_test_id("role-add").click()
    page.get_by_test_id("role-email").fill("nobody@example.org")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("No such user")
    page.get_by_test_id("role-email").fill("mod@example.org")
    page.get_by_test_id("role-save").click()
    roles = page.get_by_test_id("roles-table")
    expect(roles.locator("tr", has_text="mod@example.org")).to_contain_text("Moderator")

    page.get_by_test_id("invite-addresses").fill("not-an-address")
    expect(page.get_by_text("Not valid: not-an-address")).to_be_visible()
    expect(page.get_by_test_id("invite-submit")).to_be_disabled()
    page.get_by_test_id("invite-addresses").fill("kim@example.net, lee@example.net")
    page.get_by_test_id("invite-note").fill("Join us!")
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_text("Invitations sent: 2")).to_be_visible()
    invitations = page.get_by_test_id("invitations-table")
    expect(invitations.locator("tbody tr")).to_have_count(2)
    assert_no_unknown_components(page)
    screenshot(page, "team")

    invitations.locator("tr", has_text="lee@example.net").get_by_test_id(
        "invitation-revoke"
    ).click()
    page.locator(".el-popconfirm").get_by_role("button", name="Withdraw").click()
    expect(invitations.locator("tbody tr")).to_have_count(1)

    link = link_in(outbound_mail(server, "list_invite", "kim@example.net"), "/invitation")
    invitee = new_page(browser, width=390, height=844)
    try:
        invitee.goto(link)
        expect(invitee.get_by_role("heading", name="You are invited")).to_be_visible()
        expect(invitee.get_by_text("You have been invited to join Crew.")).to_be_visible()
        screenshot(invitee, "invitation-phone")
        invitee.get_by_test_id("invitation-submit").click()
        expect(invitee.get_by_test_id("invitation-done")).to_contain_text("You have joined")
        # The link is single use; the withdrawn one never worked.
        invitee.goto(link)
        expect(invitee.get_by_test_id("state-error")).to_contain_text("not valid")
        revoked = link_in(outbound_mail(server, "list_invite", "lee@example.net"), "/invitation")
        invitee.goto(revoked)
        expect(invitee.get_by_test_id("state-error")).to_contain_text("not valid")
    finally:
        errors = page_errors(invitee)
        invitee.context.close()
    assert errors == [], errors
    assert _subscribers(server, admin_token, list_id)["kim@example.net"] == "active"


def test_owner_adds_reorders_and_removes_sender_rules(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "rules.example.org")
    list_id = make_list(server, admin_token, domain_id, "guarded")
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/lists/{list_id}/policies")
    expect(page.get_by_test_id("state-empty")).to_contain_text("no sender rules")

    page.get_by_test_id("policy-add").click()
    page.get_by_test_id("policy-pattern").fill("spam@example.com")
    page.get_by_test_id("policy-note").fill("known spammer")
    page.get_by_test_id("policy-save").click()
    table = page.get_by_test_id("policies-table")
    expect(table).to_contain_text("spam@example.com")

    page.get_by_test_id("policy-add").click()
    dialog = page.get_by_test_id("policy-dialog")
    dialog.get_by_text("Allow").click()
    page.get_by_test_id("policy-pattern-type").click()
    page.locator(".el-select-dropdown__item:visible", has_text="A pattern").click()
    page.get_by_test_id("policy-pattern").fill("friend@example.org")
    expect(dialog.get_by_text("A pattern with * ? or [...], like")).to_be_visible()
    page.get_by_test_id("policy-pattern").fill("*@friends.example.org")
    page.get_by_test_id("policy-save").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    assert_no_unknown_components(page)
    screenshot(page, "policies")

    table.locator("tbody tr").nth(1).get_by_test_id("policy-up").click()
    expect(table.locator("tbody tr").first).to_contain_text("*@friends.example.org")
    order = ["*@friends.example.org", "spam@example.com"]
    rules = api_until(
        server, admin_token, f"/lists/{list_id}/policies",
        lambda body: [rule["pattern"] for rule in body] == order,
    )  # fmt: skip
    assert [rule["pattern"] for rule in rules] == order
    assert rules[0]["kind"] == "whitelist"

    table.locator("tr", has_text="spam@example.com").get_by_test_id("policy-remove").click()
    page.locator(".el-popconfirm").get_by_role("button", name="Remove").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    rules = api_until(
        server, admin_token, f"/lists/{list_id}/policies", lambda body: len(body) == 1
    )
    assert [rule["pattern"] for rule in rules] == ["*@friends.example.org"]


def _wait_delivery(server: Server, token: str, list_id: int) -> tuple[int, int]:
    """The archived post's id and its one delivery's subscriber, once both exist."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        messages = server.api("GET", f"/lists/{list_id}/messages", token).json()["items"]
        if messages:
            report = server.api(
                "GET", f"/lists/{list_id}/messages/{messages[0]['id']}/deliveries", token
            ).json()
            if report["total"]:
                return messages[0]["id"], report["items"][0]["id"]
        time.sleep(0.3)
    raise AssertionError("the post was never archived and queued for delivery")


def test_a_bounce_shows_in_the_bounce_log(page: Page, server: Server, admin_token: str) -> None:
    domain_id = make_domain(server, admin_token, "bounce.example.org")
    list_id = make_list(server, admin_token, domain_id, "echo", posting_policy="anyone")
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/lists/{list_id}/bounces")
    expect(page.get_by_test_id("state-empty")).to_contain_text("No bounces")

    added = server.api(
        "POST", f"/lists/{list_id}/subscribers", admin_token, json={"email": "gone@example.net"}
    )
    assert added.status_code == 201, added.text
    subscriber_id = added.json()["id"]
    server.send_mail("poster@example.net", "echo@bounce.example.org", "Hello", "Anyone there?")
    message_id, _delivery = _wait_delivery(server, admin_token, list_id)

    # The remote server's DSN (RFC 3464) to the post's VERP return path.
    key = crypto.derive_key(SecuritySettings(jwt_secret=SecretStr(TEST_SECRET)), VERP_PURPOSE)
    return_path = verp.encode(
        key,
        list_local="echo",
        domain="bounce.example.org",
        subscriber_id=subscriber_id,
        message_id=message_id,
    )
    dsn = (
        "From: MAILER-DAEMON@mx.example.net\r\n"
        f"To: {return_path}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.net\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: user unknown\r\n"
        "--b--\r\n"
    )
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=15) as client:
        client.sendmail("", [return_path], dsn.encode())

    deadline = time.monotonic() + 30
    while not server.api("GET", f"/lists/{list_id}/bounces", admin_token).json()["total"]:
        assert time.monotonic() < deadline, "the bounce was never recorded"
        time.sleep(0.3)
    page.reload()
    table = page.get_by_test_id("bounces-table")
    expect(table).to_contain_text("gone@example.net")
    expect(table).to_contain_text("Hard")
    expect(table).to_contain_text("user unknown")
    assert_no_unknown_components(page)
    screenshot(page, "bounces")
