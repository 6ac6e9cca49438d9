"""archive search: CJK bigrams made by the application when a post is archived

Revision ID: c1e3a5b7d9f2
Revises: b9d1f3a5c7e9
Create Date: 2026-11-24 16:50:00

Revision c3f8a1d2e4b5 cut CJK text into bigrams in SQL, in the triggers that index each new
message: per post of 100 KB of mixed English and Chinese about 35 ms inside SQLite's single
write lock, and 50 ms of PostgreSQL server time. oak_maillist.services.search.index() now
makes the bigrams in Python (about 2 ms) when a post is archived and hands them over; what
the index holds, hence what searches find and how they rank, is unchanged. Storing and
indexing such a post took 38 ms on SQLite and now 5 ms; on PostgreSQL 62 ms of server time,
now 14 ms. Existing rows need nothing.

- SQLite: the insert trigger indexes the words only; index() writes the messages_search_cjk
  row. The update and delete triggers stay as they were (an update indexes both tables in
  SQL, as before: messages are rarely changed). A message inserted without index() is found
  by its words, and by its CJK text once index() is called for it or its row is updated.
- PostgreSQL: index() writes the messages_search row from text with the bigrams already
  spaced out. messages_search_sync now fires on updates only; new rows that index() did not
  index (other writers) are indexed at commit by a deferred constraint trigger, as before
  but later. messages_search_cjk_bigrams, which that trigger, the update trigger and phrase
  queries use, makes the same text with three regular expressions instead of one row per
  character (4 times faster on mixed text, as fast on text of CJK alone), and
  messages_search_pairs leaves duplicates to array_to_tsvector (a fifth faster).
- MariaDB/MySQL: nothing (index() wrote its terms already).

Downgrade restores revision c3f8a1d2e4b5's triggers and functions; SQLite's CJK table is
completed for messages inserted without index() meanwhile.
"""

# ruff: noqa: S608 - every statement here is built from constants

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "c1e3a5b7d9f2"
down_revision: str | None = "b9d1f3a5c7e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The revision whose objects this one changes: its SQL, to create them again on downgrade.
SEARCH = importlib.import_module(
    "oak_maillist.db.migrations.versions.20261124_c3f8a1d2e4b5_archive_search"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER messages_search_insert")
        op.execute(
            "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN"
            f" INSERT INTO messages_search(rowid, {SEARCH.COLUMNS}) VALUES (new.id, new.subject,"
            " new.sender_name || ' ' || new.sender_email, new.text_body, 'list' || new.list_id);"
            " END"
        )
    elif dialect == "postgresql":
        _postgresql_upgrade()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER messages_search_insert")
        op.execute(
            "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages"
            f" BEGIN {SEARCH.SQLITE_INDEX} END"
        )
        # Messages inserted without index(): the update trigger indexes their CJK text.
        op.execute(
            "UPDATE messages SET text_body = text_body"
            f" WHERE id NOT IN (SELECT rowid FROM messages_search_cjk)"
            f" AND {SEARCH._has_cjk('messages')}"
        )
    elif dialect == "postgresql":
        _postgresql_downgrade()


# PostgreSQL --------------------------------------------------------------------------------

PAIRS = """
    CREATE OR REPLACE FUNCTION messages_search_pairs(document tsvector) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT coalesce(array_to_tsvector(array_agg({distinct}a.lexeme || ' ' || b.lexeme)),
            ''::tsvector)
        FROM (SELECT lexeme, unnest(positions) AS position FROM unnest(document)) AS a
        JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest(document)) AS b
            ON b.position = a.position + 1
        WHERE octet_length(a.lexeme) + octet_length(b.lexeme) < 2000
    $$"""


def _postgresql_upgrade() -> None:
    cjk = SEARCH._pg_class()
    # Every CJK character doubled ("甲乙" becomes "甲甲乙乙"), each run without its first
    # character ("甲乙乙"), then cut into pairs from the start of each run (" 甲乙  乙 "): each
    # character with the next one when that is CJK too, as the old function made it.
    op.execute(f"""
        CREATE OR REPLACE FUNCTION messages_search_cjk_bigrams(content text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT regexp_replace(regexp_replace(regexp_replace(content,
                '({cjk})', '\\1\\1', 'g'), '{cjk}({cjk}*)', '\\1', 'g'),
                '({cjk})({cjk}?)', ' \\1\\2 ', 'g')
        $$""")
    # array_to_tsvector sorts and drops duplicates itself (and faster than DISTINCT).
    op.execute(PAIRS.format(distinct=""))
    op.execute("DROP TRIGGER messages_search_sync ON messages")
    op.execute("""
        CREATE TRIGGER messages_search_sync
        AFTER UPDATE OF list_id, subject, sender_name, sender_email, text_body
        ON messages FOR EACH ROW EXECUTE FUNCTION messages_search_sync()""")
    # At commit: a new message that index() did not index, as it is then (it may have
    # changed or gone since the insert).
    op.execute("""
        CREATE FUNCTION messages_search_missing() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO messages_search (message_id, list_id, document, pairs)
            SELECT m.id, m.list_id, document, messages_search_pairs(document)
            FROM messages AS m, messages_search_document(
                m.subject, m.sender_name || ' ' || m.sender_email, m.text_body) AS document
            WHERE m.id = NEW.id
                AND NOT EXISTS (SELECT FROM messages_search WHERE message_id = NEW.id)
            ON CONFLICT (message_id) DO NOTHING;
            RETURN NULL;
        END
        $$""")
    op.execute("""
        CREATE CONSTRAINT TRIGGER messages_search_missing AFTER INSERT ON messages
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION messages_search_missing()""")


def _postgresql_downgrade() -> None:
    cjk = SEARCH._pg_class()
    op.execute(PAIRS.format(distinct="DISTINCT "))
    op.execute("DROP TRIGGER messages_search_missing ON messages")
    op.execute("DROP FUNCTION messages_search_missing()")
    op.execute("DROP TRIGGER messages_search_sync ON messages")
    op.execute("""
        CREATE TRIGGER messages_search_sync
        AFTER INSERT OR UPDATE OF list_id, subject, sender_name, sender_email, text_body
        ON messages FOR EACH ROW EXECUTE FUNCTION messages_search_sync()""")
    op.execute(f"""
        CREATE OR REPLACE FUNCTION messages_search_cjk_bigrams(content text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT string_agg(CASE WHEN c !~ '{cjk}' THEN c
                WHEN after ~ '{cjk}' THEN ' ' || c || after || ' ' ELSE ' ' || c || ' ' END,
                '' ORDER BY i)
            FROM (SELECT c, i, lead(c, 1, '') OVER (ORDER BY i) AS after
                FROM regexp_split_to_table(content, '') WITH ORDINALITY AS characters (c, i))
                AS neighbours
        $$""")
