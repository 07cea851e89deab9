"""Deployments whose roll-out kube-controller-manager never starts, and their repair.

kube-controller-manager (v1.34 and before; kubernetes/kubernetes#138036 and #138840 would fix
it) takes a Deployment for a scaling event while any active ReplicaSet's
`deployment.kubernetes.io/desired-replicas` annotation differs from the Deployment's replicas.
When the one active ReplicaSet already has the Deployment's replicas, the scaling returns at
once without writing the annotation, so every later sync takes the same path: a new pod
template is never rolled out, and no log line or condition says so. Writers that change a
Deployment's replicas while it scales (another controller, `kubectl scale`, the operator
putting the service's count back) can leave it so, and the service would stay `Redeploying`,
its scale held, for good.

A Deployment whose controller has seen its generation and still has no container of its pod
template is looked at once it has stayed so `STALL_AFTER` seconds (once a generation): its
ReplicaSets are read, and if the one active ReplicaSet is in that state its annotation is set
to the Deployment's replicas, as the scaling would have. The controller then rolls it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockercloud_operator.controller.kube import AsyncKube
from dockercloud_operator.schema import names

Object = dict[str, Any]
Key = tuple[str, str]

DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
# Seconds a Deployment may show no container of its template, its generation seen, before its
# ReplicaSets are read. A roll-out's first containers are made within a second or two of the
# controller seeing it, even with a thousand roll-outs at once.
STALL_AFTER = 20.0
TOLERATED = frozenset({404, 409})


def stalled(workload: Object | None) -> bool:
    """The workload is a Deployment whose controller has seen its generation, and that has no
    container of its pod template although it wants some."""
    if not workload or workload.get("kind") != "Deployment":
        return False
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    return (
        not spec.get("paused")
        and spec.get("replicas", 1) > 0
        and status.get("observedGeneration") == workload["metadata"].get("generation")
        and not status.get("updatedReplicas")
    )


def holding_replicaset(deployment: Object, replicasets: list[Object]) -> Object | None:
    """The Deployment's one active ReplicaSet, when its desired replicas annotation holds the
    roll-out (see above); None when nothing does."""
    uid = deployment["metadata"].get("uid")
    active = [
        rs
        for rs in replicasets
        if (rs.get("spec") or {}).get("replicas", 0) > 0
        and any(
            ref.get("uid") == uid and ref.get("controller")
            for ref in rs["metadata"].get("ownerReferences", [])
        )
    ]
    if len(active) != 1:
        return None  # several: the controller scales them in proportion, annotations included
    (replicaset,) = active
    replicas = deployment["spec"].get("replicas", 1)
    desired = (replicaset["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
    if desired in (None, str(replicas)) or replicaset["spec"]["replicas"] != replicas:
        return None
    return replicaset


def mended(replicaset: Object, replicas: int) -> Object:
    """The merge patch that sets the ReplicaSet's annotation to the Deployment's replicas."""
    metadata = replicaset["metadata"]
    return {
        "metadata": {
            # Written only over the version read: the controller may be writing it too.
            "resourceVersion": metadata["resourceVersion"],
            "annotations": {DESIRED_REPLICAS: str(replicas)},
        }
    }


@dataclass
class Rollouts:
    """Since when each service's Deployment has stalled, for its (uid, generation); a stall
    looked into is not looked into again until the Deployment changes."""

    stall_after: float = STALL_AFTER
    _since: dict[Key, tuple[tuple[str, int], float | None]] = field(default_factory=dict)

    def due_in(self, key: Key, workload: Object | None, now: float) -> float | None:
        """Seconds until the workload's stall is to be looked into (0 or less: now); None
        when it has not stalled, or was looked into already."""
        if not stalled(workload):
            self._since.pop(key, None)
            return None
        assert workload is not None
        mark = (str(workload["metadata"].get("uid")), int(workload["metadata"]["generation"]))
        seen = self._since.get(key)
        if seen is None or seen[0] != mark:
            self._since[key] = (mark, now)
            return self.stall_after
        since = seen[1]
        return None if since is None else since + self.stall_after - now

    def looked_into(self, key: Key) -> None:
        if (seen := self._since.get(key)) is not None:
            self._since[key] = (seen[0], None)

    def forget(self, key: Key) -> None:
        self._since.pop(key, None)


async def unstall(aio: AsyncKube, service: str, deployment: Object) -> str | None:
    """Reads the Deployment's ReplicaSets and mends the one that holds its roll-out; returns
    what was done, or None."""
    namespace = deployment["metadata"]["namespace"]
    replicasets = await aio.list_objects(
        "apps/v1", "ReplicaSet", namespace, names.selector(service)
    )
    replicaset = holding_replicaset(deployment, replicasets)
    if replicaset is None:
        return None
    name, replicas = replicaset["metadata"]["name"], deployment["spec"].get("replicas", 1)
    # A ReplicaSet gone, or changed since it was read (409), is left alone.
    call = aio.calls.merge_patch(replicaset, mended(replicaset, replicas), tolerated=TOLERATED)
    if await aio.run(call) is None:
        return None
    stale = replicaset["metadata"]["annotations"][DESIRED_REPLICAS]
    return (
        f"the roll-out of Deployment {deployment['metadata']['name']} had not started: its "
        f"ReplicaSet {name}, at {replicas} replicas, said {DESIRED_REPLICAS}={stale}, which "
        f"kube-controller-manager takes for a scaling event it never finishes; set to {replicas}"
    )
