"""CSV import of subscribers: the upload read row by row, checked, and inserted in batches.

Reading and checking the file is in subscriber_csv; this module writes the accepted rows.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Literal

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.models import MailingList, Subscriber, SubscriberStatus, User
from oak_maillist.services import activity, subscriptions
from oak_maillist.services.activity import Origin
from oak_maillist.services.subscriber_csv import (
    MAX_IMPORT_ROWS,
    Batch,
    ImportRow,
    RowError,
    SubscriberCsvReader,
)

# active: the owner asserts consent; confirm: each new address is pending and mailed a link.
ImportMode = Literal["active", "confirm"]
# Each batch is one bulk INSERT in its own savepoint. 2,000 and 5,000 rows measure the same
# (bench/subscribers_csv.py); fewer savepoints keep PostgreSQL under its cache of 64
# subtransactions for imports up to 320,000 rows.
BATCH_SIZE = 5000
# Up to this many subscribers, the list's addresses are loaded once: faster than one IN query
# per batch on every backend at 100,000 (bench/subscribers_csv.py). Past it, IN queries keep
# the memory an import holds bounded.
PRELOAD_LIMIT = 250_000
MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000
# Each confirmation is a mail rendered and stored in the request (a few ms each, more than
# the rest of a row's work together): bounded so one request stays well under a minute.
MAX_CONFIRM_ROWS = 5_000


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would do); `errors` lists the first rejections."""

    dry_run: bool
    mode: str
    total_rows: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    @property
    def errors_truncated(self) -> bool:
        return self.skipped > len(self.errors)

    def reject(self, rejected: Iterable[RowError]) -> None:
        for error in sorted(rejected, key=lambda error: error.line):
            self.skipped_by_reason[error.reason] += 1
            if len(self.errors) < MAX_REPORTED_ERRORS:
                self.errors.append(error)


@dataclass
class _Import:
    """One import in progress."""

    session: AsyncSession
    mlist: MailingList
    report: ImportReport
    now: datetime
    known: dict[str, str] | None  # address key -> status of everyone on the list, if loaded
    settings: Settings | None  # needed to mail confirmations (mode confirm)


async def import_csv(
    session: AsyncSession,
    mlist: MailingList,
    *,
    source: IO[bytes],
    actor: User,
    origin: Origin,
    dry_run: bool = False,
    mode: ImportMode = "active",
    filename: str = "",
    settings: Settings | None = None,
) -> ImportReport:
    """Add a CSV file's valid, new addresses as subscribers.

    Mode `active`: they are active at once (the owner asserts consent). Mode `confirm`: they
    are pending and each is mailed a confirmation link, as if they had subscribed on the web;
    such an import holds at most MAX_CONFIRM_ROWS rows and needs `settings`.

    The file is read in batches by a worker thread (address validation is CPU work), the next
    batch while this one is written; each batch is one bulk INSERT. Rejected rows are reported
    with their line and reason and never stop the rest; subscribers already on the list are
    left unchanged. A dry run reports the same and writes nothing.
    """
    if mode == "confirm" and settings is None:
        raise ValueError("a confirm import mails, so it needs the settings")
    reader = SubscriberCsvReader(
        source, max_rows=MAX_CONFIRM_ROWS if mode == "confirm" else MAX_IMPORT_ROWS
    )
    await asyncio.to_thread(reader.read_header)
    job = _Import(
        session,
        mlist,
        ImportReport(dry_run, mode),
        utcnow(),
        await _preload(session, mlist.id),
        settings,
    )
    async with aclosing(_batches(reader)) as batches:
        async for batch in batches:
            await _import_batch(job, batch)
    job.report.total_rows = reader.total_rows
    if not dry_run:
        await activity.record(
            session,
            "subscriber.imported",
            actor_id=actor.id,
            origin=origin,
            target_type="list",
            target_id=mlist.id,
            list_id=mlist.id,
            filename=filename.encode("utf-8", "replace").decode()[:200],
            mode=mode,
            total_rows=job.report.total_rows,
            imported=job.report.imported,
            skipped=job.report.skipped,
        )
    return job.report


async def _batches(reader: SubscriberCsvReader) -> AsyncGenerator[Batch]:
    pending = asyncio.ensure_future(asyncio.to_thread(reader.read_batch, BATCH_SIZE))
    try:
        while batch := await pending:
            pending = asyncio.ensure_future(asyncio.to_thread(reader.read_batch, BATCH_SIZE))
            yield batch
    finally:
        with suppress(Exception):
            await pending  # the thread must be done with the file before the upload closes


async def _preload(session: AsyncSession, list_id: int) -> dict[str, str] | None:
    on_list = Subscriber.list_id == list_id
    count = select(func.count()).select_from(Subscriber).where(on_list)
    if (await session.execute(count)).scalar_one() > PRELOAD_LIMIT:
        return None
    query = select(Subscriber.email_normalized, Subscriber.status).where(on_list)
    return dict((await session.execute(query)).all())


async def _import_batch(job: _Import, batch: Batch) -> None:
    existing = await _existing(job, [row.key for row in batch.rows])
    fresh = [row for row in batch.rows if row.key not in existing]
    rejected = [*batch.errors]
    rejected += [_already(row, existing[row.key]) for row in batch.rows if row.key in existing]
    if fresh and not job.report.dry_run:
        fresh, clashes = await _insert(job, fresh)
        rejected += clashes
        if fresh and job.report.mode == "confirm":
            await _ask_confirmations(job, fresh)
    job.report.imported += len(fresh)
    job.report.reject(rejected)


async def _existing(job: _Import, keys: list[str]) -> dict[str, str]:
    """Address key -> status for the keys already on the list."""
    if job.known is not None:
        return {key: job.known[key] for key in keys if key in job.known}
    if not keys:
        return {}
    query = select(Subscriber.email_normalized, Subscriber.status).where(
        Subscriber.list_id == job.mlist.id, Subscriber.email_normalized.in_(keys)
    )
    return dict((await job.session.execute(query)).all())


def _already(row: ImportRow, status: str | None) -> RowError:
    message = f"Already on the list (status {status})" if status else "Already on the list"
    return RowError(row.line, row.email, "already_subscribed", message)


async def _insert(job: _Import, rows: list[ImportRow]) -> tuple[list[ImportRow], list[RowError]]:
    """One bulk INSERT; row by row if an address clashes (added meanwhile, or two addresses
    the database's collation holds equal)."""
    try:
        async with job.session.begin_nested():
            await job.session.execute(insert(Subscriber), [_values(job, row) for row in rows])
    except IntegrityError:
        return await _insert_each(job, rows)
    return rows, []


async def _insert_each(
    job: _Import, rows: list[ImportRow]
) -> tuple[list[ImportRow], list[RowError]]:
    """The slow path, for a batch that clashed: each row in its own savepoint."""
    inserted: list[ImportRow] = []
    clashes: list[RowError] = []
    for row in rows:
        try:
            async with job.session.begin_nested():
                await job.session.execute(insert(Subscriber), [_values(job, row)])
        except IntegrityError:
            clashes.append(_already(row, None))
        else:
            inserted.append(row)
    return inserted, clashes


async def _ask_confirmations(job: _Import, rows: list[ImportRow]) -> None:
    """Mail each newly added (pending) address its confirmation link."""
    assert job.settings is not None  # noqa: S101 - import_csv checked it
    added = await job.session.execute(
        select(Subscriber)
        .where(
            Subscriber.list_id == job.mlist.id,
            Subscriber.email_normalized.in_([row.key for row in rows]),
        )
        .order_by(Subscriber.id)
    )
    await subscriptions.ask_confirmations(
        job.session, job.mlist, list(added.scalars()), settings=job.settings, preapproved=True
    )


def _values(job: _Import, row: ImportRow) -> dict[str, Any]:
    active = job.report.mode == "active"
    return {
        "list_id": job.mlist.id,
        "user_id": None,
        "email": row.email,
        "email_normalized": row.key,
        "name": row.name,
        "status": (SubscriberStatus.ACTIVE if active else SubscriberStatus.PENDING).value,
        "digest_mode": row.digest_mode,
        "language": job.mlist.language,
        "source": "import",
        "bounce_score": 0,
        "last_bounce_at": None,
        "subscribed_at": job.now if active else None,
        "unsubscribed_at": None,
        "created_at": job.now,
        "updated_at": job.now,
    }
