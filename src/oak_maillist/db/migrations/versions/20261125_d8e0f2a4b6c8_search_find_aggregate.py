"""PostgreSQL: messages_search_find counts a search's matches and takes its page in one
aggregate

Revision ID: d8e0f2a4b6c8
Revises: c1e3a5b7d9f2
Create Date: 2026-11-25 05:20:00

The function of revision c3f8a1d2e4b5 gave every row the total with count(*) OVER (): the
window kept every match in a tuple store before the sort took the page. For a common word
that is tens of thousands of rows. One aggregate now counts them and sorts only their ids
into an array, and the page is a slice of it. "package" (66,962 of bench/search_archive.py's
100,000 messages), first 1,000: executor time 34-46 ms, median 38.4, before; 24-32 ms, median
26.1, after (5 alternating runs each). The rows, their order and the totals are the same.
SQLite and MySQL/MariaDB are not touched.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "d8e0f2a4b6c8"
down_revision: str | None = "c1e3a5b7d9f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Only the GIN index, planned per call, as before (see revision c3f8a1d2e4b5).
_HEAD = """
    CREATE OR REPLACE FUNCTION messages_search_find(list bigint, matching tsquery,
        size integer, skip integer) RETURNS TABLE (message_id bigint, total bigint)
    LANGUAGE sql STABLE SET enable_seqscan = off SET enable_indexscan = off
        SET plan_cache_mode = force_custom_plan AS $$"""

# The slice's bounds in bigint, clamped to what an array subscript takes: a far page is
# empty, as OFFSET made it, rather than an integer overflow.
AGGREGATE = f"""{_HEAD}
        SELECT page.message_id, found.total FROM (
            SELECT count(*) AS total,
                (array_agg(s.message_id ORDER BY s.message_id DESC))[
                    least(skip::bigint + 1, 2147483647)::integer
                    : least(skip::bigint + size, 2147483647)::integer] AS ids
            FROM messages_search AS s
            WHERE s.list_id = list AND (s.document || s.pairs) @@ matching
        ) AS found, unnest(found.ids) WITH ORDINALITY AS page(message_id, position)
        ORDER BY page.position
    $$"""  # noqa: S608 - constants only

WINDOW = f"""{_HEAD}
        SELECT s.message_id, count(*) OVER () FROM messages_search AS s
        WHERE s.list_id = list AND (s.document || s.pairs) @@ matching
        ORDER BY s.message_id DESC LIMIT size OFFSET skip
    $$"""  # noqa: S608 - constants only


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AGGREGATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(WINDOW)
