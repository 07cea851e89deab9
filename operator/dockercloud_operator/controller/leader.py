"""Leader election on a coordination.k8s.io/v1 Lease, as client-go does it, so that replicas of
the operator take turns: one reconciles, the others stand by with a warm store.

Every replica runs kopf and keeps its store up to date from the watch streams, but a standby's
work queue is held (its `ready` event cleared): reconcile requests wait in it. The leader renews
the Lease every `retry_period`; a standby tries to take it as often. A standby takes a Lease
whose holder stopped renewing `lease_duration` seconds ago, measured by its own clock from the
moment it last saw the Lease change (clocks of different machines are never compared), or at
once a Lease that its holder released. It then releases its queue: what waited is reconciled.

A leader that cannot renew for `renew_deadline` seconds, or finds the Lease held by another,
stops reconciling at once and stops the operator (`on_lost`), as client-go's leaders exit; the
pod's container restarts, as a standby. A leader that stops cleanly releases the Lease, so a
standby takes over within `retry_period` instead of `lease_duration`."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller import metrics
from dockercloud_operator.controller.settings import Settings

if TYPE_CHECKING:
    from dockercloud_operator.controller.reconciler import Reconciler

logger = logging.getLogger(__name__)
Object = dict[str, Any]
API = "/apis/coordination.k8s.io/v1"


def _micro_time(when: datetime) -> str:
    """A MicroTime, as the API server stores a Lease's times."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(lease: Object) -> tuple[Any, ...]:
    """What a standby watches for change: a holder that renews changes it every time."""
    spec = lease.get("spec") or {}
    return tuple(
        spec.get(field)
        for field in ("holderIdentity", "renewTime", "acquireTime", "leaseDurationSeconds")
    )


def _say(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return repr(error)


class Leadership:
    def __init__(
        self,
        reconciler: Reconciler,
        settings: Settings,
        stop_flag: asyncio.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = reconciler.kube
        self.queue = reconciler.queue
        self.settings = settings
        self.stop_flag = stop_flag
        self.identity = settings.identity
        self.is_leader = False
        self.lost = False
        self.holder = ""
        self._clock = clock
        self._now = now
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{API}/namespaces/{self.settings.lease_namespace}/leases/{self.settings.lease_name}"

    @property
    def where(self) -> str:
        return f"{self.settings.lease_namespace}/{self.settings.lease_name}"

    # -- one attempt (synchronous: runs in a thread) -----------------------------------------

    def try_acquire_or_renew(self) -> bool:
        """Creates, takes or renews the Lease; True if this process holds it now."""
        now = self._now()
        try:
            lease: Object = self.kube.request("GET", self.url)
        except ApiException as error:
            if error.status != 404:
                raise
            return self._create(now)
        self._observe(lease)
        spec = lease.get("spec") or {}
        self.holder = spec.get("holderIdentity") or ""
        duration = spec.get("leaseDurationSeconds") or self.settings.lease_duration
        if self.holder and self.holder != self.identity:
            if self._clock() < self._observed_at + duration:
                return False  # held, and renewed lately
            logger.info("The Lease %s of %s has expired.", self.where, self.holder)
        renewing = self.holder == self.identity
        transitions = int(spec.get("leaseTransitions") or 0)
        lease["spec"] = {
            **spec,
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(self.settings.lease_duration),
            "renewTime": _micro_time(now),
            "acquireTime": spec.get("acquireTime") if renewing else _micro_time(now),
            "leaseTransitions": transitions if renewing else transitions + 1,
        }
        try:  # the resourceVersion it carries makes this fail if anyone wrote meanwhile
            updated: Object = self.kube.request("PUT", self.url, body=lease)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        self._observe(updated)
        self.holder = self.identity
        return True

    def _create(self, now: datetime) -> bool:
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.settings.lease_name,
                "namespace": self.settings.lease_namespace,
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self.settings.lease_duration),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": 0,
            },
        }
        collection = f"{API}/namespaces/{self.settings.lease_namespace}/leases"
        try:
            created: Object = self.kube.request("POST", collection, body=lease)
        except ApiException as error:
            if error.status == 409:  # another candidate created it first
                return False
            raise
        self._observe(created)
        self.holder = self.identity
        return True

    def _observe(self, lease: Object) -> None:
        record = _record(lease)
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock()

    def release(self) -> None:
        """Gives the Lease up, if this process holds it, so a standby need not wait it out."""
        try:
            lease: Object = self.kube.request("GET", self.url)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return
        now = _micro_time(self._now())
        lease["spec"] = {**spec, "leaseDurationSeconds": 1, "renewTime": now, "acquireTime": now}
        lease["spec"].pop("holderIdentity", None)
        try:
            self.kube.request("PUT", self.url, body=lease)
        except ApiException as error:
            if error.status != 409:  # someone else holds it now: nothing to give up
                raise

    # -- the loop ------------------------------------------------------------------------------

    async def _attempt(self, timeout: float) -> bool:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self.try_acquire_or_renew), timeout=max(timeout, 0.1)
            )
        except Exception as error:  # the API, the network (urllib3's own kinds), the timeout
            logger.warning("Could not read or write the Lease %s: %s", self.where, _say(error))
            return False

    async def start(self) -> None:
        """One attempt now; then leading or standing by in the background. (At start-up,
        before kopf watches anything: the queue has no work yet.)"""
        self.queue.ready.clear()  # nothing is reconciled before the Lease is held
        if await self._attempt(self.settings.renew_deadline):
            self._lead("Leading")
        else:
            logger.info(
                "Standing by: the Lease %s is held by %s; this replica reconciles once it takes"
                " the Lease over.",
                self.where,
                self.holder or "nobody",
            )
            metrics.LEADER.set(0)
        self._task = asyncio.create_task(self._run(), name="leader election")

    def _lead(self, how: str) -> None:
        self.is_leader = True
        metrics.LEADER.set(1)
        logger.info("%s: holding the Lease %s as %s.", how, self.where, self.identity)
        self.queue.ready.set()  # what waited is reconciled

    async def _run(self) -> None:
        period = self.settings.retry_period
        while not self.is_leader:
            await asyncio.sleep(period * random.uniform(1.0, 1.2))  # jitter, as client-go
            if await self._attempt(self.settings.renew_deadline):
                self._lead("Took over")
        renewed = self._clock()
        while True:
            await asyncio.sleep(period)
            left = renewed + self.settings.renew_deadline - self._clock()
            if await self._attempt(left):
                renewed = self._clock()
                continue
            if self.holder and self.holder != self.identity:
                reason = f"{self.holder} holds it now"
            elif self._clock() - renewed >= self.settings.renew_deadline:
                reason = f"it was not renewed for {self.settings.renew_deadline:g}s"
            else:
                continue  # try again within the deadline
            break
        self.is_leader = False
        self.lost = True
        metrics.LEADER.set(0)
        self.queue.ready.clear()
        logger.error("Lost the Lease %s (%s): stopping.", self.where, reason)
        await self.queue.drain()  # not one more write: another replica may lead already
        if self.stop_flag is not None:
            self.stop_flag.set()

    async def stop(self) -> None:
        """Stops campaigning and releases the Lease if held (at shutdown, after the queue has
        drained, so that the next leader's writes never interleave with ours)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.is_leader:
            self.is_leader = False
            metrics.LEADER.set(0)
            try:
                await asyncio.wait_for(asyncio.to_thread(self.release), timeout=5)
                logger.info("Released the Lease %s.", self.where)
            except Exception as error:
                logger.warning("Could not release the Lease %s: %s", self.where, _say(error))
