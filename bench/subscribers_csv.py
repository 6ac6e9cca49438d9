"""Subscriber CSV import, export and search at 100,000 subscribers, on a fresh database.

    .venv/bin/python bench/subscribers_csv.py [--db sqlite|postgresql|mysql] [--rows 100000]

Prints rows per second for the import through the service (median of --runs, each into a new
list), a dry run, a re-import, the two ways to find addresses already on the list, one import
over HTTP (the app in-process), `GET /subscribers` pages with and without a search, and the
streamed export.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from oak_maillist.app import create_app
from oak_maillist.config import DatabaseSettings, LoggingSettings, SecuritySettings, Settings
from oak_maillist.db import migrate
from oak_maillist.logging import configure_logging
from oak_maillist.models import Domain, ListRole, MailingList, Subscriber, SystemRole, User
from oak_maillist.runtime import Runtime
from oak_maillist.services import csv_import, users
from oak_maillist.services.activity import Origin

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 0123"  # noqa: S105 - a throwaway database
NAMES = ("Ann Lee", "Zoë Ünal", "张伟", "Ólafur Arnalds", "Nguyễn Văn An", "Bob", "")


def make_csv(rows: int, seed: int = 7) -> bytes:
    """A file as owners send them: BOM, CRLF, about 1% bad rows (the test's mix)."""
    rng = random.Random(seed)
    lines = ["email,name,digest_mode"]
    for n in range(rows):
        name = rng.choice(NAMES)
        digest = rng.choice(("", "none", "daily", "weekly"))
        match n % 200:
            case 17:
                lines.append(f"broken{n}@@example.org,{name},{digest}")
            case 53:
                lines.append(f"USER{n - 1}@EXAMPLE.ORG,{name},{digest}")  # duplicate
            case 101:
                lines.append(f"user{n}@example.org,{name},hourly")
            case _:
                lines.append(f"user{n}@example.org,{name},{digest}")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def spooled(data: bytes) -> tempfile.SpooledTemporaryFile[bytes]:
    """The upload as Starlette hands it over: spooled to disk past 1 MB."""
    file = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115
    file.write(data)
    file.seek(0)
    return file


async def timed(action: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await action()
    return time.perf_counter() - started, result


async def setup(runtime: Runtime) -> tuple[User, Domain]:
    await migrate.upgrade(runtime.engine)
    async with runtime.sessionmaker() as session, session.begin():
        admin = await users.create_user(
            session,
            email="bench@example.org",
            password=PASSWORD,
            settings=runtime.settings.security,
            role=SystemRole.ADMIN,
        )
        domain = Domain(name="bench.example.org")
        session.add(domain)
        await session.flush()
    return admin, domain


async def new_list(runtime: Runtime, domain: Domain, admin: User, name: str) -> MailingList:
    async with runtime.sessionmaker() as session, session.begin():
        mlist = MailingList(domain_id=domain.id, local_part=name, name=name)
        session.add(mlist)
        await session.flush()
        session.add(ListRole(list_id=mlist.id, user_id=admin.id, role="owner"))
    return mlist


async def import_once(
    runtime: Runtime, mlist: MailingList, admin: User, data: bytes, *, dry_run: bool
) -> csv_import.ImportReport:
    async with runtime.sessionmaker() as session, session.begin():
        return await csv_import.import_csv(
            session,
            mlist,
            source=spooled(data),
            dry_run=dry_run,
            actor=admin,
            origin=Origin(ip="127.0.0.1"),
        )


async def bench_import(
    runtime: Runtime, domain: Domain, admin: User, data: bytes, runs: int
) -> MailingList:
    """Import the file into `runs` new lists; returns the last (full) one."""
    seconds = []
    report = None
    for run in range(runs):
        mlist = await new_list(runtime, domain, admin, f"import{run}")
        elapsed, report = await timed(
            functools.partial(import_once, runtime, mlist, admin, data, dry_run=False)
        )
        seconds.append(elapsed)
    assert report is not None
    median = statistics.median(seconds)
    print(
        f"import      {report.total_rows} rows ({report.imported} new, {report.skipped} "
        f"rejected): median {median:.2f} s = {report.total_rows / median:,.0f} rows/s "
        f"(runs: {', '.join(f'{s:.2f}' for s in seconds)})"
    )
    dry = await new_list(runtime, domain, admin, "dryrun")
    elapsed, _ = await timed(lambda: import_once(runtime, dry, admin, data, dry_run=True))
    print(f"dry run     {elapsed:.2f} s = {report.total_rows / elapsed:,.0f} rows/s")
    elapsed, again = await timed(lambda: import_once(runtime, mlist, admin, data, dry_run=False))
    print(
        f"re-import   {elapsed:.2f} s, "
        f"{again.skipped_by_reason['already_subscribed']} already subscribed"
    )
    return mlist


async def bench_lookup(runtime: Runtime, mlist: MailingList, rows: int) -> None:
    """One IN query per 2,000-row batch against loading every address of the list at once."""
    keys = [f"user{n}@example.org" for n in range(rows)]
    batch = csv_import.BATCH_SIZE
    async with runtime.sessionmaker() as session:

        async def per_batch() -> int:
            found = 0
            for start in range(0, len(keys), batch):
                chunk = keys[start : start + batch]
                query = select(Subscriber.email_normalized).where(
                    Subscriber.list_id == mlist.id, Subscriber.email_normalized.in_(chunk)
                )
                found += len((await session.execute(query)).all())
            return found

        async def preload() -> int:
            query = select(Subscriber.email_normalized).where(Subscriber.list_id == mlist.id)
            existing = set((await session.execute(query)).scalars())
            return sum(key in existing for key in keys)

        for label, action in (("IN per batch", per_batch), ("preload set", preload)):
            times = [(await timed(action))[0] for _ in range(3)]
            print(f"lookup      {label:13} median {statistics.median(times) * 1000:.0f} ms")


async def bench_http(
    runtime: Runtime, mlist: MailingList, upload: MailingList, data: bytes
) -> None:
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", timeout=300
    ) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"email": "bench@example.org", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        files = {"file": ("members.csv", data, "text/csv")}
        elapsed, response = await timed(
            functools.partial(
                client.post,
                f"/api/v1/lists/{upload.id}/subscribers/import",
                headers=headers,
                files=files,
            )
        )
        total = response.json()["total_rows"]
        print(f"import HTTP {elapsed:.2f} s = {total / elapsed:,.0f} rows/s (one run)")
        url = f"/api/v1/lists/{mlist.id}/subscribers"
        for label, params in (
            ("first page", {}),
            ("page 2000", {"page": 2000, "per_page": 25}),
            ("q=user4242", {"q": "user4242"}),
            ("q=zoë", {"q": "zoë"}),
            ("q=nobody", {"q": "nobody"}),
            ("status+digest", {"status": "active", "digest_mode": "weekly"}),
        ):
            times = []
            for _ in range(10):
                elapsed, response = await timed(
                    functools.partial(client.get, url, headers=headers, params=params)
                )
                assert response.status_code == 200, response.text
                times.append(elapsed)
            total = response.json()["total"]
            print(
                f"GET         {label:13} median {statistics.median(times) * 1000:6.1f} ms "
                f"({total} matching)"
            )
        elapsed, response = await timed(lambda: client.get(f"{url}/export", headers=headers))
        rows = response.text.count("\n") - 1
        print(f"export      {rows} rows in {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s")


async def main(backend: str, rows: int, runs: int) -> None:
    sys.path.insert(0, str(REPO))
    from tests.databases import create_database, drop_database, unique_name

    name = unique_name("oak_bench")
    with tempfile.TemporaryDirectory() as tmp:
        url = create_database(backend, name, Path(tmp))
        settings = Settings(
            run_mode="test",
            database=DatabaseSettings(url=SecretStr(url)),
            security=SecuritySettings(argon2_time_cost=1, argon2_memory_cost_kib=1024),
            logging=LoggingSettings(level="warning"),
        )
        configure_logging(settings.logging)
        runtime = Runtime.from_settings(settings)
        try:
            admin, domain = await setup(runtime)
            data = make_csv(rows)
            print(f"{backend}: {rows} rows, {len(data) / 1e6:.1f} MB file")
            mlist = await bench_import(runtime, domain, admin, data, runs)
            await bench_lookup(runtime, mlist, rows)
            upload = await new_list(runtime, domain, admin, "http")
            await bench_http(runtime, mlist, upload, data)
        finally:
            await runtime.close()
            drop_database(backend, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "mysql"), default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.db, arguments.rows, arguments.runs))
