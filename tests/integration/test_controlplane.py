"""The test bed is a real Kubernetes control plane: scheduling, controllers, the garbage collector
and CEL validation all work, and the harness cleans up after itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from testbed.controlplane import REPO, ControlPlane
from tests.wait import wait_for

LABELS = {"app": "probe"}


def _pod_template() -> dict[str, Any]:
    return {
        "metadata": {"labels": LABELS},
        "spec": {"containers": [{"name": "main", "image": "example.invalid/probe:1"}]},
    }


def _running_pods(core: client.CoreV1Api, namespace: str) -> list[client.V1Pod]:
    pods = core.list_namespaced_pod(namespace, label_selector="app=probe").items
    return [pod for pod in pods if pod.status.phase == "Running"]


def _at_least_running(core: client.CoreV1Api, namespace: str, count: int) -> list[client.V1Pod]:
    pods = _running_pods(core, namespace)
    return pods if len(pods) >= count else []


def _schedulable_nodes(core: client.CoreV1Api) -> set[str]:
    return {node.metadata.name for node in core.list_node().items if not node.spec.unschedulable}


def test_deployment_pods_are_scheduled_onto_nodes_and_run(
    api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "probe"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": LABELS},
                "template": _pod_template(),
            },
        },
    )

    pods = wait_for(lambda: _at_least_running(core, namespace, 3), "3 Running pods")
    assert len(pods) == 3
    assert {pod.spec.node_name for pod in pods} <= _schedulable_nodes(core)
    wait_for(
        lambda: apps.read_namespaced_deployment("probe", namespace).status.available_replicas == 3,
        "the Deployment to report 3 available replicas",
    )


def test_daemonset_runs_exactly_one_pod_per_node(api: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    nodes = _schedulable_nodes(core)
    apps.create_namespaced_daemon_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "probe"},
            "spec": {"selector": {"matchLabels": LABELS}, "template": _pod_template()},
        },
    )

    pods = wait_for(lambda: _at_least_running(core, namespace, len(nodes)), "a pod per node")
    time.sleep(1)  # give a (wrong) extra pod the chance to appear before counting
    pods = _running_pods(core, namespace)
    assert sorted(pod.spec.node_name for pod in pods) == sorted(nodes)


def test_deleting_an_owner_deletes_its_dependents(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    reference = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="dependent", owner_references=[reference])
        ),
    )

    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")

    def dependent_gone() -> bool:
        try:
            core.read_namespaced_config_map("dependent", namespace)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(dependent_gone, "the garbage collector to delete the dependent")


def test_a_cel_rule_rejects_a_violating_object_with_its_message(api: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    group = f"t{uuid.uuid4().hex[:8]}.testbed.dockercloud.dev"
    message = "spec.replicas must not exceed spec.maxReplicas"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "replicas": {"type": "integer"},
                                        "maxReplicas": {"type": "integer"},
                                    },
                                    "x-kubernetes-validations": [
                                        {
                                            "rule": "self.replicas <= self.maxReplicas",
                                            "message": message,
                                        }
                                    ],
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    extensions.create_custom_resource_definition(crd)
    try:

        def established() -> bool:
            status = extensions.read_custom_resource_definition(f"widgets.{group}").status
            return any(
                c.type == "Established" and c.status == "True" for c in status.conditions or []
            )

        wait_for(established, "the CRD to be Established")

        def widget(name: str, replicas: int) -> dict[str, Any]:
            return {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": name},
                "spec": {"replicas": replicas, "maxReplicas": 2},
            }

        # Discovery can lag Established by a moment; the valid object proves the CRD is served.
        wait_for(
            lambda: _created(custom, group, widget("fits", 2)), "the CRD to serve its resource"
        )
        with pytest.raises(ApiException) as rejected:
            custom.create_cluster_custom_object(group, "v1", "widgets", widget("too-many", 3))
        assert rejected.value.status == 422
        assert message in json.loads(rejected.value.body)["message"]
    finally:
        extensions.delete_custom_resource_definition(f"widgets.{group}")


def _created(custom: client.CustomObjectsApi, group: str, body: dict[str, Any]) -> bool:
    try:
        custom.create_cluster_custom_object(group, "v1", "widgets", body)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


# -- the harness itself -------------------------------------------------------------------------


def _gone(pid: int, executable: str) -> bool:
    """True once `pid` no longer runs `executable` (exited, reaped, or reused by another)."""
    try:
        return not os.readlink(f"/proc/{pid}/exe").startswith(executable)
    except OSError:
        return True


def test_harness_stops_every_process_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError, match="test failure"), ControlPlane() as plane:
        started = {c.process.pid: c.command[0] for c in plane.components if c.process}
        workdir = plane.workdir
        assert len(started) == 5
        raise RuntimeError("test failure")

    assert all(_gone(pid, exe) for pid, exe in started.items()), started
    assert workdir is not None and not workdir.exists()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_harness_process_leaves_no_process_behind(tmp_path: Path, stop_signal: int) -> None:
    ready = tmp_path / "ready.json"
    kubeconfig = tmp_path / "kubeconfig"
    harness = subprocess.Popen(
        [sys.executable, "-m", "testbed.controlplane", "up",
         "--kubeconfig", str(kubeconfig), "--ready-file", str(ready)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        state = wait_for(
            lambda: ready.exists() and json.loads(ready.read_text()),
            "the harness to be ready",
            timeout=180,
        )
        pids: list[int] = state["pids"]
        executables = {pid: os.readlink(f"/proc/{pid}/exe") for pid in pids}
        assert len(pids) == 5 and kubeconfig.exists()

        harness.send_signal(stop_signal)
        harness.wait(timeout=120)
        deadline = time.monotonic() + 10  # SIGKILL: the kernel's parent-death signal is async
        while time.monotonic() < deadline and not all(_gone(p, e) for p, e in executables.items()):
            time.sleep(0.1)
    finally:
        harness.kill()
        output = harness.communicate()[0].decode(errors="replace")

    left = [pid for pid, exe in executables.items() if not _gone(pid, exe)]
    assert not left, f"still running after {signal.Signals(stop_signal).name}: {left}\n{output}"
    if stop_signal != signal.SIGKILL:  # a killed process cannot tidy up; its children still die
        assert not Path(state["workdir"]).exists()
        assert not kubeconfig.exists()


def test_fake_nodes_heartbeat_through_leases(api: client.ApiClient) -> None:
    # Without lease heartbeats kube-controller-manager marks the nodes NotReady now and then,
    # and the pods on them lose Ready for good (no kubelet restores it).
    nodes = {node.metadata.name for node in client.CoreV1Api(api).list_node().items}
    leases = wait_for(
        lambda: (
            {
                lease.metadata.name
                for lease in client.CoordinationV1Api(api)
                .list_namespaced_lease("kube-node-lease")
                .items
            }
            >= nodes
        ),
        "a lease for every node",
    )
    assert leases


def _lease_holders(api: client.ApiClient) -> dict[str, str | None]:
    leases = client.CoordinationV1Api(api).list_namespaced_lease("kube-node-lease").items
    return {lease.metadata.name: lease.spec.holder_identity for lease in leases}


def test_a_restarted_kwok_takes_its_nodes_over_at_once(tmp_path: Path) -> None:
    # A new kwok process has a new identity. Left to itself it would manage none of its nodes'
    # pods until their Leases expired (40 s); the plane releases them for it.
    with ControlPlane(workdir=tmp_path / "plane", default_logs=False) as plane:
        api = config.new_client_from_config(config_file=str(plane.kubeconfig))
        before = wait_for(lambda: {n: h for n, h in _lease_holders(api).items() if h},
                          "the nodes' Leases held")  # fmt: skip
        plane.restart_kwok()
        wait_for(
            lambda: all(
                holder and holder != before[node]
                for node, holder in _lease_holders(api).items()
                if node in before
            ),
            "the new kwok to hold every node's Lease",
            timeout=20,  # well under the 40 s an unreleased Lease would take to expire
        )
        core = client.CoreV1Api(api)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "after-restart"},
            "spec": {"nodeName": sorted(before)[0], **_pod_template()["spec"]},
        }
        core.create_namespaced_pod("default", pod)
        wait_for(
            lambda: core.read_namespaced_pod("after-restart", "default").status.phase == "Running",
            "a pod on a node of the restarted kwok to run",
            timeout=20,
        )
