"""Subscribers: adding one, and a CSV import checked by a dry run that reports a bad row, with
its progress shown while the server works."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    make_domain,
    make_list,
    screenshot,
    sign_in,
)


def test_add_a_subscriber_and_dry_run_a_csv_with_a_bad_row(
    page: Page, server: Server, admin_token: str, tmp_path: Path
) -> None:
    domain_id = make_domain(server, admin_token, "subs.example.org")
    list_id = make_list(server, admin_token, domain_id, "members")
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, f"/lists/{list_id}/subscribers")
    expect(page.get_by_test_id("state-empty")).to_contain_text("no subscribers yet")

    page.get_by_test_id("subscriber-add").click()
    page.get_by_test_id("subscriber-email").fill("grace@example.net")
    page.get_by_test_id("subscriber-name").fill("Grace Hopper")
    page.get_by_test_id("subscriber-save").click()
    table = page.get_by_test_id("subscribers-table")
    expect(table).to_contain_text("grace@example.net")
    expect(table).to_contain_text("Grace Hopper")
    expect(table).to_contain_text("Active")

    csv = tmp_path / "people.csv"
    csv.write_text("email,name,digest_mode\nalan@example.net,Alan,daily\nnot-an-address,Bad,none\n")
    page.get_by_test_id("subscribers-import").click()
    dialog = page.get_by_test_id("import-dialog")
    dialog.locator("input[type=file]").set_input_files(str(csv))
    # The server's answer waits until the test lets it through: meanwhile the dialog shows
    # that the file went up and the rows are being checked.
    held: list[Route] = []
    page.route("**/subscribers/import*", lambda route: held.append(route))
    page.get_by_test_id("import-dry-run").click()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_be_visible()
    # (An intercepted request reports no upload progress: the page may still say 0%.)
    expect(page.get_by_test_id("import-phase")).to_have_text(
        re.compile(r"^(Uploading… \d+%|Checking the rows…)$")
    )
    expect(page.get_by_test_id("import-dry-run")).to_be_disabled()
    screenshot(page, "subscribers-import-progress")
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/subscribers/import*")
    result = page.get_by_test_id("import-result")
    expect(result).to_contain_text("Dry run: 2 rows read, 1 would be added, 1 rejected.")
    errors = page.get_by_test_id("import-errors")
    expect(errors).to_contain_text("not-an-address")
    expect(errors).to_contain_text("Not a valid email address")
    expect(errors.locator("tbody tr").first).to_contain_text("3")
    assert_no_unknown_components(page)
    screenshot(page, "subscribers-import-dry-run")

    # The dry run wrote nothing.
    listed = server.api("GET", f"/lists/{list_id}/subscribers", admin_token).json()
    assert [item["email"] for item in listed["items"]] == ["grace@example.net"]

    expect(progress).to_have_count(0)

    page.get_by_test_id("import-submit").click()
    expect(result).to_contain_text("2 rows read, 1 added, 1 rejected.")
    page.keyboard.press("Escape")
    expect(table).to_contain_text("alan@example.net")
    screenshot(page, "subscribers")
