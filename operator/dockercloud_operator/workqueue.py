"""A work queue of reconcile requests: one worker per key at a time, requests that arrive while
it works coalesce into one more pass, and failures are retried with exponential backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

from dockercloud_operator import metrics

logger = logging.getLogger(__name__)


class Retry(Exception):
    """An expected, passing failure (a write conflict, say): retried without a traceback."""


class WorkQueue:
    def __init__(
        self,
        work: Callable[[Hashable], Awaitable[None]],
        *,
        first_retry: float = 0.5,
        max_retry: float = 60.0,
    ) -> None:
        self._work = work
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._workers: dict[Hashable, asyncio.Task[None]] = {}
        self._again: set[Hashable] = set()
        self.ready = asyncio.Event()  # work starts once the world is known

    def add(self, key: Hashable) -> None:
        if key in self._workers:
            self._again.add(key)
        else:
            self._workers[key] = asyncio.create_task(self._run(key), name=f"reconcile {key}")

    async def _run(self, key: Hashable) -> None:
        delay = self._first_retry
        try:
            await self.ready.wait()
            while True:
                self._again.discard(key)
                try:
                    await metrics.reconciled(self._work(key))
                except Retry as reason:
                    logger.info("%s; retrying in %.1fs", reason, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_retry)
                    continue
                except Exception:
                    logger.exception("Reconciling %s failed; retrying in %.1fs", key, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_retry)
                    continue
                delay = self._first_retry
                if key not in self._again:
                    return
        finally:
            del self._workers[key]

    @property
    def busy(self) -> int:
        return len(self._workers)

    async def drain(self) -> None:
        """Cancels every worker (at shutdown)."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
