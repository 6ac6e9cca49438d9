"""Async engine and sessions for SQLite, PostgreSQL and MySQL/MariaDB from one URL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from oak_maillist.config import DatabaseSettings
from oak_maillist.db import sqlite_driver, wal
from oak_maillist.db.sqlite_ids import SqliteSession

SQLITE_BUSY_TIMEOUT_MS = 10_000


class DatabaseUrlError(ValueError):
    """The database URL cannot be understood."""


def sqlalchemy_url(url: str) -> URL:
    """Map the spec's URL forms onto SQLAlchemy URLs with our async drivers.

    `postgres://` and `postgresql://` use psycopg 3, `mysql://` and `mariadb://` use aiomysql
    with utf8mb4, and `sqlite://path` follows sqlx: `sqlite://data/x.db` is relative,
    `sqlite:///srv/x.db` absolute, `sqlite::memory:` in memory. URLs that already name a
    driver (`postgresql+psycopg://`) are taken as they are.
    """
    if url.startswith("sqlite"):
        return _sqlite_url(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseUrlError("database.url: missing '://'")
    drivers = {
        "postgres": "postgresql+psycopg",
        "postgresql": "postgresql+psycopg",
        "mysql": "mysql+aiomysql",
        "mariadb": "mysql+aiomysql",
        "mariadb+aiomysql": "mysql+aiomysql",
    }
    parsed = make_url(f"{drivers.get(scheme, scheme)}://{rest}")
    if parsed.get_backend_name() == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if parsed.get_backend_name() not in ("postgresql", "mysql"):
        raise DatabaseUrlError(f"database.url: unsupported database '{scheme}'")
    return parsed


def _sqlite_url(url: str) -> URL:
    if url.startswith("sqlite+aiosqlite:"):
        return make_url(url)
    rest = url.removeprefix("sqlite:").removeprefix("//")
    path, _, _query = rest.partition("?")  # sqlx options such as ?mode=rwc do not apply
    if path in (":memory:", ""):
        return make_url("sqlite+aiosqlite://")
    return URL.create("sqlite+aiosqlite", database=path)


IMMEDIATE_OPTION = "oak_sqlite_immediate"

# MariaDB/MySQL transactions run at READ COMMITTED, as PostgreSQL's do, and the code is
# written for it:
# - A statement reads what was committed before it began. At InnoDB's default, REPEATABLE
#   READ, every read after a transaction's first one sees the database as it was then: a
#   batch that waited for a list's lock (services/list_locks) would still not see the posts
#   of the batch it waited for.
# - A locking statement locks the rows it changes or selects, not every row it reads and
#   the gaps between index entries. Delivery lanes' `UPDATE ... WHERE id IN (...)` claims
#   are full scans of a small table in id order: at REPEATABLE READ each locked the other
#   lanes' rows as it passed while every lane held its own, and lanes waited for each other
#   (error 1213). At READ COMMITTED an UPDATE passes rows locked by others that do not match
#   (it reads their last committed version) and lets go of each row that does not match.
MYSQL_ISOLATION = "READ COMMITTED"


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine with the pool and connection settings from configuration."""
    url = sqlalchemy_url(settings.url.get_secret_value())
    backend = url.get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": backend != "sqlite"}
    if backend == "sqlite":
        options.update(_sqlite_options(url, settings))
    else:
        # Up to max_connections stay open once made. SQLAlchemy closes an "overflow"
        # connection as soon as it is returned, so a pool of min_connections plus overflow
        # would connect anew for most checkouts whenever more than min_connections are busy
        # (a new server process each time on PostgreSQL).
        options.update(
            pool_size=settings.max_connections,
            max_overflow=0,
            pool_recycle=settings.idle_timeout,
            pool_timeout=settings.connect_timeout,
            connect_args={"connect_timeout": settings.connect_timeout},
        )
    if backend == "mysql":
        options["connect_args"]["init_command"] = "SET time_zone = '+00:00'"
        options["isolation_level"] = MYSQL_ISOLATION
    engine = create_async_engine(url, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        if url.database:
            checkpoints = wal.Checkpoints(url.database)
            event.listen(engine.sync_engine, "commit", lambda _: checkpoints.after_commit())
    return engine


def _sqlite_options(url: URL, settings: DatabaseSettings) -> dict[str, Any]:
    if not url.database:
        # One shared connection, or every session would see its own empty database.
        return {
            "poolclass": StaticPool,
            "async_creator": sqlite_driver.connector(":memory:", check_same_thread=False),
        }
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # As for the servers: connections stay open once made (each is a thread, an open file
    # and its pragmas; SQLAlchemy would close an "overflow" one as soon as it is returned).
    return {
        "pool_size": settings.max_connections,
        "max_overflow": 0,
        "pool_timeout": settings.connect_timeout,
        "async_creator": sqlite_driver.connector(
            url.database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        ),
    }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={wal.BACKSTOP_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """BEGIN IMMEDIATE for work that asked for the write lock (`take_write_lock`).

    Otherwise the driver begins on its own before the first write, so reads before it see
    fresh data and the write waits its turn (busy_timeout). A transaction that began before
    reading and then writes cannot wait: if another writer committed after its first read,
    SQLite refuses the write at once (SQLITE_BUSY). Taking the lock up front avoids that.
    """
    if connection.get_execution_options().get(IMMEDIATE_OPTION, False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (async code cannot lazy-load); on
    SQLite, flushes that insert several rows of a table number them first (sqlite_ids)."""
    if engine.dialect.name == "sqlite":
        return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=SqliteSession)
    return async_sessionmaker(engine, expire_on_commit=False)


async def warm_pool(engine: AsyncEngine, count: int) -> None:
    """Open `count` connections up front so the pool holds min_connections from the start."""
    if count <= 0 or engine.dialect.name == "sqlite":
        return
    connections = [await engine.connect() for _ in range(count)]
    await asyncio.gather(*(connection.close() for connection in connections))


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession], *, urgent: bool = False
) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on error.

    On SQLite it holds the write lock from the start (see `_sqlite_begin`): use it for work
    that writes, and keep it short. The process's own writers queue for it first: SQLite lets
    one writer in at a time anyway, and a writer that finds it locked sleeps in SQLite's busy
    handler (milliseconds at a time) while the lock may long be free. An `urgent` writer
    (someone waits for its answer, like an SMTP client for its 250) goes before the others
    in that queue.
    """
    bind = sessionmaker.kw.get("bind")
    queue = _writers(bind) if isinstance(bind, AsyncEngine) else None
    async with contextlib.AsyncExitStack() as stack:
        if queue is not None:
            await _wait_turn(queue, urgent=urgent)
            stack.callback(queue.release)
        session = await stack.enter_async_context(sessionmaker())
        async with session.begin():
            await take_write_lock(session)
            pending: list[asyncio.Future[object]] = []
            session.info[_BEFORE_COMMIT] = pending
            try:
                yield session
            except BaseException:
                for job in pending:  # rolled back: nothing waits for the files any more
                    job.add_done_callback(_ignore_outcome)
                raise
            finally:
                session.info.pop(_BEFORE_COMMIT, None)
            if pending:
                await asyncio.gather(*pending)


_BEFORE_COMMIT = "oak_before_commit"


async def before_commit(session: AsyncSession, job: Callable[[], object]) -> None:
    """Run blocking `job` (writing a file that the transaction's rows point to) in a thread.

    Within `transaction()` the caller goes on at once, and the commit waits for the job (and
    fails if it fails): a post's file is written and synced while the next post is processed,
    yet no row points to a file that is not on disk. Elsewhere the job is awaited here.
    """
    pending: list[asyncio.Future[object]] | None = session.info.get(_BEFORE_COMMIT)
    if pending is None:
        await asyncio.to_thread(job)
        return
    pending.append(asyncio.ensure_future(asyncio.to_thread(job)))


def _ignore_outcome(job: asyncio.Future[object]) -> None:
    if not job.cancelled():
        job.exception()  # retrieved, so that asyncio does not report it as lost


class WriterQueue:
    """One writer at a time, urgent ones first, each kind in the order it came."""

    def __init__(self) -> None:
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._other: deque[asyncio.Future[None]] = deque()

    @property
    def urgent_waiting(self) -> bool:
        """Whether an urgent writer waits for its turn (a long writer may then give way)."""
        return any(not future.done() for future in self._urgent)

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._busy and not self._urgent and not self._other:
            self._busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._other).append(future)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # the turn came as the waiter was cancelled: pass it on
            raise

    def release(self) -> None:
        """Hand the turn to the next waiter (urgent first), or free it."""
        for waiting in (self._urgent, self._other):
            while waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
                    return
        self._busy = False


# One queue of writers per SQLite engine and event loop (tests run several loops).
_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, WriterQueue]] = (
    weakref.WeakKeyDictionary()
)


async def _wait_turn(queue: WriterQueue, *, urgent: bool) -> None:
    """As long as SQLite itself would wait for a writer, then "database is locked" as it would
    say (a transaction opened inside another would otherwise wait for ever)."""
    try:
        async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
            await queue.acquire(urgent=urgent)
    except TimeoutError:
        raise OperationalError(
            "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
        ) from None


def writer_queue(engine: AsyncEngine) -> WriterQueue | None:
    """This process's queue of SQLite writers for `engine` (None on other databases)."""
    return _writers(engine)


def _writers(engine: AsyncEngine) -> WriterQueue | None:
    if engine.dialect.name != "sqlite":
        return None
    queues = _WRITERS.setdefault(asyncio.get_running_loop(), {})
    return queues.setdefault(id(engine.sync_engine), WriterQueue())


async def take_write_lock(session: AsyncSession) -> None:
    """On SQLite, begin the session's transaction with the write lock (BEGIN IMMEDIATE), so
    a read followed by a write waits for other writers instead of failing; elsewhere nothing.
    Call it before the session's first statement."""
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        _connection = await session.connection(execution_options={IMMEDIATE_OPTION: True})
