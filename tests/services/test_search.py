"""Archive search on the backend the run uses: matching, ranking, snippets, index upkeep."""

from __future__ import annotations

import importlib
import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.mail.parse import parse_message
from oak_maillist.models import MailingList, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services import archive
from oak_maillist.services import search as search_service
from oak_maillist.services.search import SearchHit, SearchQueryInvalid, parse_query, search
from oak_maillist.services.search.query import CJK_RUNS, runs_bigrams
from oak_maillist.services.search.sqlite import CJK_BYTES, cjk_column
from oak_maillist.services.search.terms import document_terms
from tests.databases import create_database, drop_database, unique_name
from tests.factories import make_list, message_row

BEFORE_SEARCH = "b7e1c2a9d0f3"
BEFORE_WORD_INDEX = "a8c0e2f4b6d8"
WORD_INDEX = importlib.import_module(
    "oak_maillist.db.migrations.versions.20261124_b9d1f3a5c7e9_mysql_search_terms"
)


def run_bigrams(run: str) -> list[str]:
    """The reference: each character of a CJK run with the next one, the last alone."""
    return [run[index : index + 2] for index in range(len(run))]


_ids = itertools.count(1)
START = datetime(2026, 1, 1, tzinfo=UTC)
FILLER = (
    ("Lunch on Friday", "Shall we meet at noon near the station? Bring an umbrella."),
    ("Garden club", "Tomatoes and beans grew well this summer, the roses less so."),
    ("周末活动", "这个周末我们去公园散步。顺便拍照。"),
)


async def post(
    db: AsyncSession,
    mlist: MailingList,
    subject: str,
    body: str,
    *,
    sender: str = "ann@example.org",
    name: str = "Ann Lee",
) -> Message:
    number = next(_ids)
    message = message_row(
        mlist.id,
        f"<search-{number}@example.org>",
        subject=subject,
        text_body=body,
        sender_email=sender,
        sender_name=name,
        received_at=START + timedelta(minutes=number),
    )
    db.add(message)
    await db.flush()
    await search_service.index(db, message)  # as posting does once the archive stored it
    return message


@pytest.fixture
async def mlist(db: AsyncSession) -> MailingList:
    """A list with unrelated posts, so no searched word is in every message (MariaDB's IDF)."""
    created = await make_list(db)
    for subject, body in FILLER:
        await post(db, created, subject, body)
    return created


async def find(db: AsyncSession, mlist: MailingList, query: str, **paging: int) -> list[int]:
    await db.commit()  # InnoDB FULLTEXT sees committed rows only
    hits, _ = await search(db, list_id=mlist.id, query=query, **paging)
    return [hit.id for hit in hits]


async def first(db: AsyncSession, mlist: MailingList, query: str) -> SearchHit:
    await db.commit()
    hits, total = await search(db, list_id=mlist.id, query=query)
    assert total == len(hits) == 1, (query, hits)
    return hits[0]


async def test_a_subject_hit_ranks_above_a_body_hit(db: AsyncSession, mlist: MailingList) -> None:
    body_hit = await post(db, mlist, "Weekly notes", "Someone saw a kernel oops on the build host.")
    subject_hit = await post(db, mlist, "Kernel oops on boot", "Logs attached, nothing else.")
    assert await find(db, mlist, "kernel") == [subject_hit.id, body_hit.id]
    assert await find(db, mlist, "KERNEL oops") == [subject_hit.id, body_hit.id]


async def test_more_occurrences_rank_above_fewer(db: AsyncSession, mlist: MailingList) -> None:
    filler = "words about nothing in particular " * 3
    once = await post(db, mlist, "Plans", f"The migration starts soon. {filler} {filler}")
    often = await post(
        db, mlist, "Status", f"The migration, then the migration again. {filler} migration."
    )
    assert await find(db, mlist, "migration") == [often.id, once.id]


async def test_english_words_match_by_stem(db: AsyncSession, mlist: MailingList) -> None:
    deliveries = await post(db, mlist, "Late", "The deliveries were delayed by the storm.")
    packaging = await post(db, mlist, "Guidelines", "Packaging guidelines for one package.")
    assert await find(db, mlist, "delivery") == [deliveries.id]
    assert await find(db, mlist, "packages") == [packaging.id]
    assert await find(db, mlist, "deliv*") == [deliveries.id]
    assert await find(db, mlist, "deliveries*") == [deliveries.id]
    assert await find(db, mlist, "deliv") == []  # without a star a word matches its stem
    assert await find(db, mlist, "storms") == [deliveries.id]
    accented = await post(db, mlist, "Café", "Meet at the café.")
    assert await find(db, mlist, "café") == [accented.id]


async def test_an_archived_post_is_found_by_its_cjk_text(
    db: AsyncSession, mlist: MailingList, settings: Settings
) -> None:
    """Stored and indexed as posting does, in one transaction: found once it commits."""
    raw = (
        "From: Ann Lee <ann@example.org>\r\nTo: list@example.org\r\nSubject: 数据库迁移\r\n"
        "Message-ID: <cjk-post@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "The migration ran. 我们用中文写邮件\uff0c日本語のテキスト、한국어도 있습니다.\r\n"
    ).encode()
    message = await archive.store(
        db,
        settings.archive,
        mlist=mlist,
        raw=raw,
        parsed=parse_message(raw),
        message_id="<cjk-post@example.org>",
        inbound_id=None,
    )
    await search_service.index(db, message, fresh=True)
    for query in ("用中文写邮件", "中文", "写", "テキスト", "한국어", "数据库 migration"):
        assert await find(db, mlist, query) == [message.id], query
    assert await find(db, mlist, "中文写邮件 -日本語") == []


async def test_index_makes_what_the_triggers_make(
    db: AsyncSession, mlist: MailingList, backend: str
) -> None:
    """index() builds the CJK part of the index in Python; an update still rebuilds it in
    SQL (revision c1e3a5b7d9f2). Both make the same rows for mixed text."""
    rng = random.Random(3)
    alphabet = (
        "中文邮件列表我们用写。\uff0c、・ーテキストひらがな한국어 \n\u3000@./e-mail Kernel 42é😀𠀀"
    )
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(90)]
    messages = [
        await post(db, mlist, subject, body, name=name)
        for subject, name, body in zip(texts[::3], texts[1::3], texts[2::3], strict=True)
    ]
    messages.append(await post(db, mlist, "Plain", "Nothing in CJK."))
    ids = [message.id for message in messages]
    indexed = await index_rows(db, backend, ids)
    await db.execute(
        update(Message).where(Message.id.in_(ids)).values(subject=Message.subject + "")
    )
    assert await index_rows(db, backend, ids) == indexed
    assert all(indexed[:-1])
    assert (indexed[-1] is None) == (backend == "sqlite")  # no CJK text: no CJK row


async def test_long_columns_are_cut_where_the_triggers_cut_them(
    db: AsyncSession, mlist: MailingList, backend: str
) -> None:
    """Past CJK_BYTES bytes of UTF-8, index() leaves out what the SQL of revision
    c1e3a5b7d9f2 leaves out: cuts at a character's edge, inside one, and inside a run."""
    bodies = [
        "x" * lead + "中文" * (CJK_BYTES // 6) + tail
        for lead in (0, 1, 2)
        for tail in ("邮件列表", " end", "")
    ]
    messages = [await post(db, mlist, "长", body) for body in bodies]
    ids = [message.id for message in messages]
    indexed = await index_rows(db, backend, ids)
    await db.execute(
        update(Message).where(Message.id.in_(ids)).values(subject=Message.subject + "")
    )
    assert await index_rows(db, backend, ids) == indexed
    assert all(indexed)


@given(
    st.text(
        st.sampled_from("中文邮件表ーテ한국\u3040\u303f\u30ff\u3100 \n.\x00aé😀𠀀"), max_size=80
    )
)
def test_the_cjk_column_holds_each_runs_pairs_and_its_last_character(content: str) -> None:
    """cjk_column's one-pass reading gives what splitting out the runs gives."""
    runs = CJK_RUNS.split(content)[1::2]
    expected = " ".join(token for run in runs for token in run_bigrams(run)) or None
    assert cjk_column(content) == expected


@given(st.lists(st.text(st.sampled_from("中文邮ーテ한\u3040\u30ff\u4dbf\uf900\ufaff"), min_size=1)))
def test_each_runs_bigrams_are_its_pairs_and_its_last_character(runs: list[str]) -> None:
    """runs_bigrams, which makes all runs' texts at once, gives what each run alone gives."""
    assert runs_bigrams(runs) == [" ".join(run_bigrams(run)) + " " for run in runs]


async def index_rows(db: AsyncSession, backend: str, ids: list[int]) -> list[object]:
    statement = {
        "sqlite": "SELECT rowid, subject, sender, body, list FROM messages_search_cjk",
        "postgresql": "SELECT message_id, list_id, document::text, pairs::text"
        " FROM messages_search",
        "mysql": "SELECT message_id, list_id, term, weight FROM messages_search_terms"
        " ORDER BY message_id, term",
    }[backend]
    rows: dict[int, list[object]] = {}
    for row in await db.execute(text(statement)):
        rows.setdefault(row[0], []).append(tuple(row[1:]))
    return [rows.get(message_id) for message_id in ids]


@given(
    st.lists(
        st.text(st.sampled_from("中文邮件表ーテ한국 \t.@-_aZé9\uff4b①ﬁ㍿\u0301"), max_size=70)
    ),
    st.text(max_size=20),
)
def test_terms_are_those_of_the_word_index_revision(pieces: list[str], subject: str) -> None:
    """The faster term counting makes the rows revision b9d1f3a5c7e9's backfill made (the
    pieces repeat words and CJK runs, and make long words and pairs)."""
    body = " ".join(pieces + pieces[::2])

    sender = "Ann Lee ann@example.org"
    expected = WORD_INDEX.term_rows(1, 2, subject, sender, body)
    terms = document_terms(subject, sender, body)
    assert sorted(terms.items()) == sorted((row["term"], row["weight"]) for row in expected)
    assert all((row["message_id"], row["list_id"]) == (1, 2) for row in expected)


async def test_chinese_text_matches_as_a_substring(db: AsyncSession, mlist: MailingList) -> None:
    mail = await post(db, mlist, "关于编码", "我们用中文写邮件。也用英语。")
    subject = await post(db, mlist, "中文邮件列表", "Plain English body.")
    apart = await post(db, mlist, "分开", "邮件很多。文件列表在这里。用中间的中文")  # the pieces
    assert await find(db, mlist, "用中文写") == [mail.id]
    assert await find(db, mlist, "用中文") == [mail.id]
    assert await find(db, mlist, "写") == [mail.id]
    assert await find(db, mlist, "语") == [mail.id]  # a run's last character
    assert await find(db, mlist, "邮件列表") == [subject.id]
    assert await find(db, mlist, "英文") == []
    assert len(await find(db, mlist, "中文")) == 3
    assert await find(db, mlist, "文中") == []
    assert await find(db, mlist, "中文 english") == [subject.id]
    assert sorted(await find(db, mlist, "中文 -english")) == sorted([mail.id, apart.id])
    japanese = await post(db, mlist, "連絡", "日本語のテキストです。")
    assert await find(db, mlist, "テキスト") == [japanese.id]


async def test_phrases_match_words_in_order(db: AsyncSession, mlist: MailingList) -> None:
    wrapped = await post(db, mlist, "Again", "Sorry, the build\nfailed again last night.")
    other = await post(db, mlist, "Reverse", "It failed to build on arm.")
    assert await find(db, mlist, '"build failed"') == [wrapped.id]
    assert sorted(await find(db, mlist, "build failed")) == sorted([wrapped.id, other.id])
    assert await find(db, mlist, '"failed to build"') == [other.id]
    assert await find(db, mlist, 'e-mail "build failed') == []  # unclosed quote: to the end


async def test_excluded_words_and_phrases(db: AsyncSession, mlist: MailingList) -> None:
    panic = await post(db, mlist, "Kernel panic", "The kernel stopped.")
    update_post = await post(db, mlist, "Kernel update", "A new kernel is out.")
    chinese = await post(db, mlist, "内核", "kernel 内核更新")
    assert await find(db, mlist, "kernel -panic -内核") == [update_post.id]
    assert set(await find(db, mlist, 'kernel -"new kernel"')) == {chinese.id, panic.id}
    assert set(await find(db, mlist, "kernel -更新")) == {update_post.id, panic.id}
    assert set(await find(db, mlist, "kernel -nowhere -没有")) == {
        update_post.id,
        panic.id,
        chinese.id,
    }
    assert set(await find(db, mlist, '内核 -"kernel 内核"')) == set()
    assert set(await find(db, mlist, 'kernel -"panic stopped"')) == {
        update_post.id,
        panic.id,
        chinese.id,
    }


async def test_another_lists_messages_never_match(db: AsyncSession, mlist: MailingList) -> None:
    other = await make_list(db)
    for target in (other, other, mlist):
        await post(db, target, "Kernel 中文", "kernel 中文 邮件")
    await db.commit()
    for query in ("kernel", "中文", "文", "kernel -邮件", '"kernel"'):
        hits, total = await search(db, list_id=mlist.id, query=query)
        assert {hit.id for hit in hits} <= set(await _ids_of(db, mlist))
    hits, total = await search(db, list_id=mlist.id, query="kernel")
    assert total == 1
    hits, total = await search(db, list_id=other.id, query="中文")
    assert total == 2


async def _ids_of(db: AsyncSession, mlist: MailingList) -> list[int]:
    rows = await db.execute(select(Message.id).where(Message.list_id == mlist.id))
    return list(rows.scalars())


async def test_pages_and_total(
    db: AsyncSession, mlist: MailingList, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [await post(db, mlist, f"Report {n}", "release " * (1 + n % 4)) for n in range(23)]
    await db.commit()
    everything = {message.id for message in posts}
    for window in (1000, 7):  # 7: the newest seven are ranked, older ones follow by date
        monkeypatch.setattr(search_service, "RANK_WINDOW", window)
        seen: list[int] = []
        for page in (1, 2, 3):
            hits, total = await search(
                db, list_id=mlist.id, query="release", page=page, per_page=10
            )
            assert total == 23
            seen += [hit.id for hit in hits]
        assert len(seen) == 23
        assert set(seen) == everything
        empty, total = await search(db, list_id=mlist.id, query="release", page=4, per_page=10)
        assert (empty, total) == ([], 23)
        far = await search(db, list_id=mlist.id, query="release", page=10**6, per_page=100)
        assert far == ([], 23)  # the API's last page: far past the end, still the total
    newest = sorted(everything)[-7:]
    assert sorted(seen[:7]) == newest
    assert seen[7:] == sorted(everything - set(newest), reverse=True)
    ranks = [hit.rank for hit in (await search(db, list_id=mlist.id, query="release"))[0]]
    assert ranks[:7] == sorted(ranks[:7], reverse=True)


async def test_snippets_mark_matches_and_escape_html(db: AsyncSession, mlist: MailingList) -> None:
    lead = "Nothing to see in this long opening paragraph. " * 12
    body = f"{lead}<script>alert('x')</script> the Kernel & friends\n\nbroke kernels.{lead}"
    message = await post(db, mlist, "Re: <b>kernel</b> & co", body, name="Ann <Lee>")
    hit = await first(db, mlist, "kernel")
    assert hit.id == message.id
    assert hit.subject == "Re: <b>kernel</b> & co"
    assert hit.subject_highlighted == "Re: &lt;b&gt;<mark>kernel</mark>&lt;/b&gt; &amp; co"
    assert hit.snippet.startswith("…")
    assert hit.snippet.endswith("…")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in hit.snippet
    assert "<mark>Kernel</mark> &amp; friends broke <mark>kernels</mark>." in hit.snippet
    assert "<script>" not in hit.snippet
    visible = hit.snippet.replace("<mark>", "").replace("</mark>", "")
    assert 150 <= len(visible) <= 260
    body = "前面的内容。" * 40 + "我们用中文写邮件" + "。后面" * 40
    chinese = await post(db, mlist, "无关", body)
    hit = await first(db, mlist, "中文")
    assert hit.id == chinese.id
    assert "用<mark>中文</mark>写" in hit.snippet
    assert hit.subject_highlighted == "无关"


async def test_updates_and_deletes_are_reflected(db: AsyncSession, mlist: MailingList) -> None:
    message = await post(db, mlist, "Old subject", "An old body about penguins 企鹅.")
    assert await find(db, mlist, "penguins") == [message.id]
    message.subject, message.text_body = "New subject", "Now about giraffes 长颈鹿."
    await db.flush()
    await search_service.index(db, message)
    assert await find(db, mlist, "penguins") == []
    assert await find(db, mlist, "企鹅") == []
    assert await find(db, mlist, "giraffes 长颈鹿") == [message.id]
    other = await make_list(db)
    await db.execute(update(Message).where(Message.id == message.id).values(list_id=other.id))
    await search_service.index(db, message)
    assert await find(db, mlist, "giraffes") == []
    assert await find(db, other, "长颈鹿") == [message.id]
    await db.execute(delete(Message).where(Message.id == message.id))
    assert await find(db, other, "giraffes") == []
    kept = await post(db, other, "Giraffes again", "长颈鹿")
    assert await find(db, other, "长颈鹿") == [kept.id]
    await db.execute(delete(MailingList).where(MailingList.id == other.id))  # cascades
    assert await find(db, other, "长颈鹿") == []
    assert await find(db, mlist, "giraffes 长颈鹿") == []


async def test_large_bodies_are_indexed(db: AsyncSession, mlist: MailingList) -> None:
    rng = random.Random(5)
    words = " ".join(
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 12)))
        for _ in range(300_000)
    )
    message = await post(db, mlist, "Big log", f"zebrafish 斑马鱼 {words}")
    hit = await first(db, mlist, "zebrafish 斑马鱼")
    assert hit.id == message.id
    assert hit.snippet.startswith("<mark>zebrafish</mark> <mark>斑马鱼</mark>")


async def test_sender_names_and_addresses_match(db: AsyncSession, mlist: MailingList) -> None:
    message = await post(
        db, mlist, "Hello", "Hi all.", sender="zhang.wei@example.net", name="张伟 Wei"
    )
    assert await find(db, mlist, "zhang") == [message.id]
    assert await find(db, mlist, "张伟") == [message.id]


EMPTY_QUERIES = ("", "   ", "-kernel", '-"a phrase"', '""', "***", "\x00", "- -- +", "!@#$%^&()")
HOSTILE_QUERIES = (
    'kernel"',
    '"kernel',
    "kernel AND OR NOT NEAR(a b) ^x {subject}: col:kernel",
    "kernel\x00panic",
    "'; DROP TABLE messages; --",
    "kernel & !panic | (boot) <-> x:* \\",
    "+kernel -panic ~x >y <z @2 (a)",
    "100% kernel_panic _ %",
    "\ud800 lone surrogate kernel",
    "kernel " * 200,
    "x" * 1000,
    "中文" * 500,
    "中文\u3000全角\u3000\uff4b\uff45\uff52\uff4e\uff45\uff4c",  # fullwidth "kernel"
    "mixed中文kernel邮件",
    "e-mail o'neil c++ c# .net",
    "🙂 kernel 🙂",
    "\u202eevil\u202c kernel",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
)


async def test_odd_queries_never_raise(db: AsyncSession, mlist: MailingList) -> None:
    target = await post(db, mlist, "Kernel panic", "kernel panic 中文 全角 kernel_panic")
    await db.commit()
    for query in EMPTY_QUERIES:
        with pytest.raises(SearchQueryInvalid) as raised:
            await search(db, list_id=mlist.id, query=query)
        assert (raised.value.status, raised.value.code) == (422, "invalid_search_query")
    for query in HOSTILE_QUERIES:
        hits, total = await search(db, list_id=mlist.id, query=query)
        assert total >= len(hits)
    hits, _ = await search(db, list_id=mlist.id, query="mixed中文kernel邮件")
    assert hits == []
    hits, _ = await search(db, list_id=mlist.id, query="kernel\x00panic")
    assert [hit.id for hit in hits] == [target.id]
    alphabet = "\"-+*():^{}[]<>!&|~@%_\\'.,;= \x00\t\n中文aZ9"
    rng = random.Random(11)
    for _ in range(150):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        try:
            hits, total = await search(db, list_id=mlist.id, query=query)
        except SearchQueryInvalid:
            continue
        assert total >= len(hits)
    assert await find(db, mlist, "panic") == [target.id]


async def test_page_arguments_are_bounded(db: AsyncSession, mlist: MailingList) -> None:
    for _ in range(3):
        await post(db, mlist, "Kernel", "kernel")
    await db.commit()
    hits, total = await search(db, list_id=mlist.id, query="kernel", page=0, per_page=0)
    assert (len(hits), total) == (1, 3)
    hits, total = await search(db, list_id=mlist.id, query="kernel", page=-5, per_page=10**6)
    assert (len(hits), total) == (3, 3)
    hits, total = await search(db, list_id=mlist.id, query="kernel", page=10**6)
    assert (hits, total) == ([], 3)


@given(st.text(max_size=200))
def test_parsing_never_raises_anything_else(query: str) -> None:
    try:
        parsed = parse_query(query)
    except SearchQueryInvalid:
        return
    assert parsed.include
    for clause in parsed.clauses:
        for term in clause.terms:
            assert term.text
            assert all(char.isalnum() or char == " " for char in term.text)


def _search_objects(sync: Connection) -> set[str]:
    inspector = inspect(sync)
    tables = inspector.get_table_names()
    found = {name for name in tables if migrate.is_search_object("table", name)}
    found |= {
        str(index["name"])
        for index in inspector.get_indexes("messages")
        if migrate.is_search_object("index", index["name"])
    }
    found |= {
        column["name"]
        for column in inspector.get_columns("messages")
        if migrate.is_search_object("column", column["name"])
    }
    return found


async def test_the_revision_indexes_older_messages_and_goes_away_cleanly(
    backend: str, settings: Settings, tmp_path: Path
) -> None:
    name = unique_name("oak_search")
    url = create_database(backend, name, tmp_path)
    database = DatabaseSettings(url=SecretStr(url), min_connections=1)
    runtime = Runtime.from_settings(settings.model_copy(update={"database": database}))
    try:
        await migrate.upgrade(runtime.engine)
        async with runtime.sessionmaker() as session, session.begin():
            mlist = await make_list(session)
            older = [await post(session, mlist, subject, body) for subject, body in FILLER]
        await migrate.downgrade(runtime.engine, BEFORE_SEARCH)
        async with runtime.engine.connect() as connection:
            assert await connection.run_sync(_search_objects) == set()
        await migrate.upgrade(runtime.engine)
        async with runtime.engine.connect() as connection:
            assert await connection.run_sync(_search_objects)
        async with runtime.sessionmaker() as session:
            for query, expected in zip(("umbrella", "tomato", "公园"), older, strict=True):
                hits, total = await search(session, list_id=mlist.id, query=query)
                assert ([hit.id for hit in hits], total) == ([expected.id], 1)
            newer = await post(session, mlist, "Again", "公园 umbrella")
            await session.commit()
            hits, _ = await search(session, list_id=mlist.id, query="公园 umbrella")
            assert [hit.id for hit in hits] == [newer.id]
    finally:
        await runtime.close()
        drop_database(backend, name)


async def _term_rows(db: AsyncSession, message_id: int) -> list[tuple[str, int, int]]:
    rows = await db.execute(
        text(
            "SELECT term, list_id, weight FROM messages_search_terms"
            " WHERE message_id = :id ORDER BY term"
        ),
        {"id": message_id},
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def test_index_writes_terms_and_deleting_a_message_drops_them(
    db: AsyncSession, mlist: MailingList, backend: str
) -> None:
    message = await post(db, mlist, "Café news", "Packages ship 数据库 today.", name="Bo")
    await search_service.index(db, message)  # again: the same rows, not twice as many
    assert await find(db, mlist, "package") == [message.id]
    if backend == "mysql":
        rows = await _term_rows(db, message.id)
        assert {term for term, _, _ in rows} >= {
            "cafe",
            "packag",
            "+packag ship",
            "数",
            "数据",
            "数据库",
        }
        assert {list_id for _, list_id, _ in rows} == {mlist.id}
        assert {term: weight for term, _, weight in rows}["cafe"] == 10  # subject
    await db.execute(delete(Message).where(Message.id == message.id))
    assert await find(db, mlist, "package") == []
    if backend == "mysql":
        assert await _term_rows(db, message.id) == []


async def test_the_word_index_revision_indexes_existing_messages(
    backend: str, settings: Settings, tmp_path: Path
) -> None:
    """Messages archived before revision b9d1f3a5c7e9 are found after it, through the terms
    its backfill wrote: the rows index() writes, nothing more."""
    name = unique_name("oak_terms")
    url = create_database(backend, name, tmp_path)
    database = DatabaseSettings(url=SecretStr(url), min_connections=1)
    runtime = Runtime.from_settings(settings.model_copy(update={"database": database}))
    try:
        await migrate.upgrade(runtime.engine, BEFORE_WORD_INDEX)
        async with runtime.sessionmaker() as session, session.begin():
            mlist = await make_list(session)
            older = []
            accented = ("Café déjà vu", "Ünïcode wörds: 中文邮件列表, e-mail.")
            for number, (subject, body) in enumerate([*FILLER, *FILLER, accented]):
                older.append(
                    message_row(
                        mlist.id,
                        f"<before-terms-{number}@example.org>",
                        subject=subject,
                        text_body=body,
                        sender_email="ann@example.org",
                        sender_name="Ann Lee",
                        received_at=START + timedelta(minutes=number),
                    )
                )
            session.add_all(older)
        await migrate.upgrade(runtime.engine)
        async with runtime.sessionmaker() as session:
            for query, expected in (("umbrella", older[:6:3]), ("公园", older[2:6:3])):
                hits, total = await search(session, list_id=mlist.id, query=query)
                assert sorted(hit.id for hit in hits) == sorted(m.id for m in expected)
                assert total == 2
            hits, _ = await search(session, list_id=mlist.id, query="café 邮件列表 vu")
            assert [hit.id for hit in hits] == [older[-1].id]
            if backend == "mysql":  # the migration's copy of the terms makes index()'s rows
                for message in older:
                    backfilled = await _term_rows(session, message.id)
                    await search_service.index(session, message)
                    assert await _term_rows(session, message.id) == backfilled
    finally:
        await runtime.close()
        drop_database(backend, name)
