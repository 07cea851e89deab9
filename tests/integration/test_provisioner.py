"""The test bed provisions volumes: claims of its default StorageClass `testbed` are bound to
hostPath volumes, StatefulSets with volumeClaimTemplates run, and deleted claims free them."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from testbed.controlplane import PROVISIONER, STORAGE_CLASS
from tests.wait import wait_for

LABELS = {"app": "stateful"}


def _claim(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def _bound(
    core: client.CoreV1Api, name: str, namespace: str
) -> client.V1PersistentVolumeClaim | None:
    claim = core.read_namespaced_persistent_volume_claim(name, namespace)
    return claim if claim.status.phase == "Bound" else None


def _volume_gone(core: client.CoreV1Api, name: str) -> bool:
    try:
        core.read_persistent_volume(name)
    except ApiException as error:
        return error.status == 404
    return False


def test_a_claim_without_a_class_gets_the_default_one_and_is_bound(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(namespace, _claim("data"))

    claim = wait_for(lambda: _bound(core, "data", namespace), "the claim to be Bound")
    assert claim.spec.storage_class_name == STORAGE_CLASS
    volume = core.read_persistent_volume(claim.spec.volume_name)
    assert volume.metadata.name == f"pvc-{claim.metadata.uid}"
    assert volume.metadata.annotations["pv.kubernetes.io/provisioned-by"] == PROVISIONER
    assert volume.spec.capacity["storage"] == "1Gi"
    assert volume.spec.host_path.path.endswith(f"/volumes/{claim.metadata.uid}")
    assert volume.spec.claim_ref.uid == claim.metadata.uid
    assert volume.status.phase == "Bound"


def test_statefulset_pods_with_claim_templates_run_on_bound_volumes(
    api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    nodes = {node.metadata.name for node in core.list_node().items}
    apps.create_namespaced_stateful_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "example.invalid/db:1",
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [_claim("data")],
            },
        },
    )

    def running() -> list[client.V1Pod]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=stateful").items
        return pods if sum(pod.status.phase == "Running" for pod in pods) == 2 else []

    pods = wait_for(running, "both StatefulSet pods to be Running")
    assert sorted(pod.metadata.name for pod in pods) == ["db-0", "db-1"]
    assert {pod.spec.node_name for pod in pods} <= nodes
    for name in ("data-db-0", "data-db-1"):
        claim = _bound(core, name, namespace)
        assert claim is not None, f"{name} is not Bound"
        assert claim.spec.storage_class_name == STORAGE_CLASS


def test_deleting_a_bound_claim_deletes_its_volume(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(namespace, _claim("scratch"))
    core.create_namespaced_pod(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "user"},
            "spec": {
                "containers": [{"name": "main", "image": "example.invalid/user:1"}],
                "volumes": [{"name": "scratch", "persistentVolumeClaim": {"claimName": "scratch"}}],
            },
        },
    )
    claim = wait_for(lambda: _bound(core, "scratch", namespace), "the claim to be Bound")
    volume = claim.spec.volume_name
    wait_for(
        lambda: core.read_namespaced_pod("user", namespace).status.phase == "Running",
        "the pod using the claim to be Running",
    )

    core.delete_namespaced_pod("user", namespace)
    core.delete_namespaced_persistent_volume_claim("scratch", namespace)

    wait_for(lambda: _volume_gone(core, volume), f"the volume {volume} to be deleted")
