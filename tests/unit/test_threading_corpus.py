"""Threading real mailing-list corpora, compared with notmuch's and MHonArc's own thread trees."""

from __future__ import annotations

import email
import gzip
import json
import mailbox
import os
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from oak_maillist.mail.threading import (
    ThreadInput,
    ThreadNode,
    ancestry,
    build_threads,
)

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "threading"
NOTMUCH = CORPUS / "notmuch-0.37"
FEDORA = CORPUS / "fedora-devel-list-2010-01"

# What a tree says about each message: its thread (as a set of keys) and its parent's id.
Threads = set[frozenset[str]]
Parents = dict[str, str | None]


def _header(msg: EmailMessage, name: str) -> str:
    value = msg.get(name)
    return "" if value is None else str(value)


def _as_input(key: str, msg: EmailMessage) -> ThreadInput:
    try:
        date = parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError):
        date = None
    return ThreadInput(
        key=key,
        message_id=_header(msg, "Message-ID").strip().strip("<>"),
        in_reply_to=_header(msg, "In-Reply-To"),
        references=_header(msg, "References"),
        subject=_header(msg, "Subject"),
        date=date,
    )


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _notmuch_inputs(corpus: str) -> list[ThreadInput]:
    files = sorted(p for p in (NOTMUCH / corpus).rglob("*") if p.is_file())
    return [_as_input(str(p.relative_to(NOTMUCH)), _parse(p.read_bytes())) for p in files]


def _fedora_inputs(directory: Path) -> list[ThreadInput]:
    path = directory / "2010-January.txt"
    with gzip.open(FEDORA / "2010-January.txt.gz", "rb") as f:
        path.write_bytes(f.read())
    box = mailbox.mbox(path, create=False)
    try:
        return [_as_input(f"{i:03d}", _parse(box.get_bytes(k))) for i, k in enumerate(box.keys())]
    finally:
        box.close()


def _walk(nodes: list[ThreadNode]) -> Iterator[tuple[ThreadNode, ThreadNode | None]]:
    """Every node with its nearest ancestor that is a message (ghosts are skipped)."""
    stack: list[tuple[ThreadNode, ThreadNode | None]] = [(n, None) for n in reversed(nodes)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        holder = parent if node.key is None else node
        stack.extend((child, holder) for child in reversed(node.children))


def _observed(roots: list[ThreadNode]) -> tuple[Threads, Parents]:
    threads: Threads = set()
    parents: Parents = {}
    for root in roots:
        members = []
        for node, parent in _walk([root]):
            if node.key is not None:
                members.append(node.key)
                parents[node.key] = None if parent is None else parent.message_id
        threads.add(frozenset(members))
    return threads, parents


def _expected(threads: list[dict[str, Any]], key: str) -> tuple[Threads, Parents]:
    """The same view of notmuch's JSON (files or mbox index as keys)."""
    expected_threads: Threads = set()
    parents: Parents = {}
    for thread in threads:
        members: list[str] = []
        stack: list[tuple[dict[str, Any], str | None]] = [(r, None) for r in thread["roots"]]
        while stack:
            node, parent = stack.pop()
            keys = node["files"] if key == "files" else [f"{node[key]:03d}"]
            members.extend(keys)
            parents.update(dict.fromkeys(keys, parent))
            own = node["message_id"].strip("<>")
            stack.extend((reply, own) for reply in node["replies"])
        expected_threads.add(frozenset(members))
    return expected_threads, parents


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _first_copy_only(inputs: list[ThreadInput]) -> list[ThreadInput]:
    seen: set[str] = set()
    unique = []
    for item in inputs:
        if item.message_id not in seen:
            seen.add(item.message_id)
            unique.append(item)
    return unique


def _drop_files(view: tuple[Threads, Parents], files: set[str]) -> tuple[Threads, Parents]:
    threads = {t - files for t in view[0]} - {frozenset()}
    return threads, {k: v for k, v in view[1].items() if k not in files}


# --- notmuch's test corpora ---------------------------------------------------------------------


def test_default_corpus_matches_notmuch() -> None:
    inputs = _first_copy_only(_notmuch_inputs("default"))
    expected = _expected(_load(NOTMUCH / "default.expected-threads.json")["threads"], "files")
    # notmuch lists both files of the duplicated message; we threaded the first one only.
    copy = {item.key for item in _notmuch_inputs("default")} - {item.key for item in inputs}
    assert copy == {"default/cur/51:2,"}
    observed = _observed(build_threads(inputs, subject_fallback=False))
    assert observed == _drop_files(expected, copy)
    assert len(observed[0]) == 24
    assert observed == _observed(build_threads(inputs))  # no orphan "Re:" to group


def test_a_second_copy_of_a_message_is_threaded_as_a_message_of_its_own() -> None:
    inputs = _notmuch_inputs("default")
    copies = [i.key for i in inputs if i.message_id == "20091117232137.GA7669@griffis1.net"]
    assert copies == ["default/bar/18:2,", "default/cur/51:2,"]
    threads, parents = _observed(build_threads(inputs, subject_fallback=False))
    # Same date, so the key decides: bar/18 keeps the id, cur/51 is a thread of its own.
    assert frozenset({"default/cur/51:2,"}) in threads
    assert parents["default/cur/51:2,"] is None
    expected = _expected(_load(NOTMUCH / "default.expected-threads.json")["threads"], "files")
    copy = {"default/cur/51:2,"}
    assert _drop_files((threads, parents), copy) == _drop_files(expected, copy)


def test_default_mbox_threads_like_the_maildir() -> None:
    box = mailbox.mbox(NOTMUCH / "default.mbox", create=False)
    try:
        raw = [box.get_bytes(k) for k in box.iterkeys()]
    finally:
        box.close()
    assert len(raw) == 53
    inputs = _first_copy_only([_as_input(str(i), _parse(m)) for i, m in enumerate(raw)])
    by_key = {item.key: item.message_id for item in inputs}
    threads, parents = _observed(build_threads(inputs, subject_fallback=False))
    maildir = _observed(build_threads(_first_copy_only(_notmuch_inputs("default"))))
    maildir_ids = {i.key: i.message_id for i in _notmuch_inputs("default")}
    assert {frozenset(by_key[k] for k in t) for t in threads} == {
        frozenset(maildir_ids[k] for k in t) for t in maildir[0]
    }
    assert {by_key[k]: p for k, p in parents.items()} == {
        maildir_ids[k]: p for k, p in maildir[1].items()
    }


def test_threading_corpus_matches_notmuch() -> None:
    inputs = _notmuch_inputs("threading")
    expected = _expected(_load(NOTMUCH / "threading.expected-threads.json")["threads"], "files")
    assert _observed(build_threads(inputs, subject_fallback=False)) == expected
    assert _observed(build_threads(inputs)) == expected


def test_ghost_root_shares_one_thread_between_its_replies() -> None:
    """The RT ticket id is never received: the original and the "Resolved" notice both hang
    from it, so the ghost stays as the root and keeps them in one thread."""
    roots = build_threads(_notmuch_inputs("threading"))
    ghost = next(r for r in roots if r.key is None)
    assert ghost.message_id.startswith("RT-Ticket-33575@")
    assert [c.message_id for c in ghost.children] == [
        "87bmc6lp3h.fsf@len.workgroup",
        "rt-4.2.8-6644-1530017064-1465.33575-215-0@"
        "xxxxxxx-xxxxxxxxxxxxxxxxx-xxxxxxxxx-xxxxxxxxx.de",
    ]
    assert [len(r.children) for r in roots if r.key is not None] == [1, 1]


def test_fake_root_hangs_below_the_deepest_message_its_references_name() -> None:
    roots = build_threads(_notmuch_inputs("threading"))
    real = next(r for r in roots if r.message_id == "000-real-root@example.org")
    child = real.children[0]
    assert child.message_id == "001-child@example.org"
    # Sorted by date: Mallory's message claims an earlier date than the real replies.
    assert [c.message_id for c in child.children] == [
        "001-fake-message-root@example.org",
        "001-grand-child@example.org",
        "001-grand-child2@example.org",
    ]


# --- the header cases of notmuch's T510 ---------------------------------------------------------

T510 = _load(NOTMUCH / "T510-header-cases.json")["cases"]


@pytest.mark.parametrize("case", T510, ids=[c["name"] for c in T510])
def test_t510_header_case(case: dict[str, Any]) -> None:
    inputs = [
        ThreadInput(
            key=m["message_id"],
            message_id=m["message_id"],
            in_reply_to=m.get("in_reply_to", ""),
            references=m.get("references", ""),
            subject=m["subject"],
            date=None,
        )
        for m in case["messages"]
    ]
    _, parents = _observed(build_threads(inputs))
    for child, parent in case["expected_parent"].items():
        assert parents[child] == parent
        item = next(i for i in inputs if i.key == child)
        assert ancestry(item.in_reply_to, item.references, own_id=child)[-1] == parent
    roots = [m["message_id"] for m in case["messages"] if parents[m["message_id"]] is None]
    assert roots == case.get("expected_roots", roots)
    assert len(roots) == len(case["messages"]) - len(case["expected_parent"])


# --- fedora-devel-list, January 2010 ------------------------------------------------------------


@pytest.fixture(scope="module")
def fedora(tmp_path_factory: pytest.TempPathFactory) -> list[ThreadInput]:
    inputs = _fedora_inputs(tmp_path_factory.mktemp("fedora"))
    assert len(inputs) == 292
    return inputs


def test_fedora_matches_notmuch_without_subject_fallback(fedora: list[ThreadInput]) -> None:
    expected = _expected(_load(FEDORA / "expected-threads.notmuch.json")["threads"], "index")
    observed = _observed(build_threads(fedora, subject_fallback=False))
    assert len(observed[0]) == 62
    assert observed == expected


def _mhonarc() -> tuple[Threads, dict[str, tuple[str | None, int]]]:
    """MHonArc's threads, and each message's parent id and depth."""
    threads: Threads = set()
    parents: dict[str, tuple[str | None, int]] = {}
    for root in _load(FEDORA / "expected-threads.mhonarc.json")["threads"]:
        members: list[str] = []
        stack: list[tuple[dict[str, Any], str | None]] = [(root, None)]
        while stack:
            node, parent = stack.pop()
            members.append(f"{node['index']:03d}")
            parents[members[-1]] = (parent, node["depth"])
            stack.extend((reply, node["message_id"].strip("<>")) for reply in node["replies"])
        threads.add(frozenset(members))
    return threads, parents


def test_fedora_with_subject_fallback_against_mhonarc(fedora: list[ThreadInput]) -> None:
    """MHonArc groups by subject freely; we only move messages without any reference header.

    "Common Lisp apps in Fedora" is 12 messages for MHonArc and 9 + 2 + 1 for notmuch. Message
    153 has neither In-Reply-To nor References and a "Re:" subject: it joins the 9-message
    thread under its first message, and brings along 248, which replies to it. 285 replies, with
    headers, to a message from another month: its headers are trusted, so it stays a thread of
    its own, as in notmuch. Every other MHonArc thread is the same set of messages.

    Parents agree wherever MHonArc shows them (it flattens depth 3 and below), except for
    messages whose parent is from December: MHonArc hangs 006, 011 and 012 under the first
    message of "ABRT considered painful" and 285 under the first "Common Lisp" message; we keep
    the first three as top-level replies of the thread (below the ghost of the December message
    they all name) and 285 alone.
    """
    observed, parents = _observed(build_threads(fedora))
    mhonarc, mhonarc_parents = _mhonarc()
    lisp = next(t for t in mhonarc if "153" in t)
    assert len(lisp) == 12
    assert observed - mhonarc == {lisp - {"285"}, frozenset({"285"})}
    assert mhonarc - observed == {lisp}
    assert len(observed) == 61
    notmuch = _expected(_load(FEDORA / "expected-threads.notmuch.json")["threads"], "index")
    # 055 "Common Lisp apps in Fedora" starts the thread; the rest of the tree is notmuch's.
    assert fedora[55].subject == "Common Lisp apps in Fedora"
    assert parents["153"] == fedora[55].message_id
    assert parents | {"153": None} == notmuch[1]
    differ = {k for k, (up, depth) in mhonarc_parents.items() if depth < 3 and parents[k] != up}
    assert differ == {"006", "011", "012", "285"}
    assert {parents[k] for k in differ} == {None}
    abrt = next(
        r for r in build_threads(fedora) if r.message_id == "20091229195657.4000ce26@gmail.com"
    )
    assert abrt.key is None
    assert {"006", "011", "012"} <= {c.key for c in abrt.children}


def test_fedora_threads_the_same_in_any_input_order(fedora: list[ThreadInput]) -> None:
    forward = _observed(build_threads(fedora))
    assert _observed(build_threads(fedora[::-1])) == forward
    assert _observed(build_threads(fedora[1::2] + fedora[::2])) == forward
