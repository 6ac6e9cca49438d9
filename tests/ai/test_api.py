"""The AI settings administrators change at run time (reset to the file's, a test call to the
provider), and who sees which statistics: per list, added up and per day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.ai.moderator import moderator_for
from oak_maillist.db.types import utcnow
from oak_maillist.models import (
    ActivityLog,
    AiModerationResult,
    HeldMessage,
    InboundMessage,
    ListRole,
    MailingList,
    SystemSetting,
)
from oak_maillist.runtime import Runtime
from oak_maillist.services import ai_moderation
from tests.ai import fake_aliyun, fake_openai
from tests.factories import login, make_list, make_user

URL = "/api/v1/settings/ai-moderation"
STATS = "/api/v1/ai-moderation/stats"
TEST_CONNECTION = "/api/v1/ai-moderation/test-connection"
RESET = "/api/v1/ai-moderation/settings/reset"


async def test_admins_change_provider_and_thresholds_and_never_see_secrets(
    client: httpx.AsyncClient, dev: MailingList, db: AsyncSession
) -> None:
    admin = await login(client, "admin@example.org")
    before = (await client.get(URL, headers=admin)).json()
    assert (before["provider"], before["enabled"], before["overridden"]) == ("aliyun", False, [])
    assert before["endpoint"] == "https://green-cip.cn-shanghai.aliyuncs.com/"
    assert (before["access_key_secret_set"], before["circuit"]) == (False, "closed")

    changed = await client.patch(
        URL,
        headers=admin,
        json={
            "enabled": True,
            "provider": "rspamd",
            "endpoint": "http://127.0.0.1:11333",
            "high_risk_threshold": 90,
            "medium_risk_threshold": 60,
            "access_key_secret": "very-secret-value",
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["provider"], body["high_risk_threshold"], body["medium_risk_threshold"]) == (
        "rspamd",
        90,
        60,
    )
    assert body["access_key_secret_set"] is True
    assert "very-secret-value" not in changed.text
    assert "access_key_secret" not in body
    assert "very-secret-value" not in (await client.get(URL, headers=admin)).text
    stored = await db.get(SystemSetting, "ai_moderation")
    assert stored is not None
    assert "very-secret-value" not in str(stored.value)  # encrypted at rest
    logged = await db.scalar(
        select(ActivityLog).where(ActivityLog.action == "settings.ai_moderation_updated")
    )
    assert logged is not None
    assert "very-secret-value" not in str(logged.details)

    cleared = await client.patch(URL, headers=admin, json={"access_key_secret": ""})
    assert cleared.json()["access_key_secret_set"] is False


async def test_bad_ai_settings_are_refused_with_the_problem_named(
    client: httpx.AsyncClient, dev: MailingList
) -> None:
    admin = await login(client, "admin@example.org")
    crossed = await client.patch(
        URL, headers=admin, json={"high_risk_threshold": 40, "medium_risk_threshold": 60}
    )
    assert crossed.status_code == 422
    error = crossed.json()["error"]
    assert error["code"] == "ai_settings_invalid"
    assert "medium_risk_threshold must not exceed high_risk_threshold" in error["message"]
    not_url = await client.patch(URL, headers=admin, json={"endpoint": "127.0.0.1:783"})
    assert not_url.json()["error"]["code"] == "ai_settings_invalid"
    assert "needs an http(s) URL" in not_url.json()["error"]["message"]
    spamd = await client.patch(
        URL, headers=admin, json={"provider": "spamassassin", "endpoint": "127.0.0.1:783"}
    )
    assert spamd.status_code == 200
    unknown = await client.patch(URL, headers=admin, json={"jwt_secret": "x"})
    assert unknown.status_code == 422
    out_of_range = await client.patch(URL, headers=admin, json={"high_risk_threshold": 101})
    assert out_of_range.status_code == 422
    moderator = await login(client, "mod@example.org")
    assert (await client.get(URL, headers=moderator)).status_code == 403


async def test_statistics_cover_only_the_lists_a_moderator_moderates(
    client: httpx.AsyncClient, dev: MailingList, db: AsyncSession, runtime: Runtime
) -> None:
    other = await make_list(db, name="Other")
    stranger = await make_user(db, runtime.settings.security, "stranger@example.org")
    db.add(ListRole(list_id=other.id, user_id=stranger.id, role="moderator"))
    await db.commit()
    moderator = await login(client, "mod@example.org")
    mine = await client.get(f"/api/v1/ai-moderation/stats?list_id={dev.id}", headers=moderator)
    assert mine.status_code == 200
    assert mine.json()["lists"] == []  # nothing scored yet
    theirs = await client.get(f"/api/v1/ai-moderation/stats?list_id={other.id}", headers=moderator)
    assert theirs.status_code in (403, 404)
    bad = await client.get("/api/v1/ai-moderation/stats?days=0", headers=moderator)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"]


async def _verdicts(db: AsyncSession, rows: list[tuple[MailingList, str, int]]) -> None:
    """Stored verdicts (list, level, days ago), and an AI hold for each flagged one."""
    inbound = InboundMessage(raw=b"Subject: scored\r\n\r\nx\r\n")
    db.add(inbound)
    await db.flush()
    for mlist, level, days_ago in rows:
        when = utcnow() - timedelta(days=days_ago)
        result = AiModerationResult(
            list_id=mlist.id,
            inbound_id=inbound.id,
            provider="aliyun",
            score=90 if level == "flagged" else 10,
            level=level,
            latency_ms=100 + days_ago,
            created_at=when,
        )
        db.add(result)
        await db.flush()
        if level == "flagged":
            db.add(
                HeldMessage(
                    list_id=mlist.id,
                    inbound_id=inbound.id,
                    reason="ai_flagged",
                    ai_result_id=result.id,
                    created_at=when,
                )
            )
    await db.commit()


def _day(body: dict[str, Any], days_ago: int) -> dict[str, Any]:
    wanted = (utcnow() - timedelta(days=days_ago)).date().isoformat()
    found: dict[str, Any] = next(day for day in body["series"] if day["day"] == wanted)
    return found


async def test_statistics_add_up_the_lists_and_count_each_day(
    client: httpx.AsyncClient, dev: MailingList, db: AsyncSession
) -> None:
    other = await make_list(db, name="Other", ai_moderation_enabled=True)
    await _verdicts(
        db,
        [
            (dev, "flagged", 0),
            (dev, "none", 2),
            (dev, "none", 2),
            (other, "caution", 1),
            (dev, "none", 40),  # outside a week, inside 90 days
        ],
    )
    admin = await login(client, "admin@example.org")
    week = (await client.get(f"{STATS}?days=7", headers=admin)).json()
    assert len(week["series"]) == 7
    assert week["series"][-1]["day"] == utcnow().date().isoformat()
    assert week["since"].startswith((utcnow() - timedelta(days=6)).date().isoformat())
    totals = week["totals"]
    assert (totals["total"], totals["held"]) == (4, 1)
    assert totals["levels"] == {"none": 2, "caution": 1, "flagged": 1, "error": 0}
    assert totals["providers"] == {"aliyun": 4}
    assert totals["latency"]["max_ms"] == 102
    assert [row["total"] for row in week["lists"]] == [3, 1]
    today, yesterday, before = _day(week, 0), _day(week, 1), _day(week, 2)
    assert (today["levels"]["flagged"], today["held"]) == (1, 1)
    assert (yesterday["levels"]["caution"], yesterday["held"]) == (1, 0)
    assert before["levels"] == {"none": 2, "caution": 0, "flagged": 0, "error": 0}
    assert sum(sum(day["levels"].values()) for day in week["series"]) == 4

    quarter = (await client.get(f"{STATS}?days=90", headers=admin)).json()
    assert (len(quarter["series"]), quarter["totals"]["total"]) == (90, 5)
    assert _day(quarter, 40)["levels"]["none"] == 1

    # A moderator of dev alone: the totals and the days cover dev only.
    moderator = await login(client, "mod@example.org")
    mine = (await client.get(f"{STATS}?days=7", headers=moderator)).json()
    assert [row["list_id"] for row in mine["lists"]] == [dev.id]
    assert mine["totals"]["total"] == 3
    assert _day(mine, 1)["levels"]["caution"] == 0
    one = (await client.get(f"{STATS}?days=7&list_id={other.id}", headers=admin)).json()
    assert (one["totals"]["total"], _day(one, 1)["levels"]["caution"]) == (1, 1)
    assert _day(one, 0)["held"] == 0


async def test_nothing_scored_gives_zero_totals_and_empty_days(
    client: httpx.AsyncClient, dev: MailingList
) -> None:
    admin = await login(client, "admin@example.org")
    body = (await client.get(f"{STATS}?days=1", headers=admin)).json()
    assert body["lists"] == []
    assert (body["totals"]["total"], body["totals"]["overturn_rate"]) == (0, None)
    assert body["totals"]["latency"] == {"p50_ms": None, "p95_ms": None, "max_ms": None}
    assert body["series"] == [
        {
            "day": utcnow().date().isoformat(),
            "levels": {"none": 0, "caution": 0, "flagged": 0, "error": 0},
            "held": 0,
        }
    ]


async def test_connection_test_calls_the_provider_once_and_reports_its_error(
    client: httpx.AsyncClient,
    dev: MailingList,
    db: AsyncSession,
    runtime: Runtime,
    openai: fake_openai.FakeOpenAi,
) -> None:
    admin = await login(client, "admin@example.org")
    # Switched off, as an administrator tries a provider before turning it on.
    settings = {"provider": "openai", "endpoint": f"{openai.url}/v1", "api_key": "sk-wrong-key"}
    assert (await client.patch(URL, headers=admin, json=settings)).status_code == 200

    refused = await client.post(TEST_CONNECTION, headers=admin)
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert (body["ok"], body["provider"], body["score"]) == (False, "openai", None)
    assert "Incorrect API key provided" in body["error"]
    assert "sk-wrong-key" not in refused.text
    assert openai.calls == []  # refused before the body was read: one request, no retries
    config = await ai_moderation.effective_config(db, runtime.settings)
    assert moderator_for(config).breaker.state == "closed"  # the breaker is left alone

    assert (
        await client.patch(URL, headers=admin, json={"api_key": fake_openai.API_KEY})
    ).status_code == 200
    answered = (await client.post(TEST_CONNECTION, headers=admin)).json()
    assert (answered["ok"], answered["error"], answered["score"]) == (True, None, 0)
    assert answered["latency_ms"] >= 0
    assert len(openai.calls) == 1
    assert "connection test" in openai.calls[0]["input"][0]

    moderator = await login(client, "mod@example.org")
    assert (await client.post(TEST_CONNECTION, headers=moderator)).status_code == 403


async def test_connection_test_reports_aliyuns_signature_error(
    client: httpx.AsyncClient, dev: MailingList, aliyun: fake_aliyun.FakeAliyun
) -> None:
    admin = await login(client, "admin@example.org")
    unsigned = (await client.post(TEST_CONNECTION, headers=admin)).json()
    assert (unsigned["ok"], unsigned["error"]) == (False, "aliyun: no access key id or secret set")
    settings = {
        "provider": "aliyun",
        "endpoint": aliyun.url,
        "access_key_id": fake_aliyun.KEY_ID,
        "access_key_secret": "not-the-secret-0123456789",
    }
    assert (await client.patch(URL, headers=admin, json=settings)).status_code == 200
    wrong = (await client.post(TEST_CONNECTION, headers=admin)).json()
    assert (wrong["ok"], wrong["provider"]) == (False, "aliyun")
    assert "SignatureDoesNotMatch" in wrong["error"]
    fixed = {"access_key_secret": fake_aliyun.KEY_SECRET}
    assert (await client.patch(URL, headers=admin, json=fixed)).status_code == 200
    right = (await client.post(TEST_CONNECTION, headers=admin)).json()
    assert (right["ok"], right["error"]) == (True, None)
    assert len(aliyun.calls) == 1


async def test_reset_sets_run_time_values_back_to_the_files(
    client: httpx.AsyncClient, dev: MailingList, db: AsyncSession
) -> None:
    admin = await login(client, "admin@example.org")
    file_default = (await client.get(URL, headers=admin)).json()["endpoint"]
    changes = {"endpoint": "http://127.0.0.1:9/", "high_risk_threshold": 90, "api_key": "sk-x"}
    changed = (await client.patch(URL, headers=admin, json=changes)).json()
    assert changed["overridden"] == ["api_key", "endpoint", "high_risk_threshold"]

    reset = await client.post(RESET, headers=admin, json={"names": ["endpoint", "api_key"]})
    assert reset.status_code == 200, reset.text
    body = reset.json()
    assert (body["endpoint"], body["api_key_set"]) == (file_default, False)
    assert body["overridden"] == ["high_risk_threshold"]
    assert body["high_risk_threshold"] == 90
    assert (await client.get(URL, headers=admin)).json()["endpoint"] == file_default
    logged = await db.scalar(
        select(ActivityLog).where(ActivityLog.action == "settings.ai_moderation_reset")
    )
    assert logged is not None

    unknown = await client.post(RESET, headers=admin, json={"names": ["jwt_secret"]})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"]
    nothing = await client.post(RESET, headers=admin, json={"names": []})
    assert nothing.status_code == 422
    moderator = await login(client, "mod@example.org")
    refused = await client.post(RESET, headers=moderator, json={"names": ["endpoint"]})
    assert refused.status_code == 403
