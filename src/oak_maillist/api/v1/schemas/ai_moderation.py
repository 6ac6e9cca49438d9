"""AI moderation statistics as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class LevelCounts(BaseModel):
    none: int
    caution: int
    flagged: int
    error: int


class LatencyOut(BaseModel):
    p50_ms: int | None
    p95_ms: int | None
    max_ms: int | None


class ListAiStatsOut(BaseModel):
    list_id: int
    name: str
    total: int = Field(description="Posts scored")
    levels: LevelCounts
    providers: dict[str, int] = Field(description="Verdicts per provider")
    held: int = Field(description="Posts the AI step held for review")
    approved: int = Field(description="AI holds a moderator released (overturned)")
    rejected: int = Field(description="AI holds a moderator rejected or discarded")
    overturn_rate: float | None = Field(description="approved / (approved + rejected)")
    false_positives: int
    false_negatives: int
    false_positive_rate: float | None = Field(description="of caution and flagged verdicts")
    false_negative_rate: float | None = Field(description="of verdicts of none")
    error_rate: float | None = Field(description="provider failures / posts scored")
    latency: LatencyOut


class AiStatsOut(BaseModel):
    since: datetime
    days: int
    lists: list[ListAiStatsOut]
