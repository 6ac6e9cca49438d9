"""Processing a stored inbound message: each list address it was sent to gets its answer.

post address → the posting chain; -owner → forwarded to the owners; -request, -join, -leave
and -confirm+TOKEN → mail commands; -bounces+TOKEN → kept for bounce processing. The row's
outcome and reasons record what happened for every recipient.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.logging import get_logger
from oak_maillist.mail.addresses import Role
from oak_maillist.mail.compose import notice
from oak_maillist.mail.parse import ParsedMessage, parse_message
from oak_maillist.models import (
    Domain,
    InboundMessage,
    ListRole,
    ListRoleName,
    MailingList,
    SystemRole,
    User,
)
from oak_maillist.moderation import policies
from oak_maillist.services import (
    ai_moderation,
    archive_memo,
    archive_threads,
    bounces,
    commands,
    fanout,
    inbound,
    list_locks,
    outbound,
    posting,
)
from oak_maillist.services.inbound import Recipient, RecipientStatus
from oak_maillist.services.search import pending as search_pending

log = get_logger(__name__)


@dataclass
class Report:
    outcomes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, address: str, outcome: str, reasons: list[str]) -> None:
        self.outcomes.append(outcome)
        self.reasons.extend(f"{address}: {outcome}: {reason}" for reason in reasons or [""])

    @property
    def outcome(self) -> str:
        kinds = set(self.outcomes)
        return kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "discard")


# Session info: the parsed messages of the rows `prepare` was given (row id -> ParsedMessage).
_PARSED = "oak_parsed"


async def prepare(
    session: AsyncSession,
    rows: Sequence[InboundMessage],
    parsed_rows: dict[int, ParsedMessage] | None = None,
) -> None:
    """Before processing `rows` in one transaction: their lists and domains in one query, each
    list's sender rules read once for all of them, and what their posts will ask the archive
    (duplicates, ancestors, threads, waiting replies, subscribers) read for all at once. Index
    rows and outcomes are then collected: call `finish` before the transaction commits.

    `parsed_rows` keeps each row's parsed message for `process`; a caller that goes on in a
    new transaction with the rest of the rows passes the same dict, and nothing is parsed twice.
    """
    session.info.setdefault(policies.MEMO, {})
    posting.collect_accepted(session)
    search_pending.collect(session)
    inbound.collect_done(session)
    await inbound.preload_recipients(session, {a for row in rows for a in row.recipients})
    parsed_rows = {} if parsed_rows is None else parsed_rows
    session.info[_PARSED] = parsed_rows
    await _lock_lists(session, rows)
    wants: list[archive_memo.Want] = []
    for row in rows:
        parsed = parsed_rows.get(row.id)
        if parsed is None:
            parsed = parsed_rows[row.id] = parse_message(row.raw)
            # Let the SMTP edge answer between two posts (parsing 16 posts of 100 KB took
            # the event loop for about 50 ms at a time).
            await asyncio.sleep(0)
        for address in row.recipients:
            recipient = await inbound.resolve_recipient(session, address)
            if recipient.address is None or recipient.address.role is not Role.POST:
                continue
            found = await _list_and_domain(session, recipient)
            if found is None:
                continue
            mlist, domain = found
            message_id = posting.post_message_id(parsed, row.raw, domain.name)
            ids = archive_threads.ancestor_ids(parsed, message_id)
            wants.append(
                archive_memo.Want(
                    list_id=mlist.id,
                    message_hash=archive_threads.id_hash(message_id),
                    message_id=message_id,
                    ancestor_hashes=tuple(archive_threads.id_hash(i) for i in ids),
                    root=ids[0] if ids else message_id,
                )
            )
    await archive_memo.prefetch(session, wants)
    await fanout.remember_last_subscribers(session, {want.list_id for want in wants})


async def _lock_lists(session: AsyncSession, rows: Sequence[InboundMessage]) -> None:
    """Take the locks of every list the rows were sent to, before anything is read for them
    or written (see services/list_locks)."""
    list_ids: set[int] = set()
    for row in rows:
        for address in row.recipients:
            recipient = await inbound.resolve_recipient(session, address)
            if recipient.status is RecipientStatus.OK and recipient.list_id is not None:
                list_ids.add(recipient.list_id)
    await list_locks.lock_lists(session, list_ids)


async def _list_and_domain(
    session: AsyncSession, recipient: Recipient
) -> tuple[MailingList, Domain] | None:
    """The list an active recipient names, and its domain (None: not active, or gone); from
    memory once `prepare` loaded them."""
    if recipient.status is not RecipientStatus.OK or recipient.list_id is None:
        return None
    mlist = await session.get(MailingList, recipient.list_id)
    domain = await session.get(Domain, mlist.domain_id) if mlist else None
    return None if mlist is None or domain is None else (mlist, domain)


async def finish(session: AsyncSession) -> None:
    """After processing rows that `prepare` was given, before the transaction commits: write
    the posts, threads, index rows and outcomes collected for all of them."""
    await posting.publish_accepted(session)
    await search_pending.write_collected(session)
    await inbound.write_done(session)


async def process(session: AsyncSession, settings: Settings, row: InboundMessage) -> Report:
    """Decide on every recipient of `row` and mark it done, in the caller's transaction.

    A post to a list that wants an AI verdict first goes to the score job: the row stays
    leased and unprocessed (outcome "scoring"), and that job calls this again once the
    verdicts are stored.
    """
    parsed = session.info.get(_PARSED, {}).pop(row.id, None) or parse_message(row.raw)
    if await ai_moderation.needs_scoring(session, settings, row, parsed):
        log.info("inbound_awaits_ai", inbound_id=row.id)
        return Report(outcomes=["scoring"], reasons=["waiting for the AI moderation verdict"])
    await _lock_lists(session, [row])  # held already when `prepare` was given the row
    report = Report()
    seen: set[tuple[int, str, str]] = set()
    for address in row.recipients:
        recipient = await inbound.resolve_recipient(session, address)
        if recipient.status is not RecipientStatus.OK or recipient.address is None:
            # The list was deactivated or deleted after the 250: keep the message, say why.
            report.add(address, "discard", [f"no active list at {address} any more"])
            continue
        assert recipient.list_id is not None  # noqa: S101 - OK recipients name a list
        key = (recipient.list_id, recipient.address.role.value, recipient.address.token)
        if key in seen:
            continue
        seen.add(key)
        found = await _list_and_domain(session, recipient)
        if found is None:
            report.add(address, "discard", ["the list disappeared"])
            continue
        mlist, domain = found
        role = recipient.address.role
        if role is Role.POST:
            result = await posting.run_chain(
                session, settings, mlist=mlist, domain=domain, inbound=row, parsed=parsed
            )
            report.add(address, result.decision.action.value, result.decision.reasons)
        elif role is Role.OWNER:
            count = await forward_to_owners(
                session, settings, mlist=mlist, domain=domain, raw=row.raw, parsed=parsed
            )
            report.add(address, "forward", [f"forwarded to {count} owner(s)"])
        elif role is Role.BOUNCES:
            outcome = await bounces.handle(
                session, settings, mlist=mlist, inbound=row, token=recipient.address.token
            )
            report.add(address, "bounce", outcome)
        else:
            fanout.forget_last_subscribers(session)  # a command may add a subscriber
            outcome = await commands.handle(
                session,
                settings,
                mlist=mlist,
                domain=domain,
                role=role,
                token=recipient.address.token,
                parsed=parsed,
                envelope_from=row.envelope_from,
            )
            report.add(address, "command", outcome)
    inbound.mark_done(session, row, report.outcome, report.reasons)
    log.info("inbound_processed", inbound_id=row.id, outcome=report.outcome)
    return report


async def owners(session: AsyncSession, list_id: int) -> list[User]:
    """The list's active owners, or the site's administrators when it has none."""
    found = list(
        (
            await session.scalars(
                select(User)
                .join(ListRole, ListRole.user_id == User.id)
                .where(
                    ListRole.list_id == list_id,
                    ListRole.role == ListRoleName.OWNER,
                    User.is_active.is_(True),
                )
            )
        ).all()
    )
    if found:
        return found
    return list(
        (
            await session.scalars(
                select(User).where(User.role == SystemRole.ADMIN, User.is_active.is_(True))
            )
        ).all()
    )


async def forward_to_owners(
    session: AsyncSession,
    settings: Settings,
    *,
    mlist: MailingList,
    domain: Domain,
    raw: bytes,
    parsed: ParsedMessage,
) -> int:
    """Send the message, attached unchanged, to each owner; replies go to the sender."""
    sender = parsed.sender.email
    count = 0
    for user in await owners(session, mlist.id):
        message: EmailMessage = notice(
            sender=f"{mlist.local_part}-owner@{domain.name}",
            sender_name=f"{mlist.name} owner mail",
            recipient=user.email,
            subject=f"[{mlist.name}] For the owners: {parsed.subject}"[:900],
            body=(
                f"This message was sent to {mlist.local_part}-owner@{domain.name}"
                f" by {sender or 'an unknown sender'}. It is attached unchanged.\n"
            ),
            domain=domain.name,
            reply_to=sender if "@" in sender else None,
        )
        message.add_attachment(message_from_bytes(raw, policy=policy.default))
        await outbound.queue(
            session,
            message,
            kind="owner_forward",
            list_id=mlist.id,
            sender=f"{mlist.local_part}-bounces@{domain.name}",
            recipient=user.email,
        )
        count += 1
    return count
