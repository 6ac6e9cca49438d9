"""The AI settings administrators change at run time, and who sees which statistics."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ActivityLog, ListRole, MailingList, SystemSetting
from oak_maillist.runtime import Runtime
from tests.factories import login, make_list, make_user

URL = "/api/v1/settings/ai-moderation"


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
