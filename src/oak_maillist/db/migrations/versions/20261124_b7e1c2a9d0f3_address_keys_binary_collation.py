"""address keys compare byte for byte on MySQL/MariaDB

Revision ID: b7e1c2a9d0f3
Revises: d42273d0b851
Create Date: 2026-11-24 00:35:00

The lowercased address columns are unique keys. Under MariaDB's default utf8mb4 collation
josé@example.org and jose@example.org are equal, so one could not subscribe beside the other.
SQLite and PostgreSQL compare exactly already: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "b7e1c2a9d0f3"
down_revision: str | None = "d42273d0b851"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_COLUMNS = ("users", "subscribers", "subscription_requests", "user_invitations")


def _alter(collation: str | None) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table in KEY_COLUMNS:
        op.alter_column(
            table,
            "email_normalized",
            existing_type=sa.String(320),
            type_=mysql.VARCHAR(320, charset="utf8mb4", collation=collation),
            existing_nullable=False,
        )


def upgrade() -> None:
    _alter("utf8mb4_bin")


def downgrade() -> None:
    _alter("utf8mb4_unicode_ci")
