"""Domains: DKIM keys that verify, DNS records to publish, secrets that never come back."""

from __future__ import annotations

import base64
from typing import Any

import dkim
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, Domain, SystemRole
from oak_maillist.runtime import Runtime
from oak_maillist.services import domain_keys
from tests.factories import login, make_list, make_user

MESSAGE = (
    b"From: Alice <alice@lists.example.org>\r\nTo: dev@lists.example.org\r\n"
    b"Subject: signed\r\nMessage-ID: <x@lists.example.org>\r\n\r\nHello\r\n"
)


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime) -> dict[str, str]:
    await make_user(db, runtime.settings.security, email="root@example.org", role=SystemRole.ADMIN)
    await db.commit()
    return await login(client, "root@example.org")


def _verifies(private_key: str, record: dict[str, str], selector: str, algorithm: str) -> bool:
    signature = dkim.sign(
        MESSAGE,
        selector.encode(),
        b"lists.example.org",
        private_key.encode(),
        include_headers=[b"from", b"subject", b"message-id"],
        signature_algorithm=algorithm.encode(),
    )
    published = {record["name"]: record["value"]}

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return published.get(name.decode().rstrip("."), "").encode()

    return bool(dkim.verify(signature + MESSAGE, dnsfunc=dns))


async def _private_key(runtime: Runtime, domain_id: int) -> str:
    async with runtime.sessionmaker() as session:
        domain = await session.get(Domain, domain_id)
        assert domain is not None
        key = domain_keys.dkim_private_key(domain, runtime.settings)
    assert key is not None
    return key


async def test_new_domain_has_a_dkim_key_and_records_that_verify(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    response = await client.post(
        "/api/v1/domains",
        headers=admin,
        json={"name": "Lists.Example.ORG.", "smtp_password": "relay-secret"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "lists.example.org"
    assert body["dkim_algorithm"] == "rsa-sha256"
    assert body["smtp_password_set"] is True
    text_body = response.text
    assert "relay-secret" not in text_body
    assert "PRIVATE KEY" not in text_body
    records = {record["purpose"]: record for record in body["dns_records"]}
    assert records["dkim"]["name"] == "oak._domainkey.lists.example.org"
    assert records["dkim"]["value"].startswith("v=DKIM1; k=rsa; p=")
    assert records["spf"]["value"].startswith("v=spf1 ")
    assert records["dmarc"]["name"] == "_dmarc.lists.example.org"
    key = await _private_key(runtime, body["id"])
    assert _verifies(key, records["dkim"], "oak", "rsa-sha256")


async def test_keys_are_stored_encrypted(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    body = (
        await client.post(
            "/api/v1/domains",
            headers=admin,
            json={"name": "lists.example.org", "smtp_password": "relay-secret"},
        )
    ).json()
    async with runtime.engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT dkim_private_key_encrypted, smtp_password_encrypted"
                    " FROM domains WHERE id = :id"
                ),
                {"id": body["id"]},
            )
        ).one()
    assert "PRIVATE KEY" not in row[0]
    assert "relay-secret" not in row[1]


async def test_ed25519_and_imported_keys(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    domain_id = (
        await client.post("/api/v1/domains", headers=admin, json={"name": "lists.example.org"})
    ).json()["id"]
    ed = await client.post(
        f"/api/v1/domains/{domain_id}/dkim",
        headers=admin,
        json={"algorithm": "ed25519-sha256", "selector": "ed2026"},
    )
    record = next(r for r in ed.json()["dns_records"] if r["purpose"] == "dkim")
    assert record["value"].startswith("v=DKIM1; k=ed25519; p=")
    assert _verifies(await _private_key(runtime, domain_id), record, "ed2026", "ed25519-sha256")

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    imported = await client.post(
        f"/api/v1/domains/{domain_id}/dkim",
        headers=admin,
        json={"private_key_pem": pem, "selector": "imported"},
    )
    assert imported.status_code == 200
    record = next(r for r in imported.json()["dns_records"] if r["purpose"] == "dkim")
    assert _verifies(await _private_key(runtime, domain_id), record, "imported", "rsa-sha256")
    bad = await client.post(
        f"/api/v1/domains/{domain_id}/dkim",
        headers=admin,
        json={"private_key_pem": "-----BEGIN NOTHING-----"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_dkim_key"


async def test_invalid_duplicate_and_in_use(
    client: httpx.AsyncClient, admin: dict[str, str], db: AsyncSession
) -> None:
    for name in ("localhost", "-bad-.example.org", "a..b", "x" * 64 + ".org"):
        response = await client.post("/api/v1/domains", headers=admin, json={"name": name})
        assert response.status_code == 422, name
        assert response.json()["error"]["code"] == "invalid_domain"
    first = await client.post("/api/v1/domains", headers=admin, json={"name": "bücher.example"})
    assert first.json()["name"] == "xn--bcher-kva.example"
    again = await client.post("/api/v1/domains", headers=admin, json={"name": "BÜCHER.example"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "domain_exists"
    domain = await db.get(Domain, first.json()["id"])
    await make_list(db, domain)
    await db.commit()
    in_use = await client.delete(f"/api/v1/domains/{first.json()['id']}", headers=admin)
    assert in_use.status_code == 409
    assert in_use.json()["error"]["code"] == "domain_in_use"
    bad_selector = await client.patch(
        f"/api/v1/domains/{first.json()['id']}",
        headers=admin,
        json={"dkim_selector": "bad selector!"},
    )
    assert bad_selector.json()["error"]["code"] == "invalid_dkim_selector"


async def test_update_and_delete(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    domain_id = (
        await client.post("/api/v1/domains", headers=admin, json={"name": "lists.example.org"})
    ).json()["id"]
    updated = await client.patch(
        f"/api/v1/domains/{domain_id}",
        headers=admin,
        json={"smtp_host": "relay.example.net", "smtp_port": 465, "smtp_security": "tls"},
    )
    body = updated.json()
    assert (body["smtp_host"], body["smtp_port"], body["smtp_security"]) == (
        "relay.example.net",
        465,
        "tls",
    )
    spf = next(r for r in body["dns_records"] if r["purpose"] == "spf")
    assert spf["value"] == "v=spf1 mx a:relay.example.net ~all"
    assert (await client.delete(f"/api/v1/domains/{domain_id}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/v1/domains/{domain_id}", headers=admin)).status_code == 404


def _dkim_records(body: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The DKIM records of a domain answer by selector."""
    return {r["name"].split(".", 1)[0]: r for r in body["dns_records"] if r["purpose"] == "dkim"}


async def _ed25519_key(runtime: Runtime, domain_id: int) -> str:
    async with runtime.sessionmaker() as session:
        domain = await session.get_one(Domain, domain_id)
        keys = domain_keys.dkim_signing_keys(domain, runtime.settings)
    assert [key.algorithm for key in keys] == ["rsa-sha256", "ed25519-sha256"]
    return keys[1].private_key


async def test_an_ed25519_signature_beside_rsa_adds_its_record_and_can_be_turned_off(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    domain_id = (
        await client.post("/api/v1/domains", headers=admin, json={"name": "lists.example.org"})
    ).json()["id"]
    url = f"/api/v1/domains/{domain_id}"
    enabled = await client.post(f"{url}/dkim/ed25519", headers=admin, json={})
    assert enabled.status_code == 200, enabled.text
    body = enabled.json()
    assert (body["dkim_ed25519_enabled"], body["dkim_ed25519_selector"]) == (True, "oak-ed")
    assert body["dkim_algorithm"] == "rsa-sha256"  # the main key stays as it was
    records = _dkim_records(body)
    assert sorted(records) == ["oak", "oak-ed"]
    assert records["oak"]["value"].startswith("v=DKIM1; k=rsa; p=")
    assert records["oak-ed"]["value"] == f"v=DKIM1; k=ed25519; p={body['dkim_ed25519_public_key']}"
    seed = await _ed25519_key(runtime, domain_id)
    assert seed not in enabled.text
    assert _verifies(seed, records["oak-ed"], "oak-ed", "ed25519-sha256")
    async with runtime.sessionmaker() as session:
        logged = (
            await session.scalars(
                select(ActivityLog).where(ActivityLog.action == "domain.dkim_key_replaced")
            )
        ).one()
    assert logged.details == {"algorithm": "ed25519-sha256", "imported": False, "key": "ed25519"}

    off = (await client.patch(url, headers=admin, json={"dkim_ed25519_enabled": False})).json()
    assert off["dkim_ed25519_enabled"] is False
    assert sorted(_dkim_records(off)) == ["oak"]
    async with runtime.sessionmaker() as session:
        domain = await session.get_one(Domain, domain_id)
        assert len(domain_keys.dkim_signing_keys(domain, runtime.settings)) == 1
    # On again: the same key, so the record already published still holds.
    on = (await client.patch(url, headers=admin, json={"dkim_ed25519_enabled": True})).json()
    assert _dkim_records(on)["oak-ed"] == records["oak-ed"]
    # Main DKIM off: nothing signs, the Ed25519 key never alone.
    await client.patch(url, headers=admin, json={"dkim_enabled": False})
    async with runtime.sessionmaker() as session:
        domain = await session.get_one(Domain, domain_id)
        assert domain_keys.dkim_signing_keys(domain, runtime.settings) == []


async def test_an_imported_ed25519_key_signs_beside_rsa(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    domain_id = (
        await client.post("/api/v1/domains", headers=admin, json={"name": "lists.example.org"})
    ).json()["id"]
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    imported = await client.post(
        f"/api/v1/domains/{domain_id}/dkim/ed25519",
        headers=admin,
        json={"private_key_pem": pem, "selector": "ed2026"},
    )
    assert imported.status_code == 200, imported.text
    assert "PRIVATE KEY" not in imported.text
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    record = _dkim_records(imported.json())["ed2026"]
    assert record["value"] == f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
    seed = await _ed25519_key(runtime, domain_id)
    assert _verifies(seed, record, "ed2026", "ed25519-sha256")


async def test_dual_signing_refusals(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    domain_id = (
        await client.post("/api/v1/domains", headers=admin, json={"name": "lists.example.org"})
    ).json()["id"]
    url = f"/api/v1/domains/{domain_id}"
    no_key = await client.patch(url, headers=admin, json={"dkim_ed25519_enabled": True})
    assert no_key.status_code == 409
    assert no_key.json()["error"]["code"] == "dkim_dual_signing_conflict"
    assert "no Ed25519 DKIM key" in no_key.json()["error"]["message"]
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    for body, status, code in (
        ({"private_key_pem": rsa_pem}, 422, "invalid_dkim_key"),
        ({"private_key_pem": "-----BEGIN NOTHING-----"}, 422, "invalid_dkim_key"),
        ({"selector": "oak"}, 422, "dkim_selector_taken"),
        ({"selector": "bad selector!"}, 422, "invalid_dkim_selector"),
        ({"selector": "x" * 64}, 422, "validation_error"),
    ):
        refused = await client.post(f"{url}/dkim/ed25519", headers=admin, json=body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), body
    unchanged = (await client.get(url, headers=admin)).json()
    assert unchanged["dkim_ed25519_enabled"] is False
    assert unchanged["dkim_ed25519_public_key"] is None

    # Dual signing on: the main key cannot become Ed25519 too, nor take the other's selector.
    assert (await client.post(f"{url}/dkim/ed25519", headers=admin, json={})).status_code == 200
    main_ed = await client.post(f"{url}/dkim", headers=admin, json={"algorithm": "ed25519-sha256"})
    assert main_ed.status_code == 409
    assert main_ed.json()["error"]["code"] == "dkim_dual_signing_conflict"
    taken = await client.patch(url, headers=admin, json={"dkim_selector": "oak-ed"})
    assert taken.json()["error"]["code"] == "dkim_selector_taken"

    # Main key Ed25519 (dual signing off first): a second Ed25519 key makes no sense.
    await client.patch(url, headers=admin, json={"dkim_ed25519_enabled": False})
    main_ed = await client.post(f"{url}/dkim", headers=admin, json={"algorithm": "ed25519-sha256"})
    assert main_ed.status_code == 200
    second = await client.post(f"{url}/dkim/ed25519", headers=admin, json={})
    assert second.status_code == 409
    assert "needs RSA" in second.json()["error"]["message"]
    again = await client.patch(url, headers=admin, json={"dkim_ed25519_enabled": True})
    assert again.status_code == 409
    after = (await client.get(url, headers=admin)).json()
    assert after["dkim_ed25519_enabled"] is False
    assert sorted(_dkim_records(after)) == ["oak"]
