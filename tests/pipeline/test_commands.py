"""Joining, leaving and asking for help by mail, and the robots that must get no answer."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import MailingList, Subscriber
from oak_maillist.services.commands import Command, read_commands
from tests.factories import make_domain, make_list
from tests.pipeline.conftest import MailService, message


@pytest.fixture
async def dev(db: AsyncSession) -> MailingList:
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", name="Developers")
    await db.commit()
    return mlist


def test_commands_are_read_from_subject_then_body() -> None:
    body = "subscribe daily\n\n> quoted help\nhelp\nThanks for the list!\nunsubscribe\n"
    assert read_commands("Re: join", body) == [
        Command("subscribe", ()),
        Command("subscribe", ("daily",)),
        Command("help", ()),
    ]
    assert read_commands("Question about the list", "Hi, how do I join?\n") == []
    assert read_commands("", "help\n-- \nsubscribe\n") == [Command("help", ())]


async def _subscriber(mail_service: MailService, list_id: int, email: str) -> Subscriber | None:
    async with mail_service.runtime.sessionmaker() as session:
        return await session.scalar(
            select(Subscriber).where(Subscriber.list_id == list_id, Subscriber.email == email)
        )


async def test_join_then_confirm_by_mail_then_leave(
    mail_service: MailService, dev: MailingList
) -> None:
    join = message(sender="Ada <ada@example.net>", to="dev-join@lists.example.org", subject="hi")
    row = await mail_service.deliver(
        join, sender="ada@example.net", recipients=["dev-join@lists.example.org"]
    )
    assert row.outcome == "command"
    mails = await mail_service.sink.wait_for(2)
    by_template = {
        ("confirm" if "onfirm" in str(m.message["Subject"]) else "results"): m for m in mails
    }
    results = by_template["results"].message.get_content()
    assert "a confirmation was sent to ada@example.net" in results
    confirmation = by_template["confirm"].message.get_content()
    token = re.search(r"token=(\S+)", confirmation)
    assert token is not None
    pending = await _subscriber(mail_service, dev.id, "ada@example.net")
    assert pending is not None
    assert pending.status == "pending"

    # a plain reply to the confirmation goes to its Reply-To, the -confirm+TOKEN address
    confirm_to = str(by_template["confirm"].message["Reply-To"])
    assert confirm_to == f"dev-confirm+{token.group(1).replace('%2E', '.')}@lists.example.org"
    reply = message(
        sender="ada@example.net", to=confirm_to, subject="Re: confirm", message_id="<c@x>"
    )
    row = await mail_service.deliver(reply, sender="ada@example.net", recipients=[confirm_to])
    assert row.outcome == "command", row.reasons
    assert "is now active" in row.reasons[0]
    active = await _subscriber(mail_service, dev.id, "ada@example.net")
    assert active is not None
    assert active.status == "active"

    leave = message(sender="ada@example.net", to="dev-leave@lists.example.org", message_id="<l@x>")
    row = await mail_service.deliver(
        leave, sender="ada@example.net", recipients=["dev-leave@lists.example.org"]
    )
    assert "to leave the list, open http" in row.reasons[0]
    still = await _subscriber(mail_service, dev.id, "ada@example.net")
    assert still is not None
    assert still.status == "active"  # a forged From cannot unsubscribe anyone


async def test_help_and_unknown_text_get_the_help(
    mail_service: MailService, dev: MailingList
) -> None:
    request = message(
        sender="bob@example.net", to="dev-request@lists.example.org", subject="How does this work?"
    )
    row = await mail_service.deliver(
        request, sender="bob@example.net", recipients=["dev-request@lists.example.org"]
    )
    assert row.outcome == "command"
    [mail] = await mail_service.sink.wait_for(1)
    assert mail.recipients == ["bob@example.net"]
    text = mail.message.get_content()
    assert "dev-join@lists.example.org" in text
    assert "dev-leave@lists.example.org" in text
    assert mail.message["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(
    ("headers", "sender"),
    [
        ({"Auto-Submitted": "auto-replied"}, "bob@example.net"),
        ({"Precedence": "bulk"}, "bob@example.net"),
        ({"List-Id": "<other.example.com>"}, "bob@example.net"),
        ({}, ""),
        ({}, "MAILER-DAEMON@example.net"),
    ],
)
async def test_robots_get_no_answer(
    mail_service: MailService, dev: MailingList, headers: dict[str, str], sender: str
) -> None:
    request = message(
        sender="bob@example.net",
        to="dev-request@lists.example.org",
        subject="help",
        headers=headers,
    )
    row = await mail_service.deliver(
        request, sender=sender, recipients=["dev-request@lists.example.org"]
    )
    assert row.outcome == "command"
    assert "not answered" in row.reasons[0]
    assert mail_service.sink.received == []
