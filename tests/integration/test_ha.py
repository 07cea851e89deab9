"""High availability: replicas of the operator take turns by a Lease. Exactly one reconciles;
when it dies, another takes over within a bounded time and carries on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests import services
from tests.operator_process import OperatorProcess
from tests.operators import Operator, delete_services, paused, running
from tests.wait import wait_for

LEADING = "Leading: holding the Lease"
STANDING_BY = "Standing by: the Lease"
TOOK_OVER = "Took over: holding the Lease"
HANDOVER_BOUND = 30.0  # the Lease's 15s, a 2s retry period, and the listing; with room to spare


@pytest.fixture(scope="module", autouse=True)
def _alone(operator: OperatorProcess) -> Iterator[None]:
    """Only these tests' operators act: the session's one is stopped meanwhile."""
    with paused(operator):
        yield


def _holder(api: client.ApiClient, namespace: str, lease: str) -> str:
    spec = client.CoordinationV1Api(api).read_namespaced_lease(lease, namespace).spec
    return str(spec.holder_identity or "")


def _running(api: client.ApiClient, namespace: str, name: str) -> bool:
    return (services.get(api, namespace, name).get("status") or {}).get("state") == "Running"


def _candidate(kubeconfig: Path, log: Path, namespace: str, lease: str) -> Operator:
    return Operator(
        kubeconfig, log, f"--namespace={namespace}", "--metrics-port=0",
        "--leader-election", f"--lease-namespace={namespace}", f"--lease-name={lease}",
    )  # fmt: skip


def test_one_replica_reconciles_and_another_takes_over_when_it_is_killed(
    api: client.ApiClient, kubeconfig: Path, service_crd: str, namespace: str, tmp_path: Path
) -> None:
    lease = f"ha-{uuid.uuid4().hex[:6]}"
    first = _candidate(kubeconfig, tmp_path / "first.log", namespace, lease)
    second = _candidate(kubeconfig, tmp_path / "second.log", namespace, lease)
    with running(first, second):
        first.start(ready=LEADING)
        second.start(ready=STANDING_BY)
        assert _holder(api, namespace, lease) == first.identity()

        services.create(api, namespace, "before", image="nginx")
        wait_for(lambda: _running(api, namespace, "before"), "the service to be Running")
        assert f"Applying Deployment {namespace}/before" in first.output()
        assert "Applying" not in second.output(), second.output()  # the standby wrote nothing

        first.kill()  # SIGKILL: the Lease is not released, it has to expire
        killed = time.monotonic()
        wait_for(lambda: TOOK_OVER in second.output(), "the standby to take over", timeout=60)
        handover = time.monotonic() - killed
        assert handover < HANDOVER_BOUND, f"the handover took {handover:.1f}s"
        assert _holder(api, namespace, lease) == second.identity()

        services.create(api, namespace, "after", image="nginx")
        wait_for(lambda: _running(api, namespace, "after"), "the new service to be Running")
        assert f"Applying Deployment {namespace}/after" in second.output()
        delete_services(api, namespace)
    assert "Traceback" not in second.output(), second.output()


def test_a_leader_that_stops_cleanly_hands_over_at_once(
    api: client.ApiClient, kubeconfig: Path, service_crd: str, namespace: str, tmp_path: Path
) -> None:
    lease = f"ha-{uuid.uuid4().hex[:6]}"
    first = _candidate(kubeconfig, tmp_path / "first.log", namespace, lease)
    second = _candidate(kubeconfig, tmp_path / "second.log", namespace, lease)
    with running(first, second):
        first.start(ready=LEADING)
        second.start(ready=STANDING_BY)
        stopped = time.monotonic()
        assert first.stop() == 0
        assert "Released the Lease" in first.output()
        wait_for(lambda: TOOK_OVER in second.output(), "the standby to take over", timeout=30)
        assert time.monotonic() - stopped < 10  # a retry period or two, not the Lease's 15s
        services.create(api, namespace, "web", image="nginx")
        wait_for(lambda: _running(api, namespace, "web"), "the service to be Running")
        delete_services(api, namespace)
