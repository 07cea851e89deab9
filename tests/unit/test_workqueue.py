"""The reconcile work queue: one worker per key, coalescing, retries with backoff."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Hashable

import pytest
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller.workqueue import Retry, WorkQueue


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


def test_add_after_adds_once_the_delay_has_passed_and_keeps_the_earliest() -> None:
    calls: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def work(key: Hashable) -> None:
            calls.append(loop.time() - start)

        queue = WorkQueue(work)
        queue.ready.set()
        queue.add_after("a", 0.2)
        queue.add_after("a", 0.1)  # sooner: replaces the first
        queue.add_after("a", 5)  # later than one already due: ignored
        await asyncio.sleep(0.4)
        await queue.drain()

    asyncio.run(scenario())
    assert len(calls) == 1
    assert 0.1 <= calls[0] < 0.2


def test_an_unreachable_api_server_is_logged_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[int] = []

    async def scenario() -> None:
        async def work(key: Hashable) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                try:
                    raise ConnectionRefusedError(111, "Connection refused")
                except OSError as cause:
                    raise RuntimeError("Max retries exceeded") from cause
            if len(attempts) == 2:
                raise ApiException(status=503, reason="Service Unavailable")
            if len(attempts) == 3:
                raise KeyError("a bug")

        queue = WorkQueue(work, first_retry=0.01)
        queue.ready.set()
        queue.add("a")
        while queue.busy:
            await asyncio.sleep(0.01)

    with caplog.at_level(logging.INFO, logger="dockercloud_operator.controller.workqueue"):
        asyncio.run(scenario())
    unreachable, unavailable, bug = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert unreachable.levelno == logging.WARNING and unreachable.exc_info is None
    assert unavailable.levelno == logging.WARNING and unavailable.exc_info is None
    assert "Max retries exceeded" in unreachable.getMessage()
    assert bug.levelno == logging.ERROR and bug.exc_info is not None


@pytest.mark.parametrize("news", ["add", "wake"])
def test_news_cuts_a_retry_backoff_short(news: str) -> None:
    """A new request (add), or a sign that the failure may be over (wake), ends the wait; wake
    starts nothing for a key that is not waiting."""
    attempts: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()

        async def work(key: Hashable) -> None:
            attempts.append(loop.time())
            if len(attempts) == 1:
                raise RuntimeError("refused")

        queue = WorkQueue(work, first_retry=30)
        queue.ready.set()
        queue.wake("idle")
        queue.add("a")
        await asyncio.sleep(0.05)
        getattr(queue, news)("a")  # the retry does not wait out its 30 s
        while queue.busy:
            await asyncio.sleep(0.01)
        assert "idle" not in queue._workers

    asyncio.run(scenario())
    assert len(attempts) == 2 and attempts[1] - attempts[0] < 1


def test_at_most_concurrency_passes_run_at_once() -> None:
    running: list[int] = []
    most = 0

    async def scenario() -> None:
        nonlocal most

        async def work(key: Hashable) -> None:
            nonlocal most
            running.append(1)
            most = max(most, len(running))
            await asyncio.sleep(0.01)
            running.pop()

        queue = WorkQueue(work, concurrency=3)
        queue.ready.set()
        for key in range(20):
            queue.add(key)
        await asyncio.sleep(0)
        assert queue.busy == 20  # every key has its worker, waiting for a turn
        while queue.busy:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert most == 3


def test_passes_and_timers_do_not_keep_the_context_of_who_added_them() -> None:
    """A key added from a kopf handler must not keep the handler's context (the event's body)
    alive while its pass waits."""
    event: contextvars.ContextVar[object] = contextvars.ContextVar("event")
    seen: list[object] = []

    async def scenario() -> None:
        async def work(key: Hashable) -> None:
            seen.append(event.get(None))

        queue = WorkQueue(work)
        queue.ready.set()

        async def handler() -> None:  # as kopf runs a handler: in a context holding the event
            event.set({"metadata": {"name": "web"}})
            queue.add("now")
            queue.add_after("later", 0.01)

        await asyncio.create_task(handler())
        while queue.busy or queue._timers:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert seen == [None, None]
