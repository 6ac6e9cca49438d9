"""Group commit (services.batches.Batches): who runs together, and whose error is whose."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from oak_maillist.services.batches import Batches


class Recorder:
    """A batch runner that notes each batch and fails any batch holding a negative item."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def run(self, items: list[int]) -> Sequence[int | Exception]:
        self.batches.append(items)
        await self.release.wait()
        if any(item < 0 for item in items):
            raise ValueError(f"bad item among {items}")
        return [item * 10 for item in items]


async def _started(recorder: Recorder, count: int) -> None:
    for _ in range(100):
        if len(recorder.batches) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(recorder.batches)} batches started")


async def test_items_submitted_while_a_batch_runs_go_together_in_the_next() -> None:
    recorder = Recorder()
    batches = Batches(recorder.run, max_size=3)
    first = asyncio.create_task(batches.submit(1))
    await _started(recorder, 1)
    waiting = [asyncio.create_task(batches.submit(n)) for n in (2, 3, 4, 5)]
    await asyncio.sleep(0.01)
    assert recorder.batches == [[1]]  # one batch at a time: the others wait for it
    recorder.release.set()
    assert await asyncio.gather(first, *waiting) == [10, 20, 30, 40, 50]
    assert recorder.batches == [[1], [2, 3, 4], [5]]


async def test_with_concurrency_several_batches_run_at_once() -> None:
    recorder = Recorder()
    batches = Batches(recorder.run, max_size=10, concurrency=2)
    tasks = [asyncio.create_task(batches.submit(n)) for n in (1, 2)]
    await _started(recorder, 2)
    tasks += [asyncio.create_task(batches.submit(n)) for n in (3, 4)]
    await asyncio.sleep(0.01)
    assert recorder.batches == [[1], [2]]  # two running: the others wait for one of them
    recorder.release.set()
    assert await asyncio.gather(*tasks) == [10, 20, 30, 40]
    assert recorder.batches == [[1], [2], [3, 4]]


async def test_a_failing_item_fails_only_its_own_caller() -> None:
    recorder = Recorder()
    recorder.release.set()
    batches = Batches(recorder.run, max_size=10)
    blocker = asyncio.create_task(batches.submit(0))
    tasks = [asyncio.create_task(batches.submit(n)) for n in (1, -2, 3)]
    results = await asyncio.gather(blocker, *tasks, return_exceptions=True)
    assert (results[0], results[1], results[3]) == (0, 10, 30)
    assert isinstance(results[2], ValueError)
    # The batch that failed was run again item by item.
    assert recorder.batches == [[0], [1, -2, 3], [1], [-2], [3]]


async def test_a_caller_that_goes_away_leaves_the_others_their_results() -> None:
    recorder = Recorder()
    batches = Batches(recorder.run, max_size=10)
    first = asyncio.create_task(batches.submit(1))
    await _started(recorder, 1)
    leaving = asyncio.create_task(batches.submit(2))
    staying = asyncio.create_task(batches.submit(3))
    await asyncio.sleep(0.01)
    leaving.cancel()
    recorder.release.set()
    assert (await first, await staying) == (10, 30)
    with pytest.raises(asyncio.CancelledError):
        await leaving
