"""CSV import over HTTP: 100,000 rows with bad ones mixed in, dry runs, file-level errors."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.models import ActivityLog, ListRole, MailingList, Subscriber
from oak_maillist.runtime import Runtime
from oak_maillist.services import csv_import, subscriber_csv
from tests.api.mailing import jobs_relaying_to, link_token
from tests.factories import login, make_domain, make_list, make_user
from tests.sink import Sink

ROWS = 100_000
NAMES = ("Zoë Ünal", "张伟", "Ólafur Arnalds", "Nguyễn Văn An", "Ann Lee", "")
DIGESTS = ("", "none", "daily", "weekly")


@dataclass
class BigFile:
    """The file, and what an import of it must report and store."""

    data: bytes
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    good: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name, digest)
    old: list[str] = field(default_factory=list)  # addresses already on the list


def _row(n: int) -> tuple[list[str], str | None]:
    """The physical lines for row n, and the reason it is rejected (None: imported)."""
    address, name, digest = f"user{n}@example.org", NAMES[n % 6], DIGESTS[n % 4]
    match n % 1000:
        case 3:
            return [f"user{n}@@example.org,{name},{digest},"], "invalid_email"
        case 5:
            return [f"not an address,{name},{digest},"], "invalid_email"
        case 7:
            return [f"USER{n - 1}@EXAMPLE.org,{name},{digest},"], "duplicate_in_file"
        case 11:
            return [f"{address},{name},hourly,"], "invalid_digest_mode"
        case 13:
            return [f",{name},daily,"], "missing_email"
        case 17:
            return [f"old{n}@example.org,{name},{digest},"], "already_subscribed"
        case 29:
            return [f"{address},{name},{digest},note,stray"], "too_many_columns"
        case 19:  # a quoted name across two lines
            return [f'{address},"Line one', f' line, two",{digest},'], None
        case 23:  # a blank line first
            return ["", f"{address},{name},{digest},"], None
    return [f"{address},{name},{digest},a note"], None


def _big_file() -> BigFile:
    lines = ["Email,Name,Digest_Mode,Notes"]
    big = BigFile(b"")
    for n in range(ROWS):
        row, reason = _row(n)
        first_line = len(lines) + 1 + (1 if row[0] == "" else 0)
        lines += row
        if reason is not None:
            big.rejected.append((first_line, reason))
        else:
            name = "Line one line, two" if n % 1000 == 19 else NAMES[n % 6]
            big.good[f"user{n}@example.org"] = (name, DIGESTS[n % 4] or "none")
        if reason == "already_subscribed":
            big.old.append(f"old{n}@example.org")
    big.data = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()
    return big


@pytest.fixture(scope="module")
def big() -> BigFile:
    return _big_file()


@dataclass
class World:
    lists: dict[str, MailingList]
    ann: dict[str, str]

    def url(self, name: str) -> str:
        return f"/api/v1/lists/{self.lists[name].id}/subscribers/import"


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime) -> World:
    """Ann owns `dev` and `test`."""
    ann = await make_user(db, runtime.settings.security, email="ann@example.org")
    domain = await make_domain(db)
    lists = {name: await make_list(db, domain, name) for name in ("dev", "test")}
    db.add_all(ListRole(list_id=mlist.id, user_id=ann.id, role="owner") for mlist in lists.values())
    await db.commit()
    return World(lists, await login(client, "ann@example.org"))


async def _seed(db: AsyncSession, mlist: MailingList, addresses: list[str]) -> None:
    db.add_all(
        Subscriber(
            list_id=mlist.id,
            email=address,
            email_normalized=address,
            name="Before",
            status="unsubscribed",
            unsubscribed_at=utcnow(),
        )
        for address in addresses
    )
    await db.commit()


async def _upload(
    client: httpx.AsyncClient, world: World, name: str, data: bytes, **params: Any
) -> httpx.Response:
    files = {"file": ("members.csv", data, "text/csv")}
    return await client.post(world.url(name), headers=world.ann, files=files, params=params)


def _reasons(big: BigFile) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _line, reason in big.rejected:
        counts[reason] = counts.get(reason, 0) + 1
    return counts


async def _stored(db: AsyncSession, mlist: MailingList) -> dict[str, tuple[str, str, str, str]]:
    query = select(
        Subscriber.email_normalized,
        Subscriber.name,
        Subscriber.digest_mode,
        Subscriber.status,
        Subscriber.source,
    ).where(Subscriber.list_id == mlist.id)
    return {
        key: (name, digest, status, source)
        for key, name, digest, status, source in (await db.execute(query))
    }


@pytest.mark.slow
async def test_import_of_100000_rows_reports_each_bad_one(
    client: httpx.AsyncClient, world: World, db: AsyncSession, big: BigFile
) -> None:
    dev = world.lists["dev"]
    await _seed(db, dev, big.old)
    response = await _upload(client, world, "dev", big.data)
    assert response.status_code == 200, response.text
    report = response.json()
    assert {key: report[key] for key in ("dry_run", "mode", "total_rows", "imported")} == {
        "dry_run": False,
        "mode": "active",
        "total_rows": ROWS,
        "imported": len(big.good),
    }
    assert (report["skipped"], report["errors_truncated"]) == (len(big.rejected), False)
    assert report["skipped_by_reason"] == _reasons(big)
    assert [(error["line"], error["reason"]) for error in report["errors"]] == big.rejected
    first = report["errors"][0]
    assert (first["email"], first["line"]) == ("user3@@example.org", 5)
    assert "@" in first["message"]
    assert report["errors"][2]["message"] == "Same address as line 8"

    stored = await _stored(db, dev)
    assert len(stored) == len(big.good) + len(big.old)
    imported = {key: value for key, value in stored.items() if key not in big.old}
    assert {key: value[:2] for key, value in imported.items()} == big.good
    assert {value[2:] for value in imported.values()} == {("active", "import")}
    assert {stored[key] for key in big.old} == {("Before", "none", "unsubscribed", "web")}
    log = (
        await db.execute(select(ActivityLog).where(ActivityLog.action == "subscriber.imported"))
    ).scalar_one()
    assert (log.list_id, log.details["imported"], log.details["skipped"]) == (
        dev.id,
        len(big.good),
        len(big.rejected),
    )

    # The same file again: every address it holds is now on the list.
    again = (await _upload(client, world, "dev", big.data)).json()
    assert (again["imported"], again["skipped"]) == (0, ROWS)
    assert again["skipped_by_reason"] == _reasons(big) | {
        "already_subscribed": len(big.good) + len(big.old)
    }
    assert len(again["errors"]) == csv_import.MAX_REPORTED_ERRORS
    assert again["errors_truncated"] is True
    assert [error["line"] for error in again["errors"][:4]] == [2, 3, 4, 5]
    assert again["errors"][0]["reason"] == "already_subscribed"
    assert len(await _stored(db, dev)) == len(big.good) + len(big.old)


@pytest.mark.slow
async def test_dry_run_reports_the_same_and_writes_nothing(
    client: httpx.AsyncClient, world: World, db: AsyncSession, big: BigFile
) -> None:
    test = world.lists["test"]
    await _seed(db, test, big.old)
    response = await _upload(client, world, "test", big.data, dry_run="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["dry_run"], report["total_rows"]) == (True, ROWS)
    assert (report["imported"], report["skipped"]) == (len(big.good), len(big.rejected))
    assert [(error["line"], error["reason"]) for error in report["errors"]] == big.rejected
    assert len(await _stored(db, test)) == len(big.old)
    actions = select(func.count()).select_from(ActivityLog).where(ActivityLog.list_id == test.id)
    assert (await db.execute(actions)).scalar_one() == 0


async def test_header_in_any_order_and_case_with_extra_columns(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    data = (
        b"Notes, DIGEST_MODE ,Name,E-Mail,EMAIL\n"  # 'e-mail' is not a column we know
        b"x,Weekly,  Ann   Lee ,ignored,Ann@Example.org\n"
        b"\n"
        b"y,,,ignored,bob@example.org\n"
        b",,,,\n"
    )
    report = (await _upload(client, world, "dev", data)).json()
    assert (report["total_rows"], report["imported"], report["errors"]) == (2, 2, [])
    assert await _stored(db, world.lists["dev"]) == {
        "ann@example.org": ("Ann Lee", "weekly", "active", "import"),
        "bob@example.org": ("", "none", "active", "import"),
    }


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "csv_missing_header"),
        (b"\xef\xbb\xbf\r\n\r\n", "csv_missing_header"),
        (b"name,digest_mode\nAnn,daily\n", "csv_missing_email_column"),
        (b"ann@example.org,Ann\n", "csv_missing_email_column"),
        (b"email,name,Email\na@example.org,A,b@example.org\n", "csv_duplicate_column"),
    ],
)
async def test_a_file_without_a_usable_header_is_refused(
    client: httpx.AsyncClient, world: World, db: AsyncSession, data: bytes, code: str
) -> None:
    response = await _upload(client, world, "dev", data)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert await _stored(db, world.lists["dev"]) == {}


async def test_requests_the_endpoint_does_not_take(client: httpx.AsyncClient, world: World) -> None:
    data = b"email\na@example.org\n"
    unknown = await _upload(client, world, "dev", data, mode="invite")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["fields"][0]["field"] == "query.mode"
    no_file = await client.post(world.url("dev"), headers=world.ann, json={"file": "x"})
    assert no_file.status_code == 422
    two = await client.post(
        world.url("dev"),
        headers=world.ann,
        files=[("file", ("a.csv", data, "text/csv")), ("file", ("b.csv", data, "text/csv"))],
    )
    assert two.status_code == 400


async def test_rows_that_cannot_be_read_are_reported_and_the_rest_imported(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    data = b"".join(
        [
            b"email,name,digest_mode\r\n",
            b"latin1@example.org,Ren\xe9e,daily\r\n",  # line 2: not UTF-8
            b'huge@example.org,"' + b"x" * 200_000 + b'",none\r\n',  # line 3: over csv's limit
            b"nul@example.org,A\x00B,weekly\r\n",
            b"long@example.org," + "é".encode() * 300 + b",\r\n",
            b"'=formula@example.org,'@home,DAILY\r\n",
            b"'+not-a-formula@example.org,'x,\r\n",
        ]
    )
    report = (await _upload(client, world, "dev", data)).json()
    assert [(error["line"], error["reason"]) for error in report["errors"]] == [
        (2, "invalid_encoding"),
        (3, "malformed_row"),
    ]
    assert report["errors"][0]["email"] == "latin1@example.org"
    assert (report["total_rows"], report["imported"]) == (6, 4)
    stored = await _stored(db, world.lists["dev"])
    assert stored["nul@example.org"][0] == "A B"
    assert stored["long@example.org"][0] == "é" * 200
    assert stored["=formula@example.org"][:2] == ("@home", "daily")
    assert stored["+not-a-formula@example.org"][0] == "'x"


async def test_the_error_list_is_capped_but_counted(
    client: httpx.AsyncClient, world: World
) -> None:
    data = ("email\n" + "".join(f"bad{n}\n" for n in range(1500))).encode()
    report = (await _upload(client, world, "dev", data)).json()
    assert (report["skipped"], report["skipped_by_reason"]) == (1500, {"invalid_email": 1500})
    assert len(report["errors"]) == 1000
    assert report["errors"][-1]["line"] == 1001
    assert report["errors_truncated"] is True


async def test_an_address_added_during_the_import_is_reported_not_fatal(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another request adds an address after the import looked: the bulk INSERT clashes."""
    dev = world.lists["dev"]
    await _seed(db, dev, ["b@example.org"])

    async def looked_too_early(_job: object, _keys: list[str]) -> dict[str, str]:
        return {}

    monkeypatch.setattr(csv_import, "_existing", looked_too_early)
    data = b"email\na@example.org\nb@example.org\nc@example.org\n"
    report = (await _upload(client, world, "dev", data)).json()
    assert (report["imported"], report["skipped_by_reason"]) == (2, {"already_subscribed": 1})
    assert report["errors"][0]["line"] == 3
    stored = await _stored(db, dev)
    assert sorted(stored) == ["a@example.org", "b@example.org", "c@example.org"]
    assert stored["b@example.org"][2] == "unsubscribed"


async def test_a_big_list_is_asked_batch_by_batch(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dev = world.lists["dev"]
    await _seed(db, dev, ["b@example.org"])
    monkeypatch.setattr(csv_import, "PRELOAD_LIMIT", 0)
    data = b"email\na@example.org\nB@example.org\n"
    report = (await _upload(client, world, "dev", data)).json()
    assert (report["imported"], report["skipped_by_reason"]) == (1, {"already_subscribed": 1})
    assert report["errors"][0]["message"] == "Already on the list (status unsubscribed)"


def test_the_row_count_is_capped() -> None:
    reader = subscriber_csv.SubscriberCsvReader(
        io.BytesIO(b"email\na@example.org\n\nb@example.org\nc@example.org\n"), max_rows=2
    )
    reader.read_header()
    with pytest.raises(subscriber_csv.TooManyRowsError):
        reader.read_batch(10)


@pytest.fixture
async def mailing(runtime: Runtime, sink: Sink) -> AsyncIterator[None]:
    async with jobs_relaying_to(runtime, sink):
        yield


CONFIRM_FILE = (
    b"email,name,digest_mode\r\n"
    b"Ada@Example.org,Ada,daily\r\n"
    b"bo@example.org,Bo,\r\n"
    b"old@example.org,Old,\r\n"
    b"broken@@example.org,,\r\n"
)


@pytest.mark.usefixtures("mailing")
async def test_confirm_mode_mails_each_new_address_a_confirmation(
    client: httpx.AsyncClient, world: World, db: AsyncSession, sink: Sink
) -> None:
    dev = world.lists["dev"]
    dev.subscription_policy = "approval"  # the owner's import is the approval
    await _seed(db, dev, ["old@example.org"])
    dry = (await _upload(client, world, "dev", CONFIRM_FILE, mode="confirm", dry_run=True)).json()
    assert (dry["mode"], dry["dry_run"], dry["imported"]) == ("confirm", True, 2)
    assert dry["skipped_by_reason"] == {"already_subscribed": 1, "invalid_email": 1}
    assert sorted(await _stored(db, dev)) == ["old@example.org"]

    await db.commit()  # a new snapshot (MariaDB reads repeatably within a transaction)
    report = (await _upload(client, world, "dev", CONFIRM_FILE, mode="confirm")).json()
    assert (report["mode"], report["dry_run"], report["imported"]) == ("confirm", False, 2)
    stored = await _stored(db, dev)
    assert stored["ada@example.org"] == ("Ada", "daily", "pending", "import")
    assert stored["bo@example.org"] == ("Bo", "none", "pending", "import")
    mails = {mail.recipients[0]: mail.message for mail in await sink.wait_for(2)}
    assert sorted(mails) == ["Ada@example.org", "bo@example.org"]
    assert "Please confirm" in mails["Ada@example.org"]["Subject"]

    token = link_token(mails["Ada@example.org"].get_content(), "subscribe/confirm")
    confirmed = await client.post("/api/v1/subscriptions/confirm", json={"token": token})
    assert confirmed.json()["status"] == "active"
    welcome = (await sink.wait_for(3))[2].message
    assert welcome["To"] == "Ada@example.org"
    await db.commit()
    assert (await _stored(db, dev))["bo@example.org"][2] == "pending"
    log = (
        await db.execute(select(ActivityLog).where(ActivityLog.action == "subscriber.imported"))
    ).scalar_one()
    assert (log.details["mode"], log.details["imported"]) == ("confirm", 2)
    assert len(sink.received) == 3  # the dry run mailed nobody


async def test_confirm_mode_takes_a_bounded_file(
    client: httpx.AsyncClient, world: World, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_import, "MAX_CONFIRM_ROWS", 2)
    data = b"email\na@example.org\nb@example.org\nc@example.org\n"
    refused = await _upload(client, world, "dev", data, mode="confirm")
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "import_too_many_rows"
    assert await _stored(db, world.lists["dev"]) == {}
    assert (await _upload(client, world, "dev", data)).json()["imported"] == 3
