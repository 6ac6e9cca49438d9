"""Sender policies as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["whitelist", "blacklist"]
PatternKind = Literal["exact", "domain", "glob"]
BlacklistAction = Literal["discard", "reject"]


class PolicyCreate(BaseModel):
    kind: Kind
    pattern_type: PatternKind = Field(
        description="exact: alice@example.com; domain: @example.com; glob: *@*.example.com"
    )
    pattern: str = Field(min_length=1, max_length=320)
    include_subdomains: bool = Field(default=False, description="Domain rules only")
    action: BlacklistAction = Field(
        default="discard", description="Blacklist rules: drop silently, or reject with a notice"
    )
    note: str = Field(default="", max_length=500)
    position: int | None = Field(
        default=None, ge=1, le=10_000, description="1-based place in the order; default: last"
    )


class PolicyUpdate(BaseModel):
    kind: Kind | None = None
    pattern_type: PatternKind | None = None
    pattern: str | None = Field(default=None, min_length=1, max_length=320)
    include_subdomains: bool | None = None
    action: BlacklistAction | None = None
    note: str | None = Field(default=None, max_length=500)
    position: int | None = Field(default=None, ge=1, le=10_000)


class PolicyOrder(BaseModel):
    ids: list[int] = Field(max_length=10_000, description="Every rule of the scope, in order")


class PolicyOut(BaseModel):
    id: int
    list_id: int | None
    kind: str
    pattern_type: str
    pattern: str
    include_subdomains: bool
    action: str
    position: int
    note: str
    created_by_id: int | None
    created_at: datetime
