"""Incoming mail at the SMTP edge: which recipients exist, storing what was accepted (several
messages per commit), claiming stored messages for processing, and recording how it ended."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import JsonText, UtcDateTime, utcnow
from oak_maillist.mail.addresses import ListAddress, candidate_readings
from oak_maillist.models import Domain, InboundMessage, InboundStatus, MailingList
from oak_maillist.tasks.queue import enqueue_after_commit

PROCESS_JOB = "inbound.process"
# After this many failed attempts a message is parked as failed for an administrator.
MAX_ATTEMPTS = 5
# A freshly stored message is handed to the broker at once; the sweeper waits this long
# before it hands it out again (the hand-off was lost, or the process died).
SWEEP_GRACE = timedelta(seconds=30)


class RecipientStatus(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such list or sub-address
    INACTIVE = "inactive"  # the list exists but is deactivated


@dataclass(frozen=True)
class Recipient:
    status: RecipientStatus
    address: ListAddress | None = None
    list_id: int | None = None
    max_message_size: int | None = None


async def resolve_recipient(session: AsyncSession, address: str) -> Recipient:
    """Find the list behind `address`, preferring the most literal reading.

    Within a session that `preload_recipients` prepared, the answer comes from memory.
    """
    known: dict[str, Recipient] | None = session.info.get(_RECIPIENTS)
    if known is not None and address in known:
        return known[address]
    readings = candidate_readings(address)
    if not readings:
        return Recipient(RecipientStatus.UNKNOWN)
    rows = (
        await session.execute(
            select(
                MailingList.id,
                MailingList.local_part,
                MailingList.is_active,
                MailingList.max_message_size,
                Domain.is_active,
            )
            .join(Domain, Domain.id == MailingList.domain_id)
            .where(
                Domain.name == readings[0].domain,
                MailingList.local_part.in_({reading.local_part for reading in readings}),
            )
        )
    ).all()
    return _pick(readings, {row[1]: (row[0], row[1], row[2], row[3], row[4]) for row in rows})


# id, local part, list active, max message size, domain active
_ListRow = tuple[int, str, bool, int | None, bool]


def _pick(readings: Sequence[ListAddress], by_local: dict[str, _ListRow]) -> Recipient:
    for reading in readings:
        row = by_local.get(reading.local_part)
        if row is None:
            continue
        list_id, _local, list_active, max_size, domain_active = row
        if not (list_active and domain_active):
            return Recipient(RecipientStatus.INACTIVE, reading, list_id)
        return Recipient(RecipientStatus.OK, reading, list_id, max_size)
    return Recipient(RecipientStatus.UNKNOWN)


_RECIPIENTS = "oak_recipients"
_LOADED = "oak_loaded"


_LISTS = (
    select(MailingList, Domain)
    .join(Domain, Domain.id == MailingList.domain_id)
    .where(
        Domain.name.in_(bindparam("domains", expanding=True)),
        MailingList.local_part.in_(bindparam("locals", expanding=True)),
    )
)


async def preload_recipients(session: AsyncSession, addresses: Iterable[str]) -> None:
    """Resolve many addresses with one query, for the rest of the session's transaction.

    The lists and domains found are loaded whole, so `session.get` finds them in memory too.
    """
    known: dict[str, Recipient] = session.info.setdefault(_RECIPIENTS, {})
    wanted = {address: candidate_readings(address) for address in addresses}
    wanted = {address: readings for address, readings in wanted.items() if address not in known}
    domains = {readings[0].domain for readings in wanted.values() if readings}
    locals_ = {reading.local_part for readings in wanted.values() for reading in readings}
    found: dict[tuple[str, str], _ListRow] = {}
    # The identity map holds objects weakly: keep them, or session.get would load them again.
    loaded: list[object] = session.info.setdefault(_LOADED, [])
    if domains:
        params = {"domains": list(domains), "locals": list(locals_)}
        for mlist, domain in (await session.execute(_LISTS, params)).all():
            loaded += (mlist, domain)
            found[(domain.name.lower(), mlist.local_part)] = (
                mlist.id,
                mlist.local_part,
                mlist.is_active,
                mlist.max_message_size,
                domain.is_active,
            )
    for address, readings in wanted.items():
        if not readings:
            known[address] = Recipient(RecipientStatus.UNKNOWN)
            continue
        domain_name = readings[0].domain
        by_local = {
            reading.local_part: found[(domain_name, reading.local_part)]
            for reading in readings
            if (domain_name, reading.local_part) in found
        }
        known[address] = _pick(readings, by_local)


@dataclass(frozen=True)
class Received:
    """One message as SMTP took it: the bytes and the envelope."""

    raw: bytes
    envelope_from: str
    recipients: list[str]
    peer: str = ""
    helo: str = ""


async def accept(session: AsyncSession, received: Sequence[Received]) -> list[int]:
    """Store messages exactly as received, in order; the caller commits before answering 250.

    Their processing jobs are handed to the broker once the transaction commits.
    """
    rows = [
        InboundMessage(
            raw=item.raw,
            size=len(item.raw),
            envelope_from=item.envelope_from[:320],
            recipients=item.recipients,
            peer=item.peer[:100],
            helo=item.helo[:255],
        )
        for item in received
    ]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        enqueue_after_commit(session, PROCESS_JOB, inbound_id=row.id)
    return [row.id for row in rows]


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        InboundMessage.status == InboundStatus.RECEIVED,
        (InboundMessage.status == InboundStatus.PROCESSING) & (InboundMessage.lease_until < now),
    )


async def claim(session: AsyncSession, inbound_ids: Sequence[int], *, lease: timedelta) -> set[int]:
    """Take stored messages for processing unless another worker holds them (compare-and-set:
    which of them this worker got is what the statement returns; MariaDB, which cannot
    return rows from an UPDATE, first locks the ones it takes)."""
    if not inbound_ids:
        return set()
    now = utcnow()
    values = {
        "status": InboundStatus.PROCESSING,
        "lease_until": now + lease,
        "attempts": InboundMessage.attempts + 1,
    }
    if session.get_bind().dialect.update_returning:
        result = await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(inbound_ids), _claimable(now))
            .values(values)
            .returning(InboundMessage.id)
            .execution_options(synchronize_session=False)
        )
        return set(result.scalars())
    # MariaDB: lock the claimable ones (skipping those another worker is claiming), then
    # take them. Two statements for a batch, where one UPDATE per message, each checked by
    # its row count, cost 16 round trips. Read by primary key: read through the (status,
    # lease_until) index, which covers the query, SKIP LOCKED also skipped claimable rows
    # nobody held (MariaDB 10.11, tests/pipeline/test_inbound_batches.py).
    claimed = set(
        await session.scalars(
            select(InboundMessage.id)
            .with_hint(InboundMessage, "FORCE INDEX (PRIMARY)", "mysql")
            .where(InboundMessage.id.in_(inbound_ids), _claimable(now))
            .with_for_update(skip_locked=True)
        )
    )
    if claimed:
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(claimed))
            .values(values)
            .execution_options(synchronize_session=False)
        )
    return claimed


_DONE = "oak_inbound_done"


def collect_done(session: AsyncSession) -> None:
    """From now on `mark_done` in this session waits for `write_done` (one statement for a
    batch of messages instead of one each)."""
    session.info.setdefault(_DONE, [])


def mark_done(session: AsyncSession, row: InboundMessage, outcome: str, reasons: list[str]) -> None:
    """Record that `row` was processed, with its outcome and reasons (the first 200)."""
    values = {
        "status": InboundStatus.DONE,
        "outcome": outcome,
        "reasons": reasons[:200],
        "processed_at": utcnow(),
        "lease_until": None,
        "error": None,
    }
    collected: list[dict[str, object]] | None = session.info.get(_DONE)
    if collected is None:
        for name, value in values.items():
            setattr(row, name, value)
    else:
        collected.append({"id": row.id} | values)


# MariaDB: a batch's outcomes in one statement, from one JSON array (aiomysql sends an
# executemany UPDATE as one statement per row). The array drives the join: read the other
# way round, as the optimizer chose for a small table, the UPDATE locked every row of the
# table until commit, and other workers' claims then skipped theirs.
_DONE_MYSQL = text("""
    UPDATE JSON_TABLE(:done, '$[*]' COLUMNS (
        id BIGINT PATH '$[0]',
        outcome VARCHAR(20) PATH '$[1]',
        reasons LONGTEXT PATH '$[2]',
        processed_at DATETIME(6) PATH '$[3]'
    )) AS done STRAIGHT_JOIN inbound_messages AS m ON m.id = done.id
    SET m.status = :status, m.outcome = done.outcome, m.reasons = done.reasons,
        m.processed_at = done.processed_at, m.lease_until = NULL, m.error = NULL""")


async def write_done(session: AsyncSession) -> None:
    """Write the outcomes `mark_done` collected (before the transaction commits)."""
    collected: list[dict[str, Any]] | None = session.info.get(_DONE)
    if not collected:
        return
    session.info[_DONE] = []
    dialect = session.get_bind().dialect
    if dialect.name != "mysql":
        await session.execute(update(InboundMessage), collected)  # by primary key
        return
    reasons, when = JsonText(), UtcDateTime()
    done = [
        [
            row["id"],
            row["outcome"],
            reasons.process_bind_param(row["reasons"], dialect),
            str(when.process_bind_param(row["processed_at"], dialect)),
        ]
        for row in collected
    ]
    await session.execute(
        _DONE_MYSQL, {"done": json.dumps(done, ensure_ascii=False), "status": InboundStatus.DONE}
    )


async def record_failure(session: AsyncSession, inbound_id: int, error: str) -> InboundStatus:
    """Processing raised: try again later, or park the message after MAX_ATTEMPTS."""
    row = await session.get(InboundMessage, inbound_id, populate_existing=True)
    if row is None:
        return InboundStatus.FAILED
    row.error = error[:4000]
    row.lease_until = None
    row.status = InboundStatus.FAILED if row.attempts >= MAX_ATTEMPTS else InboundStatus.RECEIVED
    return InboundStatus(row.status)


async def due_ids(
    session: AsyncSession, *, grace: timedelta | None = None, limit: int = 500
) -> list[int]:
    """Stored messages nobody is processing: new ones past the grace time, expired leases."""
    now = utcnow()
    grace = SWEEP_GRACE if grace is None else grace
    rows = await session.scalars(
        select(InboundMessage.id)
        .where(
            or_(
                (InboundMessage.status == InboundStatus.RECEIVED)
                & (InboundMessage.received_at <= now - grace),
                (InboundMessage.status == InboundStatus.PROCESSING)
                & (InboundMessage.lease_until < now),
            )
        )
        .order_by(InboundMessage.id)
        .limit(limit)
    )
    return list(rows)
