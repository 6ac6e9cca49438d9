"""Mail commands: subscribe, unsubscribe, help and confirm, sent to a list's -request,
-join, -leave and -confirm+TOKEN addresses, answered from templates.

Automatic mail (bounces, vacation replies, other lists: RFC 3834) is never answered, so two
robots cannot talk to each other forever; a sender gets a bounded number of answers a day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import AppError
from oak_maillist.logging import get_logger
from oak_maillist.mail.addresses import Role
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.models import Domain, MailingList, Subscriber, SubscriberStatus
from oak_maillist.moderation.rules import address_key
from oak_maillist.services import links, outbound, subscriptions
from oak_maillist.services.activity import Origin
from oak_maillist.services.post_notices import is_automatic

log = get_logger(__name__)

RESULTS_TEMPLATE = "command_results"
# Commands are read from the Subject and the first lines of the text; the rest is ignored.
MAX_COMMAND_LINES = 10
WORD = re.compile(r"[a-z][a-z-]*")
ALIASES = {
    "subscribe": "subscribe",
    "join": "subscribe",
    "unsubscribe": "unsubscribe",
    "leave": "unsubscribe",
    "remove": "unsubscribe",
    "help": "help",
    "confirm": "confirm",
    "end": "end",
    "stop": "end",
    "thanks": "end",
}
# Re:, AW:, Fwd:, 回复:, 答复: (full-width colons too) before a command in the Subject.
REPLY_PREFIX = re.compile(
    r"^\s*((re|aw|sv|fwd?|\u56de\u590d|\u7b54\u590d)\s*(\[\d+\])?\s*[:\uff1a]\s*)+", re.I
)


@dataclass(frozen=True)
class Command:
    name: str
    arguments: tuple[str, ...]


def read_commands(subject: str, text: str) -> list[Command]:
    """Commands in the Subject, then in the body up to the first line that is not one."""
    found: list[Command] = []
    first = _command(REPLY_PREFIX.sub("", subject))
    if first is not None:
        found.append(first)
    for index, line in enumerate(text.splitlines()):
        if index >= MAX_COMMAND_LINES * 3 or len(found) > MAX_COMMAND_LINES:
            break
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue
        if stripped.startswith("--"):
            break  # a signature
        command = _command(stripped)
        if command is None:
            break
        if command.name == "end":
            break
        found.append(command)
    return found[:MAX_COMMAND_LINES]


def _command(line: str) -> Command | None:
    words = line.strip().split()
    if not words:
        return None
    name = ALIASES.get(words[0].lower())
    if name is None:
        return None
    return Command(name, tuple(words[1:4]))


async def handle(
    session: AsyncSession,
    settings: Settings,
    *,
    mlist: MailingList,
    domain: Domain,
    role: Role,
    token: str,
    parsed: ParsedMessage,
    envelope_from: str,
) -> list[str]:
    """Carry out the commands in one message; returns what was done, for the inbound row."""
    if is_automatic(parsed, envelope_from):
        return ["automatic message: not answered (RFC 3834)"]
    sender = (parsed.sender.email or envelope_from).strip()
    if "@" not in sender:
        return ["no sender address to answer"]
    if role is Role.JOIN:
        commands = [Command("subscribe", ())]
    elif role is Role.LEAVE:
        commands = [Command("unsubscribe", ())]
    elif role is Role.CONFIRM:
        commands = [Command("confirm", (token,))]
    else:
        commands = read_commands(parsed.subject, parsed.text) or [Command("help", ())]
    results: list[str] = []
    for command in commands:
        results.append(await _run(session, settings, mlist, command, sender, parsed))
    answered = await outbound.sent_since(
        session, recipient=sender, kinds=[RESULTS_TEMPLATE], since=utcnow() - timedelta(days=1)
    )
    if answered >= settings.moderation.max_notices_per_sender_per_day:
        log.info("command_answer_suppressed", list_id=mlist.id)
        return [*results, "answer suppressed: daily limit for this sender"]
    await subscriptions.send_mail(
        session,
        mlist,
        template=RESULTS_TEMPLATE,
        recipient=sender,
        language=await _language(session, mlist, sender),
        settings=settings,
        results=results,
        request_address=f"{mlist.local_part}-request@{domain.name}",
        join_address=f"{mlist.local_part}-join@{domain.name}",
        leave_address=f"{mlist.local_part}-leave@{domain.name}",
    )
    return results


async def _language(session: AsyncSession, mlist: MailingList, address: str) -> str:
    found = await session.scalar(
        select(Subscriber.language).where(
            Subscriber.list_id == mlist.id, Subscriber.email_normalized == address_key(address)
        )
    )
    return found or mlist.language


async def _run(
    session: AsyncSession,
    settings: Settings,
    mlist: MailingList,
    command: Command,
    sender: str,
    parsed: ParsedMessage,
) -> str:
    origin = Origin(user_agent="mail command")
    try:
        if command.name == "subscribe":
            digest = command.arguments[0].lower() if command.arguments else "none"
            await subscriptions.request_subscription(
                session,
                mlist,
                email=sender,
                name=parsed.sender.name,
                language=mlist.language,
                digest_mode=digest if digest in ("none", "daily", "weekly") else "none",
                settings=settings,
                origin=origin,
            )
            return f"subscribe {sender}: a confirmation was sent to {sender} (if not subscribed)"
        if command.name == "unsubscribe":
            return await _unsubscribe(session, settings, mlist, sender)
        if command.name == "confirm":
            if not command.arguments:
                return "confirm: the token is missing"
            outcome = await subscriptions.confirm(
                session, token=command.arguments[0], settings=settings, origin=origin
            )
            return f"confirm: {outcome.address} is now {outcome.status}"
    except AppError as exc:
        return f"{command.name}: {exc.message}"
    return "help: the commands are listed below"


async def _unsubscribe(
    session: AsyncSession, settings: Settings, mlist: MailingList, sender: str
) -> str:
    """A From line is easy to forge: the answer carries the link that really unsubscribes."""
    subscriber = await session.scalar(
        select(Subscriber).where(
            Subscriber.list_id == mlist.id, Subscriber.email_normalized == address_key(sender)
        )
    )
    if subscriber is None or subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return f"unsubscribe {sender}: this address is not subscribed"
    url = links.page_url(
        settings, "unsubscribe", subscriptions.unsubscribe_token(settings, subscriber)
    )
    return f"unsubscribe {sender}: to leave the list, open {url}"
