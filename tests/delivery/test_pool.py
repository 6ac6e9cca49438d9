"""The relay pool reuses connections, replaces ones the relay dropped without losing a message,
caps how many are open, and the rate cap holds the pace it is given."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP

from oak_maillist.delivery import relay
from oak_maillist.delivery.pool import RateCap, RelayPool
from oak_maillist.delivery.relay import RelayConfig
from tests.processes import free_port
from tests.sink import Sink


@pytest.fixture
async def idle_dropping_sink() -> AsyncIterator[Sink]:
    """A sink that hangs up on clients idle for half a second, as relays do."""
    sink = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", timeout=0.5), "127.0.0.1", 0
    )
    sink.port = server.sockets[0].getsockname()[1]
    yield sink
    server.close()
    await server.wait_closed()


def _config(port: int) -> RelayConfig:
    return RelayConfig("127.0.0.1", port, "none", "", "", 5)


def _envelope(n: int) -> relay.Envelope:
    return relay.Envelope(
        "list-bounces@example.org", f"r{n}@example.net", b"Subject: %d\r\n\r\nbody\r\n" % n
    )


async def _send(pool: RelayPool, config: RelayConfig, n: int) -> list[relay.Result]:
    async with pool.connection(config) as client:
        return await relay.send_each(client, [_envelope(n)])


async def test_connections_are_reused_and_dropped_ones_replaced(
    idle_dropping_sink: Sink,
) -> None:
    pool = RelayPool(max_connections=2)
    config = _config(idle_dropping_sink.port)
    try:
        for n in range(3):
            [result] = await _send(pool, config, n)
            assert result.outcome is relay.Outcome.SENT
        assert pool.opened == 1
        await asyncio.sleep(1.0)  # the relay hangs up on the idle connection
        [result] = await _send(pool, config, 3)
        assert result.outcome is relay.Outcome.SENT
        assert pool.opened == 2
        assert pool.dropped == {"disconnected": 1}  # seen closed, no NOOP sent on it
        assert [m.recipients for m in idle_dropping_sink.received] == [
            [f"r{n}@example.net"] for n in range(4)
        ]
    finally:
        await pool.close()


async def test_no_more_connections_than_allowed(sink: Sink) -> None:
    pool = RelayPool(max_connections=2)
    config = _config(sink.port)
    open_now = peak = 0

    async def one(n: int) -> None:
        nonlocal open_now, peak
        async with pool.connection(config) as client:
            open_now += 1
            peak = max(peak, open_now)
            await relay.send_each(client, [_envelope(n)])
            await asyncio.sleep(0.05)
            open_now -= 1

    try:
        await asyncio.gather(*(one(n) for n in range(8)))
    finally:
        await pool.close()
    assert peak == 2
    assert (pool.opened, pool.peak_in_use, pool.in_use) == (2, 2, 0)
    assert pool.lent == 8  # two made, six reuses
    assert len(sink.received) == 8


async def test_a_connection_given_back_closed_is_counted_and_replaced(sink: Sink) -> None:
    pool = RelayPool(max_connections=1)
    config = _config(sink.port)
    try:
        async with pool.connection(config) as client:
            await relay.send_each(client, [_envelope(0)])
            await client.quit()
        [result] = await _send(pool, config, 1)
        assert result.outcome is relay.Outcome.SENT
        assert (pool.opened, pool.dropped, pool.peak_in_use) == (2, {"closed in use": 1}, 1)
    finally:
        await pool.close()


async def test_an_unreachable_relay_raises_for_the_caller_to_defer() -> None:
    pool = RelayPool(max_connections=1)
    with pytest.raises(aiosmtplib.SMTPConnectError):
        async with pool.connection(_config(free_port())):
            pass
    await pool.close()


async def test_the_rate_cap_holds_the_pace() -> None:
    cap = RateCap(20)
    start = time.monotonic()
    for _ in range(30):  # a full bucket of 20, then 10 more at 20 a second
        await cap.take()
    assert time.monotonic() - start >= 0.45
