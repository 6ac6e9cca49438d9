"""archive search: posts archived by a batch are indexed after it commits, from a backlog

Revision ID: e4a6c8e0a2b4
Revises: d8e0f2a4b6c8
Create Date: 2026-11-25 10:20:00

On PostgreSQL and MySQL/MariaDB a batch of posts now writes their search index in a
transaction of its own, right after the batch commits and while the next batch is processed
(services.search.index_backlog): indexing was up to half of each batch's time, and every
batch, taking its list's lock, waited for it. messages_search_backlog holds the posts
archived but not yet indexed; it is written in the archive's transaction and emptied in the
index's, so a post that a crash left unindexed is found by the sweeper (job search.sweep).

- PostgreSQL: messages_search_missing, the deferred trigger that indexes at commit a new
  message nobody indexed, leaves alone the messages in the backlog.
- SQLite: the table is created and stays empty: its posts are indexed in the archive's
  transaction as before (one write lock for everything: a second transaction gained nothing).

Downgrade indexes what the backlog holds on PostgreSQL (in SQL, as the trigger did) and then
drops the table; on MySQL/MariaDB, whose terms only the application makes, posts still in
the backlog stay unsearchable until they are indexed again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4a6c8e0a2b4"
down_revision: str | None = "d8e0f2a4b6c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "messages_search_backlog"

# The deferred trigger's function (revision c1e3a5b7d9f2), with and without the backlog.
MISSING = """
    CREATE OR REPLACE FUNCTION messages_search_missing() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO messages_search (message_id, list_id, document, pairs)
        SELECT m.id, m.list_id, document, messages_search_pairs(document)
        FROM messages AS m, messages_search_document(
            m.subject, m.sender_name || ' ' || m.sender_email, m.text_body) AS document
        WHERE m.id = NEW.id
            AND NOT EXISTS (SELECT FROM messages_search WHERE message_id = NEW.id){backlog}
        ON CONFLICT (message_id) DO NOTHING;
        RETURN NULL;
    END
    $$"""
SKIP_BACKLOG = f"""
            AND NOT EXISTS (SELECT FROM {TABLE} WHERE message_id = NEW.id)"""


def upgrade() -> None:
    op.create_table(
        TABLE,
        # No foreign key: a message deleted meanwhile leaves a row the sweeper drops.
        sa.Column("message_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f(f"pk_{TABLE}")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(MISSING.format(backlog=SKIP_BACKLOG))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(MISSING.format(backlog=""))
        op.execute(f"""
            INSERT INTO messages_search (message_id, list_id, document, pairs)
            SELECT m.id, m.list_id, document, messages_search_pairs(document)
            FROM {TABLE} AS b JOIN messages AS m ON m.id = b.message_id,
                messages_search_document(
                    m.subject, m.sender_name || ' ' || m.sender_email, m.text_body) AS document
            ON CONFLICT (message_id) DO UPDATE SET list_id = EXCLUDED.list_id,
                document = EXCLUDED.document, pairs = EXCLUDED.pairs""")  # noqa: S608
    op.drop_table(TABLE)
