"""thread keys (subject fallback, ghost roots, out-of-order parents); held posts' rule

Revision ID: d5e7f9a1b3c6
Revises: c3f8a1d2e4b5
Create Date: 2026-11-24 02:00:00

Threads gain `subject_key` (the normalised subject, for replies without threading headers)
and an index on their root Message-ID (replies to a parent never received share a thread);
messages gain `parent_ref_hash`, the wanted parent while it is missing, so that a parent
arriving late adopts its replies. Held posts record the posting-chain rule that held them:
approval resumes the chain after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e7f9a1b3c6"
down_revision: str | None = "c3f8a1d2e4b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.add_column(
            sa.Column("subject_key", sa.String(length=255), nullable=False, server_default="")
        )
    with op.batch_alter_table("threads") as batch:
        batch.alter_column("subject_key", server_default=None)
    op.create_index("ix_threads_list_root", "threads", ["list_id", "root_message_id"])
    op.create_index("ix_threads_list_subject_key", "threads", ["list_id", "subject_key"])
    # A plain ADD COLUMN: a batch operation would recreate `messages` on SQLite and drop the
    # search triggers of revision c3f8a1d2e4b5.
    op.add_column("messages", sa.Column("parent_ref_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_messages_list_parent_ref", "messages", ["list_id", "parent_ref_hash"])
    with op.batch_alter_table("held_messages") as batch:
        batch.add_column(sa.Column("rule", sa.String(length=30), nullable=False, server_default=""))
    with op.batch_alter_table("held_messages") as batch:
        batch.alter_column("rule", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("held_messages") as batch:
        batch.drop_column("rule")
    op.drop_index("ix_messages_list_parent_ref", table_name="messages")
    op.drop_column("messages", "parent_ref_hash")
    op.drop_index("ix_threads_list_subject_key", table_name="threads")
    op.drop_index("ix_threads_list_root", table_name="threads")
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("subject_key")
