"""The status function: documented states, counts, timestamps and conditions from observations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dockercloud_operator.controller.status import (
    Observed,
    compute,
    count,
    documented_datetime,
    glance,
    image_name,
    kubernetes_time,
    state,
    synchronized,
)
from dockercloud_operator.resources.unsupported import Finding
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    State,
)

NOW = datetime(2014, 10, 13, 11, 1, 43, tzinfo=UTC)
UID = "09cbcf8d-a727-40d9-b420-c8e18b7fa55b"


def service(deleting: bool = False, **spec: Any) -> Service:
    metadata: dict[str, Any] = {"name": "web", "namespace": "ns", "uid": UID, "generation": 2}
    if deleting:
        metadata["deletionTimestamp"] = "2014-10-13T11:01:43Z"
    return Service.model_validate({"metadata": metadata, "spec": {"image": "nginx", **spec}})


def pod(
    name: str, phase: str = "Running", ready: bool = True, crashed: bool = False,
    deleting: bool = False, host: str = "10.0.0.1", revision: str = "r1",
) -> dict[str, Any]:  # fmt: skip
    metadata: dict[str, Any] = {
        "name": name, "uid": f"uid-{name}", "labels": {"pod-template-hash": revision},
    }  # fmt: skip
    if deleting:
        metadata["deletionTimestamp"] = "2014-10-13T11:01:43Z"
    state = {"terminated": {"exitCode": 1}} if crashed else {"running": {}}
    return {
        "metadata": metadata,
        "status": {
            "phase": phase,
            "hostIP": host,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "web", "state": state}],
        },
    }


def deployment(
    replicas: int, updated: int | None = None, generation: int = 2, observed: int = 2
) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": replicas if updated is None else updated,
        },
    }


def daemonset(desired: int, updated: int | None = None) -> dict[str, Any]:
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "web", "generation": 1},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": desired if updated is None else updated,
        },
    }


def running(n: int) -> list[dict[str, Any]]:
    return [pod(f"web-{i}") for i in range(n)]


# (case, spec, workload, pods, previous state, deployed before, previous target, expected)
STATES = [
    ("created stopped", {"running": False}, None, [], None, False, None, State.NOT_RUNNING),
    ("stopped after running", {"running": False}, deployment(0), [], State.STOPPING, True, 2,
     State.STOPPED),
    ("stop with containers left", {"running": False}, deployment(0), running(2), State.RUNNING,
     True, 2, State.STOPPING),
    ("no workload yet", {}, None, [], None, False, None, State.STARTING),
    ("start, none running yet", {"target_num_containers": 2}, deployment(2), [pod("a", "Pending",
     False)], State.NOT_RUNNING, False, 0, State.STARTING),
    ("start, all running", {"target_num_containers": 2}, deployment(2), running(2),
     State.STARTING, True, 2, State.RUNNING),
    ("scale up", {"target_num_containers": 3}, deployment(2), running(2), State.RUNNING, True, 2,
     State.SCALING),
    ("scale down", {"target_num_containers": 1}, deployment(2), running(2), State.RUNNING, True,
     2, State.SCALING),
    ("scale up, the new container made before the scale is first seen",
     {"target_num_containers": 3}, deployment(3), [*running(2), pod("c", "Pending", False)],
     State.RUNNING, True, 2, State.SCALING),
    ("scaling, new one not ready", {"target_num_containers": 3}, deployment(3),
     [*running(2), pod("c", "Pending", False)], State.SCALING, True, 3, State.SCALING),
    ("scaled", {"target_num_containers": 3}, deployment(3), running(3), State.SCALING, True, 3,
     State.RUNNING),
    ("a container crashed", {"target_num_containers": 2}, deployment(2),
     [pod("a"), pod("b", ready=False, crashed=True)], State.RUNNING, True, 2,
     State.PARTLY_RUNNING),
    ("a container lost, same target", {"target_num_containers": 2}, deployment(2), running(1),
     State.RUNNING, True, 2, State.PARTLY_RUNNING),
    ("redeploy rolling", {"target_num_containers": 2}, deployment(3, updated=1), running(3),
     State.RUNNING, True, 2, State.REDEPLOYING),
    ("redeploy, replaced one starting", {"target_num_containers": 2}, deployment(2),
     [pod("a"), pod("b", "Pending", False)], State.REDEPLOYING, True, 2, State.REDEPLOYING),
    ("redeploy seen in the pods before the workload", {"target_num_containers": 2},
     deployment(2), [*running(2), pod("new", "Pending", False, revision="r2")], State.RUNNING,
     True, 2, State.REDEPLOYING),
    ("redeployed", {"target_num_containers": 2}, deployment(2), running(2), State.REDEPLOYING,
     True, 2, State.RUNNING),
    ("change not yet seen by the workload", {"target_num_containers": 3},
     deployment(2, generation=3, observed=2), running(2), State.SCALING, True, 3, State.SCALING),
    ("every node", {"deployment_strategy": "EVERY_NODE"}, daemonset(3), running(3),
     State.STARTING, True, 3, State.RUNNING),
    ("every node, a new node", {"deployment_strategy": "EVERY_NODE"}, daemonset(4), running(3),
     State.RUNNING, True, 3, State.SCALING),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "workload", "pods", "previous", "deployed", "last_target", "expected"),
    [case[1:] for case in STATES],
    ids=[case[0] for case in STATES],
)
def test_the_state_follows_the_documented_table(
    spec: dict[str, Any], workload: dict[str, Any] | None, pods: list[dict[str, Any]],
    previous: State | None, deployed: bool, last_target: int | None, expected: State,
) -> None:  # fmt: skip
    observed = Observed(workload=workload, pods=pods)
    got = state(service(**spec), observed, count(pods), previous, deployed, last_target)
    assert got is expected


@pytest.mark.parametrize(
    ("spec", "workload", "pods", "previous", "deployed", "last_target", "expected"),
    [case[1:] for case in STATES],
    ids=[case[0] for case in STATES],
)
def test_a_glance_at_a_status_says_what_the_whole_status_says_of_its_state(
    spec: dict[str, Any], workload: dict[str, Any] | None, pods: list[dict[str, Any]],
    previous: State | None, deployed: bool, last_target: int | None, expected: State,
) -> None:  # fmt: skip
    observed = Observed(workload=workload, pods=pods)
    before: dict[str, Any] = {"state": str(previous)} if previous else {}
    if deployed:
        before["deployed_datetime"] = documented_datetime(NOW)
    if last_target is not None:
        before["running_of_target"] = f"0/{last_target}"
    whole = compute(service(**spec), observed, before, NOW)
    assert glance(service(**spec), observed, before) == {
        "state": whole["state"],
        "synchronized": whole["synchronized"],
    }
    assert whole["state"] == str(expected)


def test_a_service_being_deleted_is_terminating_whatever_else_is_seen() -> None:
    got = state(service(deleting=True), Observed(deployment(2), running(2)), count(running(2)),
                State.RUNNING, True, 2)  # fmt: skip
    assert got is State.TERMINATING


def test_counts_tell_deployed_running_and_stopped_containers() -> None:
    counts = count(
        [
            pod("a"),
            pod("b", ready=False, crashed=True),
            pod("c", "Failed", ready=False),
            pod("d", "Pending", ready=False),
            pod("e", deleting=True),
        ]
    )
    assert (counts.current, counts.active, counts.running, counts.stopped) == (4, 3, 1, 2)


def test_the_documented_datetime_form() -> None:
    assert documented_datetime(NOW) == "Mon, 13 Oct 2014 11:01:43 +0000"
    # to the second, in UTC, whatever the moment's fraction or zone
    late = NOW.replace(microsecond=999_999).astimezone(timezone(timedelta(hours=-5)))
    assert documented_datetime(late) == "Mon, 13 Oct 2014 11:01:43 +0000"
    assert kubernetes_time(late) == "2014-10-13T11:01:43Z"
    assert documented_datetime(NOW + timedelta(seconds=1)) == "Mon, 13 Oct 2014 11:01:44 +0000"
    assert kubernetes_time(NOW - timedelta(days=1)) == "2014-10-12T11:01:43Z"


@pytest.mark.parametrize(
    ("image", "expected"),
    [("nginx", "nginx:latest"), ("tutum/wordpress:4", "tutum/wordpress:4"),
     ("registry:5000/app", "registry:5000/app:latest"), ("app@sha256:" + "a" * 64,
     "app@sha256:" + "a" * 64)],
)  # fmt: skip
def test_image_name_carries_a_tag(image: str, expected: str) -> None:
    assert image_name(image) == expected


def test_a_started_service_reports_everything_documented() -> None:
    web = service(
        target_num_containers=2,
        container_ports=[{"protocol": "tcp", "inner_port": 80},
                         {"protocol": "tcp", "inner_port": 443, "published": True,
                          "outer_port": 8443}],
        container_envvars=[{"key": "MODE", "value": "prod"}],
    )  # fmt: skip
    observed = Observed(
        workload=deployment(2),
        pods=running(2),
        unsupported=[Finding("autorestart=OFF", "always restarted")],
    )
    status = compute(web, observed, {"state": "Starting", "running_of_target": "0/2"}, NOW)
    assert status["state"] == "Running"
    assert status["uuid"] == UID
    assert status["resource_uri"] == f"/api/app/v1/ns/service/{UID}/"  # namespace "ns"
    assert status["image_name"] == "nginx:latest"
    assert (status["current_num_containers"], status["running_num_containers"]) == (2, 2)
    assert status["stopped_num_containers"] == 0
    assert status["running_of_target"] == "2/2"
    assert status["synchronized"] is True
    assert status["containers"] == [
        "/api/app/v1/container/uid-web-0/", "/api/app/v1/container/uid-web-1/",
    ]  # fmt: skip
    assert status["started_datetime"] == "Mon, 13 Oct 2014 11:01:43 +0000"
    assert status["deployed_datetime"] == "Mon, 13 Oct 2014 11:01:43 +0000"
    assert status["public_dns"] == "web.ns.svc"
    assert status["container_ports"] == [
        {"protocol": "tcp", "inner_port": 80, "published": False,
         "endpoint_uri": "tcp://web.ns.svc:80/"},
        {"protocol": "tcp", "inner_port": 443, "published": True, "outer_port": 8443,
         "endpoint_uri": "tcp://10.0.0.1:8443/"},
    ]  # fmt: skip
    assert status["link_variables"]["WEB_ENV_MODE"] == "prod"
    assert status["link_variables"]["WEB_PORT"] == "tcp://web.ns.svc:80"
    assert status["selector"] == "app.dockercloud.dev/service=web"
    assert status["observedGeneration"] == 2
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Synchronized"]["status"] == "True"
    assert conditions["UnsupportedAttributes"]["status"] == "True"
    assert "autorestart=OFF: always restarted" in conditions["UnsupportedAttributes"]["message"]
    assert conditions["LinksResolved"]["status"] == "True"


def test_timestamps_move_only_on_their_transitions() -> None:
    later = datetime(2014, 10, 14, 9, 0, 0, tzinfo=UTC)
    running_status = {
        "state": "Running",
        "running_of_target": "2/2",
        "started_datetime": "Mon, 13 Oct 2014 11:01:43 +0000",
        "deployed_datetime": "Mon, 13 Oct 2014 11:01:43 +0000",
    }
    stopping = compute(
        service(running=False), Observed(deployment(0), running(2)), running_status, later
    )
    assert stopping["state"] == "Stopping"
    assert stopping["stopped_datetime"] == "Tue, 14 Oct 2014 09:00:00 +0000"
    assert stopping["started_datetime"] == running_status["started_datetime"]

    stopped = compute(service(running=False), Observed(deployment(0), []), stopping, NOW)
    assert stopped["state"] == "Stopped"
    assert stopped["stopped_datetime"] == stopping["stopped_datetime"]  # not moved again

    terminating = compute(service(deleting=True), Observed(deployment(0), []), stopped, later)
    assert terminating["destroyed_datetime"] == "Tue, 14 Oct 2014 09:00:00 +0000"


def test_a_restart_too_short_to_be_written_as_starting_is_stamped_as_a_start() -> None:
    later = datetime(2014, 10, 14, 9, 0, 0, tzinfo=UTC)
    stopped = {
        "state": "Stopped",
        "running_of_target": "0/1",
        "started_datetime": "Mon, 13 Oct 2014 11:01:43 +0000",
        "deployed_datetime": "Mon, 13 Oct 2014 11:01:43 +0000",
        "stopped_datetime": "Mon, 13 Oct 2014 12:00:00 +0000",
    }
    running_again = compute(service(), Observed(deployment(1), running(1)), stopped, later)
    assert running_again["state"] == "Running"
    assert running_again["started_datetime"] == "Tue, 14 Oct 2014 09:00:00 +0000"
    assert running_again["deployed_datetime"] == "Tue, 14 Oct 2014 09:00:00 +0000"
    assert running_again["stopped_datetime"] == stopped["stopped_datetime"]


def test_conditions_keep_their_transition_time_while_unchanged() -> None:
    first = compute(service(), Observed(deployment(1), running(1)), {"state": "Starting"}, NOW)
    later = datetime(2014, 10, 14, 9, 0, 0, tzinfo=UTC)
    second = compute(service(), Observed(deployment(1), running(1)), first, later)
    assert second == first
    lost = compute(service(), Observed(deployment(1), []), first, later)
    ready = next(c for c in lost["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["lastTransitionTime"]) == ("False", "2014-10-14T09:00:00Z")


def test_unresolved_links_are_a_condition() -> None:
    status = compute(
        service(linked_to_service=[{"to_service": "db"}]),
        Observed(deployment(1), running(1), unresolved=["linked_to_service[0]: no service db"]),
        {},
        NOW,
    )
    links = next(c for c in status["conditions"] if c["type"] == "LinksResolved")
    assert links["status"] == "False" and "no service db" in links["message"]


def test_a_stopped_service_shows_the_target_it_keeps() -> None:
    status = compute(service(running=False, target_num_containers=3), Observed(deployment(0)),
                     {"state": "Stopping", "deployed_datetime": "x"}, NOW)  # fmt: skip
    assert (status["state"], status["running_of_target"]) == ("Stopped", "0/3")


def test_a_never_changed_workload_is_synchronized_before_its_controller_says_so() -> None:
    fresh = deployment(1, generation=1, observed=0)  # the controller has not caught up yet
    assert synchronized(service(), fresh)
    changed = deployment(1, generation=3, observed=2)  # a new template not yet looked at
    assert not synchronized(service(), changed)
