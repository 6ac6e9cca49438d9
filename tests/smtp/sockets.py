"""Our SMTP listeners on a free port, and replies read off a plain socket."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

from oak_maillist.config import IncomingSmtpSettings, SmtpSettings
from oak_maillist.runtime import Runtime
from oak_maillist.smtp.server import start_servers


async def serve(runtime: Runtime, **incoming: object) -> list[asyncio.Server]:
    """Start the listeners with `incoming` settings on 127.0.0.1, port 0."""
    smtp = SmtpSettings(incoming=IncomingSmtpSettings(host="127.0.0.1", port=0, **incoming))  # type: ignore[arg-type]
    local = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"smtp": smtp})
    )
    return await start_servers(local)


def read_replies(sock: socket.socket, count: int) -> list[str]:
    """Read `count` complete replies (multi-line replies end with "NNN ")."""
    data = b""
    replies: list[str] = []
    while len(replies) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        *lines, data = data.split(b"\r\n")
        replies.extend(line.decode() for line in lines if line[3:4] == b" ")
    return replies


def converse(port: int, *steps: tuple[bytes, int]) -> list[str]:
    """Over a plain socket: the greeting, then for each step its bytes sent (pipelined as
    they are) and that many replies read. Blocking: run it in a thread."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        replies = read_replies(sock, 1)
        for data, count in steps:
            sock.sendall(data)
            replies += read_replies(sock, count)
        return replies
