"""Run the roles of one process: HTTP, SMTP, job workers and the scheduler, until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn

from oak_maillist.app import create_app
from oak_maillist.logging import get_logger
from oak_maillist.runtime import Runtime
from oak_maillist.smtp.server import start_servers, stop_servers
from oak_maillist.tasks import queue
from oak_maillist.tasks.schedule import run_scheduler
from oak_maillist.tasks.worker import run_worker

log = get_logger(__name__)

ROLES = ("http", "smtp", "worker", "scheduler")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops all its parts together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run(runtime: Runtime, roles: set[str]) -> None:
    """Start the requested roles and wait for SIGINT/SIGTERM, then stop them cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    broker = queue.make_broker(runtime.settings.queue)
    in_memory = runtime.settings.queue.broker == "memory"
    # With the in-memory broker, jobs run where they are kicked, so every process runs them.
    await queue.start(runtime, broker, worker="worker" in roles or in_memory)
    tasks: list[asyncio.Task[Any]] = []
    smtp_servers: list[asyncio.Server] = []
    http: _Server | None = None
    try:
        if "smtp" in roles and runtime.settings.smtp.incoming.enabled:
            smtp_servers = await start_servers(runtime)
            runtime.components["smtp"] = "running"
        elif "smtp" in roles:
            runtime.components["smtp"] = "disabled"
        if "worker" in roles and not in_memory:
            tasks.append(
                asyncio.create_task(
                    run_worker(broker, stop, concurrency=runtime.settings.queue.concurrency)
                )
            )
        if "worker" in roles:
            runtime.components["worker"] = "running"
            # Work a killed process left behind is picked up now, not at the next sweep.
            await queue.enqueue("inbound.sweep", grace_seconds=0)
            await queue.enqueue("outbound.sweep")
            await queue.enqueue("delivery.sweep", grace_seconds=0)
            await queue.enqueue("search.sweep", grace_seconds=0)
        if "scheduler" in roles:
            tasks.append(asyncio.create_task(run_scheduler(broker, stop)))
            runtime.components["scheduler"] = "running"
        if "http" in roles:
            http = _Server(_uvicorn_config(runtime))
            tasks.append(asyncio.create_task(http.serve()))
        # What startup made (modules, mappers, the app, compiled templates) lives as long as
        # the process: frozen, the garbage collector's full passes no longer walk all of it
        # again and again. 100 KB posts on MariaDB, whose search terms make many objects,
        # cost 41 ms of CPU each, 14 of them in the collector; frozen: 31 and 3.
        gc.freeze()
        log.info(
            "started",
            roles=sorted(roles),
            broker=_broker_kind(runtime),
            backend=runtime.backend,
            frozen_objects=gc.get_freeze_count(),
        )
        await _wait(stop, tasks)
    finally:
        log.info("stopping")
        stop.set()
        if http is not None:
            http.should_exit = True
        await stop_servers(smtp_servers)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await queue.stop()
        await runtime.close()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result


async def _wait(stop: asyncio.Event, tasks: list[asyncio.Task[Any]]) -> None:
    """Until a signal, or until any part ends (a part that dies takes the process down)."""
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper and task.exception() is not None:
            log.error("component_failed", error=repr(task.exception()))
        elif task is not stopper and not stop.is_set():
            log.error("component_stopped")


def _uvicorn_config(runtime: Runtime) -> uvicorn.Config:
    server = runtime.settings.server
    return uvicorn.Config(
        create_app(runtime),
        host=server.host,
        port=server.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=server.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def _broker_kind(runtime: Runtime) -> str:
    return runtime.settings.queue.broker.split("://", 1)[0]
