"""The archive in a browser: posts sent over SMTP are browsed as threads, read (text, sandboxed
HTML, attachments), searched with highlighted matches and downloaded; a public list's archive
opens without signing in, a private one does not; moderators see each post's delivery status."""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    api_until,
    assert_no_unknown_components,
    make_domain,
    make_list,
    new_page,
    page_errors,
    screenshot,
    sign_in,
)

ROOT_SUBJECT = "Planning the spring release"
REPLY_SUBJECT = "Re: Planning the spring release"
SUBSCRIBER = "reader@example.net"


@dataclass
class Archive:
    list_id: int
    root_id: int
    reply_id: int
    private_list_id: int


def _send(server: Server, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=15) as client:
        client.send_message(message)


def _post(sender: str, to: str, subject: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    return message


def _wait_archived(server: Server, token: str, list_id: int, count: int) -> list[dict[str, object]]:
    """Archiving runs after the SMTP 250, asynchronously: poll, bounded."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = server.api("GET", f"/lists/{list_id}/messages", token).json()
        if body["total"] >= count:
            items: list[dict[str, object]] = body["items"]
            return items
        time.sleep(0.3)
    raise AssertionError(f"fewer than {count} posts were archived")


@pytest.fixture(scope="module")
def archive(server: Server, admin_token: str) -> Archive:
    """A public list with a public archive, one subscriber and a thread of two posts: the
    first with text, HTML and an attachment, the reply with a word to search for."""
    domain_id = make_domain(server, admin_token, "archive.example.org")
    list_id = make_list(
        server,
        admin_token,
        domain_id,
        "talk",
        description="Talk about releases",
        visibility="public",
        posting_policy="anyone",
        archive_enabled=True,
        archive_public=True,
    )
    added = server.api(
        "POST", f"/lists/{list_id}/subscribers", admin_token, json={"email": SUBSCRIBER}
    )
    assert added.status_code == 201, added.text
    stamp = time.monotonic_ns()

    root = _post(
        "Alan <alan@example.net>",
        "talk@archive.example.org",
        ROOT_SUBJECT,
        f"root-{stamp}@example.net",
    )
    root.set_content("Let us pick a date for the spring release.\nThe notes are attached.\n")
    root.add_alternative(
        "<p>Let us pick a date for the <b>spring release</b>.</p>"
        "<script>document.title='pwned'</script>",
        subtype="html",
    )
    root.add_attachment(
        b"milestone: April\n", maintype="text", subtype="plain", filename="notes.txt"
    )
    _send(server, root)
    _wait_archived(server, admin_token, list_id, 1)

    reply = _post(
        "Ada <ada@example.org>",
        "talk@archive.example.org",
        REPLY_SUBJECT,
        f"reply-{stamp}@example.net",
    )
    reply["In-Reply-To"] = f"<root-{stamp}@example.net>"
    reply["References"] = f"<root-{stamp}@example.net>"
    reply.set_content("April works; the unicorn mascot ships with it.\n")
    _send(server, reply)
    items = _wait_archived(server, admin_token, list_id, 2)
    by_subject = {item["subject"]: item["id"] for item in items}

    private_id = make_list(
        server, admin_token, domain_id, "staff", visibility="private", archive_enabled=True
    )
    return Archive(
        list_id=list_id,
        root_id=int(str(by_subject[ROOT_SUBJECT])),
        reply_id=int(str(by_subject[REPLY_SUBJECT])),
        private_list_id=private_id,
    )


def _frame_sizes(page: Page) -> dict[str, Any]:
    """The HTML iframe's inner height on the page, the height of the document in it, and that
    document's title."""
    page.wait_for_function(
        """() => {
            const frame = document.querySelector('[data-testid=message-html]')
            return frame && frame.contentDocument.readyState === 'complete' && frame.style.height
        }"""
    )
    sizes: dict[str, Any] = page.evaluate(
        """() => {
            const frame = document.querySelector('[data-testid=message-html]')
            return {
                frame: frame.clientHeight,
                content: frame.contentDocument.documentElement.getBoundingClientRect().height,
                scroll: frame.contentDocument.documentElement.scrollHeight,
                title: frame.contentDocument.title,
            }
        }"""
    )
    return sizes


def test_browse_a_thread_read_a_post_and_download_it(
    page: Page, server: Server, archive: Archive
) -> None:
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/lists/{archive.list_id}/archive")
    threads = page.get_by_test_id("thread-list")
    expect(threads).to_contain_text(ROOT_SUBJECT)
    expect(threads).to_contain_text("2")
    assert_no_unknown_components(page)
    screenshot(page, "archive-threads")

    threads.get_by_text(ROOT_SUBJECT).click()
    expect(page.get_by_test_id("thread-subject")).to_have_text(ROOT_SUBJECT)
    nodes = page.get_by_test_id("thread-node")
    expect(nodes).to_have_count(2)
    expect(page.get_by_test_id("message-text")).to_contain_text("pick a date")
    attachments = page.get_by_test_id("attachments")
    expect(attachments).to_contain_text("notes.txt")
    with page.expect_download() as download:
        attachments.get_by_test_id("download-attachment").click()
    assert download.value.suggested_filename == "notes.txt"
    assert download.value.path().read_bytes() == b"milestone: April\n"

    # The HTML part is shown in a sandbox that runs no script, as tall as its content.
    page.get_by_test_id("message-view-toggle").get_by_text("HTML").click()
    frame = page.get_by_test_id("message-html")
    expect(frame).to_have_attribute(
        "sandbox", "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    )
    html = page.frame_locator("[data-testid=message-html]")
    expect(html.locator("b")).to_have_text("spring release")
    sizes = _frame_sizes(page)
    assert sizes["title"] != "pwned"  # the mail's script never ran
    assert sizes["scroll"] <= sizes["frame"], sizes  # nothing scrolls inside the frame
    assert abs(sizes["frame"] - sizes["content"]) <= 2, sizes  # and no blank below it
    assert sizes["frame"] < 100, sizes  # one paragraph: no fixed tall box
    screenshot(page, "archive-thread")

    nodes.nth(1).click()
    expect(page.get_by_test_id("message-text")).to_contain_text("unicorn mascot")
    thread_id = _thread_of(server, archive)
    base = f"{server.url}/lists/{archive.list_id}/archive"
    expect(page).to_have_url(f"{base}/threads/{thread_id}?m={archive.reply_id}")

    page.get_by_test_id("permalink").click()
    expect(page.get_by_test_id("message-subject")).to_have_text(REPLY_SUBJECT)
    expect(page.get_by_test_id("open-thread")).to_contain_text("Message 2 of 2")
    with page.expect_download() as download:
        page.get_by_test_id("download-raw").click()
    assert download.value.suggested_filename == f"message-{archive.reply_id}.eml"
    raw = download.value.path().read_bytes()
    assert b"unicorn mascot" in raw
    assert b"In-Reply-To: <root-" in raw
    page.get_by_test_id("previous-in-thread").click()
    expect(page.get_by_test_id("message-subject")).to_have_text(ROOT_SUBJECT)
    screenshot(page, "archive-message")


def _thread_of(server: Server, archive: Archive) -> int:
    body = server.api("GET", f"/lists/{archive.list_id}/threads").json()
    thread_id: int = body["items"][0]["id"]
    return thread_id


def test_search_highlights_matches_and_mbox_downloads(
    page: Page, server: Server, archive: Archive
) -> None:
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/lists/{archive.list_id}/archive")
    page.get_by_test_id("archive-search").fill("unicorn")
    page.get_by_test_id("archive-search-submit").click()
    expect(page).to_have_url(f"{server.url}/lists/{archive.list_id}/archive?q=unicorn")
    hits = page.get_by_test_id("search-hit")
    expect(hits).to_have_count(1)
    expect(hits.first.locator("mark")).to_have_text(["unicorn"])
    expect(page.get_by_test_id("search-summary")).to_contain_text("1 result for “unicorn”")
    screenshot(page, "archive-search")

    page.get_by_test_id("archive-search").fill("zeppelin")
    page.get_by_test_id("archive-search-submit").click()
    expect(page.get_by_test_id("state-empty")).to_contain_text("Nothing in this archive matches")

    page.get_by_test_id("archive-clear-search").click()
    page.get_by_test_id("archive-mode").get_by_text("Messages").click()
    expect(page.get_by_test_id("message-list")).to_contain_text(REPLY_SUBJECT)
    with page.expect_download() as download:
        page.get_by_test_id("download-mbox").click()
    assert download.value.suggested_filename == "talk.mbox"
    mbox = download.value.path().read_bytes()
    assert mbox.startswith(b"From ")
    assert mbox.count(b"\nFrom ") + 1 == 2


def test_a_visitor_reads_a_public_archive_on_a_phone(
    browser: Browser, server: Server, archive: Archive
) -> None:
    page = new_page(browser, width=390, height=844)
    try:
        # The "help" link in each mail (/lists/:id) takes a visitor to a public archive.
        page.goto(f"{server.url}/lists/{archive.list_id}")
        page.get_by_test_id("consent-necessary").click()
        expect(page).to_have_url(f"{server.url}/lists/{archive.list_id}/archive")
        expect(page.get_by_test_id("thread-list")).to_contain_text(ROOT_SUBJECT)
        expect(page.get_by_test_id("public-sign-in")).to_be_visible()
        expect(page.get_by_test_id("archive-subscribe")).to_be_visible()
        expect(page.get_by_test_id("sidebar")).to_have_count(0)
        _fits_the_screen(page)
        screenshot(page, "archive-public-phone")

        page.get_by_test_id("thread-list").get_by_text(ROOT_SUBJECT).click()
        expect(page.get_by_test_id("thread-node")).to_have_count(2)
        expect(page.get_by_test_id("message-text")).to_contain_text("pick a date")
        _fits_the_screen(page)
        screenshot(page, "archive-thread-phone")

        # The permalink in each mail's footer opens for a visitor too.
        page.goto(f"{server.url}/lists/{archive.list_id}/archive/{archive.reply_id}")
        expect(page.get_by_test_id("message-subject")).to_have_text(REPLY_SUBJECT)
        expect(page.get_by_test_id("open-deliveries")).to_have_count(0)

        # A private list's archive is not shown to a visitor.
        page.goto(f"{server.url}/lists/{archive.private_list_id}/archive")
        expect(page.get_by_test_id("state-error")).to_contain_text("No such list")
        assert_no_unknown_components(page)
    finally:
        errors = page_errors(page)
        page.context.close()
    assert errors == [], errors


def _fits_the_screen(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"


def test_a_moderator_sees_where_a_post_was_delivered(
    page: Page, server: Server, archive: Archive, admin_token: str
) -> None:
    sign_in(
        page,
        server,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        f"/lists/{archive.list_id}/archive/{archive.root_id}",
    )
    page.get_by_test_id("open-deliveries").click()
    expect(page).to_have_url(
        f"{server.url}/lists/{archive.list_id}/archive/{archive.root_id}/deliveries"
    )
    table = page.get_by_test_id("deliveries-table")
    expect(table).to_contain_text(SUBSCRIBER)
    report = server.api(
        "GET", f"/lists/{archive.list_id}/messages/{archive.root_id}/deliveries", admin_token
    ).json()
    assert report["total"] == 1
    status = report["items"][0]["status"]
    expect(page.get_by_test_id(f"delivery-count-{status}")).to_contain_text("1")
    assert_no_unknown_components(page)
    screenshot(page, "deliveries")

    # A status with no deliveries filters the table down to nothing.
    other = "sent" if status != "sent" else "failed"
    page.get_by_test_id(f"delivery-count-{other}").click()
    expect(page.get_by_test_id("state-empty")).to_contain_text("Nothing matches")


def test_an_owner_sends_deferred_deliveries_again(
    page: Page, server: Server, archive: Archive, admin_token: str
) -> None:
    """Nothing listens on the relay port: the post's delivery is deferred, to be tried again
    later. The button sends it again now."""
    path = f"/lists/{archive.list_id}/messages/{archive.root_id}/deliveries"
    before = api_until(
        server, admin_token, path, lambda r: r["items"] and r["items"][0]["status"] == "deferred"
    )["items"][0]
    assert before["status"] == "deferred", before
    sign_in(
        page,
        server,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        f"/lists/{archive.list_id}/archive/{archive.root_id}/deliveries",
    )
    expect(page.get_by_test_id("delivery-count-deferred")).to_contain_text("1")
    page.get_by_test_id("deliveries-retry").click()
    dialog = page.locator(".el-message-box")
    expect(dialog).to_contain_text("Send the 1 failed or deferred delivery again now?")
    dialog.get_by_role("button", name="Send failed again").click()
    expect(page.locator(".el-message--success")).to_contain_text("1 delivery queued again")
    # tried again at once (and deferred again: the relay is still not there)
    after = api_until(
        server, admin_token, path, lambda r: r["items"][0]["attempts"] > before["attempts"]
    )["items"][0]
    assert after["attempts"] > before["attempts"], (before, after)
    assert page_errors(page) == []


def test_the_archive_in_chinese(browser: Browser, server: Server, archive: Archive) -> None:
    page = new_page(browser, locale="zh-CN")
    try:
        page.goto(f"{server.url}/lists/{archive.list_id}/archive?q=unicorn")
        expect(page.get_by_test_id("search-summary")).to_have_text("“unicorn” 共 1 条结果")
        expect(page.get_by_test_id("download-mbox")).to_have_text("下载 mbox")
        page.get_by_test_id("search-hit").click()
        expect(page.get_by_test_id("download-raw")).to_have_text("原始邮件")
        expect(page.get_by_test_id("open-thread")).to_have_text("话题中的第 2 封\uff0c共 2 封")
    finally:
        errors = page_errors(page)
        page.context.close()
    assert errors == [], errors
