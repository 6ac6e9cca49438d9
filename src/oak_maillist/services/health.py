"""Readiness of the parts a process depends on: database, schema, and its own components."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from oak_maillist.db import migrate
from oak_maillist.runtime import Runtime

CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Health:
    ready: bool
    components: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, str]:
        return {
            name: str(state.get("reason", state["status"]))
            for name, state in self.components.items()
            if state["status"] not in ("ok", "disabled")
        }


async def check(runtime: Runtime) -> Health:
    """Check the database and migrations now; report the process's own components as they are."""
    components: dict[str, dict[str, Any]] = {}
    database_ok = await _check_database(runtime, components)
    if database_ok:
        await _check_migrations(runtime, components)
    else:
        components["migrations"] = {"status": "unknown", "reason": "database unreachable"}
    for name, state in runtime.components.items():
        components[name] = {"status": "ok" if state == "running" else state, "state": state}
    ready = all(state["status"] in ("ok", "disabled") for state in components.values())
    return Health(ready=ready, components=components)


async def _check_database(runtime: Runtime, components: dict[str, dict[str, Any]]) -> bool:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready", with its class as the reason
        components["database"] = {
            "status": "error",
            "backend": runtime.backend,
            "reason": f"unreachable ({type(exc).__name__})",
        }
        return False
    latency = round((time.perf_counter() - started) * 1000, 2)
    components["database"] = {"status": "ok", "backend": runtime.backend, "latency_ms": latency}
    return True


async def _check_migrations(runtime: Runtime, components: dict[str, dict[str, Any]]) -> None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            state = await migrate.status(runtime.engine)
    except Exception as exc:
        components["migrations"] = {"status": "error", "reason": type(exc).__name__}
        return
    components["migrations"] = {
        "status": "ok" if state.is_current else "pending",
        "current": state.current,
        "head": state.head,
        **({} if state.is_current else {"reason": "run `oak-maillist migrate up`"}),
    }
