"""Posts accepted and archived per second over SMTP, and the time to the 250 reply.

    .venv/bin/python -m bench.ingest [--db sqlite|postgresql|mysql] [--senders 20]
        [--small 2000] [--large 300] [--workers N] [--profile FILE]

Starts `oak-maillist serve --role smtp,worker,http` on a fresh database (the embedded default:
in-process jobs), or with `--workers N` `serve --role smtp` and N `oak-maillist worker`
processes sharing a Redis broker (processing then has processes of its own). Then 20
concurrent SMTP clients, each on its own connection, send 5 KB and 100 KB posts to a list
that takes posts from anyone. Prints, per size: the 250 latency of each transaction
(p50/p95), accepted posts per second while sending, archived posts per second (from the
first send until the last post is in the archive and in its search index), the CPU time the
service used per post, on its main thread and on its other threads (the database drivers'),
and (in one process; the service then also serves /metrics) where processing spent its time
per post, stage by stage (oak_inbound_stage_seconds). A baseline in the same run: the same
clients against a bare aiosmtpd server that only counts messages (the protocol's floor; on 2
cores, with the clients on the same machine, it accepts 100 KB posts at only 316-342/s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib
import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bench.common import cpu_seconds, free_port, wait_port
from bench.search_archive import chinese, english, english_source
from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.models import Domain, MailingList, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services.search import backlog

REPO = Path(__file__).resolve().parent.parent
# With --workers: the broker the SMTP process and the worker processes share (a database of
# its own, emptied before each run).
WORKER_BROKER = "redis://127.0.0.1:6379/14"
BASELINE = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 2.0.0 OK"
async def main():
    loop = asyncio.get_running_loop()
    factory = lambda: SMTP(Count(), enable_SMTPUTF8=True)
    server = await loop.create_server(factory, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


# Paragraphs of text as mail has it, from bench/search_archive.py's generators: English from
# a word chain of a month of a real list, and one paragraph in four Chinese. A search index
# does work per distinct term; the one line that earlier sessions repeated made a 100 KB body
# of 19 terms, which flattered every index.
def _paragraphs(count: int = 400) -> list[str]:
    rng = random.Random(5)
    _, chain = english_source()
    keys = list(chain)
    return [
        chinese(rng, rng.randint(20, 80)).replace("\n", "") + "\n"
        if rng.random() < 0.25
        else english(rng, chain, keys, rng.randint(40, 160)) + "\n"
        for _ in range(count)
    ]


_PARAGRAPHS = _paragraphs()


def _post(number: int, size: int) -> bytes:
    """A post of about `size` bytes: paragraphs of the text above in an order of its own."""
    headers = (
        f"From: Sender {number % 50} <sender{number % 50}@example.com>\r\n"
        "To: bench@lists.example.org\r\n"
        f"Subject: Benchmark post {number}\r\n"
        f"Message-ID: <bench.{number}.{time.time_ns()}@example.com>\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode()
    rng = random.Random(number)
    body = bytearray()
    while len(headers) + len(body) < size:
        body += rng.choice(_PARAGRAPHS).replace("\n", "\r\n").encode() + b"\r\n"
    return headers + bytes(body)


async def _send_all(port: int, posts: list[bytes], senders: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for post in posts:
        queue.put_nowait(post)

    async def sender() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await client.connect()
        try:
            while not queue.empty():
                post = queue.get_nowait()
                start = time.perf_counter()
                await client.sendmail("sender@example.com", ["bench@lists.example.org"], post)
                latencies.append(time.perf_counter() - start)
        finally:
            await client.quit()

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return latencies, time.perf_counter() - start


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _report(name: str, latencies: list[float], seconds: float, extra: str = "") -> None:
    print(
        f"  {name:<34} 250 p50 {statistics.median(latencies) * 1000:6.1f} ms"
        f"  p95 {_percentile(latencies, 0.95) * 1000:6.1f} ms"
        f"  accepted {len(latencies) / seconds:7.1f}/s{extra}"
    )


def _stages(http_port: int) -> dict[str, float]:
    """The service's oak_inbound_stage_seconds sums and its transactions' message count."""
    figures: dict[str, float] = {}
    body = httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "oak_inbound_stage_seconds_sum":
                figures[sample.labels["stage"]] = sample.value
            elif sample.name == "oak_inbound_transaction_messages_count":
                figures["transactions"] = sample.value
    return figures


def _stages_per_post(before: dict[str, float], http_port: int, count: int) -> str:
    """Where processing spent its time (oak_inbound_stage_seconds): ms per post in each stage,
    and posts per transaction."""
    after = _stages(http_port)
    grown = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
    transactions = grown.pop("transactions", 0.0)
    times = ", ".join(f"{name} {seconds * 1000 / count:.2f}" for name, seconds in grown.items())
    return f"{times} ms; {count / max(transactions, 1):.1f} posts per transaction"


async def _archived(runtime: Runtime, list_id: int) -> int:
    """Posts in the archive and in the search index (not waiting in its backlog)."""
    waiting = select(backlog.BACKLOG.c.message_id)
    async with runtime.sessionmaker() as session:
        count = await session.scalar(
            select(func.count(Message.id)).where(
                Message.list_id == list_id, Message.id.not_in(waiting)
            )
        )
        return count or 0


async def _empty_broker() -> None:
    """Nothing left in the benchmark's Redis database by an earlier run (ids of another one)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(WORKER_BROKER)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def run(
    url: str,
    tmp: Path,
    senders: int,
    sizes: list[tuple[int, int]],
    profile: str | None = None,
    workers: int = 0,
) -> None:
    settings = Settings(database=DatabaseSettings(url=url))  # type: ignore[arg-type]
    runtime = Runtime.from_settings(settings)
    await migrate.upgrade(runtime.engine)
    async with runtime.sessionmaker() as session, session.begin():
        domain = Domain(name="lists.example.org")
        session.add(domain)
        await session.flush()
        mlist = MailingList(
            domain_id=domain.id, local_part="bench", name="Bench", posting_policy="anyone"
        )
        session.add(mlist)
        await session.flush()
        list_id = mlist.id

    base_port = free_port()
    baseline = subprocess.Popen([sys.executable, "-c", BASELINE, str(base_port)])  # noqa: ASYNC220
    smtp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OAK__")} | {
        "OAK__DATABASE__URL": url,
        "OAK__SMTP__INCOMING__HOST": "127.0.0.1",
        "OAK__SMTP__INCOMING__PORT": str(smtp_port),
        "OAK__SERVER__HOST": "127.0.0.1",
        "OAK__SERVER__PORT": str(http_port),
        "OAK__SMTP__INCOMING__MAX_CONNECTIONS": str(senders * 2),
        "OAK__ARCHIVE__STORAGE_PATH": str(tmp / "archives"),
        "OAK__LOGGING__LEVEL": "warning",
        "CONFIG_DIR": str(REPO / "config"),
    }
    if workers:
        env["OAK__QUEUE__BROKER"] = WORKER_BROKER
        await _empty_broker()
    command = [sys.executable, "-m", "oak_maillist"]
    service = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
        [*command, "serve", "--role", "smtp" if workers else "smtp,worker,http"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    helpers = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
            [*command, "worker"], env=env, cwd=REPO, stdout=subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    spy: subprocess.Popen[bytes] | None = None
    try:
        wait_port(base_port, baseline)
        wait_port(smtp_port, service)
        if workers:
            await asyncio.sleep(2)  # the workers connect to the broker
        if profile:
            spy = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    *("record", "--pid", str(service.pid), "--format", "raw"),
                    *("--output", profile, "--nonblocking", "--threads", "--rate", "250"),
                ],
                stdout=subprocess.DEVNULL,
            )
        for count, size in sizes:
            if count <= 0:
                continue
            posts = [_post(n, size) for n in range(count)]
            print(f"{count} posts of {size // 1024} KB, {senders} concurrent senders:")
            latencies, seconds = await _send_all(base_port, posts, senders)
            _report("baseline (bare aiosmtpd, no storage)", latencies, seconds)
            before = await _archived(runtime, list_id)
            posts = [_post(n, size) for n in range(count)]
            cpu_before = cpu_seconds(service.pid)
            stages_before = None if workers else _stages(http_port)
            start = time.perf_counter()
            latencies, seconds = await _send_all(smtp_port, posts, senders)
            while await _archived(runtime, list_id) < before + count:
                if time.perf_counter() - start > 600:
                    raise SystemExit("posts were not archived within 10 minutes")
                await asyncio.sleep(0.05)
            archived = time.perf_counter() - start
            main, threads = (
                (now - then) * 1000 / count
                for now, then in zip(cpu_seconds(service.pid), cpu_before, strict=True)
            )
            _report(
                "oak-maillist (stored, then archived)",
                latencies,
                seconds,
                f"  archived {count / archived:7.1f}/s",
            )
            print(
                f"  service CPU per post: main thread {main:.2f} ms, other threads {threads:.2f} ms"
                + (" (the workers' not counted)" if workers else "")
            )
            if stages_before is not None:
                print(f"  processing per post: {_stages_per_post(stages_before, http_port, count)}")
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        for process in [service, baseline, *helpers]:
            process.terminate()
        for process in [service, baseline, *helpers]:
            process.wait(timeout=30)
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "mysql"), default="sqlite")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--small", type=int, default=2000, help="number of 5 KB posts")
    parser.add_argument("--large", type=int, default=300, help="number of 100 KB posts")
    parser.add_argument(
        "--profile", help="record the service with py-spy (threads holding the GIL) into this file"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes beside `serve --role smtp` (Redis broker); 0: one process",
    )
    args = parser.parse_args()
    from tests.databases import create_database, drop_database, unique_name

    name = unique_name("oak_bench")
    with tempfile.TemporaryDirectory() as tmp:
        url = create_database(args.db, name, Path(tmp))
        print(f"backend: {args.db}")
        try:
            asyncio.run(
                run(
                    url,
                    Path(tmp),
                    args.senders,
                    [(args.small, 5 * 1024), (args.large, 100 * 1024)],
                    args.profile,
                    args.workers,
                )
            )
        finally:
            drop_database(args.db, name)


if __name__ == "__main__":
    main()
