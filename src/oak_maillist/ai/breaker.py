"""A circuit breaker: after N failed checks in a row, stop asking the provider for a while.

closed → (N failures) → open → (reset_seconds) → half-open: one trial check; its success
closes the circuit, its failure opens it again. While open, checks fail at once, and the list's
ai_on_error decides without anyone waiting for a provider that is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_running = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        if self.clock() - self.opened_at >= self.reset_seconds:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        """May a check go to the provider now? In half-open state, only one at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self.trial_running:
            self.trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_running = False

    def record_failure(self) -> None:
        self.failures += 1
        self.trial_running = False
        if self.opened_at is not None or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()  # a failed trial opens the circuit for another period

    def retry_in(self) -> float:
        """Seconds until the next trial is allowed (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_seconds - (self.clock() - self.opened_at))
