"""A fake Aliyun Green gateway: checks what the real one checks, answers what it answers.

The gateway authenticates ACS3-HMAC-SHA256 (the signature recomputed here, independently of
our signer, from the canonical request), refuses a reused nonce and a timestamp outside 15
minutes, and requires the x-acs-* headers; TextModerationPlus then requires Service and a JSON
ServiceParameters with `content` of at most 2000 characters. Answers have the real shape:
`{"Code": 200, "Data": {"Result": [...], "RiskLevel": ...}, "Message": "OK", "RequestId": ...}`,
and gateway errors `{"Code": "SignatureDoesNotMatch", "Message": ..., "RequestId": ...}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KEY_ID = "LTAI5tFakeKeyId0001"
KEY_SECRET = "FakeSecret0123456789abcdefghijkl"
SERVICES = {
    "ugc_moderation_byllm",
    "llm_query_moderation",
    "llm_response_moderation",
    "chat_detection_pro",
    "comment_detection_pro",
}
MAX_CONTENT = 2000
WINDOW = timedelta(minutes=15)
REQUIRED_SIGNED = {
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
}
AUTH = re.compile(
    r"^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([a-z0-9;\-]+),Signature=([0-9a-f]{64})$"
)
# word: (label, description, confidence, risk level)
RISKS = {
    "casino": ("contraband_gambling", "疑似赌博相关", 92.5, "high"),
    "idiot": ("inappropriate_profanity", "疑似攻击辱骂内容", 64.0, "medium"),
    "free money": ("pt_by_recruitment", "疑似网赚兼职广告", 35.0, "low"),
}
LEVELS = ["none", "low", "medium", "high"]


@dataclass
class FakeAliyun:
    """The fake's state; tests script failures with `script` and read `calls`."""

    url: str = ""
    nonces: dict[str, datetime] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    # Scripted next answers: ("http", 503), ("code", 588), ("delay", 2.0), ("garbage", 200).
    script: list[tuple[str, float]] = field(default_factory=list)
    always_delay: float = 0.0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self.handle, methods=["POST", "GET"])])

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        request_id = str(uuid.uuid4()).upper()
        refusal = self._gateway(request, body)
        if refusal is not None:
            status, code, message = refusal
            self.refusals.append(code)
            return _json({"RequestId": request_id, "Code": code, "Message": message}, status)
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        self.calls.append({"headers": dict(request.headers), "params": params})
        if self.always_delay:
            await asyncio.sleep(self.always_delay)
        if self.script:
            kind, value = self.script.pop(0)
            if kind == "delay":
                await asyncio.sleep(value)
            elif kind == "http":
                code = "ServiceUnavailable" if value == 503 else "InternalError"
                return _json({"RequestId": request_id, "Code": code, "Message": code}, int(value))
            elif kind == "code":
                return _json({"RequestId": request_id, "Code": int(value), "Message": "error"})
            elif kind == "garbage":
                return Response(b"<html>bad gateway</html>", int(value), media_type="text/html")
        return _json({"RequestId": request_id, **_moderate(params)})

    def _gateway(self, request: Request, body: bytes) -> tuple[int, str, str] | None:
        """What the API gateway refuses before the service sees the request."""
        headers = request.headers
        match = AUTH.match(headers.get("authorization", ""))
        if match is None:
            return (
                400,
                "IncompleteSignature",
                "The request signature does not conform to standards.",
            )
        key_id, signed, signature = match.groups()
        if key_id != KEY_ID:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        names = signed.split(";")
        if not set(names) >= REQUIRED_SIGNED or names != sorted(names):
            return 400, "IncompleteSignature", "Required headers are not signed."
        if headers.get("x-acs-action") != "TextModerationPlus":
            return 400, "InvalidAction.NotFound", "Specified api is not found."
        if headers.get("x-acs-version") != "2022-03-02":
            return 400, "InvalidVersion", "Specified parameter Version is not valid."
        try:
            when = datetime.strptime(
                headers.get("x-acs-date", "") + "+0000", "%Y-%m-%dT%H:%M:%SZ%z"
            )
        except ValueError:
            return 400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
        if abs(datetime.now(UTC) - when) > WINDOW:
            return 400, "InvalidTimeStamp.Expired", "Specified time stamp or date is expired."
        if hashlib.sha256(body).hexdigest() != headers.get("x-acs-content-sha256"):
            return 400, "ContentSHA256NotMatched", "The payload hash does not match."
        canonical = "\n".join(
            [
                request.method,
                request.url.path or "/",
                "&".join(
                    f"{quote(k, safe='~')}={quote(v, safe='~')}"
                    for k, v in sorted(parse_qsl(request.url.query, keep_blank_values=True))
                ),
                "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in names),
                signed,
                headers["x-acs-content-sha256"],
            ]
        )
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(KEY_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return (
                400,
                "SignatureDoesNotMatch",
                "Specified signature does not match our calculation.",
            )
        nonce = headers.get("x-acs-signature-nonce", "")
        now = datetime.now(UTC)
        if not nonce or (nonce in self.nonces and now - self.nonces[nonce] < WINDOW):
            return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
        self.nonces[nonce] = now
        return None


def _json(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(data, status, headers={"x-acs-request-id": str(data["RequestId"])})


def _moderate(params: dict[str, str]) -> dict[str, Any]:
    service = params.get("Service", "")
    if service not in SERVICES:
        return {"Code": 400, "Message": f"Service {service!r} is not supported"}
    try:
        content = json.loads(params.get("ServiceParameters", ""))["content"]
    except (ValueError, KeyError, TypeError):
        return {"Code": 400, "Message": "ServiceParameters content is required"}
    if not isinstance(content, str) or not content.strip():
        return {"Code": 400, "Message": "content is empty"}
    if len(content) > MAX_CONTENT:
        return {"Code": 400, "Message": f"content exceeds {MAX_CONTENT} characters"}
    results, level = [], "none"
    for word, (label, description, confidence, risk) in RISKS.items():
        if word in content.lower():
            results.append(
                {"Label": label, "Description": description, "Confidence": confidence,
                 "RiskWords": word}
            )  # fmt: skip
            level = max(level, risk, key=LEVELS.index)
    if not results:
        results = [{"Label": "nonLabel", "Description": "未检测出风险"}]
    return {"Code": 200, "Message": "OK", "Data": {"Result": results, "RiskLevel": level}}
