"""A Deployment whose roll-out kube-controller-manager holds (a stale desired-replicas
annotation on its one active ReplicaSet): when it counts as stalled, which ReplicaSet holds
it, and how often it is looked into."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.controller.rollouts import (
    DESIRED_REPLICAS,
    Rollouts,
    holding_replicaset,
    mended,
    stalled,
)

KEY = ("default", "web")


def _deployment(replicas: int = 2, generation: int = 3, observed: int = 3, updated: int = 0,
                **spec: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": "default", "name": "web", "uid": "d-1", "generation": generation},
        "spec": {"replicas": replicas, **spec},
        "status": {"observedGeneration": observed, "updatedReplicas": updated},
    }


def _replicaset(
    name: str, replicas: int, desired: str | None, owner: str = "d-1"
) -> dict[str, Any]:
    annotations = {} if desired is None else {DESIRED_REPLICAS: desired}
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "resourceVersion": "41",
            "annotations": annotations,
            "ownerReferences": [{"uid": owner, "controller": True, "kind": "Deployment"}],
        },
        "spec": {"replicas": replicas},
    }


def test_a_deployment_stalls_when_its_generation_is_seen_and_none_of_its_pods_is_made() -> None:
    assert stalled(_deployment())
    assert not stalled(_deployment(updated=1))  # rolling out
    assert not stalled(_deployment(observed=2))  # the controller has not seen it yet
    assert not stalled(_deployment(replicas=0))  # stopped
    assert not stalled(_deployment(paused=True))
    assert not stalled({**_deployment(), "kind": "StatefulSet"})
    assert not stalled(None)


def test_the_one_active_replicaset_at_full_count_with_a_stale_annotation_holds_it() -> None:
    deployment = _deployment(replicas=2)
    holding = _replicaset("web-old", 2, "3")
    assert holding_replicaset(deployment, [holding, _replicaset("web-older", 0, "1")]) is holding
    assert mended(holding, 2) == {
        "metadata": {"resourceVersion": "41", "annotations": {DESIRED_REPLICAS: "2"}}
    }
    # What kube-controller-manager handles itself, or what is not its Deployment's:
    assert holding_replicaset(deployment, [_replicaset("web-old", 2, "2")]) is None
    assert holding_replicaset(deployment, [_replicaset("web-old", 3, "3")]) is None  # a real scale
    assert holding_replicaset(deployment, [_replicaset("web-old", 2, None)]) is None
    assert holding_replicaset(deployment, [_replicaset("web-old", 2, "3", owner="x")]) is None
    two_active = [_replicaset("web-old", 2, "3"), _replicaset("web-new", 1, "2")]
    assert holding_replicaset(deployment, two_active) is None  # scaled in proportion


def test_a_stall_is_looked_into_once_it_lasted_and_once_a_generation() -> None:
    rollouts = Rollouts(stall_after=20.0)
    stuck = _deployment(generation=3, observed=3)
    assert rollouts.due_in(KEY, stuck, now=100.0) == 20.0  # first seen: look again then
    assert rollouts.due_in(KEY, stuck, now=110.0) == 10.0
    assert rollouts.due_in(KEY, stuck, now=120.0) == 0.0  # due
    rollouts.looked_into(KEY)
    assert rollouts.due_in(KEY, stuck, now=200.0) is None  # not again for this generation
    changed = _deployment(generation=4, observed=4)
    assert rollouts.due_in(KEY, changed, now=300.0) == 20.0  # a new generation: a new watch
    assert rollouts.due_in(KEY, _deployment(generation=4, observed=4, updated=2), 301.0) is None
    assert rollouts.due_in(KEY, changed, now=302.0) == 20.0  # stalled anew: from now
