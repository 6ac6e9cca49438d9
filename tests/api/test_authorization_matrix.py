"""Every endpoint under /api/v1, called as each kind of caller, against a table of who may.

A new endpoint without a row here fails this test: nobody can add a route and forget to
decide who may call it.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import ListRole, SystemRole
from oak_maillist.runtime import Runtime
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import sessions
from tests.factories import make_list, make_user

CALLERS = ("anonymous", "user", "moderator", "owner", "admin")
# The weakest caller allowed; every stronger caller is allowed too.
PUBLIC, USER, MODERATOR, OWNER, ADMIN = CALLERS

MATRIX: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/system/info"): PUBLIC,
    ("GET", "/api/v1/setup/status"): PUBLIC,
    ("POST", "/api/v1/setup"): PUBLIC,
    ("POST", "/api/v1/auth/register"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): USER,
    ("GET", "/api/v1/auth/me"): USER,
    ("GET", "/api/v1/auth/sessions"): USER,
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): USER,
    ("POST", "/api/v1/auth/sessions/revoke-others"): USER,
    # TOTP
    ("GET", "/api/v1/auth/mfa/status"): USER,
    ("POST", "/api/v1/auth/mfa/totp/setup"): USER,
    ("POST", "/api/v1/auth/mfa/totp/enable"): USER,
    ("POST", "/api/v1/auth/mfa/totp/disable"): USER,
    ("POST", "/api/v1/auth/mfa/backup-codes/regenerate"): USER,
    ("POST", "/api/v1/auth/mfa/totp/verify"): PUBLIC,
    # passkeys
    ("POST", "/api/v1/auth/passkey/register-options"): USER,
    ("POST", "/api/v1/auth/passkey/register"): USER,
    ("GET", "/api/v1/auth/passkeys"): USER,
    ("PATCH", "/api/v1/auth/passkeys/{passkey_id}"): USER,
    ("DELETE", "/api/v1/auth/passkeys/{passkey_id}"): USER,
    ("POST", "/api/v1/auth/passkey/auth-options"): PUBLIC,
    ("POST", "/api/v1/auth/passkey/login"): PUBLIC,
    # users
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users/invitations"): ADMIN,
    ("GET", "/api/v1/users/me"): USER,
    ("PATCH", "/api/v1/users/me"): USER,
    ("POST", "/api/v1/users/me/password"): USER,
    ("GET", "/api/v1/users/{user_id}"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/settings"): ADMIN,
    ("PATCH", "/api/v1/settings"): ADMIN,
    ("GET", "/api/v1/settings/ai-moderation"): ADMIN,
    ("PATCH", "/api/v1/settings/ai-moderation"): ADMIN,
    ("POST", "/api/v1/ai-moderation/settings/reset"): ADMIN,
    ("POST", "/api/v1/ai-moderation/test-connection"): ADMIN,
    ("GET", "/api/v1/activity"): ADMIN,
    # domains
    ("GET", "/api/v1/domains"): ADMIN,
    ("POST", "/api/v1/domains"): ADMIN,
    ("GET", "/api/v1/domains/{domain_id}"): ADMIN,
    ("PATCH", "/api/v1/domains/{domain_id}"): ADMIN,
    ("DELETE", "/api/v1/domains/{domain_id}"): ADMIN,
    ("POST", "/api/v1/domains/{domain_id}/dkim"): ADMIN,
    ("POST", "/api/v1/domains/{domain_id}/dkim/ed25519"): ADMIN,
    # lists (the list under test is public)
    ("GET", "/api/v1/lists"): PUBLIC,
    ("POST", "/api/v1/lists"): ADMIN,
    ("GET", "/api/v1/lists/{list_id}"): PUBLIC,
    ("PUT", "/api/v1/lists/{list_id}"): OWNER,
    ("DELETE", "/api/v1/lists/{list_id}"): OWNER,
    ("GET", "/api/v1/lists/{list_id}/roles"): MODERATOR,
    ("POST", "/api/v1/lists/{list_id}/roles"): OWNER,
    ("DELETE", "/api/v1/lists/{list_id}/roles/{role}/{user_id}"): OWNER,
    # subscribers: moderators read, owners change
    ("GET", "/api/v1/lists/{list_id}/subscribers"): MODERATOR,
    ("POST", "/api/v1/lists/{list_id}/subscribers"): OWNER,
    ("POST", "/api/v1/lists/{list_id}/subscribers/import"): OWNER,
    ("GET", "/api/v1/lists/{list_id}/subscribers/export"): OWNER,
    ("GET", "/api/v1/lists/{list_id}/subscribers/{subscriber_id}"): MODERATOR,
    ("PATCH", "/api/v1/lists/{list_id}/subscribers/{subscriber_id}"): OWNER,
    ("DELETE", "/api/v1/lists/{list_id}/subscribers/{subscriber_id}"): OWNER,
    # owner approval and invitations
    ("GET", "/api/v1/lists/{list_id}/subscription-requests"): OWNER,
    ("POST", "/api/v1/lists/{list_id}/subscription-requests/{subscriber_id}/approve"): OWNER,
    ("POST", "/api/v1/lists/{list_id}/subscription-requests/{subscriber_id}/reject"): OWNER,
    ("GET", "/api/v1/lists/{list_id}/invitations"): OWNER,
    ("POST", "/api/v1/lists/{list_id}/invitations"): OWNER,
    ("DELETE", "/api/v1/lists/{list_id}/invitations/{invitation_id}"): OWNER,
    # subscribing and leaving: public, acting on tokens from mail
    ("POST", "/api/v1/lists/{list_id}/subscribe"): PUBLIC,
    ("POST", "/api/v1/subscriptions/confirm"): PUBLIC,
    ("POST", "/api/v1/subscriptions/unsubscribe"): PUBLIC,
    ("POST", "/api/v1/subscriptions/one-click"): PUBLIC,
    ("GET", "/api/v1/subscriptions/preferences"): PUBLIC,
    ("PUT", "/api/v1/subscriptions/preferences"): PUBLIC,
    ("GET", "/api/v1/subscriptions/invitation"): PUBLIC,
    ("POST", "/api/v1/subscriptions/invitation/accept"): PUBLIC,
    # the dashboard: every signed-in user, scoped to the lists they run
    ("GET", "/api/v1/dashboard"): USER,
    # templates: site-wide for administrators, per list for owners; preview for list owners
    ("GET", "/api/v1/templates"): ADMIN,
    ("POST", "/api/v1/templates/preview"): OWNER,
    ("GET", "/api/v1/templates/{name}/{language}"): ADMIN,
    ("PUT", "/api/v1/templates/{name}/{language}"): ADMIN,
    ("DELETE", "/api/v1/templates/{name}/{language}"): ADMIN,
    ("GET", "/api/v1/lists/{list_id}/templates"): OWNER,
    ("GET", "/api/v1/lists/{list_id}/templates/{name}/{language}"): OWNER,
    ("PUT", "/api/v1/lists/{list_id}/templates/{name}/{language}"): OWNER,
    ("DELETE", "/api/v1/lists/{list_id}/templates/{name}/{language}"): OWNER,
    # sender policies: moderators read a list's rules, owners change them, admins the global
    # ones; a rule by id answers 404 to whoever may not see it
    ("GET", "/api/v1/lists/{list_id}/policies"): MODERATOR,
    ("POST", "/api/v1/lists/{list_id}/policies"): OWNER,
    ("PUT", "/api/v1/lists/{list_id}/policies/order"): OWNER,
    ("GET", "/api/v1/policies"): ADMIN,
    ("POST", "/api/v1/policies"): ADMIN,
    ("PUT", "/api/v1/policies/order"): ADMIN,
    ("GET", "/api/v1/policies/{policy_id}"): USER,
    ("PATCH", "/api/v1/policies/{policy_id}"): USER,
    ("DELETE", "/api/v1/policies/{policy_id}"): USER,
    # moderation: per list for its moderators; across lists and by id for any signed-in user,
    # who sees only the lists they moderate (others' held posts are 404)
    ("GET", "/api/v1/lists/{list_id}/moderation"): MODERATOR,
    ("GET", "/api/v1/moderation"): USER,
    ("GET", "/api/v1/moderation/{held_id}"): USER,
    ("POST", "/api/v1/moderation/{held_id}/approve"): USER,
    ("POST", "/api/v1/moderation/{held_id}/reject"): USER,
    ("POST", "/api/v1/moderation/{held_id}/discard"): USER,
    ("POST", "/api/v1/moderation/bulk"): USER,
    ("POST", "/api/v1/moderation/{held_id}/feedback"): USER,
    # AI moderation statistics: any signed-in user, scoped to the lists they moderate
    ("GET", "/api/v1/ai-moderation/stats"): USER,
    # archive: the list under test keeps a members-only archive (subscribers and list staff)
    ("GET", "/api/v1/lists/{list_id}/messages"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/messages/{message_id}"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/messages/{message_id}/raw"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/messages/{message_id}/attachments/{attachment_id}"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/threads"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/threads/{thread_id}"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/threads/{thread_id}/mbox"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/mbox"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/search"): MODERATOR,
    ("GET", "/api/v1/lists/{list_id}/messages/{message_id}/deliveries"): MODERATOR,
    ("POST", "/api/v1/lists/{list_id}/messages/{message_id}/deliveries/retry"): OWNER,
    ("GET", "/api/v1/lists/{list_id}/bounces"): MODERATOR,
}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the API publishes under /api/v1."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for method in operations
    ]


def test_every_endpoint_has_a_row(app: FastAPI) -> None:
    routes = set(_routes(app))
    assert routes - set(MATRIX) == set(), "endpoints without a row in MATRIX"
    assert set(MATRIX) - routes == set(), "rows for endpoints that do not exist"


async def _token(db: AsyncSession, runtime: Runtime, user_id: int) -> str:
    from oak_maillist.models import User

    user = await db.get(User, user_id)
    assert user is not None
    pair = await sessions.open_session(
        db, user, runtime.settings.security, origin=Origin(ip="127.0.0.1"), method="password"
    )
    await db.commit()
    return pair.access_token


@pytest.fixture
async def callers(db: AsyncSession, runtime: Runtime) -> dict[str, int | None]:
    security = runtime.settings.security
    mlist = await make_list(db)
    people = {
        "user": await make_user(db, security),
        "moderator": await make_user(db, security),
        "owner": await make_user(db, security),
        "admin": await make_user(db, security, role=SystemRole.ADMIN),
    }
    db.add_all(
        [
            ListRole(list_id=mlist.id, user_id=people["moderator"].id, role="moderator"),
            ListRole(list_id=mlist.id, user_id=people["owner"].id, role="owner"),
        ]
    )
    # a second administrator keeps "last admin" guards out of the way
    await make_user(db, security, role=SystemRole.ADMIN)
    victim = await make_user(db, security)
    await db.commit()
    return {
        "anonymous": None,
        "list_id": mlist.id,
        "victim": victim.id,
        **{name: person.id for name, person in people.items()},
    }


def _fill(path: str, ids: dict[str, int | None]) -> str:
    values = {
        "list_id": ids["list_id"],
        "user_id": ids["victim"],
        "role": "moderator",
        "name": "welcome",
        "language": "en",
    }
    return re.sub(r"\{(\w+)\}", lambda match: str(values.get(match.group(1), 999_999)), path)


async def test_who_may_call_what(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: AsyncSession,
    runtime: Runtime,
    callers: dict[str, int | None],
) -> None:
    problems = []
    for method, path in _routes(app):
        weakest = MATRIX[(method, path)]
        for caller in CALLERS:
            headers = {}
            user_id = callers[caller]
            if user_id is not None:
                headers["Authorization"] = f"Bearer {await _token(db, runtime, user_id)}"
            response = await client.request(
                method,
                _fill(path, callers),
                headers=headers,
                json={} if method in ("POST", "PATCH", "PUT") else None,
            )
            allowed = CALLERS.index(caller) >= CALLERS.index(weakest)
            denied = response.status_code in (401, 403)
            if response.status_code >= 500:
                problems.append(f"{method} {path} as {caller}: {response.status_code}")
            elif allowed and denied:
                problems.append(f"{method} {path} as {caller}: refused ({response.status_code})")
            elif not allowed and not denied:
                problems.append(f"{method} {path} as {caller}: allowed ({response.status_code})")
            elif not allowed and caller == "anonymous" and response.status_code != 401:
                problems.append(f"{method} {path} as anonymous: {response.status_code}, not 401")
    assert problems == []
