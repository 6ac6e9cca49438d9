"""Posts over real SMTP through the posting chain: every outcome, with its reason and notices."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import (
    HeldMessage,
    ListRole,
    MailingList,
    Message,
    SenderPolicy,
    Subscriber,
    Thread,
)
from oak_maillist.runtime import Runtime
from oak_maillist.services import archive
from tests.factories import make_domain, make_list, make_user
from tests.pipeline.conftest import MailService, message


@pytest.fixture
async def dev(db: AsyncSession, runtime: Runtime) -> MailingList:
    """dev@lists.example.org with alice subscribed and mod@example.org moderating."""
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", name="Developers")
    db.add(
        Subscriber(
            list_id=mlist.id,
            email="alice@example.com",
            email_normalized="alice@example.com",
            status="active",
        )
    )
    moderator = await make_user(db, runtime.settings.security, "mod@example.org")
    db.add(ListRole(list_id=mlist.id, user_id=moderator.id, role="moderator"))
    await db.commit()
    return mlist


async def _rows(runtime: Runtime, model: type, **where: object) -> list:  # type: ignore[type-arg]
    async with runtime.sessionmaker() as session:
        query: Any = select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
        return list((await session.scalars(query)).all())


async def test_a_members_post_is_archived_with_its_thread(
    mail_service: MailService, dev: MailingList
) -> None:
    row = await mail_service.deliver(
        message(subject="Release plan"),
        sender="alice@example.com",
        recipients=["dev@lists.example.org"],
    )
    assert row.outcome == "accept", row.reasons
    assert row.reasons == ["dev@lists.example.org: accept: accepted"]
    [post] = await _rows(mail_service.runtime, Message, list_id=dev.id)
    assert (post.subject, post.sender_email, post.sender_name) == (
        "Release plan",
        "alice@example.com",
        "Alice",
    )
    assert post.message_id == "m1@example.com"
    assert post.text_body.strip() == "Hello, list."
    [thread] = await _rows(mail_service.runtime, Thread, list_id=dev.id)
    assert (thread.id, thread.message_count, thread.subject) == (post.thread_id, 1, "Release plan")
    async with mail_service.runtime.sessionmaker() as session:
        raw = await archive.raw_message(session, mail_service.runtime.settings.archive, post)
    assert raw == row.raw  # the bytes as received, kept once: in the inbound row
    assert post.raw_path == ""

    reply = message(
        subject="Re: Release plan",
        message_id="<m2@example.com>",
        headers={"In-Reply-To": "<m1@example.com>", "References": "<m1@example.com>"},
    )
    await mail_service.deliver(
        reply, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    first, second = await _rows(mail_service.runtime, Message, list_id=dev.id)
    assert (second.parent_id, second.thread_id, second.thread_depth) == (
        first.id,
        first.thread_id,
        1,
    )
    [thread] = await _rows(mail_service.runtime, Thread, list_id=dev.id)
    assert thread.message_count == 2


async def test_a_nonmember_post_is_held_and_everyone_is_told(
    mail_service: MailService, dev: MailingList
) -> None:
    row = await mail_service.deliver(
        message(sender="Bob <bob@example.net>", subject="Can I join?"),
        sender="bob@example.net",
        recipients=["dev@lists.example.org"],
    )
    assert row.outcome == "hold"
    [held] = await _rows(mail_service.runtime, HeldMessage, list_id=dev.id)
    assert (held.reason, held.rule, held.sender_email, held.subject) == (
        "nonmember",
        "posting_policy",
        "bob@example.net",
        "Can I join?",
    )
    assert held.reasons == ["nonmember: bob@example.net is not subscribed"]
    assert await _rows(mail_service.runtime, Message, list_id=dev.id) == []
    mails = await mail_service.sink.wait_for(2)
    by_recipient = {m.recipients[0]: m.message for m in mails}
    notice = by_recipient["mod@example.org"]
    assert "Held for moderation: Can I join?" in str(notice["Subject"])
    assert f"/moderation/{held.id}?action=approve" in notice.get_content()
    poster = by_recipient["bob@example.net"]
    assert "awaiting moderation" in str(poster["Subject"])
    assert poster["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(("action", "notices"), [("reject", 1), ("discard", 0)])
async def test_nonmember_action_reject_or_discard(
    mail_service: MailService, dev: MailingList, db: AsyncSession, action: str, notices: int
) -> None:
    dev.nonmember_action = action
    await db.merge(dev)
    await db.commit()
    row = await mail_service.deliver(
        message(sender="bob@example.net"),
        sender="bob@example.net",
        recipients=["dev@lists.example.org"],
    )
    assert row.outcome == action
    assert await _rows(mail_service.runtime, HeldMessage, list_id=dev.id) == []
    if notices:
        [mail] = await mail_service.sink.wait_for(1)
        assert mail.recipients == ["bob@example.net"]
        assert "was not accepted" in str(mail.message["Subject"])
        assert "bob@example.net is not subscribed" in mail.message.get_content()
    else:
        assert mail_service.sink.received == []


async def test_automatic_mail_gets_no_notice(mail_service: MailService, dev: MailingList) -> None:
    row = await mail_service.deliver(
        message(sender="bob@example.net", headers={"Auto-Submitted": "auto-replied"}),
        sender="bob@example.net",
        recipients=["dev@lists.example.org"],
    )
    assert row.outcome == "hold"
    [mail] = await mail_service.sink.wait_for(1)  # the moderator only
    assert mail.recipients == ["mod@example.org"]


async def test_loops_and_duplicates_are_discarded(
    mail_service: MailService, dev: MailingList
) -> None:
    looped = message(headers={"List-Id": "Developers <dev.lists.example.org>"})
    row = await mail_service.deliver(
        looped, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    assert (row.outcome, row.reasons[0].split(": ")[2]) == ("discard", "loop")
    x_loop = message(message_id="<x@example.com>", headers={"X-Loop": "dev@lists.example.org"})
    row = await mail_service.deliver(
        x_loop, sender="alice@example.com", recipients=["dev@lists.example.org"]
    )
    assert row.outcome == "discard"

    first = await mail_service.deliver(
        message(message_id="<dup@example.com>"),
        sender="alice@example.com",
        recipients=["dev@lists.example.org"],
    )
    again = await mail_service.deliver(
        message(message_id="<dup@example.com>"),
        sender="alice@example.com",
        recipients=["dev@lists.example.org"],
    )
    assert (first.outcome, again.outcome) == ("accept", "discard")
    assert "duplicate" in again.reasons[0]
    assert len(await _rows(mail_service.runtime, Message, list_id=dev.id)) == 1


async def test_sender_policies_blacklist_whitelist_and_order(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    db.add_all(
        [
            SenderPolicy(
                list_id=None,
                kind="blacklist",
                pattern_type="domain",
                pattern="@spam.test",
                include_subdomains=True,
                action="reject",
            ),
            SenderPolicy(
                list_id=dev.id,
                kind="whitelist",
                pattern_type="exact",
                pattern="friend@spam.test",
                position=1,
            ),
            SenderPolicy(
                list_id=dev.id,
                kind="blacklist",
                pattern_type="glob",
                pattern="*@*.bad.test",
                position=2,
                action="discard",
            ),
        ]
    )
    await db.commit()
    to = ["dev@lists.example.org"]
    friend = await mail_service.deliver(
        message(sender="friend@spam.test", message_id="<a@x>"),
        sender="friend@spam.test",
        recipients=to,
    )
    assert friend.outcome == "accept"  # the list's whitelist is read before the global blacklist
    assert any("whitelisted" in r for r in friend.reasons)
    spammer = await mail_service.deliver(
        message(sender="x@mail.spam.test", message_id="<b@x>"),
        sender="x@mail.spam.test",
        recipients=to,
    )
    assert spammer.outcome == "reject"
    assert "blacklisted: global rule" in spammer.reasons[0]
    globbed = await mail_service.deliver(
        message(sender="y@a.bad.test", message_id="<c@x>"), sender="y@a.bad.test", recipients=to
    )
    assert globbed.outcome == "discard"
    # the friend's post went to the list (alice is subscribed); the rejected poster was told
    mails = await mail_service.sink.wait_for(2)
    assert sorted(r for m in mails for r in m.recipients) == [
        "alice@example.com",
        "x@mail.spam.test",
    ]
    post = next(m for m in mails if m.recipients == ["alice@example.com"])
    assert post.sender.startswith("dev-bounces+")


async def test_moderated_announce_size_and_emergency(
    mail_service: MailService, dev: MailingList, db: AsyncSession
) -> None:
    to = ["dev@lists.example.org"]
    dev.posting_policy = "moderated"
    await db.merge(dev)
    await db.commit()
    row = await mail_service.deliver(
        message(message_id="<1@x>"), sender="alice@example.com", recipients=to
    )
    assert (row.outcome, (await _rows(mail_service.runtime, HeldMessage))[-1].reason) == (
        "hold",
        "moderated",
    )

    dev.posting_policy = "announce"
    await db.merge(dev)
    await db.commit()
    row = await mail_service.deliver(
        message(message_id="<2@x>"), sender="alice@example.com", recipients=to
    )
    assert (await _rows(mail_service.runtime, HeldMessage))[-1].reason == "announce_only"
    staff = await mail_service.deliver(
        message(sender="mod@example.org", message_id="<3@x>"),
        sender="mod@example.org",
        recipients=to,
    )
    assert staff.outcome == "accept"

    dev.posting_policy, dev.max_message_size = "members", 600
    await db.merge(dev)
    await db.commit()
    row = await mail_service.deliver(
        message(message_id="<4@x>", body="x" * 700),
        sender="alice@example.com",
        recipients=to,
        declare_size=False,
    )
    held = (await _rows(mail_service.runtime, HeldMessage))[-1]
    assert (row.outcome, held.reason) == ("hold", "too_big")

    dev.max_message_size, dev.emergency_hold = 10_000, True
    await db.merge(dev)
    await db.commit()
    row = await mail_service.deliver(
        message(message_id="<5@x>"), sender="alice@example.com", recipients=to
    )
    assert (await _rows(mail_service.runtime, HeldMessage))[-1].reason == "emergency"


async def test_mail_to_the_owner_address_is_forwarded(
    mail_service: MailService, dev: MailingList, db: AsyncSession, runtime: Runtime
) -> None:
    owner = await make_user(db, runtime.settings.security, "owner@example.org")
    db.add(ListRole(list_id=dev.id, user_id=owner.id, role="owner"))
    await db.commit()
    row = await mail_service.deliver(
        message(
            sender="Carol <carol@example.net>", to="dev-owner@lists.example.org", subject="Question"
        ),
        sender="carol@example.net",
        recipients=["dev-owner@lists.example.org"],
    )
    assert row.outcome == "forward"
    [mail] = await mail_service.sink.wait_for(1)
    assert mail.recipients == ["owner@example.org"]
    forwarded = mail.message
    assert forwarded["Reply-To"] == "carol@example.net"
    attached = list(forwarded.iter_attachments())
    assert attached[0].get_content_type() == "message/rfc822"
    assert "Subject: Question" in attached[0].as_string()
