"""Rate limits (the `limits` library) shared by the HTTP and SMTP edges."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from oak_maillist.errors import RateLimitedError

# Named limits, so every edge agrees on them and tests can read them.
LIMITS: dict[str, RateLimitItem] = {
    "login_ip": parse("30/minute"),
    "login_account": parse("10/minute"),
    "register_ip": parse("10/hour"),
    "mfa_ip": parse("30/minute"),
    "mfa_account": parse("10/minute"),
    "refresh_ip": parse("60/minute"),
    "passkey_ip": parse("30/minute"),
    "setup_ip": parse("10/minute"),
    # Subscription bombing: one address cannot be sent confirmations more than a few times.
    "subscribe_ip": parse("20/minute"),
    "subscribe_address": parse("5/hour"),
}


class Limiter:
    """A moving-window limiter over memory or Redis storage."""

    def __init__(self, storage_url: str) -> None:
        storage = storage_from_string(f"async+{storage_url}")
        if not isinstance(storage, Storage):
            raise TypeError(f"not an asyncio storage: {storage_url}")
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(self.storage)

    async def hit(self, name: str, *keys: str) -> None:
        """Count one event for `keys` under the limit `name`; raise 429 once over it."""
        item = LIMITS[name]
        if not await self.strategy.hit(item, name, *keys):
            reset, _remaining = await self.strategy.get_window_stats(item, name, *keys)
            raise RateLimitedError(retry_after=max(1, math.ceil(reset - time.time())))

    async def allow(self, item: RateLimitItem, name: str, *keys: str) -> bool:
        """Count one event under a limit built from configuration; False once over it."""
        return await self.strategy.hit(item, name, *keys)

    async def reset(self) -> None:
        await self.storage.reset()
