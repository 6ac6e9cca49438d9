"""A post's delivery rows are written in chunks: the first with the post, the rest after, each
eligible subscriber exactly once, nobody who joined after the post, nothing lost between chunks;
and a relay answer recorded late does not overwrite a bounce that came back first.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.delivery import relay
from oak_maillist.models import Delivery, MailingList, Message, PendingFanout, Subscriber
from oak_maillist.runtime import Runtime
from oak_maillist.services import distribution, fanout
from tests.factories import make_list

TOTAL = 3300


def _status(n: int) -> tuple[str, str]:
    """Every 13th subscriber left, every 10th reads the digest; the rest take single posts."""
    if n % 13 == 0:
        return "unsubscribed", "none"
    return "active", "daily" if n % 10 == 0 else "none"


async def _list(db: AsyncSession) -> tuple[MailingList, Message, set[str]]:
    mlist = await make_list(db, local_part="big")
    rows = []
    for n in range(TOTAL):
        status, digest = _status(n)
        email = f"u{n}@example.net"
        rows.append(
            {"list_id": mlist.id, "email": email, "email_normalized": email, "status": status,
             "digest_mode": digest}
        )  # fmt: skip
    await db.execute(insert(Subscriber), rows)
    message = Message(list_id=mlist.id, message_id="<p@x>", message_id_hash="h", subject="Hi")
    db.add(message)
    await db.commit()
    eligible = {f"u{n}@example.net" for n in range(TOTAL) if _status(n) == ("active", "none")}
    return mlist, message, eligible


def _jobs(session: AsyncSession) -> Counter[str]:
    pending: list[tuple[str, dict[str, Any]]] = session.info.get("oak_pending_jobs", [])
    return Counter(name for name, _kwargs in pending)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 2,000 rows, so that a list of a few thousand takes several."""
    monkeypatch.setattr(fanout, "CHUNK", 2000)


@pytest.mark.parametrize("shared", [True, False], ids=["workers", "one-process"])
async def test_a_long_list_fans_out_in_chunks_to_each_eligible_subscriber_once(
    runtime: Runtime, db: AsyncSession, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    # With a real broker, a long post starts several sending jobs for other workers to take up.
    monkeypatch.setattr(fanout, "is_shared", lambda: shared)
    mlist, message, eligible = await _list(db)
    async with runtime.sessionmaker() as session, session.begin():
        written = await fanout.fan_out(session, mlist, message)
        # the first chunk goes with the post; a job writes the rest, another starts sending
        assert written == fanout.FIRST_CHUNK
        senders = distribution.MAX_JOBS_PER_POST if shared else 1
        assert _jobs(session) == {fanout.FANOUT_JOB: 1, distribution.POST_JOB: senders}
    # someone who joins after the post was accepted does not get it
    db.add(Subscriber(list_id=mlist.id, email="late@example.net",
                      email_normalized="late@example.net", status="active"))  # fmt: skip
    await db.commit()

    chunks = []
    sending_jobs = senders
    for number in range(10):
        async with runtime.sessionmaker() as session, session.begin():
            chunk = await fanout.next_chunk(session, message.id, number=number)
            sending_jobs += _jobs(session)[distribution.POST_JOB]
        assert chunk is not None
        chunks.append(chunk.written)
        if chunk.done:
            break
    assert chunks == [fanout.CHUNK, len(eligible) - fanout.FIRST_CHUNK - fanout.CHUNK]
    # the fan-out job's first chunk starts one more (for a fan-out taken up after a stall)
    assert sending_jobs == senders + 1

    async with runtime.sessionmaker() as session:
        assert await fanout.next_chunk(session, message.id, number=0) is None
        assert await session.scalar(select(func.count()).select_from(PendingFanout)) == 0
        recipients = Counter(
            await session.scalars(
                select(Delivery.recipient).where(Delivery.message_id == message.id)
            )
        )
    assert set(recipients) == eligible
    assert set(recipients.values()) == {1}


async def test_a_short_list_is_written_with_the_post_alone(
    runtime: Runtime, db: AsyncSession
) -> None:
    mlist = await make_list(db, local_part="small")
    for n in range(3):
        email = f"s{n}@example.net"
        db.add(Subscriber(list_id=mlist.id, email=email, email_normalized=email, status="active"))
    message = Message(list_id=mlist.id, message_id="<q@x>", message_id_hash="q", subject="Hi")
    db.add(message)
    empty = await make_list(db, local_part="empty")
    lonely = Message(list_id=empty.id, message_id="<r@x>", message_id_hash="r", subject="Hi")
    db.add(lonely)
    await db.commit()
    async with runtime.sessionmaker() as session, session.begin():
        assert await fanout.fan_out(session, mlist, message) == 3
        assert await fanout.fan_out(session, empty, lonely) == 0
        assert _jobs(session) == {distribution.POST_JOB: 1}
        assert not await fanout.is_pending(session, message.id)


async def test_a_fan_out_left_between_chunks_is_found_and_finished(
    runtime: Runtime, db: AsyncSession
) -> None:
    mlist, message, eligible = await _list(db)
    async with runtime.sessionmaker() as session, session.begin():
        await fanout.fan_out(session, mlist, message)
    # The process dies here: its fan-out job is gone with it. The row says what is left.
    async with runtime.sessionmaker() as session:
        assert await fanout.is_pending(session, message.id)
        assert await fanout.stalled(session, grace=timedelta(seconds=60)) == []
        assert await fanout.stalled(session, grace=timedelta(0)) == [message.id]
    # Two jobs pick it up (the sweeper's and a late original): chunk by chunk, no row twice.
    for number in range(10):
        async with runtime.sessionmaker() as session, session.begin():
            first = await fanout.next_chunk(session, message.id, number=number)
        async with runtime.sessionmaker() as session, session.begin():
            second = await fanout.next_chunk(session, message.id, number=number)
        if first is None or first.done or second is None or second.done:
            break
    async with runtime.sessionmaker() as session:
        recipients = Counter(
            await session.scalars(
                select(Delivery.recipient).where(Delivery.message_id == message.id)
            )
        )
    assert set(recipients) == eligible
    assert set(recipients.values()) == {1}


async def test_a_bounce_stored_before_the_relay_answer_stays(
    runtime: Runtime, db: AsyncSession
) -> None:
    mlist = await make_list(db, local_part="race")
    db.add(Subscriber(list_id=mlist.id, email="a@example.net", email_normalized="a@example.net",
                      status="active"))  # fmt: skip
    message = Message(list_id=mlist.id, message_id="<s@x>", message_id_hash="s", subject="Hi")
    db.add(message)
    await db.commit()
    async with runtime.sessionmaker() as session, session.begin():
        await fanout.fan_out(session, mlist, message)
        [claimed] = await distribution.claim_batch(session, message.id, lease=timedelta(60))
    # the DSN comes back (and is stored) before the lane records the relay's 250
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Delivery).where(Delivery.id == claimed.id).values(status="bounced")
        )
    sent = relay.Result(relay.Outcome.SENT, 250, "OK")
    async with runtime.sessionmaker() as session, session.begin():
        recorded = await distribution.record_results(
            session, runtime.settings, [claimed.id], [sent]
        )
    assert recorded.counts == {"sent": 0}
    async with runtime.sessionmaker() as session:
        row = await session.get(Delivery, claimed.id)
        assert row is not None
        assert row.status == "bounced"
