"""Prometheus exposition of the service's metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oak_maillist.api.deps import RuntimeDep
from oak_maillist.logging import get_logger
from oak_maillist.metrics import QUEUE_DEPTH, REGISTRY
from oak_maillist.services import stats

router = APIRouter(tags=["health"])
log = get_logger(__name__)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    """Counters and histograms in the Prometheus text format; queue depths read at scrape time."""
    try:
        async with runtime.sessionmaker() as session:
            for kind, depth in (await stats.queue_depths(session)).items():
                QUEUE_DEPTH.labels(kind).set(depth)
    except Exception:  # a scrape still answers with what it has when the database is down
        log.warning("queue_depth_unavailable", exc_info=True)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
