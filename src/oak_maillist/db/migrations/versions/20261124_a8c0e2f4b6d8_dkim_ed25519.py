"""domains: an optional Ed25519 DKIM key beside the main one (dual signing, RFC 8463 §3)

Revision ID: a8c0e2f4b6d8
Revises: f7a9b1c3d5e8
Create Date: 2026-11-24 09:00:00

Receivers that do not know Ed25519 ignore its signature, so a domain signs with both its RSA
key and, when enabled, an Ed25519 key under a selector of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a8c0e2f4b6d8"
down_revision: str | None = "f7a9b1c3d5e8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "dkim_ed25519_enabled",
    "dkim_ed25519_selector",
    "dkim_ed25519_private_key_encrypted",
    "dkim_ed25519_public_key",
)


def upgrade() -> None:
    # Plain add_column: SQLite adds a column in place.
    op.add_column(
        "domains",
        sa.Column("dkim_ed25519_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "domains",
        sa.Column(
            "dkim_ed25519_selector", sa.String(length=63), nullable=False, server_default="oak-ed"
        ),
    )
    op.add_column("domains", sa.Column("dkim_ed25519_private_key_encrypted", sa.Text()))
    op.add_column("domains", sa.Column("dkim_ed25519_public_key", sa.Text()))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): batch mode would copy and drop `domains`, which the
    # lists' foreign keys (on in SQLite here) forbid once a domain has lists.
    for column in reversed(COLUMNS):
        op.drop_column("domains", column)
