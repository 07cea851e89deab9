"""The status of a service, computed from what is observed: its workload and pods, the status
it had, and the time. Pure: no API calls, no clock (`now` is passed in).

The states are the documented ones:

| state          | when                                                                  |
| -------------- | --------------------------------------------------------------------- |
| Not running    | running: false and never deployed                                     |
| Starting       | started, not every target container running yet                       |
| Running        | every target container running, and up to date                        |
| Partly running | deployed, some but not all containers running (one crashed, say)      |
| Scaling        | the target count changed and the containers converge to it            |
| Redeploying    | the containers are being replaced with the current configuration     |
| Stopping       | running: false, containers still present                              |
| Stopped        | running: false, no containers, deployed before                        |
| Terminating    | the resource is being deleted                                         |
| Terminated     | the resource is gone (an Event records it; no status can say it)      |
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockercloud_operator.documented.naming import image_name
from dockercloud_operator.resources.links import link_variables, service_address
from dockercloud_operator.resources.unsupported import Finding
from dockercloud_operator.schema import names
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    DeploymentStrategy,
    State,
)

Object = dict[str, Any]

DATETIME_FORMAT = "%a, %d %b %Y %H:%M:%S +0000"  # as documented: Mon, 13 Oct 2014 11:01:43 +0000
CONTAINER_URI = "/api/app/v1/container/{uid}/"
# States from which a service that is not all up is still coming up (rather than degraded).
COMING_UP = {None, State.NOT_RUNNING, State.STARTING, State.STOPPED, State.STOPPING}
TRANSITIONAL = {State.STARTING, State.SCALING, State.REDEPLOYING, State.STOPPING}


def documented_datetime(moment: datetime) -> str:
    return _to_the_second(math.floor(moment.timestamp()), DATETIME_FORMAT)


def kubernetes_time(moment: datetime) -> str:
    return _to_the_second(math.floor(moment.timestamp()), "%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=16)
def _to_the_second(second: int, form: str) -> str:
    """The statuses computed in the same second share their timestamps: formatting them was
    7 µs of every status computed, 1.3 % of the operator's CPU creating 1,000 services."""
    return datetime.fromtimestamp(second, UTC).strftime(form)


@dataclass(frozen=True)
class Observed:
    """What the operator saw of a service's world when computing its status."""

    workload: Object | None = None
    pods: list[Object] = field(default_factory=list)
    published_service: Object | None = None  # the NodePort Service, for its allocated ports
    linked_from: list[tuple[str, Service]] = field(default_factory=list)  # (alias, service)
    unsupported: list[Finding] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    given_up: int = 0  # containers that stopped for good, not replaced (resources/restarts)
    held: list[str] = field(default_factory=list)  # actions the state does not allow yet
    held_message: str = ""
    refused: list[str] = field(default_factory=list)  # children the API server would not take


# -- pods ---------------------------------------------------------------------------------------


def _ready(pod: Object) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _finished(pod: Object) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def _crashed(pod: Object) -> bool:
    """A container of the pod has stopped (exited, or is waiting to be restarted)."""
    for container in pod.get("status", {}).get("containerStatuses", []):
        state = container.get("state", {})
        if "terminated" in state:
            return True
        if state.get("waiting", {}).get("reason") in ("CrashLoopBackOff", "Error"):
            return True
    return False


@dataclass(frozen=True)
class Counts:
    current: int  # deployed: every pod not being deleted
    active: int  # deployed and not finished (what the workload counts towards its target)
    running: int
    stopped: int


def count(pods: Iterable[Object]) -> Counts:
    deployed = [p for p in pods if not p.get("metadata", {}).get("deletionTimestamp")]
    running = [p for p in deployed if p.get("status", {}).get("phase") == "Running" and _ready(p)]
    stopped = [p for p in deployed if _finished(p) or (p not in running and _crashed(p))]
    active = [p for p in deployed if not _finished(p)]
    return Counts(len(deployed), len(active), len(running), len(stopped))


# -- the workload -------------------------------------------------------------------------------


def target(service: Service, workload: Object | None) -> int:
    """How many containers should run: an EVERY_NODE service has one per eligible node."""
    if not service.spec.running:
        return 0
    if service.spec.deployment_strategy == DeploymentStrategy.EVERY_NODE:
        return int((workload or {}).get("status", {}).get("desiredNumberScheduled", 0))
    return service.spec.target_num_containers


def observed_generation_lags(workload: Object) -> bool:
    status = workload.get("status", {})
    return int(status.get("observedGeneration", 0)) < int(workload["metadata"].get("generation", 0))


def rolling_out(workload: Object) -> bool:
    """Containers of an older configuration are still being replaced."""
    status = workload.get("status", {})
    kind = workload.get("kind")
    if kind == "DaemonSet":
        return int(status.get("updatedNumberScheduled", 0)) < int(
            status.get("desiredNumberScheduled", 0)
        )
    if kind == "StatefulSet":
        return status.get("currentRevision") != status.get("updateRevision") or int(
            status.get("updatedReplicas", 0)
        ) < int(status.get("replicas", 0))
    return int(status.get("updatedReplicas", 0)) < int(status.get("replicas", 0))


REVISION_LABELS = ("pod-template-hash", "controller-revision-hash")


def mixed_revisions(pods: Iterable[Object]) -> bool:
    """Containers of two pod templates run side by side: a rollout has begun, even if the
    workload's status does not say so yet."""
    revisions = {
        labels.get(REVISION_LABELS[0]) or labels.get(REVISION_LABELS[1])
        for pod in pods
        if not pod.get("metadata", {}).get("deletionTimestamp") and not _finished(pod)
        for labels in [pod.get("metadata", {}).get("labels", {})]
    }
    return len(revisions) > 1


def synchronized(service: Service, workload: Object | None) -> bool:
    """The containers run the current definition: the workload has seen the latest spec,
    and no container of an older one is left."""
    if workload is None:
        return not service.spec.running
    # A workload that was never changed has only ever had one definition: whether or not its
    # controller has said so yet, no container of an older one can exist. (At scale the
    # controller says so seconds after the containers run, which would cost a status write.)
    first = int(workload["metadata"].get("generation", 0)) <= 1
    return (first or not observed_generation_lags(workload)) and not rolling_out(workload)


# -- state --------------------------------------------------------------------------------------


def previous_target(previous: Object) -> int | None:
    """The target the previous status was computed for (from its `running/target`)."""
    _, _, wanted = str(previous.get("running_of_target", "")).partition("/")
    return int(wanted) if wanted.isdigit() else None


def state(
    service: Service,
    observed: Observed,
    counts: Counts,
    previous: State | None,
    deployed: bool,
    last_target: int | None = None,
) -> State:
    if service.metadata.deletionTimestamp:
        return State.TERMINATING
    if not service.spec.running:
        if counts.current:
            return State.STOPPING
        return State.STOPPED if deployed else State.NOT_RUNNING
    workload = observed.workload
    if workload is None:
        return State.STARTING
    if observed_generation_lags(workload) and previous in TRANSITIONAL:
        return previous  # the workload has not seen the change yet: nothing to tell so far
    wanted = target(service, workload)
    running_wanted = wanted - min(observed.given_up, wanted)
    rolling = rolling_out(workload) or mixed_revisions(observed.pods)
    if counts.running >= running_wanted and counts.active == running_wanted and not rolling:
        if running_wanted == wanted:
            return State.RUNNING
        # Containers stopped for good, as autorestart says: the others run.
        return State.PARTLY_RUNNING if running_wanted else State.STOPPED
    # A transition lasts until every container runs: a redeploy that replaces a container, or
    # a start that waits for one, is not a scale, however the counts look on the way.
    if previous in COMING_UP:
        return State.STARTING
    if rolling or previous is State.REDEPLOYING:
        return State.REDEPLOYING
    # Scaling answers a new target, however far the containers got towards it when first seen
    # (the new one made but not running yet, say); a container lost or crashed at the same
    # target is not one. (A status that says no target: a new one if the count is off.)
    known = last_target if last_target is not None else counts.active
    if previous is State.SCALING or wanted != known:
        return State.SCALING
    return State.PARTLY_RUNNING


# -- the rest of the status ---------------------------------------------------------------------


def _ports(service: Service, observed: Observed) -> list[Object]:
    """Each port with the URI it is reached at: published ones on a node running a container
    (at outer_port, or the allocated node port), others at the service's cluster DNS name."""
    allocated = {
        (p.get("port"), p.get("protocol")): p.get("nodePort")
        for p in (observed.published_service or {}).get("spec", {}).get("ports", [])
    }
    hosts = sorted(
        p["status"]["hostIP"]
        for p in observed.pods
        if p.get("status", {}).get("hostIP") and p.get("status", {}).get("phase") == "Running"
    )
    ports = []
    for port in service.spec.container_ports:
        protocol = str(port.protocol)
        entry: Object = {
            "protocol": protocol,
            "inner_port": port.inner_port,
            "published": port.published,
        }
        outer = port.outer_port or allocated.get((port.inner_port, protocol.upper()))
        if port.published and outer:
            entry["outer_port"] = outer
            if hosts:
                entry["endpoint_uri"] = f"{protocol}://{hosts[0]}:{outer}/"
        elif not port.published:
            entry["endpoint_uri"] = f"{protocol}://{service_address(service)}:{port.inner_port}/"
        ports.append(entry)
    return sorted(ports, key=lambda p: (p["inner_port"], p["protocol"]))


def _condition(
    kind: str, ok: bool, reason: str, message: str, previous: list[Object], now: str,
    generation: int | None,
) -> Object:  # fmt: skip
    """A condition; `now` in Kubernetes' form, its transition time if its status changed."""
    status = "True" if ok else "False"
    before = next((c for c in previous if c.get("type") == kind), None)
    since = (
        before["lastTransitionTime"]
        if before and before.get("status") == status and before.get("lastTransitionTime")
        else now
    )
    condition: Object = {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def _new_state(
    service: Service, observed: Observed, previous: Object
) -> tuple[Counts, State | None, State]:
    """The containers counted, the state the previous status says, and the new state."""
    counts = count(observed.pods)
    before = State(previous["state"]) if previous.get("state") else None
    deployed = bool(previous.get("deployed_datetime"))
    return (
        counts,
        before,
        state(service, observed, counts, before, deployed, previous_target(previous)),
    )


def glance(service: Service, observed: Observed, previous: Object) -> Object:
    """The new status's state and whether it is synchronized, and nothing else: enough for
    `moving`, at a fraction of `compute`'s cost."""
    _, _, current = _new_state(service, observed, previous)
    return {"state": str(current), "synchronized": synchronized(service, observed.workload)}


def compute(service: Service, observed: Observed, previous: Object, now: datetime) -> Object:
    """The service's new status."""
    counts, before, current_state = _new_state(service, observed, previous)
    wanted = target(service, observed.workload)
    # A stopped service keeps its target: show it, as Docker Cloud did.
    every_node = service.spec.deployment_strategy == DeploymentStrategy.EVERY_NODE
    shown_target = (
        wanted if service.spec.running or every_node else service.spec.target_num_containers
    )
    in_sync = synchronized(service, observed.workload)
    generation = service.metadata.generation
    stamp = documented_datetime(now)

    status: Object = {
        "uuid": service.metadata.uid,
        "resource_uri": (
            names.resource_uri(service.metadata.uid, service.namespace)
            if service.metadata.uid
            else None
        ),
        "image_name": image_name(service.spec.image),
        "state": str(current_state),
        "synchronized": in_sync,
        "current_num_containers": counts.current,
        "running_num_containers": counts.running,
        "stopped_num_containers": counts.stopped,
        "running_of_target": f"{counts.running}/{shown_target}",
        "containers": sorted(
            CONTAINER_URI.format(uid=p["metadata"]["uid"])
            for p in observed.pods
            if not p["metadata"].get("deletionTimestamp")
        ),
        "container_ports": _ports(service, observed),
        "public_dns": service_address(service) if service.spec.container_ports else None,
        "link_variables": link_variables(service.name, service),
        "linked_from_service": [
            {
                "name": alias,
                "from_service": names.resource_uri(other.metadata.uid or "", other.namespace),
                "to_service": names.resource_uri(service.metadata.uid or "", service.namespace),
            }
            for alias, other in sorted(observed.linked_from, key=lambda pair: pair[1].name)
        ],
        "selector": names.selector(service.name),
        "observedGeneration": generation,
    }
    if service.spec.redeploy is not None:
        status["observedRedeployToken"] = service.spec.redeploy.token
    # Timestamps move on the transitions the documentation names them after.
    changed = current_state != before
    for key in ("deployed_datetime", "started_datetime", "stopped_datetime", "destroyed_datetime"):
        status[key] = previous.get(key)
    if changed and current_state in (State.STARTING, State.REDEPLOYING):
        status["deployed_datetime"] = stamp
    if changed and current_state is State.STARTING:
        status["started_datetime"] = stamp
    if changed and current_state is State.RUNNING and before in COMING_UP:
        # Straight to Running: a start too short to be written as Starting (see the
        # reconciler's status hold) is a start all the same.
        straight = before is not State.STARTING
        for key in ("started_datetime", "deployed_datetime"):
            status[key] = stamp if straight else status[key] or stamp
    if changed and current_state in (State.STOPPING, State.STOPPED) and before not in (
        State.STOPPING, State.STOPPED,
    ):  # fmt: skip
        status["stopped_datetime"] = stamp
    if changed and current_state is State.TERMINATING:
        status["destroyed_datetime"] = stamp

    conditions = previous.get("conditions", [])
    now_k8s = kubernetes_time(now)
    status["conditions"] = [
        _condition(
            "Ready", current_state is State.RUNNING, current_state.name.title().replace("_", ""),
            f"{counts.running}/{wanted} containers running", conditions, now_k8s, generation,
        ),
        _condition(
            "Synchronized", in_sync, "UpToDate" if in_sync else "RollingOut",
            "the containers run the current definition" if in_sync
            else "containers of an older definition are being replaced",
            conditions, now_k8s, generation,
        ),
        _condition(
            "UnsupportedAttributes", bool(observed.unsupported),
            "Approximated" if observed.unsupported else "AllHonoured",
            "; ".join(str(f) for f in observed.unsupported) or "every attribute is honoured",
            conditions, now_k8s, generation,
        ),
        _condition(
            "ActionsAllowed", not observed.held, "Held" if observed.held else "Allowed",
            observed.held_message or "every requested action is carried out",
            conditions, now_k8s, generation,
        ),
        _condition(
            "Applied", not observed.refused, "Refused" if observed.refused else "Applied",
            "; ".join(observed.refused) or "every object the service needs is applied",
            conditions, now_k8s, generation,
        ),
        _condition(
            "LinksResolved", not observed.unresolved,
            "Unresolved" if observed.unresolved else "Resolved",
            "; ".join(observed.unresolved) or "every linked service exists",
            conditions, now_k8s, generation,
        ),
    ]  # fmt: skip
    return {key: value for key, value in status.items() if value is not None}


# -- which statuses are worth a write -----------------------------------------------------------


def moving(status: Object) -> bool:
    """A transition, or a rollout under way (the containers do not run the spec yet)."""
    return status.get("state") in TRANSITIONAL or status.get("synchronized") is False


def news(status: Object, previous: Object) -> bool:
    """What a transition's progress write would tell that the written status does not: a new
    state, a new spec seen (its observedGeneration, which GitOps tools wait for), a condition
    (an action held, say), or more of the containers it waits for running. Containers replaced
    while as many as wanted run (a rolling redeploy), or going away (a scale down, a stop), are
    told by the write that ends the transition."""
    told = ("state", "synchronized", "observedGeneration")
    if any(status.get(k) != previous.get(k) for k in told):
        return True
    if _conditions(status) != _conditions(previous):
        return True
    running, wanted = running_of_target(status)
    return running_of_target(previous)[0] < running < wanted


def _conditions(status: Object) -> set[tuple[str, str, str]]:
    """The conditions but Ready, whose message only repeats the counts."""
    return {
        (c.get("type", ""), c.get("status", ""), c.get("message", ""))
        for c in status.get("conditions", [])
        if c.get("type") != "Ready"
    }


def running_of_target(status: Object) -> tuple[int, int]:
    """A status's `running/target` as numbers ((0, 0) when it has none)."""
    running, _, wanted = str(status.get("running_of_target", "0/0")).partition("/")
    return (int(running), int(wanted)) if running.isdigit() and wanted.isdigit() else (0, 0)


def unchanged(status: Object, previous: Object) -> bool:
    """The new status says what the one written says (its removed fields aside)."""
    return {k: v for k, v in previous.items() if v is not None} == status


def unseen(workload: Object | None) -> bool:
    """The workload's controller has not acted on its latest spec yet."""
    return workload is not None and observed_generation_lags(workload)


def condition_message(status: Object, kind: str) -> str | None:
    return next(
        (c.get("message") for c in status.get("conditions", []) if c.get("type") == kind), None
    )


def describe(status: Object) -> str:
    """What an Event of the status's state says."""
    if status.get("state") == State.STOPPING:
        return f"{status.get('current_num_containers', 0)} containers stopping"
    return f"{status.get('running_of_target', '0/0')} containers running"
