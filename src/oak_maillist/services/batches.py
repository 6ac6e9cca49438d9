"""Group commit: what callers submit while a batch runs goes together in the next one.

The SMTP edge stores the messages whose DATA ended during a commit with one commit, and
processing handles the messages handed to it meanwhile in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batches(Generic[Item, Result]):
    """Group commit: what callers submit while `concurrency` batches run goes together in the
    next one.

    A lone caller waits for nothing; a burst shares one transaction instead of queueing for
    one each (on SQLite, for the single write lock). `run` handles a batch and returns one
    result (or error) per item, in order; when it raises, each item of the batch is run
    again alone, so one bad item fails only its own caller.
    """

    def __init__(
        self,
        run: Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]],
        *,
        max_size: int,
        concurrency: int = 1,
    ) -> None:
        self._run = run
        self._max_size = max_size
        self._concurrency = concurrency
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """The item's result once its batch is done (its error, if it failed alone)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._start()
        return await future

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    def _start(self) -> None:
        while self._waiting and len(self._running) < self._concurrency:
            batch = self._waiting[: self._max_size]
            del self._waiting[: self._max_size]
            task = asyncio.create_task(self._settle(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            try:
                results = await self._run([item for item, _ in batch])
            except Exception as error:
                if len(batch) == 1:
                    results = [error]
                else:
                    results = [await self._alone(item) for item, _ in batch]
            for (_, future), result in zip(batch, results, strict=True):
                _resolve(future, result)
        finally:  # cancelled (at shutdown): nobody may wait forever
            for _, future in batch:
                if not future.done():
                    future.cancel()

    async def _alone(self, item: Item) -> Result | Exception:
        try:
            return (await self._run([item]))[0]
        except Exception as error:
            return error


def _resolve(future: asyncio.Future[Result], outcome: Result | Exception) -> None:
    if future.done():  # the caller went away (cancelled)
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
