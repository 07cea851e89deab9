"""autorestart OFF / ON_FAILURE and autodestroy: which containers stop for good, what the
workload then runs, and the documented state it comes to (the pure part; the real thing is in
tests/integration/test_restarts.py)."""

from __future__ import annotations

from typing import Any

import pytest

from dockercloud_operator.controller.actions import deployed
from dockercloud_operator.controller.status import Observed, count, state
from dockercloud_operator.resources import build
from dockercloud_operator.resources.context import Context
from dockercloud_operator.resources.restarts import (
    EPOCH_ANNOTATION,
    GIVEN_UP_ANNOTATION,
    REMOVED_ANNOTATION,
    START_ANNOTATION,
    GivenUp,
    container_restart_policy,
    epoch,
    keeps_stopped,
    plan,
)
from dockercloud_operator.resources.unsupported import unsupported
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    State,
)

Object = dict[str, Any]
RULES = Context(restart_rules=True)


def service(generation: int = 3, started: str | None = None, **spec: Any) -> Service:
    metadata: Object = {"name": "task", "namespace": "ns", "uid": "u", "generation": generation}
    if started:
        metadata["annotations"] = {START_ANNOTATION: started}
    return Service.model_validate({"metadata": metadata, "spec": {"image": "busybox", **spec}})


def pod(name: str, phase: str = "Running", reason: str | None = None,
        deleting: bool = False) -> Object:  # fmt: skip
    metadata: Object = {"name": name, "uid": f"uid-{name}", "labels": {"pod-template-hash": "r"}}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-28T10:00:00Z"
    ready = [{"type": "Ready", "status": str(phase == "Running")}]
    status: Object = {"phase": phase, "conditions": ready}
    if reason:
        status["reason"] = reason
    return {"metadata": metadata, "status": status}


def workload(replicas: int, given_up: GivenUp | None = None) -> Object:
    annotations = given_up.annotations() if given_up else {}
    return {
        "kind": "Deployment",
        "metadata": {"name": "task", "generation": 1, "annotations": annotations},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas},
    }


def _workload(built: list[Object]) -> Object:
    return next(o for o in built if o["kind"] == "Deployment")


@pytest.mark.parametrize(
    ("autorestart", "policy"), [("OFF", "Never"), ("ON_FAILURE", "OnFailure"), ("ALWAYS", None)]
)
def test_autorestart_is_the_containers_own_restart_policy(autorestart: str, policy: str) -> None:
    task = service(autorestart=autorestart)
    assert container_restart_policy(task, True) == policy
    [container] = _workload(build(task, RULES).objects)["spec"]["template"]["spec"]["containers"]
    assert container.get("restartPolicy") == policy


def test_without_restart_rules_or_outside_a_deployment_it_is_approximated_and_said() -> None:
    off = service()
    assert container_restart_policy(off, False) is None
    [finding] = unsupported(off, Context())
    assert finding.attribute == "autorestart=OFF" and "ContainerRestartRules" in finding.reason
    assert unsupported(off, RULES) == []  # the documented default, honoured
    for spec, kind in (({"sequential_deployment": True}, "StatefulSet"),
                       ({"deployment_strategy": "EVERY_NODE"}, "DaemonSet")):  # fmt: skip
        other = service(**spec)
        assert not keeps_stopped(other, True)
        [finding] = unsupported(other, RULES)
        assert finding.reason == f"a {kind} recreates a stopped container (as ALWAYS)"


def test_the_epoch_is_the_generation_and_the_last_start() -> None:
    assert epoch(service(generation=4)) == "4/"
    assert epoch(service(generation=4, started="abc")) == "4/abc"


def test_a_new_epoch_runs_every_container_anew_and_deletes_the_ended_ones() -> None:
    task = service(target_num_containers=3)
    old = GivenUp(epoch="2/", stopped=("task-a",))
    ended = pod("task-a", "Failed")
    result = plan(task, workload(2, old), [ended, pod("task-b"), pod("task-c")])
    assert result.given_up == GivenUp(epoch="3/")
    assert result.delete == [ended]
    assert plan(task, None, []).given_up == GivenUp(epoch="3/")


def test_ended_containers_are_given_up_and_kept_for_inspection() -> None:
    task = service(target_num_containers=3)
    now = GivenUp(epoch="3/")
    pods = [pod("a", "Failed"), pod("b", "Succeeded"), pod("c"), pod("d", "Failed", "Evicted"),
            pod("e", "Failed", deleting=True)]  # fmt: skip
    result = plan(task, workload(3, now), pods)
    assert result.given_up == GivenUp("3/", stopped=("a", "b"))
    assert result.delete == []  # autodestroy OFF: kept
    built = _workload(build(task, Context(restart_rules=True, given_up=result.given_up)).objects)
    assert built["spec"]["replicas"] == 1
    assert built["metadata"]["annotations"][GIVEN_UP_ANNOTATION] == "2"
    assert built["metadata"]["annotations"][EPOCH_ANNOTATION] == "3/"


@pytest.mark.parametrize(
    ("autodestroy", "removed"), [("ON_SUCCESS", ["b"]), ("ALWAYS", ["a", "b"]), ("OFF", [])]
)
def test_autodestroy_removes_what_ended_as_it_says_and_remembers_it(
    autodestroy: str, removed: list[str]
) -> None:
    task = service(target_num_containers=3, autodestroy=autodestroy)
    pods = [pod("a", "Failed"), pod("b", "Succeeded"), pod("c")]
    result = plan(task, workload(3, GivenUp(epoch="3/")), pods)
    assert [p["metadata"]["name"] for p in result.delete] == removed
    assert result.given_up.count == 2
    # once deleted, the workload's annotation still counts them
    remembered = workload(1, result.given_up)
    assert remembered["metadata"]["annotations"][REMOVED_ANNOTATION] == " ".join(removed)
    left = [p for p in pods if p["metadata"]["name"] not in removed]
    assert plan(task, remembered, left).given_up.count == 2


def test_the_live_target_counts_the_given_up_containers() -> None:
    assert deployed(workload(1, GivenUp("3/", stopped=("a", "b")))).replicas == 3
    assert deployed(workload(0, GivenUp("3/", removed=("a", "b", "c")))).running is True


@pytest.mark.parametrize(
    ("pods", "given_up", "previous", "expected"),
    [
        ([pod("a"), pod("b"), pod("c", "Failed")], 1, State.RUNNING, State.PARTLY_RUNNING),
        # the ReplicaSet's replacement, before the operator lowers its replicas
        ([pod("a"), pod("b"), pod("c", "Failed"), pod("d")], 1, State.RUNNING,
         State.PARTLY_RUNNING),
        ([pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c", "Failed")], 3, State.STARTING,
         State.STOPPED),
        ([], 3, State.PARTLY_RUNNING, State.STOPPED),  # all removed by autodestroy
        ([pod("a"), pod("b"), pod("c")], 0, State.STARTING, State.RUNNING),
    ],
)  # fmt: skip
def test_the_state_of_a_service_whose_containers_stopped_for_good(
    pods: list[Object], given_up: int, previous: State, expected: State
) -> None:
    task = service(target_num_containers=3)
    replicas = 3 - given_up
    observed = Observed(workload(replicas), pods, given_up=given_up)
    assert state(task, observed, count(pods), previous, True, 3) is expected
