"""Timeouts, retries and the circuit breaker, with the fake Aliyun made slow or failing."""

from __future__ import annotations

import asyncio
import time

from oak_maillist.ai import moderator
from oak_maillist.ai.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from oak_maillist.metrics import REGISTRY
from tests.ai.conftest import aliyun_config
from tests.ai.fake_aliyun import FakeAliyun


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_retryable_failures_are_retried_with_backoff(aliyun: FakeAliyun) -> None:
    aliyun.script.extend([("http", 503), ("code", 588)])
    check = moderator.Moderator(aliyun_config(aliyun.url, max_retries=2))
    outcome = await check.check("Casino night", "", b"")
    assert (outcome.level, outcome.attempts, outcome.error) == ("flagged", 3, None)
    assert outcome.verdict is not None
    assert outcome.verdict.labels == ["contraband_gambling"]
    assert check.breaker.state == CLOSED


async def test_a_refusal_is_not_retried_and_counts_against_the_circuit(aliyun: FakeAliyun) -> None:
    check = moderator.Moderator(aliyun_config(aliyun.url, access_key_secret="bad-secret"))
    outcome = await check.check("Hello", "", b"")
    assert (outcome.level, outcome.attempts) == ("error", 1)
    assert outcome.error is not None
    assert "SignatureDoesNotMatch" in outcome.error
    assert "bad-secret" not in outcome.error
    assert check.breaker.failures == 1


async def test_a_slow_provider_times_out_on_every_try(aliyun: FakeAliyun) -> None:
    aliyun.always_delay = 1.5
    config = aliyun_config(aliyun.url, request_timeout_seconds=1, max_retries=1)
    started = time.monotonic()
    outcome = await moderator.Moderator(config).check("Hello", "", b"")
    elapsed = time.monotonic() - started
    assert (outcome.level, outcome.attempts) == ("error", 2)
    assert outcome.error == "aliyun: no answer in time"
    assert 2.0 <= elapsed < 3.0  # two tries of 1 s and one pause, not the provider's 1.5 s each


async def test_the_circuit_opens_fails_fast_and_closes_after_a_good_trial(
    aliyun: FakeAliyun,
) -> None:
    config = aliyun_config(
        aliyun.url, max_retries=0, circuit_failure_threshold=3, circuit_reset_seconds=1
    )
    check = moderator.Moderator(config)
    aliyun.script.extend([("http", 503)] * 3)
    for _ in range(3):
        assert (await check.check("Hello", "", b"")).level == "error"
    assert check.breaker.state == OPEN
    assert _metric("oak_ai_circuit_open", provider="aliyun") == 1
    calls = len(aliyun.calls)
    started = time.monotonic()
    fast = await check.check("Hello", "", b"")
    assert time.monotonic() - started < 0.05
    assert (fast.level, fast.attempts) == ("error", 0)
    assert fast.error is not None
    assert fast.error.startswith("circuit open")
    assert len(aliyun.calls) == calls  # the provider was not asked

    await asyncio.sleep(1.05)  # let the reset period pass
    assert check.breaker.state == HALF_OPEN
    trial = await check.check("Hello", "", b"")
    assert trial.level == "none"
    assert check.breaker.state == CLOSED
    assert _metric("oak_ai_circuit_open", provider="aliyun") == 0


def test_a_failed_trial_opens_the_circuit_again() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=10, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()  # the one trial
    assert not breaker.allow()  # no second trial while the first runs
    breaker.record_failure()
    assert breaker.state == OPEN
    assert breaker.retry_in() == 10.0


async def test_moderators_are_kept_per_configuration(aliyun: FakeAliyun) -> None:
    first = moderator.moderator_for(aliyun_config(aliyun.url))
    assert moderator.moderator_for(aliyun_config(aliyun.url)) is first
    assert moderator.moderator_for(aliyun_config(aliyun.url, access_key_secret="x")) is not first
