"""subscribers' digest format (MIME or RFC 1153 plain text); digests' volume and issue

Revision ID: e6f8a0b2c4d6
Revises: d5e7f9a1b3c6
Create Date: 2026-11-24 05:00:00

A digest subscriber chooses how the digest reads: a MIME digest (multipart/digest, RFC 2046)
or plain text (RFC 1153). Digests get a per-list issue number, shown in their subject.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6f8a0b2c4d6"
down_revision: str | None = "d5e7f9a1b3c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain add_column: SQLite can add a column in place (batch mode would rebuild the table).
    op.add_column(
        "subscribers",
        sa.Column("digest_format", sa.String(length=10), nullable=False, server_default="mime"),
    )
    op.add_column("digests", sa.Column("issue", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("issue")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("digest_format")
