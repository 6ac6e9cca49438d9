"""AI moderation end to end: posts over real SMTP, scored by a provider in the score job, held
or delivered, reviewed over HTTP, feedback given and counted in the statistics."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import (
    AiFeedback,
    AiModerationResult,
    HeldMessage,
    MailingList,
    Message,
    SenderPolicy,
    User,
)
from oak_maillist.runtime import Runtime
from tests.ai import fake_aliyun
from tests.ai.conftest import TO, configure
from tests.ai.fake_aliyun import FakeAliyun
from tests.factories import login, make_domain
from tests.pipeline.conftest import MailService, message

ALICE = "alice@example.com"


async def _admin_id(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        found = await session.scalar(select(User.id).where(User.email == "admin@example.org"))
        assert found is not None
        return found


async def _use_aliyun(runtime: Runtime, fake: FakeAliyun, **changes: Any) -> None:
    settings = {
        "enabled": True,
        "provider": "aliyun",
        "endpoint": fake.url,
        "access_key_id": fake_aliyun.KEY_ID,
        "access_key_secret": fake_aliyun.KEY_SECRET,
        "request_timeout_seconds": 2,
    }
    await configure(runtime, await _admin_id(runtime), **(settings | changes))


async def _post(service: MailService, subject: str, body: str, n: int, sender: str = ALICE) -> Any:
    return await service.deliver(
        message(sender=sender, subject=subject, body=body, message_id=f"<ai{n}@example.com>"),
        sender=sender,
        recipients=TO,
    )


async def _one(runtime: Runtime, model: type, **where: object) -> Any:
    async with runtime.sessionmaker() as session:
        found: list[Any] = list((await session.scalars(select(model).filter_by(**where))).all())
        assert len(found) == 1, found
        return found[0]


async def _wait_learned(runtime: Runtime, feedback_id: int) -> bool:
    for _ in range(100):
        async with runtime.sessionmaker() as session:
            feedback = await session.get(AiFeedback, feedback_id)
            if feedback is not None and feedback.sent_to_provider:
                return True
        await asyncio.sleep(0.05)
    return False


async def test_risky_post_is_held_reviewed_marked_false_positive_and_counted(
    mail_service: MailService, dev: MailingList, aliyun: FakeAliyun, client: httpx.AsyncClient
) -> None:
    runtime = mail_service.runtime
    await _use_aliyun(runtime, aliyun)
    row = await _post(mail_service, "Casino night", "Join the casino night on Friday.", 1)
    assert row.outcome == "hold", row.reasons
    assert row.reasons[-1].startswith("dev@lists.example.org: hold: ai_flagged: score 92")
    # the poster hears the post waits for review; the score and labels stay with moderators
    notices = await mail_service.sink.wait_for(2)  # the moderator's notice and the poster's
    [held_notice] = [m for m in notices if m.recipients == [ALICE]]
    text = held_notice.message.get_content()
    assert "automated content screening" in text
    assert "92" not in text
    assert "gambling" not in text
    auth = await login(client, "mod@example.org")

    queue = (await client.get(f"/api/v1/lists/{dev.id}/moderation", headers=auth)).json()
    [item] = queue["items"]
    assert item["reason"] == "ai_flagged"
    ai = item["ai"]
    assert (ai["provider"], ai["score"], ai["level"]) == ("aliyun", 92, "flagged")
    assert (ai["labels"], ai["risk_words"], ai["error"]) == (
        ["contraband_gambling"],
        ["casino"],
        None,
    )

    approved = await client.post(f"/api/v1/moderation/{item['id']}/approve", headers=auth)
    assert approved.json()["outcome"] == "accept", approved.text
    feedback = await client.post(
        f"/api/v1/moderation/{item['id']}/feedback",
        json={"kind": "false_positive", "note": "a charity event"},
        headers=auth,
    )
    assert feedback.status_code == 201, feedback.text
    assert feedback.json()["kind"] == "false_positive"
    again = await client.post(
        f"/api/v1/moderation/{item['id']}/feedback", json={"kind": "false_positive"}, headers=auth
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "feedback_already_given")
    wrong = await client.post(
        f"/api/v1/moderation/{item['id']}/feedback", json={"kind": "maybe"}, headers=auth
    )
    assert wrong.status_code == 422

    clean = await _post(mail_service, "Release plan", "The release is on Friday.", 2)
    caution = await _post(mail_service, "Review", "Whoever wrote this is an idiot.", 3)
    assert (clean.outcome, caution.outcome) == ("accept", "accept")
    assert (
        "ai_caution: score 64 from aliyun (inappropriate_profanity); marked" in caution.reasons[0]
    )
    async with runtime.sessionmaker() as session:
        levels = dict((await session.execute(select(Message.subject, Message.ai_level))).all())
    assert levels == {"Casino night": None, "Release plan": None, "Review": "caution"}

    stats = (await client.get("/api/v1/ai-moderation/stats", headers=auth)).json()
    [mine] = stats["lists"]
    assert mine["levels"] == {"none": 1, "caution": 1, "flagged": 1, "error": 0}
    assert (mine["held"], mine["approved"], mine["overturn_rate"]) == (1, 1, 1.0)
    assert (mine["false_positives"], mine["false_positive_rate"]) == (1, 0.5)
    assert mine["providers"] == {"aliyun": 3}
    assert mine["latency"]["p95_ms"] is not None


async def test_provider_timeout_follows_the_lists_on_error(
    mail_service: MailService, dev: MailingList, aliyun: FakeAliyun, db: AsyncSession
) -> None:
    runtime = mail_service.runtime
    await _use_aliyun(runtime, aliyun, request_timeout_seconds=1, max_retries=0)
    aliyun.always_delay = 2
    held_row = await _post(mail_service, "Hello", "A normal post.", 1)
    assert held_row.outcome == "hold"  # fail closed: never a silent pass
    held = await _one(runtime, HeldMessage, reason="ai_error")
    result = await _one(runtime, AiModerationResult, id=held.ai_result_id)
    assert (result.level, result.score, result.error) == (
        "error",
        None,
        "aliyun: no answer in time",
    )

    mlist = await db.get(MailingList, dev.id)
    assert mlist is not None
    mlist.ai_on_error = "accept"
    await db.commit()
    passed = await _post(mail_service, "Hello again", "Another post.", 2)
    assert passed.outcome == "accept"
    assert "ai_error: aliyun failed: aliyun: no answer in time; accepted" in passed.reasons[0]


async def test_a_slow_provider_slows_neither_smtp_nor_other_writers(
    mail_service: MailService, dev: MailingList, aliyun: FakeAliyun
) -> None:
    runtime = mail_service.runtime
    await _use_aliyun(runtime, aliyun, request_timeout_seconds=5)
    aliyun.always_delay = 2
    started = time.monotonic()
    send = asyncio.create_task(
        asyncio.to_thread(
            mail_service.send,
            message(subject="Slow", message_id="<slow@example.com>"),
            sender=ALICE,
            recipients=TO,
        )
    )
    await send
    smtp_seconds = time.monotonic() - started
    for _ in range(500):  # until the provider is being asked
        if aliyun.calls:
            break
        await asyncio.sleep(0.01)
    write_started = time.monotonic()
    async with runtime.sessionmaker() as session, session.begin():
        await make_domain(session, "other.example.org")
    write_seconds = time.monotonic() - write_started
    row = await mail_service.processed_after(0)
    assert row.outcome == "accept"
    assert smtp_seconds < 1.0
    assert write_seconds < 0.5


async def test_whitelisted_senders_are_not_scored(
    mail_service: MailService, dev: MailingList, aliyun: FakeAliyun, db: AsyncSession
) -> None:
    await _use_aliyun(mail_service.runtime, aliyun)
    db.add(
        SenderPolicy(
            list_id=dev.id,
            kind="whitelist",
            pattern_type="exact",
            pattern=ALICE,
            action="discard",
            position=1,
        )
    )
    await db.commit()
    row = await _post(mail_service, "Casino", "casino casino", 1)
    assert row.outcome == "accept"
    assert aliyun.calls == []


async def test_the_same_flow_with_rspamd(
    mail_service: MailService, dev: MailingList, rspamd: str, client: httpx.AsyncClient
) -> None:
    runtime = mail_service.runtime
    await configure(
        runtime, await _admin_id(runtime), enabled=True, provider="rspamd", endpoint=rspamd
    )
    gtube = "Planning notes.\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
    row = await _post(mail_service, "Planning", gtube, 1)
    assert row.outcome == "hold", row.reasons
    auth = await login(client, "mod@example.org")
    [item] = (await client.get("/api/v1/moderation", headers=auth)).json()["items"]
    assert (item["ai"]["provider"], item["ai"]["level"], item["ai"]["labels"]) == (
        "rspamd",
        "flagged",
        ["GTUBE"],
    )
    approved = await client.post(f"/api/v1/moderation/{item['id']}/approve", headers=auth)
    assert approved.json()["outcome"] == "accept"
    feedback = await client.post(
        f"/api/v1/moderation/{item['id']}/feedback",
        json={"kind": "false_positive", "whitelist": True},
        headers=auth,
    )
    assert feedback.status_code == 201, feedback.text
    assert await _wait_learned(runtime, feedback.json()["id"])  # rspamd learned it as ham
    rule = await _one(runtime, SenderPolicy, list_id=dev.id)
    assert (rule.kind, rule.pattern) == ("whitelist", ALICE)

    clean = await mail_service.deliver(  # a well-formed post, dated now, from a non-member
        "From: Bob <bob@example.com>\r\nTo: dev@lists.example.org\r\nSubject: Notes\r\n"
        f"Date: {formatdate()}\r\nMessage-ID: <notes@example.com>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nThe release is on Friday; the notes"
        " for the migration, the budget and the rollout plan follow next week.\r\n",
        sender="bob@example.com",
        recipients=TO,
    )
    assert clean.outcome == "hold"  # bob is no member: held as before, with rspamd's score
    held = await _one(runtime, HeldMessage, reason="nonmember")
    result = await _one(runtime, AiModerationResult, id=held.ai_result_id)
    assert (result.provider, result.level) == ("rspamd", "none")
    wrong_kind = await client.post(
        f"/api/v1/moderation/{held.id}/feedback", json={"kind": "false_positive"}, headers=auth
    )
    assert (wrong_kind.status_code, wrong_kind.json()["error"]["code"]) == (
        409,
        "feedback_not_applicable",
    )
    missed = await client.post(
        f"/api/v1/moderation/{held.id}/feedback", json={"kind": "false_negative"}, headers=auth
    )
    assert missed.status_code == 201  # rspamd learns bob's post as spam
    assert await _wait_learned(runtime, missed.json()["id"])
    stats = (await client.get(f"/api/v1/ai-moderation/stats?list_id={dev.id}", headers=auth)).json()
    [mine] = stats["lists"]
    assert (mine["levels"]["flagged"], mine["levels"]["none"]) == (1, 1)
    assert (mine["false_positives"], mine["false_negatives"], mine["false_negative_rate"]) == (
        1,
        1,
        1.0,
    )


async def test_feedback_needs_an_ai_verdict(
    mail_service: MailService, dev: MailingList, client: httpx.AsyncClient
) -> None:
    row = await _post(mail_service, "Hi", "Hello.", 1, sender="bob@example.com")  # AI is off
    assert row.outcome == "hold"
    held = await _one(mail_service.runtime, HeldMessage, reason="nonmember")
    assert held.ai_result_id is None
    auth = await login(client, "mod@example.org")
    response = await client.post(
        f"/api/v1/moderation/{held.id}/feedback", json={"kind": "false_negative"}, headers=auth
    )
    assert (response.status_code, response.json()["error"]["code"]) == (409, "no_ai_verdict")
    stranger = await login(client, "admin@example.org")
    elsewhere = await client.post(
        "/api/v1/moderation/999999/feedback", json={"kind": "false_negative"}, headers=stranger
    )
    assert elsewhere.status_code == 404
