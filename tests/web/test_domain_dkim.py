"""An administrator turns on the Ed25519 signature beside a domain's RSA key and sees the
second DKIM record to publish, with its copy buttons."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Server,
    assert_no_unknown_components,
    make_domain,
    screenshot,
    sign_in,
)


@pytest.mark.timeout(90)
def test_admin_turns_on_the_ed25519_signature_and_sees_its_record(
    page: Page, server: Server, admin_token: str
) -> None:
    domain_id = make_domain(server, admin_token, "dual.example.org")
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD, "/domains")
    item = page.locator(".el-collapse-item", has_text="dual.example.org")
    item.locator(".el-collapse-item__header").click()
    records = item.locator(".records .el-table__body tr")
    second = records.filter(has_text="oak-ed._domainkey.dual.example.org")
    expect(records.filter(has_text="oak._domainkey.dual.example.org")).to_have_count(1)
    expect(second).to_have_count(0)

    item.get_by_test_id("dkim-ed25519").click()
    expect(page.get_by_text("The Ed25519 signature is on")).to_be_visible()
    expect(second).to_have_count(1)
    expect(second).to_contain_text("v=DKIM1; k=ed25519; p=")
    expect(item.get_by_role("button", name="Copy")).to_have_count(2 * records.count())
    saved = server.api("GET", f"/domains/{domain_id}", admin_token).json()
    assert saved["dkim_ed25519_enabled"] is True
    assert saved["dkim_ed25519_public_key"] in second.inner_text()
    assert_no_unknown_components(page)
    screenshot(page, "domain-dual-dkim")

    item.get_by_test_id("dkim-ed25519").click()
    expect(page.get_by_text("The Ed25519 signature is off")).to_be_visible()
    expect(second).to_have_count(0)
    assert (
        server.api("GET", f"/domains/{domain_id}", admin_token).json()["dkim_ed25519_enabled"]
        is False
    )
