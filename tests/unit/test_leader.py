"""Leader election on a Lease, against an in-memory API that keeps one Lease the way the API
server does (resourceVersion checks included), with a clock the test moves."""

from __future__ import annotations

import asyncio
import copy
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller import metrics
from dockercloud_operator.controller.leader import Leadership
from dockercloud_operator.controller.settings import Settings
from dockercloud_operator.controller.workqueue import WorkQueue

Object = dict[str, Any]


class FakeLeases:
    def __init__(self) -> None:
        self.lease: Object | None = None
        self.version = 0
        self.fail = False

    def request(self, method: str, url: str, *, body: Object | None = None, **_: Any) -> Any:
        if self.fail:
            raise ApiException(status=503, reason="Service Unavailable")
        if method == "GET":
            if self.lease is None:
                raise ApiException(status=404, reason="Not Found")
            return copy.deepcopy(self.lease)
        assert body is not None
        if method == "POST":
            if self.lease is not None:
                raise ApiException(status=409, reason="AlreadyExists")
        elif method == "PUT":
            assert self.lease is not None
            if body["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
                raise ApiException(status=409, reason="Conflict")
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)

    @property
    def spec(self) -> Object:
        assert self.lease is not None
        spec: Object = self.lease["spec"]
        return spec


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _nothing(key: object) -> None:
    pass


def _candidate(leases: FakeLeases, name: str, clock: Clock | None = None, **timing: float) -> Any:
    settings = Settings(leader_election=True, lease_namespace="ops", identity=name, **timing)
    reconciler = SimpleNamespace(kube=leases, queue=WorkQueue(_nothing))
    if clock is None:
        return Leadership(reconciler, settings, asyncio.Event())  # type: ignore[arg-type]
    return Leadership(reconciler, settings, asyncio.Event(), clock=clock)  # type: ignore[arg-type]


def test_the_first_candidate_creates_the_lease_and_leads() -> None:
    leases = FakeLeases()
    assert _candidate(leases, "a").try_acquire_or_renew()
    assert leases.spec["holderIdentity"] == "a"
    assert leases.spec["leaseDurationSeconds"] == 15
    assert leases.spec["leaseTransitions"] == 0


def test_a_standby_waits_while_the_leader_renews_and_takes_over_when_it_stops() -> None:
    leases, clock = FakeLeases(), Clock()
    leader, standby = _candidate(leases, "a"), _candidate(leases, "b", clock)
    assert leader.try_acquire_or_renew()
    acquired = leases.spec["acquireTime"]
    for _ in range(10):  # 20s of renewals every 2s: longer than the lease, never expired
        assert not standby.try_acquire_or_renew()
        assert standby.holder == "a"
        clock.now += 2
        assert leader.try_acquire_or_renew()
    assert leases.spec["acquireTime"] == acquired  # renewing is not acquiring
    assert not standby.try_acquire_or_renew()  # sees the last renewal: 15s from now
    clock.now += 14.9
    assert not standby.try_acquire_or_renew()
    clock.now += 0.2
    assert standby.try_acquire_or_renew()
    assert leases.spec["holderIdentity"] == "b"
    assert leases.spec["leaseTransitions"] == 1
    assert leases.spec["acquireTime"] != acquired


def test_a_released_lease_is_taken_at_once() -> None:
    leases = FakeLeases()
    leader, standby = _candidate(leases, "a"), _candidate(leases, "b")
    assert leader.try_acquire_or_renew()
    assert not standby.try_acquire_or_renew()
    leader.release()
    assert "holderIdentity" not in leases.spec
    assert standby.try_acquire_or_renew()


def test_release_leaves_another_holders_lease_alone() -> None:
    leases = FakeLeases()
    leader, other = _candidate(leases, "a"), _candidate(leases, "b")
    assert leader.try_acquire_or_renew()
    other.release()
    assert leases.spec["holderIdentity"] == "a"


def test_a_write_between_read_and_update_loses() -> None:
    leases, clock = FakeLeases(), Clock()
    leader, standby = _candidate(leases, "a"), _candidate(leases, "b", clock)
    assert leader.try_acquire_or_renew()
    assert not standby.try_acquire_or_renew()
    clock.now += 16
    original = leases.request

    def renew_first(method: str, url: str, **kwargs: Any) -> Any:
        if method == "PUT":  # the leader renews just before the standby's update
            leases.request = original  # type: ignore[method-assign]
            assert leader.try_acquire_or_renew()
        return original(method, url, **kwargs)

    leases.request = renew_first  # type: ignore[method-assign]
    assert not standby.try_acquire_or_renew()
    assert leases.spec["holderIdentity"] == "a"


FAST = {"lease_duration": 0.6, "renew_deadline": 0.4, "retry_period": 0.05}


def test_a_standby_holds_its_queue_until_it_leads() -> None:
    asyncio.run(_standby_then_leader())


async def _standby_then_leader() -> None:
    leases = FakeLeases()
    leader, standby = _candidate(leases, "a", **FAST), _candidate(leases, "b", **FAST)
    leader.try_acquire_or_renew()
    await standby.start()
    assert not standby.is_leader and not standby.queue.ready.is_set()
    assert metrics.LEADER._value.get() == 0
    leader.release()
    for _ in range(100):
        if standby.is_leader:
            break
        await asyncio.sleep(0.02)
    assert standby.is_leader and standby.queue.ready.is_set()
    assert metrics.LEADER._value.get() == 1
    await standby.stop()
    assert "holderIdentity" not in leases.spec  # released on the way out


@pytest.mark.parametrize("how", ["taken", "unreachable"])
def test_a_leader_that_loses_the_lease_stops_at_once(how: str) -> None:
    asyncio.run(_leader_losing(how))


async def _leader_losing(how: str) -> None:
    leases = FakeLeases()
    leader = _candidate(leases, "a", **FAST)
    await leader.start()
    assert leader.is_leader and leader.queue.ready.is_set()
    if how == "taken":
        leases.spec["holderIdentity"] = "intruder"
    else:
        leases.fail = True
    await asyncio.wait_for(leader.stop_flag.wait(), timeout=5)
    assert leader.lost and not leader.is_leader
    assert not leader.queue.ready.is_set()
    await leader.stop()
