"""Liveness, readiness and a health summary for load balancers and operators."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from oak_maillist import __version__
from oak_maillist.api.deps import RuntimeDep
from oak_maillist.api.errors import error_response
from oak_maillist.api.v1.schemas.common import ErrorBody
from oak_maillist.services import health

router = APIRouter(prefix="/health", tags=["health"])


class Live(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    components: dict[str, dict[str, Any]]


class HealthSummary(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    components: dict[str, dict[str, Any]]


@router.get("/live")
async def live() -> Live:
    """The process is up and its event loop answers."""
    return Live(status="ok")


@router.get("/ready", responses={503: {"model": ErrorBody}}, response_model=Ready)
async def ready(runtime: RuntimeDep) -> Ready | JSONResponse:
    """The database answers and its schema is at the code's migration head."""
    result = await health.check(runtime)
    if not result.ready:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in result.problems.items())
        return error_response(
            503, "not_ready", f"Not ready: {reasons}", {"components": result.components}
        )
    return Ready(status="ready", components=result.components)


@router.get("")
async def summary(runtime: RuntimeDep) -> HealthSummary:
    """Version and the state of every component, always 200 so dashboards can read it."""
    result = await health.check(runtime)
    return HealthSummary(
        status="ok" if result.ready else "degraded",
        version=__version__,
        components=result.components,
    )
