"""kube-controller-manager never rolls out a Deployment whose one active ReplicaSet has the
Deployment's replicas but another `deployment.kubernetes.io/desired-replicas` annotation: it
takes that for a scaling event, which has nothing to scale, and stops there on every sync. Writers
scaling a Deployment at once can leave it so (the fault suite's conflicting writers once did:
a service stayed `Redeploying` for good). Here the annotation is made stale by hand, and the
operator must mend it so that the new pod template is rolled out."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from dockercloud_operator.controller.rollouts import DESIRED_REPLICAS, STALL_AFTER
from dockercloud_operator.schema.constants import LABEL_SERVICE
from tests import services
from tests.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator")


def _state(api: client.ApiClient, namespace: str) -> str | None:
    state: str | None = services.get(api, namespace, "web").get("status", {}).get("state")
    return state


def _deployment(api: client.ApiClient, namespace: str) -> Any:
    return client.AppsV1Api(api).read_namespaced_deployment("web", namespace)


def _event_reasons(api: client.ApiClient, namespace: str) -> list[str]:
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector="involvedObject.name=web,involvedObject.kind=Service"
    )
    return [event.reason for event in events.items]


def test_a_rollout_held_by_a_stale_replicaset_annotation_is_mended(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(api, namespace, "web", image="nginx", target_num_containers=2, running=True)
    wait_for(lambda: _state(api, namespace) == "Running", "Running")
    wait_for(lambda: len(services.exactly_running(api, namespace, "web", 2) or []) == 2, "2 pods")
    apps = client.AppsV1Api(api)
    (replicaset,) = [
        rs
        for rs in apps.list_namespaced_replica_set(
            namespace, label_selector=f"{LABEL_SERVICE}=web"
        ).items
        if rs.spec.replicas
    ]
    apps.patch_namespaced_replica_set(
        replicaset.metadata.name, namespace, {"metadata": {"annotations": {DESIRED_REPLICAS: "3"}}}
    )

    services.patch_spec(api, namespace, "web", container_envvars=[{"key": "ROUND", "value": "2"}])
    wait_for(lambda: _state(api, namespace) == "Redeploying", "Redeploying")
    deployment = wait_for(
        lambda: (
            (d := _deployment(api, namespace)).status.observed_generation == d.metadata.generation
            and d
        ),
        "kube-controller-manager to see the new template",
    )
    # It has seen it, and does not roll it out (the bug this works around):
    time.sleep(5)
    deployment = _deployment(api, namespace)
    assert not deployment.status.updated_replicas, deployment.status
    assert _state(api, namespace) == "Redeploying"

    wait_for(
        lambda: (
            (d := _deployment(api, namespace)).status.updated_replicas == 2
            and d.status.ready_replicas == 2
            and len(services.exactly_running(api, namespace, "web", 2) or []) == 2
        ),
        "the new template rolled out",
        timeout=STALL_AFTER + 60,
    )
    wait_for(lambda: _state(api, namespace) == "Running", "Running again")
    for pod in services.running_pods(api, namespace, "web"):
        env = {e.name: e.value for e in pod.spec.containers[0].env or []}
        assert env.get("ROUND") == "2", env
    assert "RolloutUnblocked" in _event_reasons(api, namespace)
