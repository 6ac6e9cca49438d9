"""AI moderation statistics per list, so thresholds are tuned with evidence.

Counts of verdicts by level, how often moderators overturned an AI hold (approved it) and
marked verdicts wrong (false positives among caution and flagged, false negatives among none),
provider latency and errors; the same summed over every list in scope, and verdicts and holds
per UTC day (date() of a naive UTC time is its UTC day on every backend, as in dashboard).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Date, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.ai.base import CAUTION, ERROR, FLAGGED, NONE
from oak_maillist.db.types import utcnow
from oak_maillist.models import AiFeedback, AiModerationResult, HeldMessage, HeldStatus, MailingList

AI_REASONS = ("ai_flagged", "ai_caution", "ai_error")
LATENCY_SAMPLE = 20_000  # newest verdicts the percentiles are computed from
DECIDED = (HeldStatus.APPROVED, HeldStatus.REJECTED, HeldStatus.DISCARDED)


@dataclass
class ListStats:
    list_id: int
    name: str = ""
    total: int = 0
    levels: dict[str, int] = field(
        default_factory=lambda: {NONE: 0, CAUTION: 0, FLAGGED: 0, ERROR: 0}
    )
    held: int = 0  # posts the AI step held
    approved: int = 0  # of those, released by a moderator (overturned)
    rejected: int = 0  # rejected or discarded by a moderator (confirmed)
    false_positives: int = 0
    false_negatives: int = 0
    latencies: list[int] = field(default_factory=list)
    providers: dict[str, int] = field(default_factory=dict)

    @property
    def overturn_rate(self) -> float | None:
        decided = self.approved + self.rejected
        return round(self.approved / decided, 4) if decided else None

    @property
    def false_positive_rate(self) -> float | None:
        positives = self.levels[CAUTION] + self.levels[FLAGGED]
        return round(self.false_positives / positives, 4) if positives else None

    @property
    def false_negative_rate(self) -> float | None:
        negatives = self.levels[NONE]
        return round(self.false_negatives / negatives, 4) if negatives else None

    @property
    def error_rate(self) -> float | None:
        return round(self.levels[ERROR] / self.total, 4) if self.total else None

    def latency(self, percentile: float) -> int | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(percentile / 100 * len(ordered)))]


@dataclass
class DayStats:
    """Verdicts by level and AI holds on one UTC day."""

    day: date
    levels: dict[str, int] = field(
        default_factory=lambda: {NONE: 0, CAUTION: 0, FLAGGED: 0, ERROR: 0}
    )
    held: int = 0


Of = Callable[[int], ListStats]


def first_moment(days: int) -> datetime:
    """The start (UTC midnight) of a window of `days` days that ends today."""
    first_day = utcnow().date() - timedelta(days=days - 1)
    return datetime.combine(first_day, time.min, tzinfo=UTC)


def summed(found: list[ListStats]) -> ListStats:
    """Every list's statistics added up (latency percentiles over all their samples)."""
    total = ListStats(0)
    for stats in found:
        total.total += stats.total
        for level, count in stats.levels.items():
            total.levels[level] = total.levels.get(level, 0) + count
        for provider, count in stats.providers.items():
            total.providers[provider] = total.providers.get(provider, 0) + count
        total.held += stats.held
        total.approved += stats.approved
        total.rejected += stats.rejected
        total.false_positives += stats.false_positives
        total.false_negatives += stats.false_negatives
        total.latencies.extend(stats.latencies)
    return total


async def daily(
    session: AsyncSession, *, list_ids: list[int] | None, since: datetime
) -> list[DayStats]:
    """One entry per UTC day from `since`'s day to today, zeros included, oldest first."""
    days: dict[date, DayStats] = {}
    first_day = since.date()
    for offset in range((utcnow().date() - first_day).days + 1):
        day = first_day + timedelta(days=offset)
        days[day] = DayStats(day)
    if list_ids is not None and not list_ids:
        return list(days.values())
    verdict_day = func.date(AiModerationResult.created_at, type_=Date)
    scope: list[ColumnElement[bool]] = [AiModerationResult.created_at >= since]
    if list_ids is not None:
        scope.append(AiModerationResult.list_id.in_(list_ids))
    levels = await session.execute(
        select(verdict_day, AiModerationResult.level, func.count(AiModerationResult.id))
        .where(*scope)
        .group_by(verdict_day, AiModerationResult.level)
    )
    for day, level, count in levels:
        if day in days:
            entry = days[day]
            entry.levels[level] = entry.levels.get(level, 0) + count
    hold_day = func.date(HeldMessage.created_at, type_=Date)
    conditions = [HeldMessage.reason.in_(AI_REASONS), HeldMessage.created_at >= since]
    if list_ids is not None:
        conditions.append(HeldMessage.list_id.in_(list_ids))
    holds = await session.execute(
        select(hold_day, func.count(HeldMessage.id)).where(*conditions).group_by(hold_day)
    )
    for day, count in holds:
        if day in days:
            days[day].held += count
    return list(days.values())


async def list_stats(
    session: AsyncSession, *, list_ids: list[int] | None, since: datetime
) -> list[ListStats]:
    """Statistics for `list_ids` (None: every list) over verdicts stored since `since`."""
    if list_ids is not None and not list_ids:
        return []
    scope: list[ColumnElement[bool]] = [AiModerationResult.created_at >= since]
    if list_ids is not None:
        scope.append(AiModerationResult.list_id.in_(list_ids))
    found: dict[int, ListStats] = {}

    def of(list_id: int) -> ListStats:
        return found.setdefault(list_id, ListStats(list_id))

    await _levels(session, scope, of)
    await _feedback(session, scope, of)
    await _holds(session, list_ids, since, of)
    await _latencies(session, scope, of)
    names = await session.execute(
        select(MailingList.id, MailingList.name).where(MailingList.id.in_(list(found)))
    )
    by_id = dict(names.all())
    for stats in found.values():
        stats.name = by_id.get(stats.list_id, "")
    return sorted(found.values(), key=lambda s: s.list_id)


async def _levels(session: AsyncSession, scope: list[ColumnElement[bool]], of: Of) -> None:
    rows = await session.execute(
        select(
            AiModerationResult.list_id,
            AiModerationResult.provider,
            AiModerationResult.level,
            func.count(AiModerationResult.id),
        )
        .where(*scope)
        .group_by(AiModerationResult.list_id, AiModerationResult.provider, AiModerationResult.level)
    )
    for list_id, provider, level, count in rows:
        stats = of(list_id)
        stats.total += count
        stats.levels[level] = stats.levels.get(level, 0) + count
        stats.providers[provider] = stats.providers.get(provider, 0) + count


async def _feedback(session: AsyncSession, scope: list[ColumnElement[bool]], of: Of) -> None:
    rows = await session.execute(
        select(AiModerationResult.list_id, AiFeedback.kind, func.count(AiFeedback.id))
        .join(AiModerationResult, AiModerationResult.id == AiFeedback.result_id)
        .where(*scope)
        .group_by(AiModerationResult.list_id, AiFeedback.kind)
    )
    for list_id, kind, count in rows:
        if kind == "false_positive":
            of(list_id).false_positives += count
        elif kind == "false_negative":
            of(list_id).false_negatives += count


async def _holds(
    session: AsyncSession, list_ids: list[int] | None, since: datetime, of: Of
) -> None:
    conditions = [HeldMessage.reason.in_(AI_REASONS), HeldMessage.created_at >= since]
    if list_ids is not None:
        conditions.append(HeldMessage.list_id.in_(list_ids))
    rows = await session.execute(
        select(HeldMessage.list_id, HeldMessage.status, func.count(HeldMessage.id))
        .where(*conditions)
        .group_by(HeldMessage.list_id, HeldMessage.status)
    )
    for list_id, status, count in rows:
        stats = of(list_id)
        stats.held += count
        if status == HeldStatus.APPROVED:
            stats.approved += count
        elif status in DECIDED:
            stats.rejected += count


async def _latencies(session: AsyncSession, scope: list[ColumnElement[bool]], of: Of) -> None:
    rows = await session.execute(
        select(AiModerationResult.list_id, AiModerationResult.latency_ms)
        .where(*scope, AiModerationResult.level != ERROR)
        .order_by(AiModerationResult.id.desc())
        .limit(LATENCY_SAMPLE)
    )
    by_list: dict[int, list[int]] = defaultdict(list)
    for list_id, latency in rows:
        by_list[list_id].append(latency)
    for list_id, values in by_list.items():
        of(list_id).latencies = values
