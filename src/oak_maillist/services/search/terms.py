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
    term = f"{PAIR}{first} {second}"
    if len(term) <= MAX_TERM_CHARS:
        return term
    return term[:MAX_TERM_CHARS].rstrip(" ")  # no trailing space: PAD SPACE


def cjk_terms(run: str) -> Iterable[str]:
    """The terms of a CJK run: its characters, pairs and triples, each as often as found
    (of runs joined by spaces: those and the terms holding a space)."""
    pairs = list(map(operator.add, run, run[1:]))
    return itertools.chain(run, pairs, map(operator.add, pairs, run[2:]))


def document_terms(subject: str, sender: str, body: str) -> dict[str, int]:
    """Each distinct term of a message with its weight."""
    weights: dict[str, int] = {}
    sources = ((subject, int(SUBJECT_WEIGHT)), (sender, SENDER_WEIGHT), (body[:BODY_LIMIT], 1))
    for content, weight in sources:
        pieces = PIECES.findall(unicodedata.normalize("NFKC", content))
        # Each distinct word and neighbouring pair is reduced once, however often it occurs.
        words: dict[str, str] = {}  # a word piece's term
        runs: list[str] = []  # CJK runs found once
        found: Counter[str] = Counter()  # CJK terms
        for piece, count in Counter(pieces).items():
            if not CJK.match(piece):
                term = words[piece] = word_term(piece[:MAX_TERM_CHARS].lower())
                weights[term] = weights.get(term, 0) + count * weight
            elif count == 1:
                runs.append(piece)
            else:
                for term, times in Counter(cjk_terms(piece)).items():
                    found[term] += times * count
        for (first, second), count in Counter(itertools.pairwise(pieces)).items():
            if first in words and second in words:  # no CJK run between them
                term = pair_term(words[first], words[second])
                weights[term] = weights.get(term, 0) + count * weight
        # The runs found once all at once, counted in C; terms across two runs hold a space.
        found.update(cjk_terms(" ".join(runs)))
        for term, count in found.items():
            if " " not in term:
                weights[term] = weights.get(term, 0) + count * weight
    return {term: min(weight, MAX_WEIGHT) for term, weight in weights.items()}
