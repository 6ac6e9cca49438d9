"""Alembic migrations driven from our own engine: up, down, status, and drift checks."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Full-text search lives outside the models (revision c3f8a1d2e4b5): SQLite's FTS5 tables and
# their shadow tables, PostgreSQL's messages_search table, MariaDB's FULLTEXT indexes and its
# generated column of CJK bigrams. Autogenerate must neither drop nor report them.
SEARCH_TABLE_PREFIX = "messages_search"
SEARCH_INDEX_PREFIX = "ix_messages_search_"
SEARCH_COLUMNS = frozenset({"search_cjk"})


def alembic_config() -> Config:
    """An Alembic configuration pointing at our migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    await _run(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str = "-1") -> None:
    """Roll back to `revision` (one step by default)."""
    await _run(engine, command.downgrade, revision)


async def status(engine: AsyncEngine) -> MigrationStatus:
    """The database's revision and the code's head revision."""
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    return MigrationStatus(current=current, head=head_revision())


async def drift(engine: AsyncEngine) -> list[Any]:
    """Differences between the migrated schema and the ORM models (empty when in step)."""
    import oak_maillist.models  # noqa: F401 - registers every table
    from oak_maillist.db.base import Base

    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts=_context_options(sync)), Base.metadata
            )
        )


def is_search_object(type_: str, name: str | None) -> bool:
    """Whether a reflected table, index or column belongs to the archive search."""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(SEARCH_TABLE_PREFIX)
    if type_ == "index":
        return name.startswith(SEARCH_INDEX_PREFIX)
    return type_ == "column" and name in SEARCH_COLUMNS


def include_object(
    _object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: leave out search objects that exist only in the database."""
    return not (reflected and compare_to is None and is_search_object(type_, name))


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _context_options(connection: Connection) -> dict[str, Any]:
    return {
        "compare_type": True,
        "render_as_batch": connection.dialect.name == "sqlite",
        "include_object": include_object,
    }


async def _run(engine: AsyncEngine, action: Any, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        action(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
