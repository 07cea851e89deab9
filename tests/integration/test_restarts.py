"""autorestart and autodestroy as documented, on the real control plane: the test bed's kwok
makes containers exit (the pod annotation `testbed.dockercloud.dev/exit-code`, which a service
sets through its Docker `labels`) and restarts them or not as a kubelet would."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.documented.lifecycle import start_patch
from tests import services
from tests.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator")]

EXIT_CODE = "testbed.dockercloud.dev/exit-code"
EXIT_AFTER = "testbed.dockercloud.dev/exit-after-ms"
SETTLE = 4.0  # seconds in which nothing more may happen once the state is reached


@pytest.fixture(autouse=True)
def restart_rules(api: client.ApiClient, namespace: str) -> None:
    """These need the test bed: containers that exit on demand, and ContainerRestartRules."""
    container = {"name": "c", "image": "busybox", "restartPolicy": "Never"}
    pod = {"metadata": {"name": "probe"}, "spec": {"containers": [container]}}
    try:
        client.CoreV1Api(api).create_namespaced_pod(namespace, pod, dry_run="All")
    except ApiException:
        pytest.skip("the cluster does not offer a container's own restartPolicy")
    try:
        client.CustomObjectsApi(api).get_api_resources("kwok.x-k8s.io", "v1alpha1")
    except ApiException:
        pytest.skip("containers exit on demand on the local control plane only")


def _exiting(code: int, after_ms: int = 1000) -> dict[str, Any]:
    return {"image": "busybox", "labels": {EXIT_CODE: str(code), EXIT_AFTER: str(after_ms)}}


def _status(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = services.get(api, namespace, name).get("status") or {}
    return status


def _settled(api: client.ApiClient, namespace: str, name: str, state: str,
             timeout: float = 60) -> dict[str, Any]:  # fmt: skip
    """The status once it is `state`, synchronized, and stays so for SETTLE seconds."""

    def reached() -> dict[str, Any] | None:
        status = _status(api, namespace, name)
        return status if status.get("state") == state and status.get("synchronized") else None

    wait_for(reached, f"{name} to be {state}", timeout=timeout)
    time.sleep(SETTLE)
    status = wait_for(reached, f"{name} to stay {state}", timeout=5)
    return status


def _pods(api: client.ApiClient, namespace: str, name: str) -> list[client.V1Pod]:
    return [p for p in services.pods(api, namespace, name) if not p.metadata.deletion_timestamp]


def _restarts(pod: client.V1Pod) -> int:
    return sum(s.restart_count for s in pod.status.container_statuses or [])


# (autorestart, exit code) -> restarted in place?
RESTARTED = {
    ("OFF", 0): False, ("OFF", 1): False,
    ("ON_FAILURE", 0): False, ("ON_FAILURE", 1): True,
    ("ALWAYS", 0): True, ("ALWAYS", 1): True,
}  # fmt: skip


@pytest.mark.parametrize(("autorestart", "code"), list(RESTARTED))
def test_autorestart_restarts_a_container_that_exits_or_keeps_it_stopped(
    api: client.ApiClient, namespace: str, autorestart: str, code: int
) -> None:
    name = f"{autorestart.lower().replace('_', '-')}-{code}"
    services.create(api, namespace, name, autorestart=autorestart, **_exiting(code))
    if RESTARTED[(autorestart, code)]:
        wait_for(lambda: any(_restarts(p) for p in _pods(api, namespace, name)),
                 f"{name}'s container to restart", timeout=60)  # fmt: skip
        status = _settled(api, namespace, name, "Running")
        [pod] = _pods(api, namespace, name)
        assert _restarts(pod) == 1 and pod.status.phase == "Running"
        assert (status["running_num_containers"], status["stopped_num_containers"]) == (1, 0)
        return
    status = _settled(api, namespace, name, "Stopped")
    [pod] = _pods(api, namespace, name)  # kept, and not replaced
    assert pod.status.phase == ("Succeeded" if code == 0 else "Failed")
    [container] = pod.status.container_statuses
    assert container.state.terminated.exit_code == code and container.restart_count == 0
    assert status["current_num_containers"] == 1
    assert (status["running_num_containers"], status["stopped_num_containers"]) == (0, 1)
    assert status["stopped_datetime"]
    unsupported = next(c for c in status["conditions"] if c["type"] == "UnsupportedAttributes")
    assert unsupported["status"] == "False"
    deployment = client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    assert deployment.spec.replicas == 0


# autodestroy -> exit code -> removed?
REMOVED = {("ON_SUCCESS", 0): True, ("ON_SUCCESS", 1): False,
           ("ALWAYS", 0): True, ("ALWAYS", 1): True}  # fmt: skip


@pytest.mark.parametrize(("autodestroy", "code"), list(REMOVED))
def test_autodestroy_removes_a_container_that_ends_as_it_says(
    api: client.ApiClient, namespace: str, autodestroy: str, code: int
) -> None:
    name = f"destroy-{autodestroy.lower().replace('_', '-')}-{code}"
    services.create(api, namespace, name, autodestroy=autodestroy, **_exiting(code))
    status = _settled(api, namespace, name, "Stopped")
    left = _pods(api, namespace, name)
    if REMOVED[(autodestroy, code)]:
        assert left == []
        assert status["current_num_containers"] == 0
    else:
        assert [p.status.phase for p in left] == ["Failed"]
        assert (status["current_num_containers"], status["stopped_num_containers"]) == (1, 1)
    assert status["running_num_containers"] == 0


def test_a_partly_running_service_keeps_the_others_running(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(api, namespace, "mixed", image="busybox", target_num_containers=3)
    wait_for(lambda: services.exactly_running(api, namespace, "mixed", 3), "3 containers")
    [first, *_] = _pods(api, namespace, "mixed")
    client.CoreV1Api(api).patch_namespaced_pod(
        first.metadata.name, namespace, {"metadata": {"annotations": {EXIT_CODE: "1"}}}
    )
    status = _settled(api, namespace, "mixed", "Partly running")
    assert (status["running_num_containers"], status["stopped_num_containers"]) == (2, 1)
    assert len(_pods(api, namespace, "mixed")) == 3  # the stopped one is not replaced
    # start brings it back: the stopped container goes, a new one runs
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "app.dockercloud.dev", "v1", namespace, "services", "mixed", start_patch()
    )
    status = _settled(api, namespace, "mixed", "Running")
    assert (status["running_num_containers"], status["stopped_num_containers"]) == (3, 0)
    assert first.metadata.name not in {p.metadata.name for p in _pods(api, namespace, "mixed")}


def test_one_shot_containers_end_stopped_and_the_actions_still_work(
    api: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api)

    def act(patch: dict[str, Any]) -> None:
        custom.patch_namespaced_custom_object(
            "app.dockercloud.dev", "v1", namespace, "services", "task", patch
        )

    services.create(api, namespace, "task", target_num_containers=3,
                    autodestroy="ON_SUCCESS", **_exiting(0, after_ms=3000))  # fmt: skip
    status = _settled(api, namespace, "task", "Stopped", timeout=90)
    assert status["current_num_containers"] == 0 and status["running_num_containers"] == 0
    assert status["started_datetime"] and status["stopped_datetime"]

    act(start_patch())  # they run again, for their three seconds, and go
    wait_for(lambda: _status(api, namespace, "task").get("state") == "Running",
             "task to run again", timeout=60)  # fmt: skip
    _settled(api, namespace, "task", "Stopped", timeout=90)

    services.patch_spec(api, namespace, "task", target_num_containers=2)  # scale: 2 run anew
    wait_for(lambda: len(services.running_pods(api, namespace, "task")) == 2, "2 containers")
    _settled(api, namespace, "task", "Stopped", timeout=90)

    act({"spec": {"redeploy": {"token": "again"}}})
    wait_for(lambda: len(services.running_pods(api, namespace, "task")) == 2, "a redeploy")
    _settled(api, namespace, "task", "Stopped", timeout=90)

    services.patch_spec(api, namespace, "task", running=False)  # stop: none left, Stopped
    status = _settled(api, namespace, "task", "Stopped", timeout=90)
    assert _pods(api, namespace, "task") == []

    services.delete(api, namespace, "task")
    wait_for(lambda: services.read_or_none(services.get, api, namespace, "task") is None
             and not _pods(api, namespace, "task"), "task to be gone", timeout=60)  # fmt: skip


def test_defaults_are_honoured_and_what_cannot_be_is_named(
    api: client.ApiClient, namespace: str
) -> None:
    def condition(name: str) -> dict[str, Any] | None:
        status = _status(api, namespace, name)
        if status.get("observedGeneration") is None:
            return None
        found = [c for c in status.get("conditions", []) if c["type"] == "UnsupportedAttributes"]
        return found[0] if found else None

    services.create(api, namespace, "plain", image="nginx")  # every documented default
    services.create(api, namespace, "ordered", image="nginx", sequential_deployment=True)
    plain = wait_for(lambda: condition("plain"), "plain's conditions")
    assert (plain["status"], plain["reason"]) == ("False", "AllHonoured")
    ordered = wait_for(lambda: condition("ordered"), "ordered's conditions")
    assert ordered["status"] == "True"
    assert ordered["message"] == (
        "autorestart=OFF: a StatefulSet recreates a stopped container (as ALWAYS)"
    )
