"""Our ACS3-HMAC-SHA256 signer against the official SDK, and against the fake gateway's checks."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest

from oak_maillist.ai import signing
from oak_maillist.ai.aliyun import AliyunProvider
from tests.ai.conftest import aliyun_config
from tests.ai.fake_aliyun import FakeAliyun

with warnings.catch_warnings():  # the SDK's own imports may warn; they are not ours to fix
    warnings.simplefilter("ignore")
    from alibabacloud_tea_openapi.utils import Utils  # type: ignore[import-untyped]

CASES = [
    ("POST", "/", {}, {"host": "green-cip.cn-shanghai.aliyuncs.com", "x-acs-action": "A"}, ""),
    (
        "POST",
        "/",
        # API parameter names are plain words; values carry anything (JSON, spaces, non-ASCII)
        {"Service": "ugc_moderation_byllm", "ServiceParameters": '{"content": "a/b+c~d* é"}'},
        {
            "Host": "127.0.0.1:8080",
            "x-acs-action": "TextModerationPlus",
            "x-acs-version": "2022-03-02",
            "x-acs-date": "2026-11-24T10:00:00Z",
            "x-acs-signature-nonce": "3b1f0e9a",
            "Content-Type": "application/x-www-form-urlencoded",
            "x-acs-content-sha256": signing.content_sha256(b"Service=x"),
        },
        "Service=x",
    ),
    ("GET", "/path/to", {"b": "2", "a": "1 2"}, {"x-acs-date": "  padded  "}, "body"),
]


@pytest.mark.parametrize(("method", "path", "query", "headers", "body"), CASES)
def test_our_signer_matches_the_official_sdk(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], body: str
) -> None:
    payload = signing.content_sha256(body.encode())
    request = SimpleNamespace(method=method, pathname=path, query=query, headers=headers)
    theirs = Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, "AKID", "s3cr3t")
    ours = signing.authorization(
        method=method,
        path=path,
        query=query,
        headers=headers,
        payload_hash=payload,
        key_id="AKID",
        secret="s3cr3t",
    )
    assert ours == theirs


async def _send(fake: FakeAliyun, provider: AliyunProvider, **tamper: object) -> httpx.Response:
    body, headers = provider._request("hello")
    body = tamper.pop("body", body)  # type: ignore[assignment]
    headers.update(tamper)  # type: ignore[arg-type]
    async with httpx.AsyncClient() as client:
        return await client.post(fake.url + "/", content=body, headers=headers)


async def test_the_fake_gateway_accepts_our_signed_request_once(aliyun: FakeAliyun) -> None:
    provider = AliyunProvider(aliyun_config(aliyun.url), timeout=5)
    body, headers = provider._request("hello")
    async with httpx.AsyncClient() as client:
        first = await client.post(aliyun.url + "/", content=body, headers=headers)
        replay = await client.post(aliyun.url + "/", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["Code"] == 200
    assert first.json()["Data"]["RiskLevel"] == "none"
    assert replay.status_code == 400
    assert replay.json()["Code"] == "SignatureNonceUsed"
    params = aliyun.calls[0]["params"]
    assert params["Service"] == "ugc_moderation_byllm"
    assert params["ServiceParameters"] == '{"content": "hello"}'


async def test_the_fake_gateway_refuses_what_aliyun_refuses(aliyun: FakeAliyun) -> None:
    good = aliyun_config(aliyun.url)
    wrong_secret = AliyunProvider(aliyun_config(aliyun.url, access_key_secret="nope"), timeout=5)
    unknown_key = AliyunProvider(aliyun_config(aliyun.url, access_key_id="LTAIunknown"), timeout=5)
    provider = AliyunProvider(good, timeout=5)

    assert (await _send(aliyun, wrong_secret)).json()["Code"] == "SignatureDoesNotMatch"
    missing = await _send(aliyun, unknown_key)
    assert (missing.status_code, missing.json()["Code"]) == (404, "InvalidAccessKeyId.NotFound")
    tampered = await _send(aliyun, provider, body=b"Service=other")
    assert tampered.json()["Code"] == "ContentSHA256NotMatched"
    # a changed signed header breaks the signature
    changed = await _send(aliyun, provider, **{"x-acs-action": "TextModeration"})
    assert changed.status_code == 400
    assert aliyun.calls == []


async def test_the_fake_gateway_refuses_an_old_timestamp(
    aliyun: FakeAliyun, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = datetime.now(UTC) - timedelta(minutes=20)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return stale

    monkeypatch.setattr("oak_maillist.ai.aliyun.datetime", Clock)
    provider = AliyunProvider(aliyun_config(aliyun.url), timeout=5)
    response = await _send(aliyun, provider)
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidTimeStamp.Expired")
