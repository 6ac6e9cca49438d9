"""AI moderation statistics, the connection test and settings resets as the API shows them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LevelCounts(BaseModel):
    none: int
    caution: int
    flagged: int
    error: int


class LatencyOut(BaseModel):
    p50_ms: int | None
    p95_ms: int | None
    max_ms: int | None


class AiCountsOut(BaseModel):
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


class ListAiStatsOut(AiCountsOut):
    list_id: int
    name: str


class AiDayOut(BaseModel):
    day: date = Field(description="A UTC day")
    levels: LevelCounts
    held: int = Field(description="Posts the AI step held that day")


class AiStatsOut(BaseModel):
    since: datetime = Field(description="UTC midnight of the window's first day")
    days: int
    totals: AiCountsOut = Field(description="Every list in scope added up")
    series: list[AiDayOut] = Field(description="Every day of the window, oldest first")
    lists: list[ListAiStatsOut]


AiSettingName = Literal[
    "enabled",
    "provider",
    "endpoint",
    "region",
    "service",
    "model",
    "openai_mode",
    "learn_endpoint",
    "high_risk_threshold",
    "medium_risk_threshold",
    "request_timeout_seconds",
    "max_text_length",
    "max_retries",
    "circuit_failure_threshold",
    "circuit_reset_seconds",
    "access_key_id",
    "access_key_secret",
    "api_key",
]


class AiSettingsReset(BaseModel):
    """Settings changed at run time to set back to the configuration file's value."""

    model_config = ConfigDict(extra="forbid")

    names: list[AiSettingName] = Field(min_length=1, max_length=18)


class ConnectionTestOut(BaseModel):
    ok: bool
    provider: str
    latency_ms: int
    score: int | None = Field(description="The provider's score of the test text (0-100)")
    error: str | None = Field(description="The provider's error, secrets taken out")
