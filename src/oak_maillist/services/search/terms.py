"""The terms of the MySQL/MariaDB word index (messages_search_terms, revision b9d1f3a5c7e9).

For each message, every distinct term of its subject, sender name and address and body,
with a weight (occurrences, those in the subject counting SUBJECT_WEIGHT times):

- each word, lowercased, without diacritics and reduced by stem_prefix (packages, packaging
  and package are all "packag");
- each pair of neighbouring words, as "+first second" of their terms: a two-word phrase is
  one term, a longer one the intersection of its pairs;
- each CJK character, and each run's overlapping pairs and triples of characters: a CJK
  string of up to three characters is one term, a longer one the intersection of its triples.
"""

from __future__ import annotations

import itertools
import operator
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any

from oak_maillist.services.search.query import (
    CJK,
    MAX_TERM_CHARS,
    PIECES,
    SUBJECT_WEIGHT,
    stem_prefix,
)

TABLE = "messages_search_terms"
BODY_LIMIT = 200_000  # characters of a body indexed, as for PostgreSQL
SENDER_WEIGHT = 2
MAX_WEIGHT = 65_535  # SMALLINT UNSIGNED
PAIR = "+"  # starts a word pair's term: no word does, so word prefixes never reach pairs
INSERT = (
    f"INSERT INTO {TABLE} (list_id, term, message_id, weight)"  # noqa: S608 - constants
    " VALUES (:list_id, :term, :message_id, :weight)"
)


def fold(word: str) -> str:
    """The word without diacritics (café: cafe)."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", bare)


def word_term(word: str) -> str:
    """The index term of a lowercased word."""
    return stem_prefix(fold(word))[:MAX_TERM_CHARS]


def pair_term(first: str, second: str) -> str:
    """The index term of two neighbouring words, given their terms."""
    return f"{PAIR}{first} {second}"[:MAX_TERM_CHARS].rstrip(" ")  # no trailing space: PAD SPACE


def cjk_terms(run: str) -> Iterable[str]:
    """The terms of a CJK run: its characters, pairs and triples, each as often as found."""
    return itertools.chain(
        run, map(operator.add, run, run[1:]), map("".join, zip(run, run[1:], run[2:], strict=False))
    )


def document_terms(subject: str, sender: str, body: str) -> dict[str, int]:
    """Each distinct term of a message with its weight."""
    weights: Counter[str] = Counter()
    sources = ((subject, int(SUBJECT_WEIGHT)), (sender, SENDER_WEIGHT), (body[:BODY_LIMIT], 1))
    for content, weight in sources:
        found: Counter[str] = Counter()
        previous = None
        terms: dict[str, str] = {}  # words seen in this text, and their terms
        for piece in PIECES.findall(unicodedata.normalize("NFKC", content)):
            if CJK.match(piece):
                found.update(cjk_terms(piece))
                previous = None
                continue
            term = terms.get(piece)
            if term is None:
                term = terms[piece] = word_term(piece[:MAX_TERM_CHARS].lower())
            found[term] += 1
            if previous is not None:
                found[pair_term(previous, term)] += 1
            previous = term
        for term, count in found.items():
            weights[term] += count * weight
    return {term: min(weight, MAX_WEIGHT) for term, weight in weights.items()}


def term_rows(
    message_id: int, list_id: int, subject: str, sender: str, body: str
) -> list[dict[str, Any]]:
    """The index rows of one message."""
    return [
        {"list_id": list_id, "term": term, "message_id": message_id, "weight": weight}
        for term, weight in document_terms(subject, sender, body).items()
    ]
