"""Every revision walks down and up on this backend, and the models match the migrated schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import inspect

from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.db.base import Base
from oak_maillist.db.engine import create_engine
from oak_maillist.runtime import Runtime
from tests.databases import create_database, drop_database, unique_name


@pytest.fixture
async def scratch(backend: str, settings: Settings, tmp_path: object) -> AsyncIterator[Runtime]:
    """A separate empty database, so walking migrations never disturbs the shared one."""
    name = unique_name("oak_mig")
    url = create_database(backend, name, tmp_path)  # type: ignore[arg-type]
    runtime = Runtime.from_settings(
        settings.model_copy(
            update={"database": DatabaseSettings(url=SecretStr(url), min_connections=1)}
        )
    )
    yield runtime
    await runtime.close()
    drop_database(backend, name)


def _revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def _tables(runtime: Runtime) -> set[str]:
    """Every table, search tables included (SQLite's FTS5 tables and their shadow tables)."""
    async with runtime.engine.connect() as connection:
        names: list[str] = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


def _model_tables(tables: set[str]) -> set[str]:
    return {name for name in tables if not migrate.is_search_object("table", name)}


async def test_each_revision_goes_down_and_up(scratch: Runtime) -> None:
    revisions = _revisions_oldest_first()
    assert revisions, "no migrations found"
    for revision in revisions:
        await migrate.upgrade(scratch.engine, revision)
        assert (await migrate.status(scratch.engine)).current == revision
    assert _model_tables(await _tables(scratch)) == set(Base.metadata.tables)
    for revision in reversed(revisions):
        assert (await migrate.status(scratch.engine)).current == revision
        await migrate.downgrade(scratch.engine, "-1")
    assert await _tables(scratch) == set()
    assert (await migrate.status(scratch.engine)).current is None
    await migrate.upgrade(scratch.engine)
    assert (await migrate.status(scratch.engine)).is_current


async def test_autogenerate_finds_no_drift(scratch: Runtime) -> None:
    await migrate.upgrade(scratch.engine)
    assert await migrate.drift(scratch.engine) == []


async def test_schema_has_every_table_of_the_product() -> None:
    expected = {
        "users",
        "user_sessions",
        "refresh_tokens",
        "backup_codes",
        "passkeys",
        "auth_challenges",
        "user_invitations",
        "domains",
        "mailing_lists",
        "list_roles",
        "subscribers",
        "subscription_requests",
        "inbound_messages",
        "messages",
        "threads",
        "attachments",
        "held_messages",
        "sender_policies",
        "ai_moderation_results",
        "ai_feedback",
        "deliveries",
        "pending_fanouts",
        "outbound_messages",
        "bounces",
        "digests",
        "email_templates",
        "system_settings",
        "activity_log",
        "failed_jobs",
    }
    assert set(Base.metadata.tables) == expected


async def test_utc_datetimes_and_large_binaries_round_trip(runtime: Runtime) -> None:
    from datetime import UTC, datetime

    from oak_maillist.models import InboundMessage

    raw = bytes(range(256)) * 1024  # 256 KiB: beyond MySQL's plain BLOB
    moment = datetime(2026, 11, 23, 10, 30, 15, 123456, tzinfo=UTC)
    async with runtime.sessionmaker() as session, session.begin():
        row = InboundMessage(
            raw=raw, size=len(raw), recipients=["a@b.c", "中文@例子.公司"], received_at=moment
        )
        session.add(row)
    async with runtime.sessionmaker() as session:
        loaded = await session.get(InboundMessage, row.id, populate_existing=True)
    assert loaded is not None
    assert loaded.raw == raw
    assert loaded.received_at == moment
    assert loaded.received_at.tzinfo is UTC
    assert loaded.recipients == ["a@b.c", "中文@例子.公司"]


def test_engine_pool_follows_settings() -> None:
    engine = create_engine(
        DatabaseSettings(
            url=SecretStr("postgres://u@127.0.0.1/x"),
            max_connections=12,
            min_connections=3,
            connect_timeout=4,
            idle_timeout=60,
        )
    )
    pool = engine.sync_engine.pool
    # up to max_connections kept open (no "overflow" connections closed on return)
    assert pool.size() == 12  # type: ignore[attr-defined]
    assert pool._max_overflow == 0  # type: ignore[attr-defined]
    assert pool._recycle == 60
    assert pool._timeout == 4  # type: ignore[attr-defined]


async def test_address_keys_differing_only_in_accents_are_distinct(runtime: Runtime) -> None:
    """On MariaDB the default collation folds accents; the key columns must not."""
    from oak_maillist.models import Subscriber
    from tests.factories import make_list

    async with runtime.sessionmaker() as session, session.begin():
        mlist = await make_list(session)
        for key in ("josé@example.org", "jose@example.org", "JOSE@example.org".lower() + "."):
            session.add(Subscriber(list_id=mlist.id, email=key, email_normalized=key))
    async with runtime.sessionmaker() as session:
        from sqlalchemy import func, select

        count = (await session.execute(select(func.count()).select_from(Subscriber))).scalar_one()
    assert count == 3
