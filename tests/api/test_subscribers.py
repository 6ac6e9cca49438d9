"""Subscribers over HTTP: owner changes, listing, who may do what, and the CSV export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.models import ActivityLog, ListRole, MailingList, Subscriber
from oak_maillist.runtime import Runtime
from tests.factories import login, make_domain, make_list, make_user


@dataclass
class World:
    lists: dict[str, MailingList]
    headers: dict[str, dict[str, str]]

    def url(self, name: str, rest: str = "") -> str:
        return f"/api/v1/lists/{self.lists[name].id}/subscribers{rest}"


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime) -> World:
    """Ann owns the private list `dev`, Mo moderates it, Otto owns the private list `ops`."""
    security = runtime.settings.security
    people = {
        name: await make_user(db, security, email=f"{name}@example.org")
        for name in ("ann", "mo", "otto", "stranger")
    }
    domain = await make_domain(db, "lists.example.org")
    lists = {
        name: await make_list(db, domain, name, visibility="private") for name in ("dev", "ops")
    }
    db.add_all(
        [
            ListRole(list_id=lists["dev"].id, user_id=people["ann"].id, role="owner"),
            ListRole(list_id=lists["dev"].id, user_id=people["mo"].id, role="moderator"),
            ListRole(list_id=lists["ops"].id, user_id=people["otto"].id, role="owner"),
        ]
    )
    await db.commit()
    return World(lists, {name: await login(client, f"{name}@example.org") for name in people})


def _subscriber(mlist: MailingList, email: str, **fields: object) -> Subscriber:
    return Subscriber(
        list_id=mlist.id,
        email=email,
        email_normalized=email.lower(),
        status=fields.pop("status", "active"),
        subscribed_at=utcnow(),
        **fields,
    )


async def _actions(db: AsyncSession, list_id: int) -> list[str]:
    query = select(ActivityLog.action).where(ActivityLog.list_id == list_id)
    return sorted((await db.execute(query)).scalars())


async def test_owner_adds_changes_and_removes_a_subscriber(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    ann = world.headers["ann"]
    added = await client.post(
        world.url("dev"),
        headers=ann,
        json={"email": "Zoe.Ng@Example.org", "name": "Zoë Ng", "digest_mode": "daily"},
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert {key: body[key] for key in ("email", "name", "status", "digest_mode", "source")} == {
        "email": "Zoe.Ng@example.org",
        "name": "Zoë Ng",
        "status": "active",
        "digest_mode": "daily",
        "source": "owner",
    }
    assert (body["language"], body["bounce_score"], body["unsubscribed_at"]) == ("en", 0, None)
    assert body["subscribed_at"] is not None
    one = world.url("dev", f"/{body['id']}")
    assert (await client.get(one, headers=ann)).json() == body

    left = await client.patch(one, headers=ann, json={"status": "unsubscribed"})
    assert left.status_code == 200
    assert left.json()["status"] == "unsubscribed"
    assert left.json()["unsubscribed_at"] is not None
    back = (
        await client.patch(
            one, headers=ann, json={"status": "active", "digest_mode": "weekly", "name": "Zoe"}
        )
    ).json()
    assert (back["status"], back["digest_mode"], back["name"]) == ("active", "weekly", "Zoe")
    assert back["unsubscribed_at"] is None
    assert back["subscribed_at"] > body["subscribed_at"]
    unchanged = await client.patch(one, headers=ann, json={"name": "Zoe"})
    assert unchanged.json() == back

    assert (await client.delete(one, headers=ann)).status_code == 204
    gone = await client.get(one, headers=ann)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "subscriber_not_found"
    assert await _actions(db, world.lists["dev"].id) == [
        "subscriber.added",
        "subscriber.removed",
        "subscriber.updated",
        "subscriber.updated",
    ]


async def test_adding_an_address_twice_or_a_bad_one(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    ann = world.headers["ann"]
    first = await client.post(world.url("dev"), headers=ann, json={"email": "a@example.org"})
    assert first.status_code == 201
    again = await client.post(world.url("dev"), headers=ann, json={"email": "A@EXAMPLE.org"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "subscriber_exists"
    for body in (
        {"email": "not-an-address"},
        {"email": "b@example.org", "digest_mode": "hourly"},
        {"email": "b@example.org", "status": "bouncing"},
        {"email": "b@example.org", "name": "x" * 201},
        {"email": "b@example.org", "name": "line\nbreak"},
        {"email": "b@example.org", "role": "owner"},
    ):
        refused = await client.post(world.url("dev"), headers=ann, json=body)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["code"] == "validation_error"
    # the same address on another list is another subscriber
    otto = world.headers["otto"]
    elsewhere = await client.post(world.url("ops"), headers=otto, json={"email": "a@example.org"})
    assert elsewhere.status_code == 201
    count = select(func.count()).select_from(Subscriber)
    assert (await db.execute(count)).scalar_one() == 2


async def test_list_search_filters_and_pages(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    dev = world.lists["dev"]
    db.add_all(
        [
            _subscriber(dev, f"user{n:02}@example.org", name=f"User {n}", digest_mode="none")
            for n in range(25)
        ]
    )
    db.add_all(
        [
            _subscriber(dev, "Carol@Example.com", name="Carol 100%_sure", digest_mode="daily"),
            _subscriber(dev, "dave@example.com", name="Dave", status="unsubscribed"),
            _subscriber(dev, "erin@example.com", name="ERIN Smith", digest_mode="weekly"),
            _subscriber(world.lists["ops"], "frank@example.com", name="Frank"),
        ]
    )
    await db.commit()
    mo = world.headers["mo"]

    async def emails(**params: object) -> tuple[list[str], int]:
        response = await client.get(world.url("dev"), headers=mo, params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        body = response.json()
        return [item["email"] for item in body["items"]], body["total"]

    first, total = await emails(per_page=5)
    assert total == 28
    assert first == [
        "Carol@Example.com",
        "dave@example.com",
        "erin@example.com",
        "user00@example.org",
        "user01@example.org",
    ]
    assert await emails(page=6, per_page=5) == (
        ["user22@example.org", "user23@example.org", "user24@example.org"],
        28,
    )
    assert await emails(q="CAROL") == (["Carol@Example.com"], 1)
    assert await emails(q="smith") == (["erin@example.com"], 1)  # name, case-insensitive
    assert await emails(q="100%_") == (["Carol@Example.com"], 1)  # wildcards are literal
    assert (await emails(q="%"))[1] == 1
    assert (await emails(q="_"))[1] == 1
    assert await emails(q="user1", per_page=3) == (
        ["user10@example.org", "user11@example.org", "user12@example.org"],
        10,
    )
    assert await emails(status="unsubscribed") == (["dave@example.com"], 1)
    assert await emails(digest_mode="weekly") == (["erin@example.com"], 1)
    assert await emails(digest_mode="daily", status="active", q="example.com") == (
        ["Carol@Example.com"],
        1,
    )
    for params in (
        {"per_page": 101},
        {"status": "gone"},
        {"digest_mode": "hourly"},
        {"page": 0},
        {"q": "nul\x00byte"},
    ):
        refused = await client.get(world.url("dev"), headers=mo, params=params)
        assert refused.status_code == 422, params


async def test_a_subscriber_of_another_list_is_not_found(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    theirs = _subscriber(world.lists["ops"], "frank@example.com")
    db.add(theirs)
    await db.commit()
    ann = world.headers["ann"]
    one = world.url("dev", f"/{theirs.id}")
    for response in (
        await client.get(one, headers=ann),
        await client.patch(one, headers=ann, json={"status": "disabled"}),
        await client.delete(one, headers=ann),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "subscriber_not_found"
    await db.refresh(theirs)
    assert theirs.status == "active"


async def test_who_may_read_and_change_subscribers(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    mine = _subscriber(world.lists["dev"], "kept@example.org")
    db.add(mine)
    await db.commit()
    one = world.url("dev", f"/{mine.id}")
    csv_file = {"file": ("s.csv", b"email\r\nnew@example.org\r\n", "text/csv")}
    changes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", world.url("dev"), {"json": {"email": "new@example.org"}}),
        ("PATCH", one, {"json": {"status": "disabled"}}),
        ("DELETE", one, {}),
        ("POST", world.url("dev", "/import"), {"files": csv_file}),
        ("GET", world.url("dev", "/export"), {}),
    ]
    reads: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", world.url("dev"), {}),
        ("GET", one, {}),
    ]
    expected = {
        # a moderator reads but changes nothing; another owner and a stranger see no list
        "mo": {"read": 200, "change": 403},
        "otto": {"read": 404, "change": 404},
        "stranger": {"read": 404, "change": 404},
        "anonymous": {"read": 401, "change": 401},
    }
    for caller, statuses in expected.items():
        headers = world.headers.get(caller, {})
        for kind, calls in (("read", reads), ("change", changes)):
            for method, url, extra in calls:
                response = await client.request(method, url, headers=headers, **extra)
                assert response.status_code == statuses[kind], (caller, method, url)
    await db.refresh(mine)
    assert mine.status == "active"
    count = select(func.count()).select_from(Subscriber)
    assert (await db.execute(count)).scalar_one() == 1
    assert await _actions(db, world.lists["dev"].id) == []


async def test_export_neutralises_formulas_and_imports_again(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    dev = world.lists["dev"]
    db.add_all(
        [
            _subscriber(dev, "eve@example.org", name='=HYPERLINK("http://evil.example","x")'),
            _subscriber(dev, "-dash@example.org", name="@cmd", digest_mode="daily"),
            _subscriber(dev, "plain@example.org", name='Zoë "Z" Ng, 张伟'),
            _subscriber(dev, "tab@example.org", name="\tTab", status="unsubscribed"),
        ]
    )
    await db.commit()
    ann = world.headers["ann"]
    response = await client.get(world.url("dev", "/export"), headers=ann)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="dev-')
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0] == ["email", "name", "digest_mode", "status", "subscribed_at"]
    assert [row[:4] for row in rows[1:]] == [
        ["'-dash@example.org", "'@cmd", "daily", "active"],
        ["eve@example.org", '\'=HYPERLINK("http://evil.example","x")', "none", "active"],
        ["plain@example.org", 'Zoë "Z" Ng, 张伟', "none", "active"],
        ["tab@example.org", "'\tTab", "none", "unsubscribed"],
    ]
    assert all(row[4].endswith("+00:00") for row in rows[1:])
    only = await client.get(world.url("dev", "/export"), headers=ann, params={"status": "active"})
    assert len(list(csv.reader(io.StringIO(only.text)))) == 4

    # The export imports into another list unchanged (the apostrophes come off again).
    otto = world.headers["otto"]
    files = {"file": ("dev.csv", response.content, "text/csv")}
    imported = await client.post(world.url("ops", "/import"), headers=otto, files=files)
    assert imported.status_code == 200, imported.text
    assert (imported.json()["imported"], imported.json()["errors"]) == (4, [])
    query = (
        select(Subscriber.email, Subscriber.name, Subscriber.digest_mode)
        .where(Subscriber.list_id == world.lists["ops"].id)
        .order_by(Subscriber.email_normalized)
    )
    assert [tuple(row) for row in await db.execute(query)] == [
        ("-dash@example.org", "@cmd", "daily"),
        ("eve@example.org", '=HYPERLINK("http://evil.example","x")', "none"),
        ("plain@example.org", 'Zoë "Z" Ng, 张伟', "none"),
        ("tab@example.org", "Tab", "none"),
    ]
    assert await _actions(db, dev.id) == ["subscriber.exported", "subscriber.exported"]
