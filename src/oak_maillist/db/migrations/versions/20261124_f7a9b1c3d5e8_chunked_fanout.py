"""posts fan out in chunks: pending_fanouts; subscribers' status index ends with the id

Revision ID: f7a9b1c3d5e8
Revises: e6f8a0b2c4d6
Create Date: 2026-11-24 08:00:00

A post's first delivery rows are written when it is accepted and the rest in chunks after, so
the first recipients get it within a second however long the list; `pending_fanouts` holds
how far each unfinished fan-out got. The subscribers' (list, status, digest mode) index gets
the id as its last column so that a chunk's eligible subscribers are read in id order, and the
deliveries' (message, status) index likewise, so that claiming a batch reads only due rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from oak_maillist.db.types import UtcDateTime

revision: str = "f7a9b1c3d5e8"
down_revision: str | None = "e6f8a0b2c4d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pending_fanouts",
        sa.Column("message_id", BIG_ID, nullable=False),
        sa.Column("list_id", BIG_ID, nullable=False),
        sa.Column("done_through", sa.BigInteger(), nullable=False),
        sa.Column("last_subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["list_id"], ["mailing_lists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_pending_fanouts_list_id", "pending_fanouts", ["list_id"])
    _status_index(["list_id", "status", "digest_mode", "id"])
    # Made before the old one goes: MariaDB wants an index on the message_id foreign key.
    op.create_index("ix_deliveries_message_status_id", "deliveries", ["message_id", "status", "id"])
    op.drop_index("ix_deliveries_message_status", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_message_status", "deliveries", ["message_id", "status"])
    op.drop_index("ix_deliveries_message_status_id", table_name="deliveries")
    _status_index(["list_id", "status", "digest_mode"])
    op.drop_table("pending_fanouts")  # its indexes go with it (MariaDB keeps FK indexes)


def _status_index(columns: list[str]) -> None:
    # The unique (list_id, email_normalized) key still indexes the list's foreign key meanwhile.
    op.drop_index("ix_subscribers_list_status", table_name="subscribers")
    op.create_index("ix_subscribers_list_status", "subscribers", columns)
