"""MySQL/MariaDB archive search over our own word index (revision b9d1f3a5c7e9).

messages_search_terms holds each message's terms with a weight (terms.py says which).
Rows sit in (list_id, term, message_id) order, so the newest messages holding a term are the
end of one index range. A query reads the range of its rarest term newest first and looks
the others up for each message found there. Only phrases of three words or more and CJK
strings of four characters or more are checked against the message text, on the few rows
their pairs or triples leave. index() writes a message's terms; its foreign key drops them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import LongText
from oak_maillist.models import Message
from oak_maillist.services.search import pending
from oak_maillist.services.search.query import ParsedQuery, Scored, Term, bind, stem_prefix
from oak_maillist.services.search.terms import TABLE, document_terms, pair_term, word_term

# A batch's rows in one JSON array (pending.write's `packed`), inserted in key order: the
# order of the primary key's collation, so that transactions inserting side by side lock in
# one order and cannot deadlock. The array goes as LongText (hexadecimal): escaping its
# quotes and CJK terms in Python took 9 ms for a 100 KB post of English and Chinese text,
# against 1 ms.
INSERT_TERMS = text(f"""
    INSERT INTO {TABLE} (list_id, term, message_id, weight)
    SELECT list_id, term, message_id, weight FROM JSON_TABLE(:terms, '$[*]' COLUMNS (
        list_id BIGINT PATH '$[0]',
        term VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$[1]',
        message_id BIGINT PATH '$[2]',
        weight INT PATH '$[3]'
    )) AS row_values ORDER BY list_id, term, message_id""").bindparams(  # noqa: S608 - constants
    bindparam("terms", type_=LongText())
)


MAX_PREFIX_TERMS = 200  # terms a prefix is spelled out as; a longer list is a range
CJK_TEXT = "CONCAT_WS(' ', m.subject, m.sender_name, m.text_body)"
TEXT = "CONCAT_WS(' ', m.subject, m.sender_name, m.sender_email, m.text_body)"
WORD_CHAR, OTHER_CHARS = r"[\p{L}\p{N}]", r"[^\p{L}\p{N}]+"  # PCRE


@dataclass
class _Lookup:
    """Messages holding one of some terms (a word, or what a prefix spells out), or any term
    of a range (a prefix spelling out too many)."""

    terms: list[str] = field(default_factory=list)
    prefix: str | None = None

    def condition(self, alias: str, params: dict[str, Any]) -> str:
        if self.prefix is not None:
            return f"{alias}.term LIKE :{bind(params, 'prefix', self.prefix + '%')}"
        if len(self.terms) == 1:
            return f"{alias}.term = :{bind(params, 'term', self.terms[0])}"
        names = [f":{bind(params, 'term', term)}" for term in self.terms]
        return f"{alias}.term IN ({', '.join(names)})"

    @property
    def single(self) -> bool:
        return self.prefix is None and len(self.terms) == 1


@dataclass
class _Need:
    """What a clause asks of a message: lookups in the index, and checks of its text."""

    lookups: list[_Lookup] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


class MysqlBackend:
    """Index ranges joined on message ids; see the module's docstring."""

    async def index(self, session: AsyncSession, message: Message, *, fresh: bool) -> None:
        # A fresh message has no rows to delete. The DELETE would take gap locks in the
        # message_id index, and transactions indexing posts side by side then deadlock on
        # each other's inserts. Rows go in key order, so concurrent inserts lock in one order.
        if not fresh:
            await session.execute(
                text(f"DELETE FROM {TABLE} WHERE message_id = :id"),  # noqa: S608
                {"id": message.id},
            )
        sender = f"{message.sender_name} {message.sender_email}"
        terms = document_terms(message.subject, sender, message.text_body or "")
        list_id, message_id = message.list_id, message.id  # read once, not once per term
        rows: list[pending.Row] = [
            [list_id, term, message_id, weight] for term, weight in terms.items()
        ]
        await pending.write(session, INSERT_TERMS, rows, packed="terms")

    async def matches(
        self, session: AsyncSession, list_id: int, query: ParsedQuery, limit: int, offset: int
    ) -> tuple[list[Scored], int]:
        params: dict[str, Any] = {"list_id": list_id, "limit": limit, "offset": offset}
        need = await self._need(session, list_id, query.include, params)
        lookups = need.lookups
        if len(lookups) > 1:  # the rarest drives
            sizes = await self._sizes(session, list_id, lookups)
            lookups = [lookup for _, lookup in sorted(zip(sizes, lookups, strict=True), key=_first)]
        driving, *others = lookups
        if driving.single:
            source = f"{TABLE} AS t"
            where = ["t.list_id = :list_id", driving.condition("t", params)]
        else:
            source = (
                f"(SELECT message_id, sum(weight) AS weight FROM {TABLE} AS s"  # noqa: S608
                f" WHERE s.list_id = :list_id AND {driving.condition('s', params)}"
                " GROUP BY message_id) AS t"
            )
            where = []
        scores = ["t.weight"]
        for number, lookup in enumerate(others):
            alias = f"t{number}"
            if lookup.single:
                source += (
                    f" STRAIGHT_JOIN {TABLE} AS {alias} ON {alias}.list_id = :list_id"
                    f" AND {lookup.condition(alias, params)}"
                    f" AND {alias}.message_id = t.message_id"
                )
                scores.append(f"{alias}.weight")
            else:
                where.append(self._exists(lookup, alias, params))
        if need.checks:
            source += " STRAIGHT_JOIN messages AS m ON m.id = t.message_id"
            where += need.checks
        for number, clause in enumerate(query.exclude):
            excluded = await self._need(session, list_id, clause.terms, params)
            where.append(self._excluded(excluded, f"x{number}", params))
        body = f"FROM {source}" + (f" WHERE {' AND '.join(where)}" if where else "")
        page = text(
            f"SELECT STRAIGHT_JOIN t.message_id, {' + '.join(scores)} {body}"
            " ORDER BY t.message_id DESC LIMIT :limit OFFSET :offset"
        )
        rows = [Scored(row[0], float(row[1])) for row in await session.execute(page, params)]
        if offset == 0 and len(rows) < limit:
            return rows, len(rows)
        return rows, await self._count(session, body, params)

    @staticmethod
    async def _count(session: AsyncSession, body: str, params: dict[str, Any]) -> int:
        count = text(f"SELECT STRAIGHT_JOIN count(*) {body}")
        return int((await session.execute(count, params)).scalar_one())

    async def _sizes(
        self, session: AsyncSession, list_id: int, lookups: Sequence[_Lookup]
    ) -> list[int]:
        """How many rows each lookup reads, as the optimizer estimates them (index dives)."""
        params: dict[str, Any] = {"list_id": list_id}
        selects = [
            f"SELECT 1 FROM {TABLE} AS s WHERE s.list_id = :list_id"  # noqa: S608
            f" AND {lookup.condition('s', params)}"
            for lookup in lookups
        ]
        plan = await session.execute(text("EXPLAIN " + " UNION ALL ".join(selects)), params)
        rows = {row["id"]: row["rows"] for row in plan.mappings() if row["id"] is not None}
        return [int(rows.get(number + 1) or 0) for number in range(len(lookups))]

    async def _need(
        self, session: AsyncSession, list_id: int, terms: Sequence[Term], params: dict[str, Any]
    ) -> _Need:
        need = _Need()
        for term in terms:
            if term.cjk:
                run = term.text
                if len(run) <= 3:
                    need.lookups.append(_Lookup([run]))
                    continue
                triples = dict.fromkeys(map("".join, zip(run, run[1:], run[2:], strict=False)))
                need.lookups += [_Lookup([triple]) for triple in triples]
                like = bind(params, "like", f"%{run}%")
                need.checks.append(f"{CJK_TEXT} LIKE BINARY :{like}")
            elif term.prefix:
                need.lookups.append(await self._prefix(session, list_id, word_term(term.text)))
            elif " " not in term.text:
                need.lookups.append(_Lookup([word_term(term.text)]))
            else:
                stems = [word_term(word) for word in term.words]
                pairs = dict.fromkeys(itertools.starmap(pair_term, itertools.pairwise(stems)))
                need.lookups += [_Lookup([pair]) for pair in pairs]
                if len(stems) > 2:
                    need.checks.append(self._regexp(term, params))
        return need

    @staticmethod
    async def _prefix(session: AsyncSession, list_id: int, prefix: str) -> _Lookup:
        """The terms starting with `prefix` (a loose index scan: one dive per term), or the
        range when they are too many."""
        high = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = await session.execute(
            text(
                f"SELECT list_id, term FROM {TABLE}"  # noqa: S608
                " WHERE list_id = :list_id AND term >= :low AND term < :high"
                " GROUP BY list_id, term LIMIT :limit"
            ),
            {"list_id": list_id, "low": prefix, "high": high, "limit": MAX_PREFIX_TERMS + 1},
        )
        terms = [row[1] for row in rows]
        if len(terms) > MAX_PREFIX_TERMS:
            return _Lookup(prefix=prefix)
        return _Lookup(terms or [prefix])

    @staticmethod
    def _exists(lookup: _Lookup, alias: str, params: dict[str, Any]) -> str:
        return (
            f"EXISTS (SELECT 1 FROM {TABLE} AS {alias} WHERE {alias}.list_id = :list_id"  # noqa: S608
            f" AND {lookup.condition(alias, params)} AND {alias}.message_id = t.message_id)"
        )

    def _excluded(self, need: _Need, alias: str, params: dict[str, Any]) -> str:
        parts = [
            self._exists(lookup, f"{alias}_{number}", params)
            for number, lookup in enumerate(need.lookups)
        ]
        if need.checks:
            parts.append(
                f"EXISTS (SELECT 1 FROM messages AS m WHERE m.id = t.message_id"  # noqa: S608
                f" AND {' AND '.join(need.checks)})"
            )
        return f"NOT ({' AND '.join(parts)})"

    @staticmethod
    def _regexp(term: Term, params: dict[str, Any]) -> str:
        """The words in order, each as a whole word or one starting with its stem."""
        words = OTHER_CHARS.join(
            re.escape(stem_prefix(word)) + f"{WORD_CHAR}*" for word in term.words
        )
        pattern = f"(?i)(?<!{WORD_CHAR}){words}(?!{WORD_CHAR})"
        return f"{TEXT} REGEXP :{bind(params, 'pattern', pattern)}"


def _first(pair: tuple[int, _Lookup]) -> int:
    return pair[0]
