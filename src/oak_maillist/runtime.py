"""What a running process holds: settings, the database, the job broker, component states."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from oak_maillist.config import Settings
from oak_maillist.db.engine import create_engine, create_sessionmaker
from oak_maillist.ratelimit import Limiter


@dataclass
class Runtime:
    """Shared by the HTTP edge, the SMTP edge and the job workers of one process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    limiter: Limiter
    # What this process runs and how each part is doing, for /health.
    components: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.database)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            limiter=Limiter(settings.security.rate_limit_storage),
        )

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()
