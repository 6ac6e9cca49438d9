"""Helpers for tests that follow mail the service sends: jobs in this process, relay = sink."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from oak_maillist.config import OutgoingSmtpSettings, QueueSettings, SmtpSettings
from oak_maillist.runtime import Runtime
from oak_maillist.tasks import queue
from tests.sink import Sink


@asynccontextmanager
async def jobs_relaying_to(runtime: Runtime, sink: Sink) -> AsyncIterator[None]:
    """Run jobs in this process, with the SMTP relay pointed at the sink."""
    smtp = SmtpSettings(
        outgoing=OutgoingSmtpSettings(
            host="127.0.0.1", port=sink.port, security="none", timeout_seconds=5
        )
    )
    local = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"smtp": smtp})
    )
    await queue.start(local, queue.make_broker(QueueSettings()), worker=True)
    try:
        yield
    finally:
        await queue.stop()


def link_token(body: str, page: str) -> str:
    """The token of the link to the web app's `page` in a mail body."""
    match = re.search(rf"https?://\S+/{page}\?token=(\S+)", body)
    assert match, body
    return match.group(1).replace("%2E", ".")
