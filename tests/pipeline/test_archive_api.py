"""The archive over HTTP: pages, one post, threads as trees, downloads, mbox, search, access."""

from __future__ import annotations

import itertools
import mailbox
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.api.v1.archive import MAX_NESTING
from oak_maillist.db.types import utcnow
from oak_maillist.models import ListRole, MailingList, Message, Subscriber, Thread
from oak_maillist.runtime import Runtime
from tests.factories import login, make_domain, make_list, make_user, message_row
from tests.pipeline.conftest import MailService, message

TO = ["dev@lists.example.org"]
ATTACHED = (
    "From: Alice <alice@example.com>\r\nTo: dev@lists.example.org\r\n"
    "Subject: Logo and a page\r\nMessage-ID: <att@example.com>\r\n"
    "Date: Tue, 24 Nov 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    '<p onclick="steal()">See the <b>logo</b><script>alert(1)</script></p>\r\n'
    "--b1\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=logo.png\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
    "--b1\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=page.html\r\n\r\n"
    "<script>alert(2)</script>\r\n--b1--\r\n"
)


@pytest.fixture
async def dev(db: AsyncSession, runtime: Runtime) -> MailingList:
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", posting_policy="anyone", archive_public=True)
    security = runtime.settings.security
    member = await make_user(db, security, "member@example.org")
    await make_user(db, security, "stranger@example.org")
    moderator = await make_user(db, security, "mod@example.org")
    db.add(
        Subscriber(
            list_id=mlist.id, email=member.email, email_normalized=member.email, status="active"
        )
    )
    db.add(ListRole(list_id=mlist.id, user_id=moderator.id, role="moderator"))
    await db.commit()
    return mlist


async def _thread_of_three(mail_service: MailService) -> None:
    root = message(subject="Release 2.0", message_id="<r@x>", body="When do we ship the release?\n")
    child = message(
        subject="Re: Release 2.0",
        message_id="<c@x>",
        headers={"In-Reply-To": "<r@x>", "References": "<r@x>"},
        body="Next week, after the freeze.\n",
    )
    grandchild = message(
        subject="Re: Release 2.0",
        message_id="<g@x>",
        headers={"In-Reply-To": "<c@x>", "References": "<r@x> <c@x>"},
        body="我们用中文写邮件 下周发布。\n",
    )
    # the grandchild first: it waits for its parent, then joins the thread when it arrives
    for post in (grandchild, root, child):
        await mail_service.deliver(post, sender="alice@example.com", recipients=TO)


async def test_messages_threads_and_tree(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient
) -> None:
    await _thread_of_three(mail_service)
    base = f"/api/v1/lists/{dev.id}"
    page = (await client.get(f"{base}/messages")).json()
    assert page["total"] == 3
    assert page["items"][0]["subject"] == "Re: Release 2.0"  # newest first
    threads = (await client.get(f"{base}/threads")).json()
    assert threads["total"] == 1
    thread = threads["items"][0]
    assert (thread["subject"], thread["message_count"]) == ("Release 2.0", 3)
    tree = (await client.get(f"{base}/threads/{thread['id']}")).json()
    [root] = tree["roots"]
    assert root["subject"] == "Release 2.0"
    [child] = root["children"]
    [grandchild] = child["children"]
    assert (root["depth"], child["depth"], grandchild["depth"]) == (0, 1, 2)
    detail = (await client.get(f"{base}/messages/{grandchild['id']}")).json()
    assert detail["thread"]["index"] == 2
    assert detail["thread"]["previous_id"] == child["id"]
    assert detail["references"] == ["r@x", "c@x"]
    assert "中文" in detail["text"]


async def test_html_is_sanitised_and_files_download_safely(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient
) -> None:
    await mail_service.deliver(ATTACHED, sender="alice@example.com", recipients=TO)
    base = f"/api/v1/lists/{dev.id}"
    [summary] = (await client.get(f"{base}/messages")).json()["items"]
    detail = (await client.get(f"{base}/messages/{summary['id']}")).json()
    assert "<b>logo</b>" in detail["html"]
    assert "script" not in detail["html"]
    assert "onclick" not in detail["html"]
    files = {a["filename"]: a for a in detail["attachments"]}
    assert set(files) == {"logo.png", "page.html"}
    png = await client.get(
        f"{base}/messages/{summary['id']}/attachments/{files['logo.png']['id']}?inline=true"
    )
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith("inline")
    assert png.content == b"\x89PNG\r\n\x1a\n"
    html = await client.get(
        f"{base}/messages/{summary['id']}/attachments/{files['page.html']['id']}?inline=true"
    )
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment")
    assert html.headers["x-content-type-options"] == "nosniff"
    raw = await client.get(f"{base}/messages/{summary['id']}/raw")
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.content == ATTACHED.encode()
    missing = await client.get(f"{base}/messages/{summary['id']}/attachments/999999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "attachment_not_found"


async def test_mbox_export(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _thread_of_three(mail_service)
    await mail_service.deliver(
        message(subject="Other", message_id="<o@x>", body="From the start of a line\n"),
        sender="alice@example.com",
        recipients=TO,
    )
    base = f"/api/v1/lists/{dev.id}"
    response = await client.get(f"{base}/mbox")
    assert response.headers["content-type"] == "application/mbox"
    subjects, bodies = _read_mbox(tmp_path / "dev.mbox", response.content)
    assert subjects == ["Re: Release 2.0", "Release 2.0", "Re: Release 2.0", "Other"]
    assert bodies[3].startswith(">From the start")  # mboxrd quoting
    thread_id = (await client.get(f"{base}/threads")).json()["items"][-1]["id"]
    one = await client.get(f"{base}/threads/{thread_id}/mbox")
    subjects, _ = _read_mbox(tmp_path / "thread.mbox", one.content)
    assert sorted(subjects) == ["Re: Release 2.0", "Re: Release 2.0", "Release 2.0"]


async def test_raw_bytes_come_from_the_inbound_row_or_an_older_archive_file(
    mail_service: MailService,
    dev: MailingList,
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    tmp_path: Path,
) -> None:
    new = message(subject="Kept in the database", message_id="<db@x>", body="New post\n")
    await mail_service.deliver(new, sender="alice@example.com", recipients=TO)
    storage = runtime.settings.archive.storage_path
    assert not (storage / "raw").exists()  # no file per post any more
    # A post archived before that, with its raw file under storage_path and no inbound row.
    old = message(subject="Kept in a file", message_id="<file@x>", body="Old post\n").encode()
    (storage / "raw" / "ab" / "cd").mkdir(parents=True)
    (storage / "raw" / "ab" / "cd" / "abcd01").write_bytes(old)
    db.add(
        message_row(
            dev.id, "file@x", subject="Kept in a file", raw_path="raw/ab/cd/abcd01", size=len(old)
        )
    )
    # And one whose bytes are nowhere any more: left out of the mbox, 404 on download.
    db.add(message_row(dev.id, "gone@x", subject="Gone", raw_path="raw/ab/cd/missing"))
    await db.commit()

    base = f"/api/v1/lists/{dev.id}"
    items = {m["subject"]: m["id"] for m in (await client.get(f"{base}/messages")).json()["items"]}
    kept = await client.get(f"{base}/messages/{items['Kept in the database']}/raw")
    assert kept.content == new.encode()
    assert (await client.get(f"{base}/messages/{items['Kept in a file']}/raw")).content == old
    gone = await client.get(f"{base}/messages/{items['Gone']}/raw")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "message_not_found"
    mbox = (await client.get(f"{base}/mbox")).content
    subjects, bodies = _read_mbox(tmp_path / "mixed.mbox", mbox)
    assert subjects == ["Kept in the database", "Kept in a file"]
    assert [body.strip() for body in bodies] == ["New post", "Old post"]


def _read_mbox(path: Path, data: bytes) -> tuple[list[str], list[str]]:
    path.write_bytes(data)
    box = mailbox.mbox(str(path))
    try:
        return [str(m["Subject"]) for m in box], [str(m.get_payload()) for m in box]
    finally:
        box.close()


async def test_search_finds_english_and_chinese_with_highlights(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient
) -> None:
    await _thread_of_three(mail_service)
    base = f"/api/v1/lists/{dev.id}"
    english = (await client.get(f"{base}/search", params={"q": "freeze"})).json()
    assert english["total"] == 1
    assert "<mark>freeze</mark>" in english["items"][0]["snippet"]
    chinese = (await client.get(f"{base}/search", params={"q": "中文"})).json()
    assert chinese["total"] == 1
    assert "<mark>中文</mark>" in chinese["items"][0]["snippet"]
    empty = await client.get(f"{base}/search", params={"q": '"'})
    assert empty.status_code == 422


async def test_who_may_read_the_archive(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await mail_service.deliver(message(), sender="alice@example.com", recipients=TO)
    url = f"/api/v1/lists/{dev.id}/messages"
    assert (await client.get(url)).status_code == 200  # public list, public archive

    dev.archive_public = False
    await db.merge(dev)
    await db.commit()
    assert (await client.get(url)).status_code == 401
    stranger = await login(client, "stranger@example.org")
    assert (await client.get(url, headers=stranger)).status_code == 403
    member = await login(client, "member@example.org")
    assert (await client.get(url, headers=member)).status_code == 200
    moderator = await login(client, "mod@example.org")
    assert (await client.get(url, headers=moderator)).status_code == 200

    dev.visibility = "private"
    await db.merge(dev)
    await db.commit()
    hidden = await client.get(url, headers=stranger)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "list_not_found"
    assert (await client.get(url, headers=member)).status_code == 200

    dev.archive_enabled = False
    await db.merge(dev)
    await db.commit()
    closed = await client.get(url, headers=member)
    assert closed.status_code == 404
    assert closed.json()["error"]["code"] == "archive_disabled"


async def test_a_reply_chain_deeper_than_json_nests_is_served_whole(
    dev: MailingList, db: AsyncSession, client: httpx.AsyncClient
) -> None:
    """A long back-and-forth nests each reply under the last: 1,200 deep. The tree nests
    MAX_NESTING levels, then lists the rest in reading order, each naming its parent."""
    thread = Thread(list_id=dev.id, subject="Ping", message_count=1200)
    db.add(thread)
    await db.flush()
    rows = [
        Message(list_id=dev.id, thread_id=thread.id, subject="Re: Ping", message_id=f"{n}@x",
                message_id_hash=f"{n:064d}", received_at=utcnow())
        for n in range(1200)
    ]  # fmt: skip
    db.add_all(rows)
    await db.flush()
    for parent, child in itertools.pairwise(rows):
        child.parent_id = parent.id
    await db.commit()

    response = await client.get(f"/api/v1/lists/{dev.id}/threads/{thread.id}")
    assert response.status_code == 200
    [root] = response.json()["roots"]
    nested, node = [], root
    while True:
        nested.append(node)
        if len(node["children"]) != 1:
            break
        node = node["children"][0]
    # levels 0 to MAX_NESTING - 2 hold one reply each; the last level holds all the rest
    assert len(nested) == MAX_NESTING - 1
    flat = node["children"]
    assert [n["children"] for n in flat] == [[]] * len(flat)
    everyone = nested + flat
    assert [n["id"] for n in everyone] == [row.id for row in rows]
    assert [n["depth"] for n in everyone] == list(range(1200))
    assert [n["parent_id"] for n in everyone] == [None] + [row.id for row in rows[:-1]]
