"""Local spam scorers a site can run from Debian's packages: Rspamd (HTTP) and spamd (SPAMC).

Both score in their own units against their own spam threshold. We map that threshold onto our
`high_risk_threshold`, linearly: what the engine calls spam is flagged, half of it scores half.
Rspamd's own "add header"/"rewrite subject" verdict is at least caution, "reject" at least
flagged; greylisting ("soft reject") says nothing about content and is ignored.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from oak_maillist.ai.base import ProviderError, Verdict, clamp_score
from oak_maillist.config import AiModerationSettings

RSPAMD_CONTROLLER_PORT = 11334
CAUTION_ACTIONS = frozenset({"add header", "rewrite subject"})


def scale(score: float, threshold: float, config: AiModerationSettings) -> int:
    """An engine's score on our 0-100 scale: its spam threshold lands on our high threshold."""
    if threshold <= 0:
        return 100 if score > 0 else 0
    return clamp_score(score / threshold * config.high_risk_threshold)


class RspamdProvider:
    name = "rspamd"

    def __init__(self, config: AiModerationSettings, *, timeout: float) -> None:
        self.config = config
        self.timeout = timeout
        self.url = httpx.URL(str(config.endpoint))

    async def check(self, subject: str, text: str, raw: bytes) -> Verdict:
        data = await self._post(self.url.join("/checkv2"), raw)
        action = str(data.get("action", "no action"))
        score = scale(
            float(data.get("score", 0)), float(data.get("required_score", 15)), self.config
        )
        if action == "reject":
            score = max(score, self.config.high_risk_threshold)
        elif action in CAUTION_ACTIONS:
            score = max(score, self.config.medium_risk_threshold)
        symbols: dict[str, Any] = data.get("symbols") or {}
        ranked = sorted(symbols.values(), key=lambda s: -float(s.get("score", 0)))
        labels = [str(s.get("name")) for s in ranked if float(s.get("score", 0)) > 0]
        if not labels and action == "reject":
            labels = [str(s.get("name")) for s in ranked]
        return Verdict(score=score, level=action, provider=self.name, labels=labels[:20], raw=data)

    async def learn(self, raw: bytes, *, spam: bool) -> bool:
        base = self.config.learn_endpoint or str(self.url.copy_with(port=RSPAMD_CONTROLLER_PORT))
        url = httpx.URL(base).join("/learnspam" if spam else "/learnham")
        password = self.config.api_key.get_secret_value()
        try:
            await self._post(url, raw, headers={"Password": password} if password else {})
        except ProviderError as exc:
            if exc.code != "http_208":  # 208: already learned that way, which is what we want
                raise
        return True

    async def _post(
        self, url: httpx.URL, raw: bytes, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(timeout=self.timeout) as client,
            ):
                response = await client.post(url, content=raw, headers=headers or {})
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderError(
                "rspamd: no answer in time", code="timeout", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"rspamd: {type(exc).__name__}", code="unreachable", retryable=True
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code != 200 or not isinstance(data, dict):
            # Rspamd puts the reason in the error body or, for 204 (not learned), the status line.
            detail = data.get("error", "") if isinstance(data, dict) else ""
            detail = detail or response.reason_phrase
            raise ProviderError(
                f"rspamd: HTTP {response.status_code} {detail}"[:500].strip(),
                code=f"http_{response.status_code}",
                retryable=response.status_code >= 500,
            )
        return data


class SpamAssassinProvider:
    name = "spamassassin"

    def __init__(self, config: AiModerationSettings, *, timeout: float) -> None:
        self.config = config
        self.timeout = timeout
        address = str(config.endpoint)
        if "://" in address:
            url = httpx.URL(address)
            self.host, self.port = url.host, url.port or 783
        else:
            host, _, port = address.rpartition(":")
            self.host, self.port = host, int(port)

    async def check(self, subject: str, text: str, raw: bytes) -> Verdict:
        response = await self._call("symbols", raw)
        spam = response.headers["Spam"]
        body = bytes(response.body or b"").decode(errors="replace")
        labels = [name.strip() for name in body.split(",") if name.strip()]
        return Verdict(
            score=scale(float(spam.score), float(spam.threshold), self.config),
            level="spam" if spam.value else "ham",
            provider=self.name,
            labels=labels[:20],
            raw={"score": spam.score, "threshold": spam.threshold, "symbols": labels},
        )

    async def learn(self, raw: bytes, *, spam: bool) -> bool:
        await self._call("tell", raw, "spam" if spam else "ham", set_action="local")
        return True

    async def _call(self, command: str, raw: bytes, *args: Any, **kwargs: Any) -> Any:
        # aiospamc is the optional "spamassassin" extra: imported only when spamd is used.
        import aiospamc  # type: ignore[import-untyped]
        from aiospamc.exceptions import (  # type: ignore[import-untyped]
            AIOSpamcConnectionFailed,
            ClientException,
            TimeoutException,
        )
        from aiospamc.responses import ResponseException  # type: ignore[import-untyped]

        try:
            async with asyncio.timeout(self.timeout):
                function = getattr(aiospamc, command)
                return await function(raw, *args, host=self.host, port=self.port, **kwargs)
        except (TimeoutError, TimeoutException):
            raise ProviderError(
                "spamd: no answer in time", code="timeout", retryable=True
            ) from None
        except (AIOSpamcConnectionFailed, OSError):
            raise ProviderError("spamd: unreachable", code="unreachable", retryable=True) from None
        except (ResponseException, ClientException) as exc:
            raise ProviderError(
                f"spamd: {type(exc).__name__}", code="spamd_error", retryable=False
            ) from None
