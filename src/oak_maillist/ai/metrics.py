"""Prometheus metrics of AI moderation, on the service's registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from oak_maillist.metrics import REGISTRY

AI_CHECKS = Counter(
    "oak_ai_checks_total",
    "Posts scored by the AI provider, by provider and outcome (ok, error, circuit_open).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
AI_ATTEMPTS = Counter(
    "oak_ai_attempts_total",
    "Calls to the AI provider including retries, by provider and outcome (ok or error code).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
AI_LATENCY = Histogram(
    "oak_ai_check_duration_seconds",
    "Time to score one post, retries included, by provider.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
    registry=REGISTRY,
)
AI_LEVELS = Counter(
    "oak_ai_verdicts_total",
    "Verdicts stored, by level (none, caution, flagged, error).",
    ["level"],
    registry=REGISTRY,
)
AI_CIRCUIT_OPEN = Gauge(
    "oak_ai_circuit_open",
    "1 while the AI provider's circuit breaker is open (checks fail at once), by provider.",
    ["provider"],
    registry=REGISTRY,
)
