"""Time from the SMTP 250 of a post to its last recipient at the relay, personalised and bulk.

    .venv/bin/python -m bench.delivery [--db sqlite|postgresql] [--workers N]
        [--subscribers 10000] [--mode personal,bulk] [--profile out.txt]

The relay is Postfix's `smtp-sink` (taken from Debian's postfix package with `apt-get download`
and `dpkg-deb -x` into bench/.postfix, no MTA installed), so that the relay is not the
bottleneck. On SQLite one `serve --role smtp,worker` process does everything (in-memory
broker); with `--workers N` (PostgreSQL) one `serve --role smtp` takes the post and N
`worker` processes share the deliveries through Redis. A baseline in the same run: Postfix's
own client, `smtp-source`, into the same sink.

Prints per mode: deliveries per second (from the 250 to the last row marked sent), the first
delivery's delay after the 250, and the peak resident memory of the service processes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib
from sqlalchemy import func, insert, select

from bench.common import free_port, rss_kib, wait_port
from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.models import (
    Delivery,
    DeliveryStatus,
    MailingList,
    Message,
    PendingFanout,
    Subscriber,
    User,
)
from oak_maillist.runtime import Runtime
from oak_maillist.services import domains
from oak_maillist.services.activity import Origin

REPO = Path(__file__).resolve().parent.parent
POSTFIX = REPO / "bench" / ".postfix"


def postfix_tool(name: str) -> list[str]:
    """A Postfix test tool from Debian's package, unpacked once under bench/.postfix."""
    binary = POSTFIX / "usr" / "sbin" / name
    if not binary.exists():
        POSTFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "postfix"], cwd=POSTFIX, check=True)
        [deb] = POSTFIX.glob("postfix_*.deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(POSTFIX)], check=True)
    return [str(binary)]


def postfix_env() -> dict[str, str]:
    return os.environ | {"LD_LIBRARY_PATH": str(POSTFIX / "usr" / "lib" / "postfix")}


def start_sink(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*postfix_tool("smtp-sink"), "-u", "nobody", "-m", "1000", f"127.0.0.1:{port}", "1024"],
        env=postfix_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def baseline(port: int, messages: int) -> float:
    """Postfix's smtp-source into the sink: messages per second, 20 sessions, 1 recipient each."""
    start = time.perf_counter()
    subprocess.run(
        [*postfix_tool("smtp-source"), "-s", "20", "-m", str(messages), "-l", "4096",
         "-f", "a@example.com", "-t", "b@example.net", f"127.0.0.1:{port}"],
        env=postfix_env(), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return messages / (time.perf_counter() - start)


async def setup(url: str, subscribers: int) -> tuple[Runtime, dict[str, int]]:
    settings = Settings(database=DatabaseSettings(url=url))  # type: ignore[arg-type]
    runtime = Runtime.from_settings(settings)
    await migrate.upgrade(runtime.engine)
    lists: dict[str, int] = {}
    async with runtime.sessionmaker() as session, session.begin():
        user = User(email="bench@example.org", email_normalized="bench@example.org",
                    password_hash="!", role="admin")  # fmt: skip  # noqa: S106 - no login
        session.add(user)
        await session.flush()
        domain = await domains.create_domain(
            session, name="lists.example.org", settings=settings, actor_id=user.id,
            origin=Origin(),
        )  # fmt: skip
        domain.dkim_enabled = True
        for mode in ("personal", "bulk"):
            mlist = MailingList(
                domain_id=domain.id, local_part=mode, name=mode.title(), posting_policy="anyone",
                personalize=mode == "personal", footer="-- \nUnsubscribe: {unsubscribe_url}",
            )  # fmt: skip
            session.add(mlist)
            await session.flush()
            lists[mode] = mlist.id
            for start in range(0, subscribers, 5000):
                rows = [
                    {"list_id": mlist.id, "email": f"user{n}@example.net",
                     "email_normalized": f"user{n}@example.net", "status": "active",
                     "digest_mode": "none", "name": "", "language": "en", "source": "import",
                     "bounce_score": 0}
                    for n in range(start, min(start + 5000, subscribers))
                ]  # fmt: skip
                await session.execute(insert(Subscriber), rows)
    return runtime, lists


def post(mode: str) -> bytes:
    body = "A post to every subscriber, with a footer and a personal unsubscribe link.\r\n" * 40
    return (
        f"From: Alice <alice@example.com>\r\nTo: {mode}@lists.example.org\r\n"
        f"Subject: Delivery benchmark ({mode})\r\n"
        f"Message-ID: <bench.{mode}.{time.time_ns()}@example.com>\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
    ).encode()


async def measure(
    runtime: Runtime, smtp_port: int, list_id: int, mode: str, expected: int, pids: list[int]
) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, timeout=60)
    await client.connect()
    await client.sendmail("alice@example.com", [f"{mode}@lists.example.org"], post(mode))
    accepted = time.time()
    await client.quit()
    peak = 0
    first: float | None = None
    post_id: int | None = None
    unfinished = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)
    while True:
        peak = max(peak, sum(rss_kib(pid) for pid in pids))
        async with runtime.sessionmaker() as session:
            if post_id is None:
                post_id = await session.scalar(select(Message.id).where(Message.list_id == list_id))
            # Watching must cost the database little: whether any row is still to be sent
            # is one index probe, where counting the sent ones reads them all, every time.
            if post_id is not None and first is None:
                earliest = await session.scalar(
                    select(func.min(Delivery.sent_at)).where(
                        Delivery.message_id == post_id, Delivery.status == DeliveryStatus.SENT
                    )
                )
                first = earliest.timestamp() - accepted if earliest else None
            if post_id is not None:
                left = await session.scalar(
                    select(Delivery.id)
                    .where(Delivery.message_id == post_id, Delivery.status.in_(unfinished))
                    .limit(1)
                )
                pending = await session.scalar(
                    select(PendingFanout.message_id).where(PendingFanout.message_id == post_id)
                )
                if left is None and pending is None:
                    break
        if time.time() - accepted > 600:
            raise SystemExit("not delivered in 10 minutes")
        await asyncio.sleep(0.1)
    async with runtime.sessionmaker() as session:
        sent = await session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.message_id == post_id, Delivery.status == DeliveryStatus.SENT
            )
        )
    if sent != expected:
        raise SystemExit(f"only {sent} of {expected} delivered")
    async with runtime.sessionmaker() as session:
        # Timed by the rows themselves, not by this loop's polling interval: the last row
        # marked sent, and (for the breakdown) the first row written by the fan-out.
        last, written = (
            await session.execute(
                select(func.max(Delivery.sent_at), func.min(Delivery.created_at)).where(
                    Delivery.message_id == post_id
                )
            )
        ).one()
    assert last is not None
    seconds = last.timestamp() - accepted
    rows_after = written.timestamp() - accepted
    print(
        f"  {mode:<9} {expected} deliveries in {seconds:6.2f} s = {expected / seconds:8.0f}/s"
        f"  first after {first or 0:5.2f} s (rows written after {rows_after:5.2f} s)"
        f"  peak RSS {peak / 1024:6.0f} MB"
    )


async def run(args: argparse.Namespace, url: str, tmp: Path) -> None:
    runtime, lists = await setup(url, args.subscribers)
    sink_port, smtp_port = free_port(), free_port()
    sink = start_sink(sink_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OAK__")} | {
        "OAK__DATABASE__URL": url,
        "OAK__SMTP__INCOMING__HOST": "127.0.0.1",
        "OAK__SMTP__INCOMING__PORT": str(smtp_port),
        "OAK__SMTP__OUTGOING__HOST": "127.0.0.1",
        "OAK__SMTP__OUTGOING__PORT": str(sink_port),
        "OAK__SMTP__OUTGOING__SECURITY": "none",
        "OAK__SMTP__OUTGOING__MAX_CONNECTIONS": str(args.connections),
        "OAK__ARCHIVE__STORAGE_PATH": str(tmp / "archives"),
        "OAK__DNS__DMARC_LOOKUPS": "false",
        "OAK__LOGGING__LEVEL": "warning",
        "CONFIG_DIR": str(REPO / "config"),
    }
    if args.workers:
        env["OAK__QUEUE__BROKER"] = "redis://127.0.0.1:6379/13"
    command = [sys.executable, "-m", "oak_maillist"]
    roles = "smtp,scheduler" if args.workers else "smtp,worker,scheduler"
    log = (tmp / "service.log").open("w")
    # Started once, before anything is timed.
    processes = [
        subprocess.Popen(  # noqa: ASYNC220
            [*command, "serve", "--role", roles], env=env, cwd=REPO, stdout=log, stderr=log
        )
    ]
    processes += [
        subprocess.Popen(  # noqa: ASYNC220
            [*command, "worker"], env=env, cwd=REPO, stdout=log, stderr=log
        )
        for _ in range(args.workers)
    ]
    spy = None
    try:
        wait_port(sink_port, sink)
        wait_port(smtp_port, processes[0])
        await asyncio.sleep(2 if args.workers else 0.5)  # workers connect to the broker
        print(f"baseline: Postfix smtp-source into smtp-sink {baseline(sink_port, 20000):8.0f}/s")
        if args.profile:
            target = processes[-1].pid
            spy = subprocess.Popen([  # noqa: ASYNC220
                str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(target),
                "--format", "raw", "--output", args.profile, "--nonblocking", "--rate", "1000",
            ])  # fmt: skip
        for mode in args.mode.split(","):
            await measure(
                runtime, smtp_port, lists[mode], mode, args.subscribers,
                [p.pid for p in processes],
            )  # fmt: skip
    except BaseException:
        log.flush()
        print((tmp / "service.log").read_text()[-5000:])
        raise
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
        for process in [*processes, sink]:
            process.terminate()
        for process in [*processes, sink]:
            process.wait(timeout=30)
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "mysql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (Redis broker)")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8, help="relay connections")
    parser.add_argument("--mode", default="personal,bulk")
    parser.add_argument("--profile", help="record a service process with py-spy into this file")
    args = parser.parse_args()
    if not re.fullmatch(r"(personal|bulk)(,(personal|bulk))*", args.mode):
        parser.error("--mode: personal, bulk or both")
    from tests.databases import create_database, drop_database, unique_name

    name = unique_name("oak_bench")
    with tempfile.TemporaryDirectory() as tmp:
        url = create_database(args.db, name, Path(tmp))
        print(f"backend: {args.db}, workers: {args.workers or 'in the serve process'}, "
              f"{args.subscribers} subscribers, {args.connections} relay connections")  # fmt: skip
        try:
            asyncio.run(run(args, url, Path(tmp)))
        finally:
            drop_database(args.db, name)


if __name__ == "__main__":
    main()
