"""AI moderation statistics: per list, for the lists the caller moderates."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from oak_maillist.api.deps import MAX_ID, CurrentUser, SessionDep
from oak_maillist.api.v1.schemas.ai_moderation import (
    AiStatsOut,
    LatencyOut,
    LevelCounts,
    ListAiStatsOut,
)
from oak_maillist.db.types import utcnow
from oak_maillist.services import ai_stats
from oak_maillist.services.access import Need, access_list, managed_list_ids

router = APIRouter(prefix="/ai-moderation", tags=["ai-moderation"])

Days = Annotated[int, Query(ge=1, le=365, description="Verdicts of the last this many days")]
ListFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="One list only")]


def _out(stats: ai_stats.ListStats) -> ListAiStatsOut:
    return ListAiStatsOut(
        list_id=stats.list_id,
        name=stats.name,
        total=stats.total,
        levels=LevelCounts.model_validate(stats.levels),
        providers=stats.providers,
        held=stats.held,
        approved=stats.approved,
        rejected=stats.rejected,
        overturn_rate=stats.overturn_rate,
        false_positives=stats.false_positives,
        false_negatives=stats.false_negatives,
        false_positive_rate=stats.false_positive_rate,
        false_negative_rate=stats.false_negative_rate,
        error_rate=stats.error_rate,
        latency=LatencyOut(
            p50_ms=stats.latency(50), p95_ms=stats.latency(95), max_ms=stats.latency(100)
        ),
    )


@router.get("/stats")
async def stats(
    principal: CurrentUser, session: SessionDep, days: Days = 30, list_id: ListFilter = None
) -> AiStatsOut:
    """Verdicts by level, overturned holds, feedback rates, provider latency and errors, for
    every list the caller moderates (all lists for an administrator)."""
    if list_id is not None:
        await access_list(session, list_id, principal.user, need=Need.MODERATOR)
        list_ids: list[int] | None = [list_id]
    else:
        list_ids = await managed_list_ids(session, principal.user, need=Need.MODERATOR)
    since = utcnow() - timedelta(days=days)
    found = await ai_stats.list_stats(session, list_ids=list_ids, since=since)
    return AiStatsOut(since=since, days=days, lists=[_out(s) for s in found])
