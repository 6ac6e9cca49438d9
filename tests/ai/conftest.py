"""AI moderation fixtures: fakes of the internet providers, the real local spam scorers, and a
whole mail service whose AI settings are changed at run time as an administrator would."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.ai import moderator
from oak_maillist.config import AiModerationSettings
from oak_maillist.models import ListRole, MailingList, Subscriber, SystemRole
from oak_maillist.runtime import Runtime
from oak_maillist.services import ai_moderation
from tests.ai import fake_aliyun, fake_openai
from tests.ai.httpfake import serve
from tests.factories import make_domain, make_list, make_user
from tests.pipeline.conftest import mail_service  # noqa: F401 - the fixture, reused here

RSPAMD = ("127.0.0.1", 11333)
SPAMD = ("127.0.0.1", 783)
TO = ["dev@lists.example.org"]


@pytest.fixture(autouse=True)
def _fresh_moderators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with closed circuits, and retries pause briefly."""
    monkeypatch.setattr(moderator, "BACKOFF_SECONDS", 0.05)
    moderator.forget_moderators()
    yield
    moderator.forget_moderators()


@pytest.fixture
async def aliyun() -> AsyncIterator[fake_aliyun.FakeAliyun]:
    fake = fake_aliyun.FakeAliyun()
    async with serve(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture
async def openai() -> AsyncIterator[fake_openai.FakeOpenAi]:
    fake = fake_openai.FakeOpenAi()
    async with serve(fake.app()) as url:
        fake.url = url
        yield fake


def _require(name: str, address: tuple[str, int]) -> None:
    """Real local services are part of the suite: a missing one fails, it is not skipped."""
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError:
        pytest.fail(
            f"{name} is not running on {address[0]}:{address[1]} (scripts/ensure-services.sh)"
        )


@pytest.fixture
def rspamd() -> str:
    _require("rspamd", RSPAMD)
    return f"http://{RSPAMD[0]}:{RSPAMD[1]}"


@pytest.fixture
def spamd() -> str:
    _require("spamd", SPAMD)
    return f"{SPAMD[0]}:{SPAMD[1]}"


def aliyun_config(url: str, **overrides: Any) -> AiModerationSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "provider": "aliyun",
        "endpoint": url,
        "access_key_id": fake_aliyun.KEY_ID,
        "access_key_secret": fake_aliyun.KEY_SECRET,
        "request_timeout_seconds": 2,
    }
    return AiModerationSettings.model_validate(values | overrides)


async def configure(runtime: Runtime, admin_id: int, **changes: Any) -> AiModerationSettings:
    """Change the AI settings at run time, as PATCH /settings/ai-moderation does."""
    async with runtime.sessionmaker() as session, session.begin():
        return await ai_moderation.update_config(
            session, runtime.settings, changes, actor_id=admin_id
        )


@pytest.fixture
async def dev(db: AsyncSession, runtime: Runtime) -> MailingList:
    """dev@lists.example.org with AI moderation on, alice subscribed, mod@example.org moderating,
    and admin@example.org administering the site."""
    domain = await make_domain(db, "lists.example.org")
    mlist = await make_list(db, domain, "dev", name="Developers", ai_moderation_enabled=True)
    db.add(
        Subscriber(
            list_id=mlist.id,
            email="alice@example.com",
            email_normalized="alice@example.com",
            status="active",
        )
    )
    moderator_user = await make_user(db, runtime.settings.security, "mod@example.org")
    db.add(ListRole(list_id=mlist.id, user_id=moderator_user.id, role="moderator"))
    await make_user(db, runtime.settings.security, "admin@example.org", role=SystemRole.ADMIN)
    await db.commit()
    return mlist
