"""Threading never raises and always returns a forest holding each message once, whatever comes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from oak_maillist.mail.threading import (
    ThreadInput,
    ThreadNode,
    ancestry,
    build_threads,
    extract_ids,
    is_reply_subject,
    normalize_subject,
    thread_key_candidates,
)

# A small pool of ids makes duplicates, self-references and cycles likely.
POOL = ["a@x", "b@x", "c@x", "d@x", "e@x", "a@X", ""]
SEPARATORS = st.sampled_from([" ", "\n\t", ",", "", " (comment <z@x>) ", " garbage "])
DATES = st.one_of(
    st.none(),
    st.datetimes(),  # naive: read as UTC
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-23, minutes=-59))])),
    # The extremes, with offsets that would overflow a conversion to UTC.
    st.sampled_from(
        [
            datetime.min.replace(tzinfo=timezone(timedelta(hours=23))),
            datetime.max.replace(tzinfo=timezone(timedelta(hours=-23, minutes=-59))),
        ]
    ),
)
SUBJECTS = st.sampled_from(["hello", "Re: hello", "RE[2]: [dev] Hello", "Fwd: hello", "", "x"])


@st.composite
def header(draw: st.DrawFn) -> str:
    """A header value naming pool ids, with brackets or not, around prose and garbage."""
    parts = []
    for mid in draw(st.lists(st.sampled_from(POOL), max_size=4)):
        parts.append(draw(st.sampled_from(["<{}>", "{}", "< {} >", "<{}"])).format(mid))
        parts.append(draw(SEPARATORS))
    return "".join(parts) if draw(st.booleans()) else draw(st.text(max_size=30))


@st.composite
def thread_inputs(draw: st.DrawFn) -> list[ThreadInput]:
    count = draw(st.integers(min_value=0, max_value=12))
    return [
        ThreadInput(
            key=f"k{i}",
            message_id=draw(st.sampled_from([*POOL, "<b@x>", " c@x "])),
            in_reply_to=draw(header()),
            references=draw(header()),
            subject=draw(SUBJECTS),
            date=draw(DATES),
        )
        for i in range(count)
    ]


def _preorder(roots: list[ThreadNode]) -> list[tuple[int, str | None, str, int]]:
    """(depth, key, message_id, children) in order; raises on a node seen twice (a cycle)."""
    seen: set[int] = set()
    out = []
    stack = [(0, node) for node in reversed(roots)]
    while stack:
        depth, node = stack.pop()
        assert id(node) not in seen
        seen.add(id(node))
        out.append((depth, node.key, node.message_id, len(node.children)))
        stack.extend((depth + 1, child) for child in reversed(node.children))
    return out


@settings(max_examples=400)
@given(thread_inputs(), st.booleans(), st.randoms(use_true_random=False))
def test_any_input_gives_a_forest_of_every_message_once(
    items: list[ThreadInput], fallback: bool, rng: random.Random
) -> None:
    roots = build_threads(items, subject_fallback=fallback)
    shape = _preorder(roots)
    assert sorted(key for _, key, _, _ in shape if key is not None) == sorted(i.key for i in items)
    for depth, key, _, children in shape:
        if key is None:  # a ghost is kept only as a root holding several replies
            assert depth == 0
            assert children >= 2
    shuffled = items[:]
    rng.shuffle(shuffled)
    assert _preorder(build_threads(shuffled, subject_fallback=fallback)) == shape


@given(thread_inputs())
def test_replies_and_roots_are_sorted_by_date_then_key(items: list[ThreadInput]) -> None:
    by_key = {i.key: i for i in items}

    def first(node: ThreadNode) -> tuple[bool, datetime, str]:
        if node.key is None:
            return first(node.children[0])
        date = by_key[node.key].date
        if date is None:
            return (True, datetime.min.replace(tzinfo=UTC), node.key)
        stamp = date if date.tzinfo else date.replace(tzinfo=UTC)
        return (False, stamp, node.key)

    roots = build_threads(items)
    stack = [ThreadNode(key=None, message_id="", children=roots)]
    while stack:
        siblings = stack.pop().children
        assert [first(n) for n in siblings] == sorted(first(n) for n in siblings)
        stack.extend(siblings)


@st.composite
def forests(draw: st.DrawFn) -> tuple[list[int | None], list[bool]]:
    """A true reply forest (parent index or None) and which messages were received."""
    count = draw(st.integers(min_value=1, max_value=14))
    parents = [
        draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None for i in range(count)
    ]
    kept = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    return parents, kept


@given(forests(), st.randoms(use_true_random=False))
def test_well_formed_headers_rebuild_the_reply_forest(
    forest: tuple[list[int | None], list[bool]], rng: random.Random
) -> None:
    """With full References, each received message hangs below its nearest received ancestor
    and messages share a thread exactly when they share a first message, received or not."""
    parents, kept = forest

    def line(i: int) -> list[int]:
        chain: list[int] = []
        while (p := parents[i]) is not None:
            chain.insert(0, p)
            i = p
        return chain

    items = [
        ThreadInput(
            key=f"{i:02d}",
            message_id=f"m{i}@x",
            in_reply_to="" if parents[i] is None else f"<m{parents[i]}@x>",
            references=" ".join(f"<m{a}@x>" for a in line(i)),
            subject=f"s{i}",
            date=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 5)),
        )
        for i in range(len(parents))
        if kept[i]
    ]
    rng.shuffle(items)
    threads: dict[str, set[str]] = {}
    nearest: dict[str, str | None] = {}
    stack: list[tuple[ThreadNode, str | None, int]] = [
        (root, None, n) for n, root in enumerate(build_threads(items))
    ]
    while stack:
        node, up, thread = stack.pop()
        if node.key is not None:
            threads.setdefault(str(thread), set()).add(node.key)
            nearest[node.key] = up
        holder = up if node.key is None else node.message_id
        stack.extend((child, holder, thread) for child in node.children)
    for item in items:
        i = int(item.key)
        received = [a for a in line(i) if kept[a]]
        assert nearest[item.key] == (f"m{received[-1]}@x" if received else None)
    first = {item.key: ([*line(int(item.key)), int(item.key)])[0] for item in items}
    expected = {frozenset(k for k in first if first[k] == f) for f in first.values()}
    assert {frozenset(t) for t in threads.values()} == expected


def test_a_very_deep_thread_does_not_recurse() -> None:
    items = [
        ThreadInput(f"{i:05d}", f"{i}@x", f"<{i - 1}@x>" if i else "", "", "s", None)
        for i in range(3000)
    ]
    roots = build_threads(items[::-1])
    shape = _preorder(roots)
    assert [depth for depth, _, _, _ in shape] == list(range(3000))


def test_a_cycle_is_broken_once_and_deterministically() -> None:
    items = [
        ThreadInput("1", "a@x", "<b@x>", "", "s", datetime(2020, 1, 1, tzinfo=UTC)),
        ThreadInput("2", "b@x", "<a@x>", "", "s", datetime(2020, 1, 2, tzinfo=UTC)),
        ThreadInput("3", "c@x", "<c@x>", "<c@x>", "s", datetime(2020, 1, 3, tzinfo=UTC)),
    ]
    # The earlier message takes its parent first; the reply that would close the loop is a root.
    for order in (items, items[::-1]):
        assert _preorder(build_threads(order)) == [
            (0, "2", "b@x", 1),
            (1, "1", "a@x", 0),
            (0, "3", "c@x", 0),
        ]


def test_duplicate_and_missing_ids_are_distinct_messages() -> None:
    items = [
        ThreadInput("1", "a@x", "", "", "one", datetime(2020, 1, 1, tzinfo=UTC)),
        ThreadInput("2", "a@x", "", "", "two", datetime(2020, 1, 2, tzinfo=UTC)),
        ThreadInput("3", "b@x", "<a@x>", "", "Re: one", datetime(2020, 1, 3, tzinfo=UTC)),
        ThreadInput("4", "", "", "", "four", datetime(2020, 1, 4, tzinfo=UTC)),
    ]
    assert _preorder(build_threads(items[::-1])) == [
        (0, "1", "a@x", 1),
        (1, "3", "b@x", 0),
        (0, "2", "a@x", 0),
        (0, "4", "", 0),
    ]


def test_subject_fallback_only_moves_messages_without_reference_headers() -> None:
    day = datetime(2020, 1, 1, tzinfo=UTC)
    items = [
        ThreadInput("1", "a@x", "", "", "Plans", day),
        ThreadInput("2", "b@x", "", "", "Re: [dev] plans", day + timedelta(days=1)),
        ThreadInput("3", "c@x", "<gone@x>", "", "Re: plans", day + timedelta(days=2)),
        ThreadInput("4", "d@x", "", "", "Plans", day + timedelta(days=3)),
        ThreadInput("5", "e@x", "", "", "Fwd: plans", day + timedelta(days=4)),
    ]
    assert _preorder(build_threads(items)) == [
        (0, "1", "a@x", 1),
        (1, "2", "b@x", 0),
        (0, "3", "c@x", 0),
        (0, "4", "d@x", 0),
        (0, "5", "e@x", 0),
    ]
    assert [key for _, key, _, _ in _preorder(build_threads(items, subject_fallback=False))] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert all(d == 0 for d, *_ in _preorder(build_threads(items, subject_fallback=False)))


def test_orphan_replies_without_their_original_share_a_ghost() -> None:
    day = datetime(2020, 1, 1, tzinfo=UTC)
    items = [
        ThreadInput("1", "a@x", "", "", "Re: plans", day),
        ThreadInput("2", "b@x", "", "", "AW: Plans", day + timedelta(days=1)),
    ]
    assert _preorder(build_threads(items)) == [
        (0, None, "", 2),
        (1, "1", "a@x", 0),
        (1, "2", "b@x", 0),
    ]


# --- header values ------------------------------------------------------------------------------


@settings(max_examples=1000)
@given(st.one_of(st.text(), st.text(alphabet='<>()@\\" a,')))
def test_extract_ids_never_raises_and_returns_clean_ids(value: str) -> None:
    ids = extract_ids(value)
    assert len(ids) == len(set(ids))
    for mid in ids:
        assert mid
        assert not any(ch.isspace() or ch in "<>" for ch in mid)


ID_TEXT = st.text(
    st.characters(blacklist_categories=["Z", "C"], blacklist_characters="<>()\\"), min_size=1
)


@given(st.lists(ID_TEXT, max_size=5), st.lists(SEPARATORS, min_size=6, max_size=6))
def test_bracketed_ids_come_back_in_order_once(ids: list[str], separators: list[str]) -> None:
    value = "".join(f"{separators[n]}<{mid}>" for n, mid in enumerate(ids))
    found = extract_ids(value)
    assert found[: len(dict.fromkeys(ids))] == list(dict.fromkeys(ids))


def test_extract_ids_cases() -> None:
    assert extract_ids("<a@x> <b@x>\n\t<a@x>") == ["a@x", "b@x"]
    assert extract_ids("Your message of December 31 1999 <bar@baz.com>") == ["bar@baz.com"]
    assert extract_ids("<foo@five.com> (garbage)") == ["foo@five.com"]
    assert extract_ids("<a@x> (from c@x on Wed <d@x>)") == ["a@x"]
    assert extract_ids("a@x b@x") == ["a@x", "b@x"]
    assert extract_ids("from a@x on Monday") == []
    assert extract_ids("mumble") == []
    assert extract_ids("<very.long\n id@x>") == ["very.longid@x"]
    assert extract_ids("<a@x> <trunc@x") == ["a@x", "trunc@x"]
    assert extract_ids("(unclosed <a@x>") == ["a@x"]
    assert extract_ids("<>") == []


@given(header(), header(), st.sampled_from(POOL))
def test_ancestry_never_names_the_message_itself(irt: str, refs: str, own: str) -> None:
    chain = ancestry(irt, refs, own_id=own)
    assert len(chain) == len(set(chain))
    if own:
        assert own not in chain
    assert set(chain) <= set(extract_ids(irt)) | set(extract_ids(refs))


def test_ancestry_follows_notmuch_parent_priority() -> None:
    # In-Reply-To that is exactly one id wins, even over References in the wrong order.
    assert ancestry("<child@x>", "<child@x> <root@x>") == ["root@x", "child@x"]
    # Otherwise the last References id.
    assert ancestry("<a@x> (John's message)", "<r@x> <a@x> <b@x>") == ["r@x", "a@x", "b@x"]
    # Otherwise the last id In-Reply-To names, and nothing older from its prose.
    assert ancestry('"J" <j@x>\'s message <p@x>', "") == ["p@x"]
    assert ancestry("", "") == []
    assert ancestry("<me@x>", "<me@x>", own_id="<me@x>") == []


def test_thread_key_candidates_are_nearest_first() -> None:
    item = ThreadInput("k", "m@x", "<p@x>", "<r@x> <q@x> <p@x>", "Re: s", None)
    assert thread_key_candidates(item) == ["p@x", "q@x", "r@x"]


# --- subjects -----------------------------------------------------------------------------------


@given(st.text())
def test_normalize_subject_is_idempotent(subject: str) -> None:
    once = normalize_subject(subject)
    assert normalize_subject(once) == once


@given(
    st.text(), st.sampled_from(["Re:", "RE[2]:", "AW:", "SV:", "回复\uff1a", "答复:", "Re(3) :"])
)
def test_reply_markers_are_replies_and_are_stripped(subject: str, marker: str) -> None:
    assert is_reply_subject(f"[list] {marker} {subject}")
    assert normalize_subject(f"{marker} [dev] Fwd: {subject}") == normalize_subject(subject)


def test_subject_cases() -> None:
    assert normalize_subject("Re: [dev] RE[2]: Fw: WG: 转发: 回复:  Hello\tWorld ") == "hello world"
    assert normalize_subject("[dev]Re:Re: x") == "x"
    assert normalize_subject("Reminder: FUDCon") == "reminder: fudcon"
    assert normalize_subject("Résumé") == "résumé"
    assert is_reply_subject("[dev] Re: x")
    assert not is_reply_subject("Fwd: Re: x")
    assert not is_reply_subject("Reminder: x")
    assert not is_reply_subject("x")
