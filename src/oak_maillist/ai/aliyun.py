"""Aliyun Green (Content Moderation) 2022-03-02 TextModerationPlus, signed with ACS3 over httpx.

One request per piece of at most `max_text_length` characters (the service's own limit is
2000 for most services); the worst piece decides. Score = the highest `Confidence` of any
label; `RiskLevel` (none, low, medium, high) is kept as the provider's level.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from oak_maillist.ai import signing
from oak_maillist.ai.base import ProviderError, Verdict, chunks, clamp_score
from oak_maillist.config import AiModerationSettings

ACTION = "TextModerationPlus"
VERSION = "2022-03-02"
NO_RISK_LABEL = "nonLabel"
RISK_ORDER = {"none": 0, "low": 1, "medium": 2, "high": 3}
# Business codes in a 200 answer worth another try: internal error, timeout, QPS exceeded.
RETRYABLE_CODES = frozenset({500, 581, 588})
MAX_PIECES = 20  # 40,000 characters at the default length; the rest is not sent
PARALLEL = 4


class AliyunProvider:
    name = "aliyun"

    def __init__(self, config: AiModerationSettings, *, timeout: float) -> None:
        self.config = config
        self.timeout = timeout
        self.url = str(config.endpoint).rstrip("/") + "/"

    async def check(self, subject: str, text: str, raw: bytes) -> Verdict:
        content = f"{subject}\n\n{text}".strip() if subject else text.strip()
        if not content:  # nothing to read (an attachment only): nothing to score
            return Verdict(score=0, level="none", provider=self.name, raw={"skipped": "no text"})
        pieces = chunks(content, self.config.max_text_length)[:MAX_PIECES]
        limit = asyncio.Semaphore(PARALLEL)
        async with httpx.AsyncClient(timeout=self.timeout) as client:

            async def one(piece: str) -> dict[str, Any]:
                async with limit:
                    return await self._moderate(client, piece)

            answers = await asyncio.gather(*(one(piece) for piece in pieces))
        return _verdict(list(answers))

    async def learn(self, raw: bytes, *, spam: bool) -> bool:
        return False  # TextModerationPlus has no feedback API; labels are managed in its console

    def _request(self, piece: str) -> tuple[bytes, dict[str, str]]:
        body = urlencode(
            {
                "Service": self.config.service,
                "ServiceParameters": json.dumps({"content": piece}, ensure_ascii=False),
            }
        ).encode()
        headers = {
            "host": httpx.URL(self.url).netloc.decode(),
            "x-acs-action": ACTION,
            "x-acs-version": VERSION,
            "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": uuid.uuid4().hex,
            "x-acs-content-sha256": signing.content_sha256(body),
            "content-type": "application/x-www-form-urlencoded",
        }
        headers["authorization"] = signing.authorization(
            method="POST",
            path="/",
            query={},
            headers=headers,
            payload_hash=headers["x-acs-content-sha256"],
            key_id=self.config.access_key_id.get_secret_value(),
            secret=self.config.access_key_secret.get_secret_value(),
        )
        headers["accept"] = "application/json"
        return body, headers

    async def _moderate(self, client: httpx.AsyncClient, piece: str) -> dict[str, Any]:
        body, headers = self._request(piece)
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.post(self.url, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderError(
                "aliyun: no answer in time", code="timeout", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"aliyun: {type(exc).__name__}", code="unreachable", retryable=True
            ) from None
        return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a successful answer; ProviderError naming the gateway's or service's code."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        retry = response.status_code >= 500 or response.status_code == 429
        raise ProviderError(
            f"aliyun: HTTP {response.status_code} without a JSON body",
            code=f"http_{response.status_code}",
            retryable=retry,
        )
    request_id = data.get("RequestId", "")
    code = data.get("Code")
    if response.status_code != 200:
        # Gateway errors: SignatureDoesNotMatch, InvalidTimeStamp.Expired, Throttling.User...
        retry = response.status_code >= 500 or "Throttling" in str(code)
        raise ProviderError(
            f"aliyun: HTTP {response.status_code} {code}: {data.get('Message', '')}"
            f" (request {request_id})",
            code=str(code or f"http_{response.status_code}"),
            retryable=retry,
        )
    if code != 200:
        raise ProviderError(
            f"aliyun: code {code}: {data.get('Message', '')} (request {request_id})",
            code=str(code),
            retryable=code in RETRYABLE_CODES,
        )
    return data


def _verdict(answers: list[dict[str, Any]]) -> Verdict:
    score, level = 0.0, "none"
    labels: list[str] = []
    words: list[str] = []
    for answer in answers:
        data = answer.get("Data") or {}
        risk = str(data.get("RiskLevel") or "none").lower()
        if RISK_ORDER.get(risk, 0) > RISK_ORDER.get(level, 0):
            level = risk
        for result in data.get("Result") or []:
            label = str(result.get("Label") or "")
            if not label or label == NO_RISK_LABEL:
                continue
            score = max(score, float(result.get("Confidence") or 0))
            labels.append(label)
            words.extend(w.strip() for w in str(result.get("RiskWords") or "").split(","))
    return Verdict(
        score=clamp_score(score),
        level=level,
        provider="aliyun",
        labels=list(dict.fromkeys(labels)),
        risk_words=[w for w in dict.fromkeys(words) if w],
        raw={"answers": answers},
    )
