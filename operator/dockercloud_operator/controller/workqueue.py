"""A work queue of reconcile requests: one worker per key at a time, requests that arrive while
it works coalesce into one more pass, failures are retried with exponential backoff, and at most
`concurrency` passes run at once (the others wait their turn, holding nothing yet).

Passes and timers run in a context of their own, not in a copy of the caller's: a key added from
a kopf handler would otherwise keep kopf's context (the event's whole body, its patch and
loggers, some 20 KiB) for as long as its pass waits, which with thousands of services changed at
once was most of the operator's memory."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Hashable

from dockercloud_operator.controller import metrics
from dockercloud_operator.controller.retry import Retry as Retry  # the queue's own word

logger = logging.getLogger(__name__)


class WorkQueue:
    def __init__(
        self,
        work: Callable[[Hashable], Awaitable[None]],
        *,
        first_retry: float = 0.5,
        max_retry: float = 60.0,
        concurrency: int | None = None,
    ) -> None:
        self._work = work
        self._slots = asyncio.Semaphore(concurrency) if concurrency else None
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._workers: dict[Hashable, asyncio.Task[None]] = {}
        self._again: set[Hashable] = set()
        self._waking: dict[Hashable, asyncio.Event] = {}  # keys sleeping out a backoff
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self.ready = asyncio.Event()  # work starts once the world is known

    def add(self, key: Hashable) -> None:
        if key in self._workers:
            self._again.add(key)
            if key in self._waking:  # news may have mended what failed: try again now
                self._waking[key].set()
        else:
            self._workers[key] = asyncio.create_task(
                self._run(key), name=f"reconcile {key}", context=contextvars.Context()
            )

    def wake(self, key: Hashable) -> None:
        """Cuts short the key's retry backoff, if it is sleeping one; nothing else."""
        if key in self._waking:
            self._again.add(key)
            self._waking[key].set()

    def add_after(self, key: Hashable, delay: float) -> None:
        """Adds the key once `delay` seconds have passed (or sooner, if already due)."""
        loop = asyncio.get_running_loop()
        timer = self._timers.get(key)
        if timer is not None:
            if timer.when() <= loop.time() + delay:
                return
            timer.cancel()
        self._timers[key] = loop.call_later(delay, self._due, key, context=contextvars.Context())

    def _due(self, key: Hashable) -> None:
        del self._timers[key]
        self.add(key)

    async def _backoff(self, key: Hashable, delay: float) -> None:
        """Sleeps out a retry delay, cut short when a new request for the key arrives."""
        self._waking[key] = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._waking[key].wait(), delay)
        finally:
            del self._waking[key]

    async def _run(self, key: Hashable) -> None:
        delay = self._first_retry
        try:
            await self.ready.wait()
            while True:
                self._again.discard(key)
                try:
                    async with self._slots or contextlib.nullcontext():
                        await metrics.reconciled(self._work(key))
                except Retry as reason:
                    logger.info("%s; retrying in %.1fs", reason, delay)
                except Exception as error:
                    if _unreachable(error):  # no traceback: the cause is elsewhere and known
                        logger.warning("Reconciling %s: %s; retrying in %.1fs", key, error, delay)
                    else:
                        logger.exception("Reconciling %s failed; retrying in %.1fs", key, delay)
                else:
                    delay = self._first_retry
                    if key not in self._again:
                        return
                    continue
                await self._backoff(key, delay)
                delay = min(delay * 2, self._max_retry)
        finally:
            del self._workers[key]

    @property
    def busy(self) -> int:
        return len(self._workers)

    async def drain(self) -> None:
        """Cancels every worker and pending timer (at shutdown)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


UNREACHABLE = ("MaxRetryError", "NewConnectionError", "ProtocolError", "ReadTimeoutError")
UNAVAILABLE = (502, 503, 504)  # HTTP statuses of a server that cannot answer yet


def _unreachable(error: BaseException | None) -> bool:
    """The API server cannot be reached or cannot answer yet (restarting, say): a connection
    that failed, as the standard library or urllib3 (by name: it is the client's dependency,
    not ours) says, or a 502/503/504."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ConnectionError | TimeoutError) or type(error).__name__ in UNREACHABLE:
            return True
        if getattr(error, "status", None) in UNAVAILABLE:  # e.g. starting: paths not installed
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
