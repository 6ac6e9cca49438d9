"""A write is committed before its response starts: a client that has its 2xx can count on
what it changed (a list it created takes mail at once), and a failing commit is never
answered with a 2xx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Domain, SystemRole
from oak_maillist.runtime import Runtime
from tests.factories import login, make_user

Message = MutableMapping[str, Any]


async def test_a_write_is_seen_by_others_when_its_response_starts(
    app: FastAPI, runtime: Runtime, db: AsyncSession
) -> None:
    seen: list[int | None] = []

    async def watching(
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start" and scope["method"] == "POST":
                async with runtime.sessionmaker() as other:  # another connection
                    seen.append(
                        await other.scalar(
                            select(Domain.id).where(Domain.name == "order.example.org")
                        )
                    )
            await send(message)

        await app(scope, receive, watched_send)

    await make_user(db, runtime.settings.security, email="root@example.org", role=SystemRole.ADMIN)
    await db.commit()
    transport = httpx.ASGITransport(app=watching)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        admin = await login(client, "root@example.org")
        seen.clear()  # logging in posts too
        response = await client.post(
            "/api/v1/domains", headers=admin, json={"name": "order.example.org"}
        )
    assert response.status_code == 201
    assert seen == [response.json()["id"]]
