"""Sending lanes that claim a post's deliveries side by side, as a job's lanes and other
workers' jobs do: each due row is claimed exactly once, and no claim or record fails on a
deadlock (MariaDB reported them, error 1213, between lanes: see `db.engine.MYSQL_ISOLATION`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.engine import transaction
from oak_maillist.db.types import utcnow
from oak_maillist.delivery import relay
from oak_maillist.models import Delivery, DeliveryStatus, MailingList
from oak_maillist.runtime import Runtime
from oak_maillist.services import distribution
from tests.factories import make_list, message_row

# Posts sent one after another, each by all lanes at once, so that the lanes' claims meet
# many times, at each post's start and end.
POSTS = 25
ROWS = 30
LANES = 6
# Smaller than a post, larger than a lane's share: claims reach from one status to the next.
BATCH = 8
LEASE = timedelta(minutes=5)
SENT = relay.Result(relay.Outcome.SENT, 250, "OK")
LATER = relay.Result(relay.Outcome.TEMPORARY, 451, "4.3.0 Try again later")


def _answer(delivery_id: int) -> relay.Result:
    """Most go out; every fifth is refused for now, and is deferred (recorded row by row)."""
    return LATER if delivery_id % 5 == 0 else SENT


async def _post(db: AsyncSession, mlist: MailingList, number: int) -> tuple[int, set[int]]:
    """A post whose rows are of every due kind: queued, deferred and due again, and leased by
    a worker whose lease ran out. Returns the post's id and its deliveries' ids."""
    message = message_row(mlist.id, f"<p{number}@x>", subject="Hi")
    db.add(message)
    await db.flush()
    past = utcnow() - timedelta(minutes=1)
    kinds = [
        (DeliveryStatus.QUEUED, None),
        (DeliveryStatus.DEFERRED, None),
        (DeliveryStatus.SENDING, past),
    ]
    rows = []
    for n in range(ROWS):
        status, lease = kinds[n % len(kinds)]
        rows.append(
            {"list_id": mlist.id, "message_id": message.id, "recipient": f"u{n}@example.net",
             "status": status, "lease_until": lease, "next_attempt_at": past}
        )  # fmt: skip
    await db.execute(insert(Delivery), rows)
    ids = set(await db.scalars(select(Delivery.id).where(Delivery.message_id == message.id)))
    await db.commit()
    return message.id, ids


async def _lane(runtime: Runtime, post: int, claims: list[int], errors: list[str]) -> None:
    """Claim; then record the answers and claim again in one transaction, as the sending
    job's lanes do (tasks/jobs/delivery.py), until nothing is due."""
    batch: list[distribution.Claimed] = []
    first = True
    while first or batch:
        try:
            async with transaction(runtime.sessionmaker) as session:
                if batch:
                    ids = [row.id for row in batch]
                    answers = [_answer(i) for i in ids]
                    await distribution.record_results(session, runtime.settings, ids, answers)
                following = await distribution.claim_batch(session, post, lease=LEASE, limit=BATCH)
        except DBAPIError as exc:
            # The sending job would try again; here it must not happen at all.
            errors.append(str(exc.orig))
            continue
        claims += [row.id for row in following]
        batch, first = following, False


async def test_lanes_claiming_side_by_side_take_each_row_once_without_deadlock(
    runtime: Runtime, db: AsyncSession
) -> None:
    mlist = await make_list(db)
    errors: list[str] = []
    async with asyncio.timeout(120):
        for number in range(POSTS):
            post, ids = await _post(db, mlist, number)
            claims: list[int] = []
            await asyncio.gather(*(_lane(runtime, post, claims, errors) for _ in range(LANES)))
            assert [i for i, n in Counter(claims).items() if n > 1] == []
            assert set(claims) == ids
            statuses = Counter(
                await db.scalars(select(Delivery.status).where(Delivery.message_id == post))
            )
            expected = Counter(
                DeliveryStatus.DEFERRED if _answer(i) is LATER else DeliveryStatus.SENT for i in ids
            )
            assert statuses == expected
            # The table stays small, as in a test run or a new installation: MariaDB then
            # reads it whole for `UPDATE ... WHERE id IN (...)`, where lanes' locks meet most.
            await db.execute(delete(Delivery))
            await db.commit()
    assert errors == []
