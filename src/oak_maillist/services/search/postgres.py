"""PostgreSQL archive search: the tsvector table of revision c3f8a1d2e4b5.

index() writes a new message's row (revision c1e3a5b7d9f2): the CJK bigrams are spaced out
here, where they cost far less than in SQL. Triggers index rows that other writers insert
(at commit) or change.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Message
from oak_maillist.services.search import pending
from oak_maillist.services.search.query import (
    CJK_RUNS,
    ParsedQuery,
    Scored,
    Term,
    bigrams,
    bind,
    runs_bigrams,
)

BODY_LIMIT = 200_000  # characters of a body indexed: a tsvector holds at most 1 MB of words
# The document as messages_search_sync makes it with messages_search_document; materialized
# so that to_tsvector runs once.
INDEX = text("""
    WITH prepared AS MATERIALIZED (
        SELECT setweight(to_tsvector('english', :subject), 'A')
            || setweight(to_tsvector('english', :sender), 'C')
            || setweight(to_tsvector('english', :body), 'D') AS document
    )
    INSERT INTO messages_search (message_id, list_id, document, pairs)
    SELECT :id, :list_id, document, messages_search_pairs(document) FROM prepared
    ON CONFLICT (message_id) DO UPDATE SET list_id = EXCLUDED.list_id,
        document = EXCLUDED.document, pairs = EXCLUDED.pairs""")


_FIELDS = ("subject", "sender", "body")


def _lexeme(value: str) -> str:
    """A tsquery operand that is exactly `value`."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class PostgresBackend:
    """messages_search: per message a weighted tsvector and its neighbouring-lexeme pairs.

    Words go through the english configuration (stems, stop words dropped). CJK runs are
    indexed as overlapping bigrams: one character is a prefix, two a bigram, more a phrase of
    bigrams. A phrase also asks for its pairs, found in the index: that makes two words or
    three CJK characters exact without reading positions, and leaves longer phrases few
    candidates to check. messages_search_find walks the index.
    """

    WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'"  # D body, C sender, B unused, A subject

    async def index(self, session: AsyncSession, message: Message, *, fresh: bool) -> None:
        """Write the message's row (again): messages_search_missing then leaves it be."""
        texts = (
            message.subject,
            f"{message.sender_name} {message.sender_email}",
            (message.text_body or "")[:BODY_LIMIT],
        )
        row: dict[str, Any] = {"id": message.id, "list_id": message.list_id}
        row |= {name: words_text(value) for name, value in zip(_FIELDS, texts, strict=True)}
        await pending.write(session, INDEX, [row])

    async def matches(
        self, session: AsyncSession, list_id: int, query: ParsedQuery, limit: int, offset: int
    ) -> tuple[list[Scored], int]:
        params: dict[str, Any] = {"list_id": list_id, "limit": limit, "offset": offset}
        wanted = [await self._term(session, term, params) for term in query.include]
        matching = ["(" + " && ".join(match for match, _ in wanted) + ")"]
        for clause in query.exclude:
            unwanted = [(await self._term(session, term, params))[0] for term in clause.terms]
            matching.append("!!(" + " && ".join(unwanted) + ")")
        ranking = "(" + " && ".join(rank for _, rank in wanted) + ")"
        found = f"messages_search_find(:list_id, {' && '.join(matching)}, :limit, :offset)"
        # ts_rank reads each whole document: only the window's rows are ranked.
        page = text(
            f"SELECT f.message_id, f.total, ts_rank({self.WEIGHTS}, s.document, {ranking})"  # noqa: S608
            f" FROM {found} AS f JOIN messages_search AS s ON s.message_id = f.message_id"
            " ORDER BY f.message_id DESC"
        )
        rows = list(await session.execute(page, params))
        total = rows[0][1] if rows else 0
        if not rows and offset > 0:  # past the end: the total alone
            params |= {"limit": 1, "offset": 0}
            last = text(f"SELECT max(total) FROM {found}")  # noqa: S608
            total = (await session.execute(last, params)).scalar_one() or 0
        return [Scored(row[0], float(row[2])) for row in rows], total

    async def _term(
        self, session: AsyncSession, term: Term, params: dict[str, Any]
    ) -> tuple[str, str]:
        """SQL for the tsquery a term matches with, and the one it is ranked by."""
        single = self._single(term, params)
        if single is not None:
            return single, single
        if term.cjk:
            grams = bigrams(term.text)
            pairs = [f"{first} {second}" for first, second in itertools.pairwise(grams)]
            operator = " & " if len(pairs) == 1 else " <-> "  # one pair: the pair is exact
            words = f"to_tsquery('english', :{bind(params, 'term', operator.join(grams))})"
        else:
            pairs, exact = await self._phrase_pairs(session, term.text)
            function = "plainto_tsquery" if exact else "phraseto_tsquery"
            words = f"{function}('english', :{bind(params, 'term', term.text)})"
        if not pairs:
            return words, words
        lexemes = " & ".join(map(_lexeme, pairs))
        return f"({words} && CAST(:{bind(params, 'pairs', lexemes)} AS tsquery))", words

    @staticmethod
    def _single(term: Term, params: dict[str, Any]) -> str | None:
        """A word, a prefix, or one or two CJK characters: one lexeme or prefix to look up."""
        # Terms hold letters, digits and spaces only: nothing of the tsquery syntax.
        if term.cjk and len(term.text) <= 2:
            value = term.text if len(term.text) == 2 else f"{term.text}:*"
        elif not term.cjk and " " not in term.text:
            if not term.prefix:
                return f"plainto_tsquery('english', :{bind(params, 'term', term.text)})"
            value = f"{term.text}:*"
        else:
            return None
        return f"to_tsquery('english', :{bind(params, 'term', value)})"

    @staticmethod
    async def _phrase_pairs(session: AsyncSession, phrase: str) -> tuple[list[str], bool]:
        """The pair lexemes of a phrase, and whether its one pair says it all (two words)."""
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT array_agg(lexeme) FROM unnest(messages_search_pairs(v))),"
                    " (SELECT count(*) FROM unnest(v) AS l, unnest(l.positions))"
                    " FROM messages_search_vector(:phrase) AS v"
                ),
                {"phrase": phrase},
            )
        ).one()
        pairs: list[str] = row[0] or []
        return pairs, len(pairs) == 1 and row[1] == 2


def words_text(content: str) -> str:
    """What to_tsvector reads of a column: each CJK character spaced out with the next one
    when that is CJK too (as messages_search_cjk_bigrams makes it), '@', '.' and '/' as
    spaces (as messages_search_vector)."""
    parts = CJK_RUNS.split(content)
    parts[1::2] = [" " + text for text in runs_bigrams(parts[1::2])]
    return "".join(parts).replace("@", " ").replace(".", " ").replace("/", " ")
