"""Dependencies shared by every route, as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.engine import take_write_lock
from oak_maillist.errors import AppError, ForbiddenError, NotAuthenticatedError
from oak_maillist.models import MailingList, SystemRole, User, UserSession
from oak_maillist.ratelimit import Limiter
from oak_maillist.runtime import Runtime
from oak_maillist.services.access import Need, access_list
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


# Requests that only read; every other method may write, so on SQLite it takes the write lock.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The edge owns the transaction: commit when the handler returns, roll back if it raises
    (except errors marked `persist`, whose side effects must stay, like a failed-login count)."""
    async with get_runtime(request).sessionmaker() as session:
        if request.method not in SAFE_METHODS:
            await take_write_lock(session)
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


async def _committed(
    session: Annotated[AsyncSession, Depends(get_session)],
) -> AsyncIterator[AsyncSession]:
    """The handler's work, committed before its response is sent.

    get_session ends after the response (FastAPI's "request" scope, so that a streamed body
    can still read), so its commit came after the client had its answer: a client that
    created a list and at once sent mail to it could be refused (550 5.1.1, seen in a
    browser test), and a failing commit followed a 2xx. When the handler raises, get_session
    decides as before (roll back, or commit what must persist).
    """
    yield session
    await session.commit()


SessionDep = Annotated[AsyncSession, Depends(_committed, scope="function")]
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


async def get_optional_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The signed-in caller, or None for anonymous; a bad token is still a 401."""
    if credentials is None:
        return None
    return await get_principal(session, settings, credentials)


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise ForbiddenError
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]
AdminUser = Annotated[Principal, Depends(get_admin)]
OptionalUser = Annotated[Principal | None, Depends(get_optional_principal)]
# Marks routes that take OptionalUser, so the published schema says the token is optional.
OPTIONAL_AUTH: dict[str, Any] = {"x-auth-optional": True}


def _list_access(need: Need) -> Callable[..., Awaitable[MailingList]]:
    """A dependency that fetches the path's list through the one checked accessor.

    As a dependency it runs before the body is validated, so a caller without the role gets
    401/403/404 whatever they send.
    """

    async def dependency(
        list_id: IdPath, session: SessionDep, principal: OptionalUser
    ) -> MailingList:
        user = principal.user if principal else None
        if user is None and need > Need.READ:
            raise NotAuthenticatedError
        return await access_list(session, list_id, user, need=need)

    return dependency


ReadableList = Annotated[MailingList, Depends(_list_access(Need.READ))]
ModeratedList = Annotated[MailingList, Depends(_list_access(Need.MODERATOR))]
OwnedList = Annotated[MailingList, Depends(_list_access(Need.OWNER))]


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
