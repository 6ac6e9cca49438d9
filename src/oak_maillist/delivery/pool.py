"""Reused relay connections, a cap on how many are open, and a cap on messages per second.

One pool per process (the runtime holds it). A connection goes back to the pool after a batch
and is reused by the next one while it is fresh; a relay that hangs up on an idle connection is
found out before anything is sent on it (NOOP), so reuse never loses or repeats a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiosmtplib

from oak_maillist.delivery.relay import RelayConfig, close_politely, connect

# A connection idle longer than this is closed rather than reused (relays drop idle clients).
IDLE_SECONDS = 20.0
_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


class RateCap:
    """At most `per_second` messages a second over the process (0: no cap); a token bucket
    that holds at most one second's worth, so a quiet spell does not allow a burst later."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._tokens = float(per_second)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, count: int = 1) -> None:
        if self.per_second <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(
                    float(self.per_second), self._tokens + (now - self._stamp) * self.per_second
                )
                self._stamp = now
                if self._tokens >= count or self._tokens >= self.per_second:
                    self._tokens -= count
                    return
                await asyncio.sleep((count - self._tokens) / self.per_second)


@dataclass
class _Idle:
    client: aiosmtplib.SMTP
    since: float


@dataclass
class _Slot:
    limit: asyncio.Semaphore
    idle: list[_Idle] = field(default_factory=list)


class RelayPool:
    """Open connections per relay, at most `max_connections` each, reused between batches."""

    def __init__(self, max_connections: int, rate_per_second: int = 0) -> None:
        self.max_connections = max_connections
        self.rate = RateCap(rate_per_second)
        self._slots: dict[RelayConfig, _Slot] = {}
        self.opened = 0  # connections made since start (for tests and metrics)
        self.lent = 0  # times a connection was lent out: each beyond `opened` was a reuse
        # Connections not kept for reuse, by why: "expired", "disconnected", "noop failed"
        # (found idle), "closed in use" (a block gave it back closed).
        self.dropped: Counter[str] = Counter()
        self.in_use = 0
        self.peak_in_use = 0  # the most connections lent out at once

    def _slot(self, config: RelayConfig) -> _Slot:
        slot = self._slots.get(config)
        if slot is None:
            slot = self._slots[config] = _Slot(asyncio.Semaphore(self.max_connections))
        return slot

    @contextlib.asynccontextmanager
    async def connection(self, config: RelayConfig) -> AsyncIterator[aiosmtplib.SMTP]:
        """A connected client for the duration of the block; raises the connect error.

        The block must leave the connection in a clean state (no open transaction) or close it.
        """
        slot = self._slot(config)
        async with slot.limit:
            client = await self._reuse(slot) or await self._open(config)
            self.lent += 1
            self.in_use += 1
            self.peak_in_use = max(self.peak_in_use, self.in_use)
            try:
                yield client
            except BaseException:
                client.close()
                raise
            finally:
                self.in_use -= 1
            if client.is_connected:
                slot.idle.append(_Idle(client, time.monotonic()))
            else:
                self.dropped["closed in use"] += 1

    async def _reuse(self, slot: _Slot) -> aiosmtplib.SMTP | None:
        while slot.idle:
            idle = slot.idle.pop()
            if time.monotonic() - idle.since > IDLE_SECONDS or not idle.client.is_connected:
                self.dropped["expired" if idle.client.is_connected else "disconnected"] += 1
                await close_politely(idle.client)
                continue
            try:
                await idle.client.noop()
            except _ERRORS:
                self.dropped["noop failed"] += 1
                idle.client.close()
                continue
            return idle.client
        return None

    async def _open(self, config: RelayConfig) -> aiosmtplib.SMTP:
        client = await connect(config)
        self.opened += 1
        return client

    async def close(self) -> None:
        for slot in self._slots.values():
            while slot.idle:
                await close_politely(slot.idle.pop().client)
        self._slots.clear()
