"""The reconcile work queue: one worker per key, coalescing, retries with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from dockercloud_operator.workqueue import Retry, WorkQueue


def test_requests_arriving_while_working_coalesce_into_one_more_pass() -> None:
    calls: list[Hashable] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def work(key: Hashable) -> None:
            calls.append(key)
            await release.wait()

        queue = WorkQueue(work)
        queue.ready.set()
        queue.add("a")
        await asyncio.sleep(0)
        for _ in range(5):  # five more requests while the first pass runs
            queue.add("a")
        queue.add("b")
        release.set()
        while queue.busy:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert sorted(calls) == ["a", "a", "b"]


def test_failures_are_retried_until_the_work_succeeds() -> None:
    attempts: list[str] = []

    async def scenario() -> None:
        async def work(key: Hashable) -> None:
            attempts.append(str(key))
            if len(attempts) == 1:
                raise RuntimeError("the API server is away")
            if len(attempts) == 2:
                raise Retry("a conflict")

        queue = WorkQueue(work, first_retry=0.01)
        queue.ready.set()
        queue.add("a")
        while queue.busy:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert attempts == ["a", "a", "a"]


def test_nothing_runs_before_the_queue_is_ready() -> None:
    calls: list[Hashable] = []

    async def scenario() -> None:
        async def work(key: Hashable) -> None:
            calls.append(key)

        queue = WorkQueue(work)
        queue.add("a")
        await asyncio.sleep(0.05)
        assert calls == []
        queue.ready.set()
        while queue.busy:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert calls == ["a"]


def test_drain_cancels_the_workers() -> None:
    async def scenario() -> int:
        async def work(key: Hashable) -> None:
            await asyncio.sleep(60)

        queue = WorkQueue(work)
        queue.ready.set()
        queue.add("a")
        queue.add("b")
        await asyncio.sleep(0)
        await queue.drain()
        return queue.busy

    assert asyncio.run(scenario()) == 0
