"""Delivery status of a post, per recipient and in total."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DeliveryOut(BaseModel):
    id: int
    recipient: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_code: int | None
    last_reply: str | None
    sent_at: datetime | None


class DeliveryReport(BaseModel):
    counts: dict[str, int] = Field(description="Deliveries by status: queued, sending, sent, …")
    total: int
    items: list[DeliveryOut]
    page: int
    per_page: int


class BounceOut(BaseModel):
    id: int
    subscriber_id: int | None
    recipient: str
    kind: str = Field(description="hard (counts toward unsubscribing) or soft")
    diagnostic: str
    received_at: datetime


class RetryIn(BaseModel):
    delivery_ids: list[int] | None = Field(
        default=None,
        max_length=10_000,
        description="Only these deliveries of the post; all failed and deferred ones when absent",
    )


class RetryOut(BaseModel):
    queued: int = Field(description="Deliveries queued to go out again")
