"""Alembic environment: runs on the connection our code hands over, or on the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import oak_maillist.models  # noqa: F401 - registers every table
from oak_maillist.db.base import Base
from oak_maillist.db.migrate import include_object

target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from oak_maillist.config import load_settings
    from oak_maillist.db.engine import create_engine

    engine = create_engine(load_settings().database)
    async with engine.begin() as connection:
        await connection.run_sync(_configure_and_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _configure_and_run(connection)
elif context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `oak-maillist migrate`")
else:
    asyncio.run(_run_from_settings())
