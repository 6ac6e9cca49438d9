"""One provider behind a timeout, retries with backoff and a circuit breaker.

A check never raises: it answers a verdict, or an error the list's ai_on_error decides on.
Moderators are kept per configuration, so the breaker remembers failures across posts and a
changed configuration (a new key, another provider) starts with a closed circuit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from oak_maillist.ai import breaker as breakers
from oak_maillist.ai.aliyun import AliyunProvider
from oak_maillist.ai.base import ERROR, Provider, ProviderError, Verdict
from oak_maillist.ai.metrics import AI_ATTEMPTS, AI_CHECKS, AI_CIRCUIT_OPEN, AI_LATENCY
from oak_maillist.ai.openai import OpenAiProvider
from oak_maillist.ai.policy import level_for
from oak_maillist.ai.spam import RspamdProvider, SpamAssassinProvider
from oak_maillist.config import AiModerationSettings
from oak_maillist.logging import get_logger

log = get_logger(__name__)

BACKOFF_SECONDS = 0.5  # first pause between tries; doubles each time
MAX_BACKOFF_SECONDS = 8.0
PROVIDERS: dict[str, Callable[..., Provider]] = {
    "aliyun": AliyunProvider,
    "openai": OpenAiProvider,
    "rspamd": RspamdProvider,
    "spamassassin": SpamAssassinProvider,
}


@dataclass(frozen=True)
class Outcome:
    """A check's result: a verdict and our level for it, or the error (level "error")."""

    provider: str
    level: str
    verdict: Verdict | None
    error: str | None
    latency_ms: int
    attempts: int


def build_provider(config: AiModerationSettings) -> Provider:
    provider: Provider = PROVIDERS[config.provider](
        config, timeout=float(config.request_timeout_seconds)
    )
    return provider


def scrub(message: str, config: AiModerationSettings) -> str:
    """An error message with every configured secret taken out (providers may echo them)."""
    for secret in (config.access_key_secret, config.api_key, config.access_key_id):
        value = secret.get_secret_value()
        if len(value) >= 4:
            message = message.replace(value, "********")
    return message[:1000]


class Moderator:
    def __init__(
        self,
        config: AiModerationSettings,
        *,
        provider: Provider | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.provider = provider or build_provider(config)
        self.breaker = breakers.CircuitBreaker(
            failure_threshold=config.circuit_failure_threshold,
            reset_seconds=config.circuit_reset_seconds,
        )
        self.sleep = sleep

    async def check(self, subject: str, text: str, raw: bytes) -> Outcome:
        name = self.provider.name
        if not self.breaker.allow():
            AI_CHECKS.labels(name, "circuit_open").inc()
            wait = round(self.breaker.retry_in())
            return self._failed(f"circuit open after repeated failures; next try in {wait}s", 0)
        started = time.monotonic()
        try:
            result, attempts = await self._tries(subject, text, raw)
        except BaseException:  # cancelled (the job's time limit): the trial is not running
            self.breaker.trial_running = False
            raise
        if isinstance(result, ProviderError):
            self.breaker.record_failure()
            self._circuit_gauge()
            AI_CHECKS.labels(name, "error").inc()
            message = scrub(str(result), self.config)
            log.warning("ai_check_failed", provider=name, attempts=attempts, error=message)
            return self._failed(message, attempts, started)
        self.breaker.record_success()
        self._circuit_gauge()
        AI_CHECKS.labels(name, "ok").inc()
        elapsed = time.monotonic() - started
        AI_LATENCY.labels(name).observe(elapsed)
        return Outcome(
            provider=name,
            level=level_for(result.score, self.config),
            verdict=result,
            error=None,
            latency_ms=round(elapsed * 1000),
            attempts=attempts,
        )

    async def _tries(
        self, subject: str, text: str, raw: bytes
    ) -> tuple[Verdict | ProviderError, int]:
        """The first try and up to max_retries more for retryable failures, with backoff."""
        attempts = 0
        while True:
            attempts += 1
            result = await self._attempt(subject, text, raw)
            code = result.code[:40] if isinstance(result, ProviderError) else "ok"
            AI_ATTEMPTS.labels(self.provider.name, code).inc()
            if not isinstance(result, ProviderError):
                return result, attempts
            if not result.retryable or attempts > self.config.max_retries:
                return result, attempts
            pause = min(BACKOFF_SECONDS * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
            log.info("ai_retry", provider=self.provider.name, attempt=attempts, code=code)
            await self.sleep(pause)

    async def _attempt(self, subject: str, text: str, raw: bytes) -> Verdict | ProviderError:
        try:
            return await self.provider.check(subject, text, raw)
        except ProviderError as exc:
            return exc
        except Exception as exc:  # a bug or an answer we do not understand: fail, don't crash
            log.exception("ai_check_crashed", provider=self.provider.name)
            return ProviderError(f"{self.provider.name}: {type(exc).__name__}", code="internal")

    async def learn(self, raw: bytes, *, spam: bool) -> bool:
        """Teach the provider a moderator's verdict; False if it cannot learn or failed to."""
        try:
            return await self.provider.learn(raw, spam=spam)
        except ProviderError as exc:
            log.warning(
                "ai_learn_failed", provider=self.provider.name, error=scrub(str(exc), self.config)
            )
            return False

    def _failed(self, error: str, attempts: int, started: float | None = None) -> Outcome:
        elapsed = 0.0 if started is None else time.monotonic() - started
        if started is not None:
            AI_LATENCY.labels(self.provider.name).observe(elapsed)
        return Outcome(
            provider=self.provider.name,
            level=ERROR,
            verdict=None,
            error=error,
            latency_ms=round(elapsed * 1000),
            attempts=attempts,
        )

    def _circuit_gauge(self) -> None:
        is_open = self.breaker.opened_at is not None
        AI_CIRCUIT_OPEN.labels(self.provider.name).set(1 if is_open else 0)


_moderators: dict[str, Moderator] = {}


def config_key(config: AiModerationSettings) -> str:
    """A fingerprint of the whole configuration, secrets included (hashed, never kept)."""
    values = config.model_dump(mode="json")
    for name in ("access_key_id", "access_key_secret", "api_key"):
        values[name] = getattr(config, name).get_secret_value()
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def moderator_for(config: AiModerationSettings) -> Moderator:
    """The process's moderator for this configuration (its breaker state carries over)."""
    key = config_key(config)
    found = _moderators.get(key)
    if found is None:
        if len(_moderators) > 16:  # configurations replaced at run time: forget old ones
            _moderators.clear()
        found = _moderators[key] = Moderator(config)
    return found


def forget_moderators() -> None:
    """Drop every kept moderator and its breaker (tests; a configuration reload)."""
    _moderators.clear()
