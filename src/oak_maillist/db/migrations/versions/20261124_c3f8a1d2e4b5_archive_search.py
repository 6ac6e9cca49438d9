"""archive full-text search

Revision ID: c3f8a1d2e4b5
Revises: b7e1c2a9d0f3
Create Date: 2026-11-24 02:00:00

Each backend indexes `messages` with its own full-text search, kept in step by the database
itself, so rows written through the ORM, Core or plain SQL are searchable alike
(oak_maillist.services.search reads these objects):

- SQLite: two FTS5 tables filled by triggers. `messages_search` (contentless; porter stemming,
  unicode61 without diacritics) holds every message. `messages_search_cjk` holds, for messages
  with CJK text only, that text as overlapping bigrams ("我们 们用 用中 中文 ..."; a run's last
  character alone), cut out of the UTF-8 bytes with json_each since SQLite has no regular
  expressions: any CJK substring is a bigram, a phrase of bigrams, or a bigram prefix.
  A later `batch_alter_table("messages")` recreates the table and drops these triggers: such
  a revision must create them again.
- PostgreSQL: a `messages_search` table filled by a trigger and emptied by its foreign key:
  per message a weighted tsvector (english stems; CJK runs as overlapping bigrams, as for
  SQLite, built without relying on the server's locale) and the pairs of its neighbouring
  lexemes, which narrow phrase searches; both GIN-indexed with list_id through btree_gin.
- MariaDB: FULLTEXT indexes on the message columns, and a stored generated column holding the
  CJK bigrams as words (InnoDB's parser has no CJK segmentation and skips words shorter than
  three characters, hence the `__` suffix).

Autogenerate ignores all of these (oak_maillist.db.migrate.include_object).
"""

# ruff: noqa: S608 - every statement here is built from this file's constants

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c3f8a1d2e4b5"
down_revision: str | None = "b7e1c2a9d0f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kana, CJK ideographs (with compatibility ideographs) and hangul syllables; the same ranges
# as oak_maillist.services.search.CJK_CLASS at the time of this revision.
CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
)
SQLITE_CJK_BYTES = 300_000  # bytes of a column cut into bigrams: about 100,000 CJK characters
PG_BODY_LIMIT = 200_000  # characters of a body indexed: a tsvector holds at most 1 MB of words


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _postgresql_upgrade()
    else:
        _mysql_upgrade()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS messages_search_{trigger}")
        for table in ("messages_search_cjk", "messages_search"):
            op.execute(f"DROP TABLE IF EXISTS {table}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS messages_search_sync ON messages")
        op.execute("DROP TABLE IF EXISTS messages_search")
        op.execute("DROP FUNCTION IF EXISTS messages_search_sync()")
        for function in (
            "messages_search_find(bigint, tsquery, integer, integer)",
            "messages_search_pairs(tsvector)",
            "messages_search_document(text, text, text)",
            "messages_search_vector(text)",
            "messages_search_cjk_bigrams(text)",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        # btree_gin stays: other objects may use it, and it is harmless on its own.
    else:
        op.execute(
            "ALTER TABLE messages DROP INDEX ix_messages_search_text,"
            " DROP INDEX ix_messages_search_subject, DROP INDEX ix_messages_search_cjk,"
            " DROP COLUMN search_cjk"
        )


# SQLite ------------------------------------------------------------------------------------

COLUMNS = "subject, sender, body, list"


def _glob_class() -> str:
    return "[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES) + "]"


def _starts_cjk(blob: str, position: str) -> str:
    """Whether a CJK character's UTF-8 encoding (three bytes) starts at `position` of `blob`."""
    ranges = [
        f"x'{chr(low).encode().hex()}' AND x'{chr(high).encode().hex()}'"
        for low, high in CJK_RANGES
    ]
    return "(" + " OR ".join(f"substr({blob}, {position}, 3) BETWEEN {r}" for r in ranges) + ")"


def _bigrams(column: str) -> str:
    """Each CJK character with the next one when that is CJK too, space-separated, in order.

    json_each over an array as long as the text numbers its byte offsets; continuation bytes
    never fall in the ranges, so only character starts are kept. `column` must be a trigger's
    new.<column>: read from a table or a subquery, a long value is decoded again for every
    offset and the cost grows with the square of its length.
    """
    blob = f"CAST({column} AS BLOB)"
    size = f"min(length({blob}), {SQLITE_CJK_BYTES})"
    width = f"CASE WHEN {_starts_cjk(blob, 'key + 3')} THEN 6 ELSE 3 END"
    return (
        f"(SELECT group_concat(CAST(substr({blob}, key, {width}) AS TEXT), ' ')"
        f" FROM json_each('[' || replace(hex(zeroblob({size})), '00', '0,') || '0]')"
        f" WHERE key > 0 AND {_starts_cjk(blob, 'key')})"
    )


def _has_cjk(row: str) -> str:
    return (
        f"({row}.subject || ' ' || {row}.sender_name || ' ' || {row}.text_body)"
        f" GLOB '*{_glob_class()}*'"
    )


SQLITE_INDEX = (
    f"INSERT INTO messages_search(rowid, {COLUMNS}) VALUES (new.id, new.subject,"
    " new.sender_name || ' ' || new.sender_email, new.text_body, 'list' || new.list_id);"
    f" INSERT INTO messages_search_cjk(rowid, {COLUMNS}) SELECT new.id,"
    f" {_bigrams('new.subject')}, {_bigrams('new.sender_name')}, {_bigrams('new.text_body')},"
    f" 'list' || new.list_id WHERE {_has_cjk('new')};"
)
# The words table is contentless: it forgets a row only when given the values it indexed.
SQLITE_FORGET = (
    f"INSERT INTO messages_search(messages_search, rowid, {COLUMNS}) VALUES ('delete', old.id,"
    " old.subject, old.sender_name || ' ' || old.sender_email, old.text_body,"
    " 'list' || old.list_id);"
    " DELETE FROM messages_search_cjk WHERE rowid = old.id;"
)


def _sqlite_upgrade() -> None:
    op.execute(
        f"CREATE VIRTUAL TABLE messages_search USING fts5({COLUMNS},"
        " content='', tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(f"CREATE VIRTUAL TABLE messages_search_cjk USING fts5({COLUMNS})")
    op.execute(
        f"CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN {SQLITE_INDEX} END"
    )
    op.execute(
        f"CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN {SQLITE_FORGET} END"
    )
    op.execute(
        "CREATE TRIGGER messages_search_update AFTER UPDATE OF"
        " list_id, subject, sender_name, sender_email, text_body ON messages"
        f" BEGIN {SQLITE_FORGET} {SQLITE_INDEX} END"
    )
    # Existing messages: words directly; the CJK bigrams through the update trigger, which
    # forgets and indexes the words again (see _bigrams for why not directly).
    op.execute(
        f"INSERT INTO messages_search(rowid, {COLUMNS}) SELECT id, subject,"
        " sender_name || ' ' || sender_email, text_body, 'list' || list_id FROM messages"
    )
    op.execute(f"UPDATE messages SET text_body = text_body WHERE {_has_cjk('messages')}")


# PostgreSQL --------------------------------------------------------------------------------


def _pg_class() -> str:
    return "[" + "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in CJK_RANGES) + "]"


def _postgresql_upgrade() -> None:
    cjk = _pg_class()
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    # Each CJK character becomes a word of itself and the next character when that is CJK
    # too, in place: a run's overlapping bigrams at consecutive positions, among the other
    # words in text order. Any CJK substring is then a bigram, a phrase of bigrams, or a
    # bigram prefix. '@', '.' and '/' separate words, as they do for the other backends and
    # in queries (the parser would keep addresses, host names, paths and versions whole).
    # The 'english' configuration stems the other words; CJK bigrams pass through unchanged.
    op.execute(f"""
        CREATE FUNCTION messages_search_cjk_bigrams(content text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT string_agg(CASE WHEN c !~ '{cjk}' THEN c
                WHEN after ~ '{cjk}' THEN ' ' || c || after || ' ' ELSE ' ' || c || ' ' END,
                '' ORDER BY i)
            FROM (SELECT c, i, lead(c, 1, '') OVER (ORDER BY i) AS after
                FROM regexp_split_to_table(content, '') WITH ORDINALITY AS characters (c, i))
                AS neighbours
        $$""")
    op.execute(f"""
        CREATE FUNCTION messages_search_vector(content text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT to_tsvector('english', translate(CASE WHEN content ~ '{cjk}'
                THEN messages_search_cjk_bigrams(content) ELSE content END, '@./', '   '))
        $$""")
    # Neighbouring lexemes as one position-less lexeme ("upstream rpm", "数据 据库"): a
    # phrase's pairs narrow its candidates in the index, so only those are checked position
    # by position. No other lexeme holds a space.
    op.execute("""
        CREATE FUNCTION messages_search_pairs(document tsvector) RETURNS tsvector
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT coalesce(array_to_tsvector(array_agg(DISTINCT a.lexeme || ' ' || b.lexeme)),
                ''::tsvector)
            FROM (SELECT lexeme, unnest(positions) AS position FROM unnest(document)) AS a
            JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest(document)) AS b
                ON b.position = a.position + 1
            WHERE octet_length(a.lexeme) + octet_length(b.lexeme) < 2000
        $$""")
    op.execute(f"""
        CREATE FUNCTION messages_search_document(subject text, sender text, body text)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT setweight(messages_search_vector(coalesce(subject, '')), 'A')
                || setweight(messages_search_vector(coalesce(sender, '')), 'C')
                || setweight(messages_search_vector(left(coalesce(body, ''), {PG_BODY_LIMIT})), 'D')
        $$""")
    # Rows hold ids only (toast_tuple_target): a search visits every match's row, and only
    # the ranked ones need their documents; ranking reads no pairs.
    op.execute("""
        CREATE TABLE messages_search (
            message_id bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
            list_id bigint NOT NULL,
            document tsvector NOT NULL,
            pairs tsvector NOT NULL
        ) WITH (toast_tuple_target = 128)""")
    op.execute("""
        DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_settings
                       WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
                ALTER TABLE messages_search ALTER COLUMN document SET COMPRESSION lz4,
                    ALTER COLUMN pairs SET COMPRESSION lz4;
            END IF;
        END $$""")
    # The newest matches of a list and their number. Evaluating @@ row by row decompresses
    # every document, yet for common words the planner would rather walk the primary key
    # backwards or scan the table: only the GIN index is allowed here, planned per call.
    op.execute("""
        CREATE FUNCTION messages_search_find(list bigint, matching tsquery, size integer,
            skip integer) RETURNS TABLE (message_id bigint, total bigint)
        LANGUAGE sql STABLE SET enable_seqscan = off SET enable_indexscan = off
            SET plan_cache_mode = force_custom_plan AS $$
            SELECT s.message_id, count(*) OVER () FROM messages_search AS s
            WHERE s.list_id = list AND (s.document || s.pairs) @@ matching
            ORDER BY s.message_id DESC LIMIT size OFFSET skip
        $$""")
    op.execute("""
        CREATE FUNCTION messages_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO messages_search (message_id, list_id, document, pairs)
            SELECT NEW.id, NEW.list_id, document, messages_search_pairs(document)
            FROM messages_search_document(
                NEW.subject, NEW.sender_name || ' ' || NEW.sender_email, NEW.text_body)
                AS document
            ON CONFLICT (message_id) DO UPDATE SET list_id = EXCLUDED.list_id,
                document = EXCLUDED.document, pairs = EXCLUDED.pairs;
            RETURN NULL;
        END
        $$""")
    op.execute("""
        CREATE TRIGGER messages_search_sync
        AFTER INSERT OR UPDATE OF list_id, subject, sender_name, sender_email, text_body
        ON messages FOR EACH ROW EXECUTE FUNCTION messages_search_sync()""")
    op.execute("""
        INSERT INTO messages_search (message_id, list_id, document, pairs)
        SELECT id, list_id, document, messages_search_pairs(document)
        FROM messages, messages_search_document(
            subject, sender_name || ' ' || sender_email, text_body) AS document""")
    op.execute(
        "CREATE INDEX ix_messages_search_document ON messages_search"
        " USING gin (list_id, (document || pairs))"
    )


# MariaDB -----------------------------------------------------------------------------------


def _mysql_upgrade() -> None:
    cjk = "".join(f"\\\\x{{{low:x}}}-\\\\x{{{high:x}}}" for low, high in CJK_RANGES)
    # Non-CJK text becomes a space; each CJK character becomes a word of itself, the next
    # CJK character if any, and "__" (three characters at least: InnoDB's minimum word).
    bigrams = (
        "REGEXP_REPLACE(REGEXP_REPLACE(CONCAT_WS(' ', subject, sender_name, text_body),"
        f" '[^{cjk}]+', ' '), '([{cjk}])(?=([{cjk}]?))', ' \\\\1\\\\2__ ')"
    )
    op.execute(
        f"ALTER TABLE messages ADD COLUMN search_cjk LONGTEXT AS ({bigrams}) STORED,"
        " ADD FULLTEXT INDEX ix_messages_search_text"
        " (subject, sender_name, sender_email, text_body),"
        " ADD FULLTEXT INDEX ix_messages_search_subject (subject),"
        " ADD FULLTEXT INDEX ix_messages_search_cjk (search_cjk)"
    )
