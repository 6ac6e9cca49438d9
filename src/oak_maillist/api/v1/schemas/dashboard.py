"""The dashboard as the API shows it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class TotalsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    users: int | None = Field(description="Every account; null unless the caller is an admin")
    lists: int
    active_subscribers: int
    archived_messages: int
    pending_moderation: int = Field(description="Held messages waiting for a moderator")
    pending_deliveries: int = Field(description="Deliveries queued, sending or deferred")


class DayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date = Field(description="A UTC day")
    new_subscribers: int = Field(description="Subscriptions that became active that day")
    unsubscribed: int
    messages: int = Field(description="Messages archived that day")


class ListGrowthOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    list_id: int
    name: str
    address: str
    active_subscribers: int
    messages: int
    pending_moderation: int
    days: list[DayOut]


class DashboardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    totals: TotalsOut
    since: date = Field(description="The first UTC day of the series")
    days: list[DayOut] = Field(description="Summed over every list the caller may see")
    lists: list[ListGrowthOut] = Field(
        description="Per list, those with the most subscribers first (at most 50)"
    )
