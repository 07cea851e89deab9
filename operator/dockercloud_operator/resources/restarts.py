"""Crash recovery and autodestroy: containers that stop for good, and what that does to the
workload (pure; the reconciler does the I/O).

`autorestart` OFF and ON_FAILURE become the container's own `restartPolicy` (Never,
OnFailure): the kubelet then leaves a container that exits as the setting says stopped, and its
pod ends (Succeeded or Failed). A Deployment would replace an ended pod; so the operator gives
such a container up: the Deployment runs `target - given up` replicas, and the ended pod stays,
stopped, for inspection (its logs, its exit code), unless `autodestroy` says to remove it
(ALWAYS: any; ON_SUCCESS: exit code 0), in which case it is deleted and not replaced either.

What was given up holds until the service is changed or started again (its `epoch`: the spec's
generation and the last start request): then every container runs anew, as a start, scale or
redeploy does in Docker Cloud. The workload remembers the epoch, and the names of the containers
removed in it, in its annotations, so an operator restarted at any point counts the same.

Only a Deployment can keep a stopped container stopped: a StatefulSet recreates a failed pod
under its ordinal, and a DaemonSet's pods must restart; there `autorestart` is approximated as
ALWAYS and reported. The cluster must offer a container's own restartPolicy (Kubernetes'
ContainerRestartRules); the operator checks that once at start with a server-side dry run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dockercloud_operator.resources.workload_kind import WorkloadKind, workload_kind
from dockercloud_operator.schema import constants
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    Autodestroy,
    Autorestart,
)

Object = dict[str, Any]

START_ANNOTATION = constants.START_ANNOTATION
EPOCH_ANNOTATION = f"{constants.GROUP}/epoch"
GIVEN_UP_ANNOTATION = f"{constants.GROUP}/given-up"
REMOVED_ANNOTATION = f"{constants.GROUP}/removed"
CONTAINER_POLICY = {Autorestart.OFF: "Never", Autorestart.ON_FAILURE: "OnFailure"}
FINISHED = ("Succeeded", "Failed")


def keeps_stopped(service: Service, restart_rules: bool) -> bool:
    """Whether the service's containers may stop for good here, as autorestart says."""
    return (
        restart_rules
        and service.spec.autorestart != Autorestart.ALWAYS
        and workload_kind(service.spec) is WorkloadKind.DEPLOYMENT
    )


def container_restart_policy(service: Service, restart_rules: bool) -> str | None:
    if not keeps_stopped(service, restart_rules):
        return None
    return CONTAINER_POLICY[service.spec.autorestart]


def epoch(service: Service) -> str:
    """What given-up containers last until: the spec's generation and the last start."""
    started = service.metadata.annotations.get(START_ANNOTATION, "")
    return f"{service.metadata.generation or 0}/{started}"


def ended(pod: Object) -> bool:
    """A pod whose container stopped for good (an evicted one is replaced, not given up)."""
    status = pod.get("status") or {}
    return (
        status.get("phase") in FINISHED
        and status.get("reason") != "Evicted"
        and not pod.get("metadata", {}).get("deletionTimestamp")
    )


def removes(service: Service, pod: Object) -> bool:
    """autodestroy: whether this ended container is removed."""
    setting = service.spec.autodestroy
    if setting == Autodestroy.ALWAYS:
        return True
    return setting == Autodestroy.ON_SUCCESS and pod["status"].get("phase") == "Succeeded"


@dataclass(frozen=True)
class GivenUp:
    """The containers of the current epoch that stopped for good: ended (kept) or removed."""

    epoch: str = ""
    stopped: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(set(self.stopped) | set(self.removed))

    def annotations(self) -> dict[str, str]:
        return {
            EPOCH_ANNOTATION: self.epoch,
            GIVEN_UP_ANNOTATION: str(self.count),
            REMOVED_ANNOTATION: " ".join(sorted(self.removed)),
        }


@dataclass(frozen=True)
class Plan:
    given_up: GivenUp
    delete: list[Object]  # ended pods to delete: removed by autodestroy, or of an old epoch


def _annotations(workload: Object | None) -> dict[str, str]:
    return dict(((workload or {}).get("metadata") or {}).get("annotations") or {})


def plan(service: Service, workload: Object | None, pods: Iterable[Object]) -> Plan:
    """What the service's containers that stopped for good come to now."""
    now = epoch(service)
    finished = [pod for pod in pods if ended(pod)]
    remembered = _annotations(workload)
    if workload is None or remembered.get(EPOCH_ANNOTATION) != now:
        # A new epoch (created, changed, started again): every container runs anew, and the
        # ones that ended before go.
        return Plan(GivenUp(epoch=now), finished)
    removed = set(remembered.get(REMOVED_ANNOTATION, "").split())
    removing = [pod for pod in finished if removes(service, pod)]
    removed |= {pod["metadata"]["name"] for pod in removing}
    stopped = {pod["metadata"]["name"] for pod in finished}
    given_up = GivenUp(now, tuple(sorted(stopped - removed)), tuple(sorted(removed)))
    return Plan(given_up, removing)


def live_given_up(workload: Object) -> int:
    """How many containers the live workload runs fewer than its target."""
    value = _annotations(workload).get(GIVEN_UP_ANNOTATION, "0")
    return int(value) if value.isdigit() else 0
