"""The test bed's containers exit when told to, and restart or not as a kubelet would: a pod
annotated `testbed.dockercloud.dev/exit-code` sees its containers exit once with that code;
each is restarted when its restart policy (its own, with ContainerRestartRules, else the pod's)
says so, and a pod whose containers all stay stopped ends Succeeded or Failed."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from testbed.container_logs import KWOK_API_VERSION, KWOK_GROUP
from tests.wait import wait_for

pytestmark = pytest.mark.integration
EXIT_CODE = "testbed.dockercloud.dev/exit-code"


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    try:
        client.CustomObjectsApi(api).get_api_resources(KWOK_GROUP, KWOK_API_VERSION)
    except ApiException:
        pytest.skip("containers exit on demand on the local control plane only")
    return client.CoreV1Api(api)


def _pod(name: str, code: int, pod_policy: str | None = None,
         container_policy: str | None = None) -> dict[str, Any]:  # fmt: skip
    container: dict[str, Any] = {"name": "app", "image": "busybox"}
    if container_policy:
        container["restartPolicy"] = container_policy
    spec: dict[str, Any] = {"containers": [container]}
    if pod_policy:
        spec["restartPolicy"] = pod_policy
    metadata = {"name": name, "annotations": {EXIT_CODE: str(code)}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _settled(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod:
    """The pod once its container has exited (and maybe restarted)."""

    def exited() -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        [status] = pod.status.container_statuses or [None]
        if status is None:
            return None
        if status.state.terminated is not None or status.last_state.terminated is not None:
            return pod
        return None

    return wait_for(exited, f"the container of {name} to exit", timeout=30)


@pytest.mark.parametrize(
    ("pod_policy", "container_policy", "code", "restarted", "phase"),
    [
        (None, None, 0, True, "Running"),  # Always (a workload's pods)
        (None, None, 1, True, "Running"),
        (None, "Never", 0, False, "Succeeded"),
        (None, "Never", 1, False, "Failed"),
        (None, "OnFailure", 0, False, "Succeeded"),
        (None, "OnFailure", 3, True, "Running"),
        ("Never", None, 2, False, "Failed"),
        ("OnFailure", None, 0, False, "Succeeded"),
    ],
)
def test_a_container_exits_and_restarts_as_its_policy_says(
    core: client.CoreV1Api, namespace: str, pod_policy: str | None,
    container_policy: str | None, code: int, restarted: bool, phase: str,
) -> None:  # fmt: skip
    name = f"exit-{code}-{(container_policy or pod_policy or 'always').lower()}"
    core.create_namespaced_pod(namespace, _pod(name, code, pod_policy, container_policy))
    pod = _settled(core, namespace, name)
    [status] = pod.status.container_statuses
    if restarted:
        assert status.restart_count == 1
        assert status.state.running is not None
        assert status.last_state.terminated.exit_code == code
    else:
        assert status.restart_count == 0
        assert status.state.terminated.exit_code == code
        assert status.state.terminated.reason == ("Completed" if code == 0 else "Error")
    wait_for(lambda: core.read_namespaced_pod(name, namespace).status.phase == phase,
             f"{name} to be {phase}", timeout=15)  # fmt: skip


def test_it_exits_once_and_a_finished_pod_stays_finished(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, _pod("once", 1))
    core.create_namespaced_pod(namespace, _pod("done", 1, container_policy="Never"))
    _settled(core, namespace, "once")
    _settled(core, namespace, "done")
    import time

    time.sleep(4)  # several stage delays: nothing more may happen
    [once] = core.read_namespaced_pod("once", namespace).status.container_statuses
    assert once.restart_count == 1 and once.state.running is not None
    done = core.read_namespaced_pod("done", namespace).status
    assert done.phase == "Failed" and done.container_statuses[0].state.terminated is not None


def test_a_deployments_containers_may_have_their_own_restart_policy(
    api: client.ApiClient, namespace: str
) -> None:
    body = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "own-policy"},
        "spec": {
            "selector": {"matchLabels": {"app": "own-policy"}},
            "template": {
                "metadata": {"labels": {"app": "own-policy"}},
                "spec": {"containers": [
                    {"name": "app", "image": "busybox", "restartPolicy": "Never"}
                ]},
            },
        },
    }  # fmt: skip
    created = client.AppsV1Api(api).create_namespaced_deployment(namespace, body, dry_run="All")
    assert created.spec.template.spec.containers[0].restart_policy == "Never"
