"""AI moderation statistics (per list and per day, for the lists the caller moderates), and for
administrators a test call to the provider and resetting run-time settings to the file's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from oak_maillist.api.deps import (
    MAX_ID,
    AdminUser,
    CurrentUser,
    OriginDep,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.schemas.ai_moderation import (
    AiCountsOut,
    AiDayOut,
    AiSettingsReset,
    AiStatsOut,
    ConnectionTestOut,
    LatencyOut,
    LevelCounts,
    ListAiStatsOut,
)
from oak_maillist.api.v1.schemas.settings import AiSettingsOut
from oak_maillist.api.v1.settings import ai_settings_out
from oak_maillist.services import activity, ai_moderation, ai_stats
from oak_maillist.services.access import Need, access_list, managed_list_ids

router = APIRouter(prefix="/ai-moderation", tags=["ai-moderation"])

Days = Annotated[int, Query(ge=1, le=365, description="Verdicts of the last this many days")]
ListFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="One list only")]


def _counts(stats: ai_stats.ListStats) -> dict[str, Any]:
    return {
        "total": stats.total,
        "levels": LevelCounts.model_validate(stats.levels),
        "providers": stats.providers,
        "held": stats.held,
        "approved": stats.approved,
        "rejected": stats.rejected,
        "overturn_rate": stats.overturn_rate,
        "false_positives": stats.false_positives,
        "false_negatives": stats.false_negatives,
        "false_positive_rate": stats.false_positive_rate,
        "false_negative_rate": stats.false_negative_rate,
        "error_rate": stats.error_rate,
        "latency": LatencyOut(
            p50_ms=stats.latency(50), p95_ms=stats.latency(95), max_ms=stats.latency(100)
        ),
    }


def _day(day: ai_stats.DayStats) -> AiDayOut:
    return AiDayOut(day=day.day, levels=LevelCounts.model_validate(day.levels), held=day.held)


@router.get("/stats")
async def stats(
    principal: CurrentUser, session: SessionDep, days: Days = 30, list_id: ListFilter = None
) -> AiStatsOut:
    """Verdicts by level, overturned holds, feedback rates, provider latency and errors, for
    every list the caller moderates (all lists for an administrator): per list, added up, and
    verdicts and holds per UTC day over the last `days` days (today included)."""
    if list_id is not None:
        await access_list(session, list_id, principal.user, need=Need.MODERATOR)
        list_ids: list[int] | None = [list_id]
    else:
        list_ids = await managed_list_ids(session, principal.user, need=Need.MODERATOR)
    since = ai_stats.first_moment(days)
    found = await ai_stats.list_stats(session, list_ids=list_ids, since=since)
    series = await ai_stats.daily(session, list_ids=list_ids, since=since)
    return AiStatsOut(
        since=since,
        days=days,
        totals=AiCountsOut(**_counts(ai_stats.summed(found))),
        series=[_day(day) for day in series],
        lists=[ListAiStatsOut(list_id=s.list_id, name=s.name, **_counts(s)) for s in found],
    )


@router.post("/test-connection")
async def connection_test(
    _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> ConnectionTestOut:
    """One real call to the provider in effect (saved settings, enabled or not): ok, or the
    provider's error text. No retries, and the circuit breaker is left as it is."""
    checked = await ai_moderation.check_connection(session, settings)
    return ConnectionTestOut(
        ok=checked.ok,
        provider=checked.provider,
        latency_ms=checked.latency_ms,
        score=checked.score,
        error=checked.error,
    )


@router.post("/settings/reset")
async def reset_settings(
    body: AiSettingsReset,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> AiSettingsOut:
    """Set run-time changes back to the configuration file's values (the site default)."""
    names = list(dict.fromkeys(body.names))
    config = await ai_moderation.reset_config(session, settings, names, actor_id=admin.user.id)
    await activity.record(
        session,
        "settings.ai_moderation_reset",
        actor_id=admin.user.id,
        origin=origin,
        target_type="settings",
        changes={"reset": names},
    )
    return ai_settings_out(config, await ai_moderation.overridden(session))
