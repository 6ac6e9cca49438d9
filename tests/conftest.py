"""Shared fixtures: settings, a migrated database on the chosen backend, the app over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.app import create_app
from oak_maillist.config import DatabaseSettings, DnsSettings, SecuritySettings, Settings
from oak_maillist.db import migrate
from oak_maillist.db.base import Base
from oak_maillist.logging import configure_logging
from oak_maillist.runtime import Runtime
from tests.databases import (
    BACKENDS,
    BackendUnavailableError,
    create_database,
    drop_database,
    unique_name,
)
from tests.sink import Sink, start_sink

TEST_SECRET = "test-secret-0123456789abcdef0123456789"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=BACKENDS,
        default="sqlite",
        help="database backend the suite runs on (default: sqlite)",
    )


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.config.getoption("--db")
    return value


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = unique_name()
    try:
        url = create_database(backend, name, tmp_path_factory.mktemp("db"))
    except BackendUnavailableError as exc:
        pytest.exit(f"backend {backend} unavailable: {exc}", returncode=3)
    yield url
    drop_database(backend, name)


BACKEND_INDEX = {"sqlite": 0, "postgresql": 1, "mysql": 2}


def redis_url(backend: str, slot: int) -> str:
    """A Redis database of this backend's own (slots 0-2): the three suites run side by side."""
    assert 0 <= slot <= 2
    return f"redis://127.0.0.1:6379/{4 + 3 * BACKEND_INDEX[backend] + slot}"


def amqp_url(backend: str) -> str:
    """This backend's own RabbitMQ virtual host (scripts/ensure-services.sh makes it)."""
    return f"amqp://guest:guest@127.0.0.1:5672/oak_{backend}"


def make_settings(database_url: str, **sections: object) -> Settings:
    """Settings for tests: cheap Argon2, the test database, everything else from defaults."""
    fields: dict[str, object] = {
        "run_mode": "test",
        "database": DatabaseSettings(
            url=SecretStr(database_url), min_connections=1, max_connections=10
        ),
        "security": SecuritySettings(
            jwt_secret=SecretStr(TEST_SECRET),
            argon2_time_cost=1,
            argon2_memory_cost_kib=1024,
            argon2_parallelism=1,
        ),
        # Tests do not ask the internet's DNS; the DMARC tests run their own server.
        "dns": DnsSettings(dmarc_lookups=False),
    }
    fields.update(sections)
    return Settings(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from oak_maillist.config import ArchiveSettings, LoggingSettings, ServerSettings

    storage = tmp_path_factory.mktemp("storage")
    settings = make_settings(
        database_url,
        server=ServerSettings(static_dir=storage / "no-frontend"),
        archive=ArchiveSettings(storage_path=storage / "archives"),
        logging=LoggingSettings(level="warning", format="json"),
    )
    configure_logging(settings.logging)
    return settings


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.from_settings(settings)
    await migrate.upgrade(runtime.engine)
    yield runtime
    await runtime.close()


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Each test starts from empty tables (truncation: the app commits its own sessions)."""
    yield
    if "runtime" not in request.fixturenames:
        return
    runtime: Runtime = request.getfixturevalue("runtime")
    await runtime.limiter.reset()
    async with runtime.sessionmaker() as session, session.begin():
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


@pytest.fixture
async def db(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking rows; commits when the test ends."""
    async with runtime.sessionmaker() as session:
        yield session
        await session.commit()


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    """A real SMTP server on 127.0.0.1 that receives what the service sends."""
    started, server = await start_sink()
    yield started
    server.close()
    await server.wait_closed()
