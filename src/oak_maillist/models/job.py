"""Background jobs that failed their last attempt, parked for an admin to replay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, IdMixin
from oak_maillist.db.types import JsonText, UtcDateTime, utcnow


class FailedJob(IdMixin, Base):
    __tablename__ = "failed_jobs"

    task_name: Mapped[str] = mapped_column(String(100), index=True)
    args: Mapped[dict[str, object]] = mapped_column(JsonText, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
