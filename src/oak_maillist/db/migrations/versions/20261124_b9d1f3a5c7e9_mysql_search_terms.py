"""MySQL/MariaDB archive search: our own word index instead of InnoDB FULLTEXT

Revision ID: b9d1f3a5c7e9
Revises: a8c0e2f4b6d8
Create Date: 2026-11-24 12:00:00

InnoDB FULLTEXT reads a word's whole posting list for every search and needs the index in
the buffer pool: common words took seconds at 100,000 messages. messages_search_terms holds
each message's terms (oak_maillist.services.search.terms describes them; the copy below
indexes the archive as that module did at this revision) in (list_id, term, message_id) order
instead, written by the search module when a message is archived and
dropped with it by the foreign key. Existing messages are indexed here, in batches; the
FULLTEXT indexes and the search_cjk column of revision c3f8a1d2e4b5 go.

SQLite and PostgreSQL are unchanged.
"""

# ruff: noqa: S608 - every statement here is built from constants

from __future__ import annotations

import itertools
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "b9d1f3a5c7e9"
down_revision: str | None = "a8c0e2f4b6d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500  # messages indexed per transaction
TABLE = "messages_search_terms"
INSERT = (
    f"INSERT INTO {TABLE} (list_id, term, message_id, weight)"
    " VALUES (:list_id, :term, :message_id, :weight)"
)

# Revision c3f8a1d2e4b5's objects, for the downgrade.
CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    # Binary collation: terms differ exactly as their characters do (the query folds case
    # and diacritics itself). Ids as in messages; the weight ranks (see the search module).
    op.execute(f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (
            list_id BIGINT NOT NULL,
            term VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
            message_id BIGINT NOT NULL,
            weight SMALLINT UNSIGNED NOT NULL,
            PRIMARY KEY (list_id, term, message_id),
            KEY ix_messages_search_terms_message (message_id),
            CONSTRAINT fk_messages_search_terms_message FOREIGN KEY (message_id)
                REFERENCES messages (id) ON DELETE CASCADE
        ) ENGINE=InnoDB""")
    _backfill()
    op.execute(
        "ALTER TABLE messages DROP INDEX ix_messages_search_text,"
        " DROP INDEX ix_messages_search_subject, DROP INDEX ix_messages_search_cjk,"
        " DROP COLUMN search_cjk"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    cjk = "".join(f"\\\\x{{{low:x}}}-\\\\x{{{high:x}}}" for low, high in CJK_RANGES)
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
    op.execute(f"DROP TABLE {TABLE}")


def _backfill() -> None:
    """Every message's terms, BATCH messages per transaction, each batch in index order.

    One transaction for the whole archive would hold an undo log as large as the index: each
    batch is committed on the server (MySQL commits around DDL anyway, so this migration was
    never atomic there). A migration stopped half-way starts again after the last message
    indexed.
    """
    bind = op.get_bind()
    select = sa.text(
        "SELECT id, list_id, subject, sender_name, sender_email, text_body FROM messages"
        " WHERE id > :after ORDER BY id LIMIT :size"
    )
    after = bind.execute(sa.text(f"SELECT coalesce(max(message_id), 0) FROM {TABLE}")).scalar()
    # The ids come from messages itself: checking each row's foreign key would only cost.
    bind.exec_driver_sql("SET SESSION foreign_key_checks = 0")
    try:
        while batch := list(bind.execute(select, {"after": after, "size": BATCH})):
            rows: list[dict[str, Any]] = []
            for message_id, list_id, subject, name, email, body in batch:
                rows += term_rows(message_id, list_id, subject, f"{name} {email}", body or "")
            rows.sort(key=lambda row: (row["list_id"], row["term"], row["message_id"]))
            if rows:
                bind.execute(sa.text(INSERT), rows)
            bind.exec_driver_sql("COMMIT")
            after = batch[-1][0]
    finally:
        bind.exec_driver_sql("SET SESSION foreign_key_checks = 1")


# The terms, as oak_maillist.services.search.terms and .query make them at this revision.

CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
CJK = re.compile(f"[{CJK_CLASS}]")
PIECES = re.compile(rf"[{CJK_CLASS}]+|(?:(?![{CJK_CLASS}])[^\W_])+")
ENDINGS = ("ies", "ing", "ed", "es", "s", "e", "y")
MAX_TERM_CHARS = 64
WEIGHTS = (10, 2, 1)  # subject, sender, body
BODY_LIMIT = 200_000
MAX_WEIGHT = 65_535


def _word_term(word: str) -> str:
    if not word.isascii():
        decomposed = unicodedata.normalize("NFKD", word)
        bare = "".join(char for char in decomposed if not unicodedata.combining(char))
        word = unicodedata.normalize("NFC", bare)
    for ending in ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            word = word[: -len(ending)]
            break
    return word[:MAX_TERM_CHARS]


def term_rows(
    message_id: int, list_id: int, subject: str, sender: str, body: str
) -> list[dict[str, Any]]:
    """One message's index rows: words, "+first second" pairs, CJK characters, pairs and
    triples, each with its weight."""
    weights: Counter[str] = Counter()
    for content, weight in zip((subject, sender, body[:BODY_LIMIT]), WEIGHTS, strict=True):
        found: Counter[str] = Counter()
        previous = None
        for piece in PIECES.findall(unicodedata.normalize("NFKC", content)):
            if CJK.match(piece):
                triples = map("".join, zip(piece, piece[1:], piece[2:], strict=False))
                found.update(itertools.chain(piece, map(operator.add, piece, piece[1:]), triples))
                previous = None
                continue
            term = _word_term(piece[:MAX_TERM_CHARS].lower())
            found[term] += 1
            if previous is not None:
                found[f"+{previous} {term}"[:MAX_TERM_CHARS].rstrip(" ")] += 1
            previous = term
        for term, count in found.items():
            weights[term] += count * weight
    return [
        {"list_id": list_id, "term": term, "message_id": message_id, "weight": min(w, MAX_WEIGHT)}
        for term, w in weights.items()
    ]
