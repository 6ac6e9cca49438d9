"""Threads from In-Reply-To and References: JWZ containers with notmuch's parent rules; pure."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Reply and forward markers (Outlook translates them: AW/WG German, SV Nordic, 回复/转发 Chinese),
# optionally counted ("RE[2]:", "Re(3):", "Re^2:"), before an ASCII or full-width colon.
_REPLY_MARKERS = ("re", "aw", "sv", "回复", "回覆", "答复", "答覆")
_FORWARD_MARKERS = ("fwd", "fw", "wg", "转发", "轉寄", "转寄")
_PREFIX = re.compile(
    r"\s*(?:\[[^\]]*\]|(?P<marker>"
    + "|".join(_REPLY_MARKERS + _FORWARD_MARKERS)
    + r")\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a])",
    re.IGNORECASE,
)
# notmuch trusts In-Reply-To only when it is exactly one <id> (RFC 5322 §3.6.4 msg-id).
_STRICT_ID = re.compile(r"\s*<([^\s<>]+)>\s*")
_BARE_SEPARATORS = re.compile(r"[\s,;]+")
_BARE_ID = re.compile(r"[^\s<>()\[\]\\\"@]+@[^\s<>()\[\]\\\"@]+")


@dataclass(frozen=True)
class ThreadInput:
    """One message as the threader sees it; header values are raw."""

    key: str
    message_id: str
    in_reply_to: str
    references: str
    subject: str
    date: datetime | None


@dataclass
class ThreadNode:
    """A message (or a ghost, key None, that holds several replies) and its replies."""

    key: str | None
    message_id: str
    children: list[ThreadNode] = field(default_factory=list)


def extract_ids(value: str) -> list[str]:
    """Message-IDs in a header value, in order, without brackets, each once.

    Comments are skipped; whitespace inside brackets is dropped (folded ids). Bare ids without
    brackets count only when the whole value is made of them, so prose such as "from a@b on
    Monday" yields nothing.
    """
    ids, outside, unclosed = _scan(value, comments=True)
    if unclosed:  # an unclosed comment: read the value again without comment rules
        ids, outside, _ = _scan(value, comments=False)
    if not ids:
        tokens = [t.strip("\"'") for t in _BARE_SEPARATORS.split(outside) if t]
        if tokens and all(_BARE_ID.fullmatch(t) for t in tokens):
            ids = tokens
    return list(dict.fromkeys(i for i in ids if i))


def _scan(value: str, *, comments: bool) -> tuple[list[str], str, bool]:
    ids: list[str] = []
    outside: list[str] = []
    current: list[str] | None = None
    depth, escaped = 0, False
    for ch in value:
        if current is not None:
            if ch == ">":
                ids.append("".join(current))
                current = None
            elif ch == "<":
                current = []
            elif not ch.isspace():
                current.append(ch)
        elif depth:
            escaped, depth = _comment_step(ch, escaped, depth)
        elif ch == "(" and comments:
            depth = 1
        elif ch == "<":
            current = []
        else:
            outside.append(ch)
    if current and "@" in current:  # a truncated header: keep the last id if it looks whole
        ids.append("".join(current))
    return ids, "".join(outside), depth > 0


def _comment_step(ch: str, escaped: bool, depth: int) -> tuple[bool, int]:
    if escaped:
        return False, depth
    if ch == "\\":
        return True, depth
    return False, depth + (ch == "(") - (ch == ")")


def _normalize_id(message_id: str) -> str:
    value = message_id.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return "".join(value.split())


def ancestry(in_reply_to: str, references: str, *, own_id: str = "") -> list[str]:
    """Ancestor ids oldest first, ending with the parent; notmuch's choice of parent.

    The parent is In-Reply-To when it is exactly one <id>, else the last References id, else
    the last id found in In-Reply-To. References give the older ancestors (with the parent moved
    last, so a References list in the wrong order cannot make a message its parent's parent);
    a dodgy In-Reply-To contributes only the parent, never prose addresses as ancestors.
    """
    own = _normalize_id(own_id)
    refs = [i for i in extract_ids(references) if i != own]
    strict = _STRICT_ID.fullmatch(in_reply_to)
    if strict and strict.group(1) != own:
        parent = strict.group(1)
    elif refs:
        parent = refs[-1]
    else:
        loose = [i for i in extract_ids(in_reply_to) if i != own]
        return loose[-1:]
    return [i for i in refs if i != parent] + [parent]


def thread_key_candidates(item: ThreadInput) -> list[str]:
    """Ids to look up in the archive for a newly arrived message, nearest ancestor first."""
    return ancestry(item.in_reply_to, item.references, own_id=item.message_id)[::-1]


def _strip_prefixes(subject: str) -> tuple[str, str | None]:
    """The subject without leading markers and tags, and the first marker seen (lowercased)."""
    first: str | None = None
    rest = subject
    while match := _PREFIX.match(rest):
        if first is None and match.group("marker"):
            first = match.group("marker").casefold()
        rest = rest[match.end() :]
    return rest, first


def normalize_subject(subject: str) -> str:
    """The subject without Re:/Fwd:-style markers, list tags and extra whitespace, casefolded."""
    rest, _ = _strip_prefixes(subject)
    return " ".join(rest.split()).casefold()


def is_reply_subject(subject: str) -> bool:
    """True when the first marker after any list tags is a reply marker (Re:, AW:, 回复: ...)."""
    _, first = _strip_prefixes(subject)
    return first in _REPLY_MARKERS


def _when(date: datetime | None) -> tuple[int, timedelta]:
    """A sort key that never raises: naive dates count as UTC, missing dates sort last."""
    if date is None:
        return (1, timedelta(0))
    try:
        offset = date.utcoffset() or timedelta(0)
    except (TypeError, ValueError, OverflowError):
        offset = timedelta(0)
    days = timedelta(days=date.toordinal(), hours=date.hour, minutes=date.minute)
    return (0, days + timedelta(seconds=date.second, microseconds=date.microsecond) - offset)


SortKey = tuple[tuple[int, timedelta], str]


@dataclass
class _Forest:
    """Containers by index: an id (or "" when synthetic), the item they hold, their parent."""

    mids: list[str] = field(default_factory=list)
    items: list[int | None] = field(default_factory=list)
    parent: list[int | None] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)

    def add(self, mid: str, item: int | None, *, register: bool) -> int:
        self.mids.append(mid)
        self.items.append(item)
        self.parent.append(None)
        index = len(self.mids) - 1
        if register:
            self.by_id[mid] = index
        return index

    def container(self, mid: str) -> int:
        found = self.by_id.get(mid)
        return self.add(mid, None, register=True) if found is None else found

    def link(self, child: int, parent: int) -> None:
        """Make `parent` the parent of `child` unless that closes a loop."""
        node: int | None = parent
        while node is not None:
            if node == child:
                return
            node = self.parent[node]
        self.parent[child] = parent

    def root(self, node: int) -> int:
        while (up := self.parent[node]) is not None:
            node = up
        return node


def _build_forest(
    items: Sequence[ThreadInput], order: list[int]
) -> tuple[_Forest, dict[int, int], dict[int, list[str]]]:
    """Containers for every message and referenced id; parents from each message's own headers,
    and for ghosts (ids never received) from the reference chains, oldest message first."""
    forest = _Forest()
    own: dict[int, int] = {}
    chains: dict[int, list[str]] = {}
    for i in order:
        mid = _normalize_id(items[i].message_id)
        # A repeated or missing Message-ID makes a distinct container nobody can reference.
        own[i] = forest.add(mid, i, register=bool(mid) and mid not in forest.by_id)
        chains[i] = ancestry(items[i].in_reply_to, items[i].references, own_id=mid)
    for i in order:
        nodes = [forest.container(mid) for mid in chains[i]]
        if nodes:
            forest.link(own[i], nodes[-1])
    for i in order:
        nodes = [forest.by_id[mid] for mid in chains[i]]
        for older, newer in itertools.pairwise(nodes):
            if forest.items[newer] is None and forest.parent[newer] is None:
                forest.link(newer, older)
    return forest, own, chains


def _merge_components(
    forest: _Forest, order: list[int], own: dict[int, int], chains: dict[int, list[str]]
) -> None:
    """Every id a message names shares its thread (as in notmuch): join the extra roots of a
    thread under its first ghost root, or under a new ghost when all its roots are messages."""
    group = list(range(len(forest.mids)))

    def find(node: int) -> int:
        while group[node] != node:
            group[node] = group[group[node]]
            node = group[node]
        return node

    for i in order:
        for mid in chains[i]:
            group[find(forest.by_id[mid])] = find(own[i])
    roots: dict[int, list[int]] = {}
    for i in order:
        found = roots.setdefault(find(own[i]), [])
        if (top := forest.root(own[i])) not in found:
            found.append(top)
    for tops in roots.values():
        if len(tops) > 1:
            ghosts = [t for t in tops if forest.items[t] is None]
            holder = ghosts[0] if ghosts else forest.add("", None, register=False)
            for top in tops:
                if top != holder:
                    forest.parent[top] = holder


def _prune(forest: _Forest) -> dict[int, int | None]:
    """Parents of the kept containers: messages, and root ghosts holding two or more of them."""
    parents: dict[int, int | None] = {}
    for node, item in enumerate(forest.items):
        if item is not None:
            up = forest.parent[node]
            while up is not None and forest.items[up] is None and forest.parent[up] is not None:
                up = forest.parent[up]
            parents[node] = up
    counts: dict[int, int] = {}
    for up in parents.values():
        if up is not None and forest.items[up] is None:
            counts[up] = counts.get(up, 0) + 1
    for node, up in parents.items():
        if up is not None and counts.get(up) == 1:
            parents[node] = None
    parents.update({ghost: None for ghost, count in counts.items() if count > 1})
    return parents


@dataclass
class _Tree:
    """The pruned forest with sort keys, ready for subject grouping and output."""

    forest: _Forest
    parents: dict[int, int | None]
    keys: dict[int, SortKey]

    def children(self) -> dict[int | None, list[int]]:
        result: dict[int | None, list[int]] = {}
        for node, up in self.parents.items():
            result.setdefault(up, []).append(node)
        for nodes in result.values():
            nodes.sort(key=self.keys.__getitem__)
        return result

    def rekey_ghosts(self) -> None:
        """A ghost sorts as its earliest child (ghost children are always messages)."""
        for node, up in self.parents.items():
            if up is not None and self.forest.items[up] is None:
                current = self.keys.get(up)
                if current is None or self.keys[node] < current:
                    self.keys[up] = self.keys[node]


def _group_by_subject(
    tree: _Tree, items: Sequence[ThreadInput], chains: dict[int, list[str]]
) -> None:
    """JWZ subject grouping, limited to roots that are messages without any reference headers
    and with a reply subject: they join the earliest thread with the same subject."""
    forest = tree.forest
    children = tree.children()
    groups: dict[str, list[int]] = {}
    for top in children.get(None, []):
        # A ghost root is named by its earliest reply; ghost children are always messages.
        first = forest.items[top if forest.items[top] is not None else children[top][0]]
        subject = "" if first is None else normalize_subject(items[first].subject)
        if subject:
            groups.setdefault(subject, []).append(top)

    def eligible(top: int) -> bool:
        item = forest.items[top]
        return item is not None and not chains[item] and is_reply_subject(items[item].subject)

    def original(top: int) -> bool:
        item = forest.items[top]
        return item is not None and not is_reply_subject(items[item].subject)

    for tops in groups.values():
        anchor = next((t for t in tops if original(t)), None)
        anchor = anchor if anchor is not None else tops[0]
        joiners = [t for t in tops if t != anchor and eligible(t)]
        if joiners and forest.items[anchor] is not None and not original(anchor):
            holder = forest.add("", None, register=False)
            tree.parents[holder] = None
            tree.parents[anchor] = anchor = holder
        for top in joiners:
            tree.parents[top] = anchor
    tree.rekey_ghosts()


def _to_nodes(tree: _Tree, items: Sequence[ThreadInput]) -> list[ThreadNode]:
    children = tree.children()
    forest = tree.forest
    made: dict[int, ThreadNode] = {}
    for node in tree.parents:
        item = forest.items[node]
        key = None if item is None else items[item].key
        made[node] = ThreadNode(key=key, message_id=forest.mids[node])
    for up, nodes in children.items():
        if up is not None:
            made[up].children = [made[n] for n in nodes]
    return [made[n] for n in children.get(None, [])]


def build_threads(
    items: Sequence[ThreadInput], *, subject_fallback: bool = True
) -> list[ThreadNode]:
    """Thread trees of `items`, roots and replies sorted by date then key.

    Each message appears exactly once. A message's parent comes from its own headers
    (`ancestry`); referenced messages never received ("ghosts") are placed by the reference
    chains and then dropped, their replies promoted, except a root ghost holding several
    replies, which is kept so they share one thread. A Message-ID seen twice belongs to the
    earliest message (date, then key); the later one, like a message without an id, is a message
    of its own that nothing can reply to. With `subject_fallback`, a message with no id in
    In-Reply-To or References and a reply subject joins the thread with the same subject.
    """
    order = sorted(range(len(items)), key=lambda i: (_when(items[i].date), items[i].key, i))
    forest, own, chains = _build_forest(items, order)
    _merge_components(forest, order, own, chains)
    parents = _prune(forest)
    keys = {own[i]: (_when(items[i].date), items[i].key) for i in order}
    tree = _Tree(forest, parents, keys)
    tree.rekey_ghosts()
    if subject_fallback:
        _group_by_subject(tree, items, chains)
    return _to_nodes(tree, items)
