"""Archive search latency over 100,000 generated messages (figures only, no asserts).

    .venv/bin/python bench/search_archive.py --database-url sqlite:///tmp/search.db
        [--messages 100000] [--runs 20] [--ingest 20]

Migrates the database, fills a list with generated messages unless it already holds that many
(a later run reuses them; messages are indexed through search.index, as posting does), refreshes
the planner's statistics, then runs each query --runs times through services.search (first
page of 20, after one warm-up) and prints p50/p95 per query and over all runs. English text is
a word chain learnt from the fedora-devel-list month in the test corpus; one message in five
is Chinese, drawn from a fixed vocabulary.

--ingest N then stores N English and N Chinese posts of about 5 KB and of about 100 KB, each
in its own transaction, with and without search.index, and prints the medians and their
difference (what indexing costs a post); the posts are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gzip
import hashlib
import itertools
import mailbox
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import delete, func, insert, select, text

from oak_maillist.config import DatabaseSettings, LoggingSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.logging import configure_logging
from oak_maillist.models import Domain, MailingList, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services import search as search_service
from oak_maillist.services.search import search

REPO = Path(__file__).resolve().parent.parent
MBOX = REPO.parent / "shared/corpus/threading/fedora-devel-list-2010-01/2010-January.txt.gz"
LIST_NAME = "search-bench"
BATCH = 1000
QUERIES = (
    "package",  # in most English messages
    "kernel",
    "rawhide",
    "mindbogglingly",  # rare
    "python build",
    '"upstream rpm"',
    "fedora -kernel",
    "updat*",
    "中文",
    "数据库",
    "邮件列表",
    "服务器 配置",
    "中文 -测试",
    "库",
)
CHINESE_VOCABULARY = (
    "我们 你们 他们 中文 邮件 列表 服务器 数据库 测试 问题 解决 方法 系统 用户 管理 配置 "
    "文件 版本 更新 发布 开发 项目 代码 功能 错误 日志 网络 安全 性能 优化 搜索 归档 订阅 "
    "退订 发送 接收 附件 主题 内容 讨论 社区 会议 时间 今天 明天 已经 可以 需要 因为 所以 "
    "但是 如果 或者 这个 那个 什么 怎么 为什么 非常 重要 简单 复杂 支持 文档 翻译 编码 字符 "
    "北京 上海 广州 深圳 公司 大学 学生 老师 朋友 谢谢 感谢 欢迎 建议 意见 回复 转发 请问 "
    "大家 好的 没有 还是 一下 软件 硬件 内存 磁盘 处理器 操作系统 浏览器 程序 脚本 接口 "
    "协议 标准 格式 模板 插件 模块 依赖 安装 卸载 升级 降级 备份 恢复 迁移 部署 监控 报警 "
    "统计 分析 报告 计划 任务 队列 线程 进程 缓存 索引 查询 排序 分页 过滤 结果"
)
ZH_WORDS = CHINESE_VOCABULARY.split()


def english_source() -> tuple[list[str], dict[str, list[str]]]:
    """Subjects of the corpus month, and which word follows which in its bodies."""
    with tempfile.NamedTemporaryFile(suffix=".mbox") as file:
        file.write(gzip.decompress(MBOX.read_bytes()))
        file.flush()
        box = mailbox.mbox(file.name)
        subjects = [str(message.get("Subject", "")) for message in box]
        bodies = [message.get_payload(decode=True) for message in box]
    chain: dict[str, list[str]] = collections.defaultdict(list)
    for body in bodies:
        if isinstance(body, bytes):
            words = body.decode("utf-8", "replace").split()
            for current, following in itertools.pairwise(words):
                chain[current].append(following)
    return subjects, chain


def english(rng: random.Random, chain: dict[str, list[str]], keys: list[str], size: int) -> str:
    word, lines, line = rng.choice(keys), [], ""
    for _ in range(size):
        word = rng.choice(chain.get(word) or keys)
        if len(line) + len(word) > 72:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def chinese(rng: random.Random, size: int) -> str:
    parts = []
    for _ in range(size):
        # Half the words follow a long-tailed distribution, half are uniform.
        rank = int(rng.paretovariate(1.1)) - 1 if rng.random() < 0.5 else rng.randrange(999)
        parts.append(ZH_WORDS[min(rank, len(ZH_WORDS) - 1)])
        parts.append("\uff0c" if rng.random() < 0.12 else "")  # a fullwidth comma
        parts.append("。\n" if rng.random() < 0.06 else "")
    return "".join(parts)


def generated(list_id: int, count: int) -> Iterator[dict[str, object]]:
    rng = random.Random(2026)
    subjects, chain = english_source()
    keys = list(chain)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for number in range(count):
        if rng.random() < 0.2:
            subject, body = chinese(rng, rng.randint(2, 6)), chinese(rng, rng.randint(100, 600))
        else:
            subject, body = rng.choice(subjects), english(rng, chain, keys, rng.randint(60, 500))
        message_id = f"<bench.{number}@example.org>"
        yield {
            "list_id": list_id,
            "message_id": message_id,
            "message_id_hash": hashlib.sha256(message_id.encode()).hexdigest(),
            "subject": subject,
            "sender_email": f"user{number % 500}@example.org",
            "sender_name": f"User {number % 500}",
            "received_at": start + timedelta(minutes=number),
            "text_body": body,
        }


async def prepare(runtime: Runtime, count: int) -> int:
    """The bench list's id, filled with `count` messages."""
    await migrate.upgrade(runtime.engine)
    async with runtime.sessionmaker() as session, session.begin():
        mlist = (
            await session.execute(select(MailingList).where(MailingList.local_part == LIST_NAME))
        ).scalar_one_or_none()
        if mlist is not None:
            have = select(func.count()).select_from(Message).where(Message.list_id == mlist.id)
            if (await session.execute(have)).scalar_one() == count:
                return mlist.id
            await session.execute(delete(MailingList).where(MailingList.id == mlist.id))
        domain = Domain(name="search-bench.example.org")
        session.add(domain)
        await session.flush()
        mlist = MailingList(domain_id=domain.id, local_part=LIST_NAME, name=LIST_NAME)
        session.add(mlist)
        await session.flush()
        list_id = mlist.id
    started = time.perf_counter()
    rows = generated(list_id, count)
    while batch := [row for _, row in zip(range(BATCH), rows, strict=False)]:
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(insert(Message), batch)
            hashes = [row["message_id_hash"] for row in batch]
            stored = select(Message).where(Message.message_id_hash.in_(hashes))
            for message in (await session.execute(stored)).scalars():
                await search_service.index(session, message)
    print(f"inserted {count} messages in {time.perf_counter() - started:.0f} s")
    await analyze(runtime)
    return list_id


async def analyze(runtime: Runtime) -> None:
    """Refresh planner statistics, as autovacuum or a nightly job would after the load."""
    statement = {"postgresql": "VACUUM ANALYZE", "sqlite": "ANALYZE"}.get(
        runtime.engine.dialect.name, "ANALYZE TABLE messages, messages_search_terms"
    )
    async with runtime.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(statement))


async def measure(runtime: Runtime, list_id: int, runs: int) -> None:
    every: list[float] = []
    print(f"{'query':<18} {'total':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for query in QUERIES:
        timings = []
        async with runtime.sessionmaker() as session:
            await search(session, list_id=list_id, query=query)
            for _ in range(runs):
                started = time.perf_counter()
                _, total = await search(session, list_id=list_id, query=query)
                timings.append((time.perf_counter() - started) * 1000)
        every += timings
        print(f"{query:<18} {total:>7} {_p(timings, 50):>8.1f} {_p(timings, 95):>8.1f}")
    print(f"{'all queries':<18} {'':>7} {_p(every, 50):>8.1f} {_p(every, 95):>8.1f}")


async def print_innodb_memory(runtime: Runtime) -> None:
    """The buffer pool size (MariaDB's default is 128 MB) against the tables' size."""
    async with runtime.engine.connect() as connection:
        pool = (await connection.execute(text("SELECT @@innodb_buffer_pool_size"))).scalar_one()
        size = (
            await connection.execute(
                text(
                    "SELECT sum(data_length + index_length) FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                )
            )
        ).scalar_one()
    print(f"innodb_buffer_pool_size {int(pool) >> 20} MB, tables {int(size or 0) >> 20} MB")


async def measure_ingest(runtime: Runtime, list_id: int, count: int) -> None:
    """Median µs to store and commit one post, with and without indexing it."""
    rng = random.Random(7)
    subjects, chain = english_source()
    keys = list(chain)
    print(f"{'post':<16} {'stored µs':>10} {'indexed µs':>11} {'index µs':>9}")
    for size in (5_000, 100_000):
        for language in ("English", "Chinese"):
            bodies = []
            for _ in range(count):
                body = ""
                while len(body.encode()) < size:
                    if language == "English":
                        body += english(rng, chain, keys, 200) + "\n"
                    else:
                        body += chinese(rng, 200) + "\n"
                bodies.append(body)
            plain: list[float] = []
            indexed: list[float] = []
            for body in bodies:
                for timings, index in ((plain, False), (indexed, True)):
                    timings.append(
                        await _store(runtime, list_id, rng.choice(subjects), body, index=index)
                    )
            name = f"{size // 1000} KB {language}"
            cost = statistics.median(indexed) - statistics.median(plain)
            print(
                f"{name:<16} {statistics.median(plain):>10.0f}"
                f" {statistics.median(indexed):>11.0f} {cost:>9.0f}"
            )
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            delete(Message).where(Message.list_id == list_id, Message.message_id.like("<ingest.%"))
        )


async def _store(runtime: Runtime, list_id: int, subject: str, body: str, *, index: bool) -> float:
    message_id = f"<ingest.{time.perf_counter_ns()}@example.org>"
    started = time.perf_counter()
    async with runtime.sessionmaker() as session, session.begin():
        message = Message(
            list_id=list_id,
            message_id=message_id,
            message_id_hash=hashlib.sha256(message_id.encode()).hexdigest(),
            subject=subject,
            sender_email="ingest@example.org",
            sender_name="Ingest",
            received_at=datetime.now(UTC),
            text_body=body,
        )
        session.add(message)
        await session.flush()
        if index:
            await search_service.index(session, message)
    return (time.perf_counter() - started) * 1_000_000


def _p(values: list[float], percentile: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]


async def main(url: str, count: int, runs: int, ingest: int) -> None:
    settings = Settings(
        run_mode="test",
        database=DatabaseSettings(url=SecretStr(url)),
        logging=LoggingSettings(level="warning"),
    )
    configure_logging(settings.logging)
    runtime = Runtime.from_settings(settings)
    try:
        list_id = await prepare(runtime, count)
        print(f"{runtime.engine.dialect.name}: {count} messages, {runs} runs per query")
        if runtime.engine.dialect.name == "mysql":
            await print_innodb_memory(runtime)
        await measure(runtime, list_id, runs)
        if ingest:
            await measure_ingest(runtime, list_id, ingest)
    finally:
        await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--ingest", type=int, default=0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.database_url, arguments.messages, arguments.runs, arguments.ingest))
