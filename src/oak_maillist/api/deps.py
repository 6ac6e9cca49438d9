"""Dependencies shared by every route, as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.errors import AppError, ForbiddenError, NotAuthenticatedError
from oak_maillist.models import SystemRole, User, UserSession
from oak_maillist.ratelimit import Limiter
from oak_maillist.runtime import Runtime
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import sessions

MAX_PER_PAGE = 100
MAX_ID = 2**63 - 1  # BIGINT on every backend

# Every id in a path: bounded, so no backend ever sees an out-of-range integer.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings(request: Request) -> Settings:
    return get_runtime(request).settings


def get_limiter(request: Request) -> Limiter:
    return get_runtime(request).limiter


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The edge owns the transaction: commit when the handler returns, roll back if it raises
    (except errors marked `persist`, whose side effects must stay, like a failed-login count)."""
    async with get_runtime(request).sessionmaker() as session:
        try:
            yield session
        except AppError as exc:
            await (session.commit() if exc.persist else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


def get_origin(request: Request) -> Origin:
    """Client address (after trusted proxies, as uvicorn resolved it) and user agent."""
    client = request.client.host if request.client else ""
    return Origin(ip=client, user_agent=request.headers.get("user-agent", "")[:500])


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
LimiterDep = Annotated[Limiter, Depends(get_limiter)]
OriginDep = Annotated[Origin, Depends(get_origin)]

_bearer = HTTPBearer(auto_error=False, description="Access token from /auth/login")


@dataclass(frozen=True)
class Principal:
    """The signed-in user and the session their token belongs to."""

    user: User
    session: UserSession

    @property
    def is_admin(self) -> bool:
        return self.user.role == SystemRole.ADMIN


async def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticatedError
    user, user_session = await sessions.authenticate(
        session, credentials.credentials, settings.security
    )
    return Principal(user=user, session=user_session)


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise ForbiddenError
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]
AdminUser = Annotated[Principal, Depends(get_admin)]


class PageParams:
    """`page` (from 1) and `per_page` (capped) query parameters."""

    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
        per_page: Annotated[
            int, Query(ge=1, le=MAX_PER_PAGE, description=f"Items per page, at most {MAX_PER_PAGE}")
        ] = 20,
    ) -> None:
        self.page = page
        self.per_page = per_page

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


PageDep = Annotated[PageParams, Depends()]
