"""SQLite archive search: the FTS5 tables of revision c3f8a1d2e4b5.

Triggers keep the words table. The CJK table is written by index() since revision
c1e3a5b7d9f2 (SQL without regular expressions cut the bigrams out of the text byte by byte,
inside the database's one write lock); its update and delete triggers still keep it in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Message
from oak_maillist.services.search import pending
from oak_maillist.services.search.query import (
    CJK,
    SUBJECT_WEIGHT,
    ParsedQuery,
    Scored,
    Term,
    bigrams,
    bigrams_text,
    bind,
)

CJK_BYTES = 300_000  # CJK characters starting in a column's first bytes are indexed
FORGET_CJK = text("DELETE FROM messages_search_cjk WHERE rowid = :id")
INDEX_CJK = text(
    "INSERT INTO messages_search_cjk(rowid, subject, sender, body, list)"
    " VALUES (:id, :subject, :sender, :body, :list)"
)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class SqliteBackend:
    """Words in the porter/unicode61 FTS5 table, CJK runs in the bigram one.

    The table of the included words (else of the CJK runs) drives the query and gives bm25;
    terms of the other kind filter through rowid IN / NOT IN. The page joins messages for the
    list (bm25 would otherwise weigh the list's token too); the count, needed only when the
    page is full, matches the list's token instead of visiting every row.
    """

    WORDS, CJK = "messages_search", "messages_search_cjk"
    WEIGHTS = f"{SUBJECT_WEIGHT}, 2.0, 1.0, 0.0"  # subject, sender, body, list

    async def index(self, session: AsyncSession, message: Message, *, fresh: bool) -> None:
        """The message's CJK bigrams; the insert trigger has indexed its words."""
        if not fresh:  # the update trigger may have indexed it, or nothing did yet
            await session.execute(FORGET_CJK, {"id": message.id})
        columns = (message.subject, message.sender_name, message.text_body or "")
        if any(CJK.search(column) for column in columns):
            subject, sender, body = map(cjk_column, columns)
            values = {"subject": subject, "sender": sender, "body": body}
            row = {"id": message.id, "list": f"list{message.list_id}"} | values
            await pending.write(session, INDEX_CJK, [row])

    async def matches(
        self, session: AsyncSession, list_id: int, query: ParsedQuery, limit: int, offset: int
    ) -> tuple[list[Scored], int]:
        table, expr, filters = self._compile(query)
        params: dict[str, Any] = {"list_id": list_id, "limit": limit, "offset": offset}
        params["q"] = self._in_columns(expr)
        where = self._where(table, filters, params)
        page = text(
            f"SELECT s.rowid, -bm25({table}, {self.WEIGHTS})"  # noqa: S608 - values are bound
            f" FROM {table} AS s CROSS JOIN messages AS m ON m.id = s.rowid"
            f" WHERE {where} AND m.list_id = :list_id"
            " ORDER BY s.rowid DESC LIMIT :limit OFFSET :offset"
        )
        rows = [Scored(row[0], float(row[1])) for row in await session.execute(page, params)]
        if offset == 0 and len(rows) < limit:
            return rows, len(rows)
        params["q"] = f"list : {_quote(f'list{list_id}')} AND {params['q']}"
        count = text(f"SELECT count(*) FROM {table} AS s WHERE {where}")  # noqa: S608
        return rows, (await session.execute(count, params)).scalar_one()

    def _compile(self, query: ParsedQuery) -> tuple[str, str, list[tuple[bool, dict[str, str]]]]:
        """The driving table and expression; rowid IN (True) and NOT IN (False) filters."""
        included = self._by_table(query.include)
        table = self.WORDS if self.WORDS in included else self.CJK
        expr = included.pop(table)
        filters = [(True, included)] if included else []
        for clause in query.exclude:
            parts = self._by_table(clause.terms)
            if set(parts) == {table}:
                expr = f"({expr}) NOT ({parts[table]})"
            else:
                filters.append((False, parts))
        return table, expr, filters

    def _where(
        self, table: str, filters: list[tuple[bool, dict[str, str]]], params: dict[str, Any]
    ) -> str:
        conditions = [f"{table} MATCH :q"]
        for keep, parts in filters:
            selects = []
            for other, expr in parts.items():
                name = bind(params, "filter", self._in_columns(expr))
                selects.append(f"SELECT rowid FROM {other} WHERE {other} MATCH :{name}")  # noqa: S608
            operator = "IN" if keep else "NOT IN"
            conditions.append(f"s.rowid {operator} ({' INTERSECT '.join(selects)})")
        return " AND ".join(conditions)

    def _by_table(self, terms: Sequence[Term]) -> dict[str, str]:
        """The terms' FTS5 expressions, ANDed per table."""
        parts: dict[str, list[str]] = {}
        for term in terms:
            parts.setdefault(self.CJK if term.cjk else self.WORDS, []).append(self._term(term))
        return {table: " AND ".join(exprs) for table, exprs in parts.items()}

    @staticmethod
    def _in_columns(expr: str) -> str:
        return f"{{subject sender body}} : ({expr})"

    @staticmethod
    def _term(term: Term) -> str:
        if term.cjk:
            if len(term.text) == 1:
                return f"{_quote(term.text)} *"
            return _quote(" ".join(bigrams(term.text)))
        return _quote(term.text) + (" *" if term.prefix else "")


def cjk_column(content: str) -> str | None:
    """A column as the CJK table holds it: each CJK character with the next one when that is
    CJK too, space-separated in text order; characters starting past CJK_BYTES bytes of UTF-8
    are left out. None without any. Revision c3f8a1d2e4b5's triggers made the same value."""
    cut = len(content)
    if cut > CJK_BYTES // 4 and len(encoded := content.encode()) > CJK_BYTES:
        # The characters starting in the first CJK_BYTES bytes; a cut one decodes as one U+FFFD.
        cut = len(encoded[:CJK_BYTES].decode(errors="replace"))
    # The next character pairs with the last one kept.
    tokens = bigrams_text(content[: cut + 1])
    if cut < len(content) and CJK.match(content[cut]):
        tokens = tokens.rpartition(" ")[0]  # the next character itself
    return tokens or None
