"""Archive search: one query syntax over each database's own full-text index, ranked hits
with highlighted snippets (the index objects: revision c3f8a1d2e4b5).

Query syntax: words are ANDed, "quoted phrases" match words in order, -word and -"phrase"
exclude, word* matches a prefix. Latin-script words match their English stem (SQLite porter,
PostgreSQL's english configuration; MariaDB, which has no stemmer, matches the prefix left
after stripping a common English ending: packages finds package and packaging). CJK text
(kana, hanzi/kanji, hangul) matches as a substring: 中文 finds 我们用中文写邮件.

Relevance: a subject hit outweighs a body hit, more occurrences outweigh fewer. When a query
matches more than RANK_WINDOW messages of a list, the newest RANK_WINDOW of them are ranked
and the older ones follow newest first; the total stays exact.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.errors import InvalidInputError
from oak_maillist.models import Message

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 16  # words or phrases per query; the rest are ignored
MAX_WORDS = 16  # words per phrase
MAX_TERM_CHARS = 64  # characters kept of one word or CJK run
MAX_PER_PAGE = 100
RANK_WINDOW = 1000
SNIPPET_CHARS = 200
SNIPPET_LEAD = 60  # characters of context before the first match
SNIPPET_SOURCE_CHARS = 50_000  # a match further into a body gives a snippet from its start
SUBJECT_WEIGHT = 10.0
# Kana, CJK ideographs and hangul syllables, as in the migration's CJK_RANGES.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"

_CJK = re.compile(f"[{CJK_CLASS}]")
_PIECES = re.compile(f"[{CJK_CLASS}]+|(?:(?![{CJK_CLASS}])[^\\W_])+")
_CLAUSES = re.compile(r'(-*)"([^"]*)"?|(\S+)')
_NOT_WORD_BEFORE = f"(?<!(?![{CJK_CLASS}])[^\\W_])"
_ENDINGS = ("ies", "ing", "ed", "es", "s", "e", "y")
INNODB_STOPWORDS = (  # InnoDB's default list: such words are not in a FULLTEXT index
    "a about an are as at be by com de en for from how i in is it la of on or that the this to"
    " und was what when where who will with www"
)


class SearchQueryInvalid(InvalidInputError):  # noqa: N818 - the name the API promises
    code = "invalid_search_query"
    template = "The search query has no word to look for"


@dataclass(frozen=True)
class SearchHit:
    id: int
    thread_id: int | None
    subject: str
    sender_email: str
    sender_name: str
    date: datetime | None
    received_at: datetime
    snippet: str  # HTML-escaped, matches wrapped in <mark>
    subject_highlighted: str
    rank: float


@dataclass(frozen=True)
class Term:
    """Lowercased words (several make a phrase), or one run of CJK characters."""

    text: str
    cjk: bool = False
    prefix: bool = False

    @property
    def words(self) -> list[str]:
        return self.text.split(" ")


@dataclass(frozen=True)
class Clause:
    """What the user typed as one item: all its terms must match (or, negated, not all)."""

    terms: tuple[Term, ...]
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...]

    @property
    def include(self) -> list[Term]:
        return [term for clause in self.clauses if not clause.negated for term in clause.terms]

    @property
    def exclude(self) -> list[Clause]:
        return [clause for clause in self.clauses if clause.negated]


@dataclass(frozen=True)
class Scored:
    id: int
    rank: float


def parse_query(query: str) -> ParsedQuery:
    """Read the query syntax; anything that is not a word, a phrase or an operator is dropped.

    Raises SearchQueryInvalid when nothing is left to look for (exclusions alone included).
    """
    cleaned = "".join(
        " " if unicodedata.category(char)[0] in "CZ" else char
        for char in unicodedata.normalize("NFKC", query[:MAX_QUERY_CHARS])
    )
    clauses: list[Clause] = []
    for match in _CLAUSES.finditer(cleaned):
        dashes, phrase, bare = match.groups()
        if bare is not None:
            negated = bare.startswith("-")
            bare = bare.lstrip("-+")
            terms = _terms(bare, prefix=bare.endswith("*"))
        else:
            negated, terms = bool(dashes), _terms(phrase, prefix=False)
        if terms:
            clauses.append(Clause(terms, negated))
    clauses = clauses[:MAX_CLAUSES]
    if not any(not clause.negated for clause in clauses):
        raise SearchQueryInvalid
    return ParsedQuery(tuple(clauses))


def _terms(chunk: str, *, prefix: bool) -> tuple[Term, ...]:
    terms: list[Term] = []
    words: list[str] = []
    for piece in _PIECES.findall(chunk):
        if _CJK.match(piece):
            terms += [Term(" ".join(words))] if words else []
            terms.append(Term(piece[:MAX_TERM_CHARS], cjk=True))
            words = []
        else:
            words.append(piece[:MAX_TERM_CHARS].lower())
    terms += [Term(" ".join(words[:MAX_WORDS]))] if words else []
    if prefix and len(terms) == 1 and not terms[0].cjk and " " not in terms[0].text:
        terms = [Term(terms[0].text, prefix=len(terms[0].text) > 1)]
    return tuple(terms)


def stem_prefix(word: str) -> str:
    """The word without a common English ending: what its inflections start with."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


async def search(
    session: AsyncSession, *, list_id: int, query: str, page: int = 1, per_page: int = 20
) -> tuple[list[SearchHit], int]:
    """Messages of one list that match `query`: one page of hits best first, and the total.

    Raises SearchQueryInvalid when the query holds no word to look for. On MySQL/MariaDB a
    message becomes searchable when its transaction commits (InnoDB FULLTEXT).
    """
    parsed = parse_query(query)
    backend = BACKENDS[session.get_bind().dialect.name]
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    offset = (max(page, 1) - 1) * per_page
    if offset >= RANK_WINDOW:
        chosen, total = await backend.matches(session, list_id, parsed, per_page, offset)
    else:
        window, total = await backend.matches(session, list_id, parsed, RANK_WINDOW, 0)
        ranked = sorted(window, key=lambda scored: (-scored.rank, -scored.id))
        chosen = ranked[offset : offset + per_page]
        missing = per_page - len(chosen)
        if missing > 0 and total > len(window):  # the page reaches past the ranked window
            tail, _ = await backend.matches(session, list_id, parsed, missing, len(window))
            chosen += tail
    return await _hits(session, list_id, chosen, parsed), total


async def _hits(
    session: AsyncSession, list_id: int, chosen: Sequence[Scored], parsed: ParsedQuery
) -> list[SearchHit]:
    if not chosen:
        return []
    rows = await session.execute(
        select(
            Message.id,
            Message.thread_id,
            Message.subject,
            Message.sender_email,
            Message.sender_name,
            Message.date,
            Message.received_at,
            func.substr(Message.text_body, 1, SNIPPET_SOURCE_CHARS),
            Message.list_id,
        ).where(Message.id.in_([scored.id for scored in chosen]))
    )
    # The list is checked here, not in SQL: SQLite would rather scan the list's index.
    found = {row[0]: row for row in rows if row[8] == list_id}
    pattern = highlighter(parsed.include)
    return [
        SearchHit(
            id=row[0],
            thread_id=row[1],
            subject=row[2],
            sender_email=row[3],
            sender_name=row[4],
            date=row[5],
            received_at=row[6],
            snippet=snippet(row[7] or "", pattern),
            subject_highlighted=mark(row[2], pattern),
            rank=scored.rank,
        )
        for scored in chosen
        if (row := found.get(scored.id)) is not None
    ]


# Highlighting --------------------------------------------------------------------------------


def highlighter(terms: Sequence[Term]) -> re.Pattern[str] | None:
    """A pattern for what the terms match in text: CJK runs as they are, words by stem."""
    alternatives = []
    for term in terms:
        if term.cjk:
            alternatives.append(re.escape(term.text))
        else:
            words = [re.escape(stem_prefix(word)) + r"\w*" for word in term.words]
            alternatives.append(_NOT_WORD_BEFORE + r"[\W_]+".join(words))
    if not alternatives:
        return None
    return re.compile("|".join(sorted(alternatives, key=len, reverse=True)), re.IGNORECASE)


def mark(content: str, pattern: re.Pattern[str] | None) -> str:
    """`content` HTML-escaped, with every match of `pattern` in <mark>."""
    if pattern is None:
        return html.escape(content)
    parts, position = [], 0
    for match in pattern.finditer(content):
        if match.end() == match.start():
            continue
        parts.append(html.escape(content[position : match.start()]))
        parts.append(f"<mark>{html.escape(match.group())}</mark>")
        position = match.end()
    parts.append(html.escape(content[position:]))
    return "".join(parts)


def snippet(body: str, pattern: re.Pattern[str] | None) -> str:
    """About SNIPPET_CHARS of the body around its first match, escaped and marked."""
    flat = " ".join(body.split())
    match = pattern.search(flat) if pattern is not None else None
    start = 0
    if match is not None and match.start() > SNIPPET_LEAD:
        start = match.start() - SNIPPET_LEAD
        space = flat.find(" ", start, match.start())
        start = space + 1 if space != -1 else start
    end = max(start + SNIPPET_CHARS, match.end() if match is not None else 0)
    if end < len(flat):
        space = flat.rfind(" ", end - 30, end)
        end = space if space > (match.end() if match is not None else start) else end
    text_part = mark(flat[start:end], pattern)
    return ("…" if start > 0 else "") + text_part + ("…" if end < len(flat) else "")


# Backends ------------------------------------------------------------------------------------


class SearchBackend(Protocol):
    async def matches(
        self, session: AsyncSession, list_id: int, query: ParsedQuery, limit: int, offset: int
    ) -> tuple[list[Scored], int]:
        """Matching messages newest first from `offset`, with relevance; and their total."""
        ...


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _bind(params: dict[str, Any], prefix: str, value: str) -> str:
    """Add a bound value under a fresh name; returns the name."""
    name = f"{prefix}{len(params)}"
    params[name] = value
    return name


def _lexeme(value: str) -> str:
    """A tsquery operand that is exactly `value`."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _bigrams(run: str) -> list[str]:
    return [run[index : index + 2] for index in range(len(run) - 1)] or [run]


class SqliteBackend:
    """Words in the porter/unicode61 FTS5 table, CJK runs in the bigram one.

    The table of the included words (else of the CJK runs) drives the query and gives bm25;
    terms of the other kind filter through rowid IN / NOT IN. The page joins messages for the
    list (bm25 would otherwise weigh the list's token too); the count, needed only when the
    page is full, matches the list's token instead of visiting every row.
    """

    WORDS, CJK = "messages_search", "messages_search_cjk"
    WEIGHTS = f"{SUBJECT_WEIGHT}, 2.0, 1.0, 0.0"  # subject, sender, body, list

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
                name = _bind(params, "filter", self._in_columns(expr))
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
            return _quote(" ".join(_bigrams(term.text)))
        return _quote(term.text) + (" *" if term.prefix else "")


class PostgresBackend:
    """messages_search: per message a weighted tsvector and its neighbouring-lexeme pairs.

    Words go through the english configuration (stems, stop words dropped). CJK runs are
    indexed as overlapping bigrams: one character is a prefix, two a bigram, more a phrase of
    bigrams. A phrase also asks for its pairs, found in the index: that makes two words or
    three CJK characters exact without reading positions, and leaves longer phrases few
    candidates to check. messages_search_find walks the index.
    """

    WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'"  # D body, C sender, B unused, A subject

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
            bigrams = _bigrams(term.text)
            pairs = [f"{first} {second}" for first, second in itertools.pairwise(bigrams)]
            operator = " & " if len(pairs) == 1 else " <-> "  # one pair: the pair is exact
            words = f"to_tsquery('english', :{_bind(params, 'term', operator.join(bigrams))})"
        else:
            pairs, exact = await self._phrase_pairs(session, term.text)
            function = "plainto_tsquery" if exact else "phraseto_tsquery"
            words = f"{function}('english', :{_bind(params, 'term', term.text)})"
        if not pairs:
            return words, words
        lexemes = " & ".join(map(_lexeme, pairs))
        return f"({words} && CAST(:{_bind(params, 'pairs', lexemes)} AS tsquery))", words

    @staticmethod
    def _single(term: Term, params: dict[str, Any]) -> str | None:
        """A word, a prefix, or one or two CJK characters: one lexeme or prefix to look up."""
        # Terms hold letters, digits and spaces only: nothing of the tsquery syntax.
        if term.cjk and len(term.text) <= 2:
            value = term.text if len(term.text) == 2 else f"{term.text}:*"
        elif not term.cjk and " " not in term.text:
            if not term.prefix:
                return f"plainto_tsquery('english', :{_bind(params, 'term', term.text)})"
            value = f"{term.text}:*"
        else:
            return None
        return f"to_tsquery('english', :{_bind(params, 'term', value)})"

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


class MysqlBackend:
    """InnoDB FULLTEXT in boolean mode: words by the prefix of their stem, CJK by bigram words.

    InnoDB skips stop words and words under three characters: those, alone or in a phrase,
    are matched with a regular expression instead (after the index narrowed the rows, when
    the query has other words).
    """

    TEXT = "subject, sender_name, sender_email, text_body"
    CJK_SOURCE = "subject, sender_name, text_body"  # what search_cjk is made of
    STOPWORDS = frozenset(INNODB_STOPWORDS.split())
    WORD_CHAR, OTHER_CHARS = r"[\p{L}\p{N}]", r"[^\p{L}\p{N}]+"  # PCRE

    async def matches(
        self, session: AsyncSession, list_id: int, query: ParsedQuery, limit: int, offset: int
    ) -> tuple[list[Scored], int]:
        params: dict[str, Any] = {"list_id": list_id, "limit": limit, "offset": offset}
        conditions, score = self._compile(query, params)
        where = " AND ".join(["list_id = :list_id", *conditions])
        # One full-text search per statement: the count comes with the page.
        page = text(
            f"SELECT id, {score}, count(*) OVER () FROM messages WHERE {where}"  # noqa: S608
            " ORDER BY id DESC LIMIT :limit OFFSET :offset"
        )
        rows = list(await session.execute(page, params))
        total = rows[0][2] if rows else 0
        if not rows and offset > 0:  # past the end: the total alone
            count = text(f"SELECT count(*) FROM messages WHERE {where}")  # noqa: S608
            total = (await session.execute(count, params)).scalar_one()
        return [Scored(row[0], float(row[1])) for row in rows], total

    def _compile(self, query: ParsedQuery, params: dict[str, Any]) -> tuple[list[str], str]:
        """WHERE conditions and the relevance expression."""
        words: list[str] = []  # boolean-mode items on the text columns
        subject_items: list[str] = []  # and on the subject, for relevance
        cjk: list[str] = []  # and on the CJK bigrams
        conditions: list[str] = []
        scores: list[str] = []
        # A phrase is not given to InnoDB as one: matching it position by position costs twice
        # what its words cost as separate items; their order is then checked on those rows.
        for term in query.include:
            item = self._item(term)
            if term.cjk:
                like = _bind(params, "like", f"%{term.text}%")
                scores.append(f"{SUBJECT_WEIGHT} * (subject LIKE :{like})")
                if len(term.text) > 2:  # bigrams in order are the run itself
                    cjk += [f"+{bigram}__" for bigram in _bigrams(term.text)]
                    conditions.append(f"CONCAT_WS(' ', {self.CJK_SOURCE}) LIKE :{like}")
                else:
                    cjk.append(f"+{item}")
            elif item:
                words += [f"+{word}" for word in term.words] if " " in term.text else [f"+{item}"]
                subject_items.append(item)
                if " " in term.text:
                    conditions.append(self._regexp(term, params))
            else:  # InnoDB skips some of its words: the others narrow, the pattern decides
                indexed = [f"{word}*" for word in self._indexed(term)]
                words += [f"+{word}" for word in indexed]
                subject_items += indexed
                conditions.append(self._regexp(term, params))
        subject = " ".join(subject_items)
        for clause in query.exclude:
            item = self._item(clause.terms[0]) if len(clause.terms) == 1 else None
            same = cjk if clause.terms[0].cjk else words
            if item and same:
                same.append(f"-{item}")
            else:
                parts = [self._condition(term, params) for term in clause.terms]
                conditions.append(f"NOT ({' AND '.join(parts)})")
        if words:
            against = f"AGAINST (:{_bind(params, 'text', ' '.join(words))} IN BOOLEAN MODE)"
            conditions.insert(0, f"MATCH({self.TEXT}) {against}")
            scores.append(f"MATCH({self.TEXT}) {against}")
            if subject:
                in_subject = f"AGAINST (:{_bind(params, 'subject', subject)} IN BOOLEAN MODE)"
                scores.append(f"{SUBJECT_WEIGHT} * MATCH(subject) {in_subject}")
        if cjk:
            against = f"AGAINST (:{_bind(params, 'cjk', ' '.join(cjk))} IN BOOLEAN MODE)"
            conditions.insert(0, f"MATCH(search_cjk) {against}")
            scores.append(f"MATCH(search_cjk) {against}")
        return conditions, " + ".join(scores) or "0"

    def _indexed(self, term: Term) -> list[str]:
        return [word for word in term.words if len(word) >= 3 and word not in self.STOPWORDS]

    def _item(self, term: Term) -> str | None:
        """The boolean-mode item for a term, or None when InnoDB cannot find all of it."""
        if term.cjk:
            if len(term.text) == 1:
                return f"{term.text}*"
            bigrams = [f"{bigram}__" for bigram in _bigrams(term.text)]
            return bigrams[0] if len(bigrams) == 1 else '"' + " ".join(bigrams) + '"'
        if self._indexed(term) != term.words:
            return None
        if " " in term.text:
            return f'"{term.text}"'
        return f"{term.text if term.prefix else stem_prefix(term.text)}*"

    def _condition(self, term: Term, params: dict[str, Any]) -> str:
        item = self._item(term)
        if item is None:
            return self._regexp(term, params)
        columns = "search_cjk" if term.cjk else self.TEXT
        return f"MATCH({columns}) AGAINST (:{_bind(params, 'not', f'+{item}')} IN BOOLEAN MODE)"

    def _regexp(self, term: Term, params: dict[str, Any]) -> str:
        """The words as whole words, in order, anything but letters and digits between."""
        words = self.OTHER_CHARS.join(re.escape(word) for word in term.words)
        pattern = f"(?i)(?<!{self.WORD_CHAR}){words}(?!{self.WORD_CHAR})"
        return f"CONCAT_WS(' ', {self.TEXT}) REGEXP :{_bind(params, 'pattern', pattern)}"


BACKENDS: dict[str, SearchBackend] = {
    "sqlite": SqliteBackend(),
    "postgresql": PostgresBackend(),
    "mysql": MysqlBackend(),
    "mariadb": MysqlBackend(),
}
