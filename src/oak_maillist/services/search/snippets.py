"""Search hits' highlighting: matches wrapped in <mark>, and a snippet around the first."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from oak_maillist.services.search.query import CJK_CLASS, Term, stem_prefix

SNIPPET_CHARS = 200
SNIPPET_LEAD = 60  # characters of context before the first match
_NOT_WORD_BEFORE = f"(?<!(?![{CJK_CLASS}])[^\\W_])"


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
