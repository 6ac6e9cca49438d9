"""Listening sockets for SMTP (and LMTP when enabled) inside the running event loop."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from oak_maillist.logging import get_logger
from oak_maillist.metrics import SMTP_ACTIVE_SESSIONS, SMTP_SESSIONS
from oak_maillist.runtime import Runtime
from oak_maillist.smtp import replies
from oak_maillist.smtp.handler import ListHandler, handler_kwargs
from oak_maillist.smtp.protocol import ListSMTP

log = get_logger(__name__)


class _Limits:
    """Open connections across a listener, so a flood meets 421 instead of exhausting us."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.open = 0


def _limited(base: type[SMTP], listener: str, limits: _Limits) -> type[SMTP]:
    class Limited(ListSMTP, base):  # type: ignore[misc, valid-type]
        _counted = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if self._original_transport is None and not self._counted:  # not a STARTTLS restart
                if limits.open >= limits.maximum:
                    assert isinstance(transport, asyncio.WriteTransport)  # noqa: S101 - TCP
                    transport.write(f"{replies.TOO_BUSY}\r\n".encode())
                    transport.close()
                    return
                self._counted = True
                limits.open += 1
                SMTP_SESSIONS.labels(listener).inc()
                SMTP_ACTIVE_SESSIONS.inc()
            super().connection_made(transport)

        def connection_lost(self, error: Exception | None) -> None:
            if self._counted:
                self._counted = False
                limits.open -= 1
                SMTP_ACTIVE_SESSIONS.dec()
            if self.session is not None:
                super().connection_lost(error)

    return Limited


def _tls_context(runtime: Runtime) -> ssl.SSLContext | None:
    settings = runtime.settings.smtp.incoming
    if not settings.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


async def start_servers(runtime: Runtime) -> list[asyncio.Server]:
    """Bind SMTP (and LMTP) listeners; returns the servers so the caller can close them."""
    settings = runtime.settings.smtp.incoming
    handler = ListHandler(runtime)
    limits = _Limits(settings.max_connections)
    kwargs: dict[str, Any] = handler_kwargs(runtime)
    loop = asyncio.get_running_loop()
    smtp_class = _limited(SMTP, "smtp", limits)
    tls = _tls_context(runtime)
    servers = [
        await loop.create_server(
            lambda: smtp_class(handler, tls_context=tls, **kwargs), settings.host, settings.port
        )
    ]
    log.info("smtp_listening", host=settings.host, port=bound_port(servers[0]), starttls=bool(tls))
    if settings.lmtp_enabled:
        lmtp_class = _limited(LMTP, "lmtp", limits)
        servers.append(
            await loop.create_server(
                lambda: lmtp_class(handler, **kwargs), settings.lmtp_host, settings.lmtp_port
            )
        )
        log.info("lmtp_listening", host=settings.lmtp_host, port=bound_port(servers[-1]))
    return servers


def bound_port(server: asyncio.Server) -> int:
    """The port a listener actually bound (port 0 in tests picks a free one)."""
    port: int = server.sockets[0].getsockname()[1]
    return port


async def stop_servers(servers: list[asyncio.Server]) -> None:
    for server in servers:
        server.close()
    for server in servers:
        await server.wait_closed()
