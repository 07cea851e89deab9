"""The invariants the faults must not break, checked against the live cluster.

`inspect` looks once; `converge` looks until the invariants hold or a bound passes. For every
service: the status is one of the expected states and describes the current generation; its
children are exactly the objects `dockercloud_operator.resources.build` makes for its spec
(same kinds and names, none missing, none extra, none drifted from the built form), owned by
this very service (its uid); its workload has the spec's replicas and image; the pods of a
Deployment or StatefulSet are as many as its replicas and Running. Over the namespaces looked
at: no object labelled `app.kubernetes.io/managed-by=dockercloud-operator` names (label
`app.dockercloud.dev/service`) a service that does not exist, and no service is stuck with a
deletion timestamp."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes import client
from pydantic import ValidationError

from chaos.bed import LogRecord
from chaos.cluster import list_managed, list_services
from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.resources import build, object_key, restarts
from dockercloud_operator.resources.compare import plan
from dockercloud_operator.resources.context import Services, resolve
from dockercloud_operator.resources.restarts import keeps_stopped
from dockercloud_operator.schema import constants
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]
Key = tuple[str, str]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
GRANDCHILD_KINDS = {"Pod", "PersistentVolumeClaim"}  # made by the workloads, not the operator
RUNNING = frozenset({"Running"})


@dataclass(frozen=True)
class Problem:
    where: str  # namespace/name of the service, or of the object
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.check}: {self.detail}"


@dataclass
class Verdict:
    problems: list[Problem] = field(default_factory=list)
    services: int = 0
    objects: int = 0  # services, children, pods and claims looked at
    seconds: float = 0.0
    # Each look of a convergence: (seconds since it began, the count of problems by check).
    timeline: list[tuple[float, Counter[str]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def cleared(self) -> dict[str, float]:
        """Per kind of problem, the seconds after which no look saw it any more: where a
        convergence's time went (children not applied, pods not rolled, status not written)."""
        last: dict[str, float] = {}
        for index, (_, kinds) in enumerate(self.timeline):
            for kind in kinds:
                following = self.timeline[index + 1][0] if index + 1 < len(self.timeline) else None
                last[kind] = following if following is not None else self.seconds
        return dict(sorted(last.items(), key=lambda item: item[1]))

    def summary(self, limit: int = 12) -> str:
        lines = [str(p) for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more")
        return "\n".join(lines)


def _key(obj: Object) -> Key:
    return (obj["metadata"]["namespace"], obj["metadata"]["name"])


def _where(obj: Object) -> str:
    metadata = obj["metadata"]
    return f"{metadata.get('namespace')}/{obj['kind']}/{metadata['name']}"


def _active(pod: Object) -> bool:
    return not pod["metadata"].get("deletionTimestamp")


def inspect(
    api: client.ApiClient,
    namespaces: Collection[str],
    *,
    states: Callable[[Service], Collection[str]] | Collection[str] = RUNNING,
    gone: Iterable[Key] = (),
) -> Verdict:
    """One look at the services of `namespaces` and everything labelled as the operator's
    there. `states` are the allowed `status.state`s (or a function of the service giving
    them); `gone` are services that must not exist any more."""
    started = time.monotonic()
    every_service = list_services(api)
    every_managed = list_managed(api)
    verdict = Verdict()
    bodies = {_key(s): s for s in every_service}
    models: dict[Key, Service] = {}
    for key, body in bodies.items():
        try:
            models[key] = Service.model_validate(body)
        except ValidationError as error:
            if key[0] in namespaces:
                verdict.problems.append(
                    Problem("/".join(key), "the operator's model refuses it", str(error)[:300])
                )
    index = Services(models.values())
    # Built as the operator builds them: with a container's own restartPolicy where offered.
    restart_rules, _ = Kube(api).offers_container_restart_rules(next(iter(namespaces), "default"))
    managed = [obj for obj in every_managed if obj["metadata"]["namespace"] in namespaces]
    children: dict[Key, list[Object]] = defaultdict(list)
    pods: dict[Key, list[Object]] = defaultdict(list)
    for obj in managed:
        namespace = obj["metadata"]["namespace"]
        service = obj["metadata"].get("labels", {}).get(constants.LABEL_SERVICE)
        if not service or (namespace, service) not in bodies:
            verdict.problems.append(
                Problem(_where(obj), "orphan", f"its service {service!r} does not exist")
            )
            continue
        if obj["kind"] == "Pod":
            pods[(namespace, service)].append(obj)
        elif obj["kind"] not in GRANDCHILD_KINDS:
            children[(namespace, service)].append(obj)
    for key in gone:
        if key in bodies:
            verdict.problems.append(Problem("/".join(key), "not gone", "the service still exists"))

    own = sorted(key for key in bodies if key[0] in namespaces)
    for key in own:
        model = models.get(key)
        if model is None:
            continue
        allowed = states(model) if callable(states) else states
        verdict.problems.extend(
            _check_service(
                bodies[key], model, index, children[key], pods[key], allowed, restart_rules
            )
        )
    verdict.services = len(own)
    verdict.objects = len(own) + len(managed)
    verdict.seconds = time.monotonic() - started
    return verdict


def _check_service(
    body: Object,
    model: Service,
    index: Services,
    children: list[Object],
    pods: list[Object],
    allowed: Collection[str],
    restart_rules: bool = False,
) -> list[Problem]:
    where = "/".join(_key(body))
    problems: list[Problem] = []

    def problem(check: str, detail: str) -> None:
        problems.append(Problem(where, check, detail))

    metadata = body["metadata"]
    status = body.get("status") or {}
    if metadata.get("deletionTimestamp"):
        problem("stuck", f"deleted at {metadata['deletionTimestamp']}, still here "
                f"(finalizers {metadata.get('finalizers')})")  # fmt: skip
        return problems
    if status.get("state") not in allowed:
        problem("state", f"{status.get('state')!r} ({status.get('running_of_target')}), "
                f"expected one of {sorted(allowed)}")  # fmt: skip
    if status.get("observedGeneration") != metadata.get("generation"):
        problem("stale status", f"observedGeneration {status.get('observedGeneration')} "
                f"!= generation {metadata.get('generation')}")  # fmt: skip
    if constants.FINALIZER not in metadata.get("finalizers", []):
        problem("finalizer", f"no {constants.FINALIZER}")

    context = replace(resolve(model, index), restart_rules=restart_rules)
    if keeps_stopped(model, restart_rules):  # what stopped for good, as the operator counts it
        live = next((c for c in children if c["kind"] in WORKLOAD_KINDS), None)
        context = replace(context, given_up=restarts.plan(model, live, pods).given_up)
    built = build(model, context)
    expected = {object_key(obj) for obj in built.objects}
    by_key: dict[tuple[str, str, str], list[Object]] = defaultdict(list)
    for child in children:
        by_key[object_key(child)].append(child)
    live = set(by_key)
    for kind, _, name in sorted(expected - live):
        problem("missing", f"{kind}/{name}")
    for kind, _, name in sorted(live - expected):
        problem("unexpected", f"{kind}/{name} (a duplicate or a leftover)")
    workloads = [c for c in children if c["kind"] in WORKLOAD_KINDS]
    if len(workloads) != 1:
        problem("workloads", f"{len(workloads)}: {[_where(w) for w in workloads]}")
    work = plan(built.objects, children)
    for obj in work.apply:
        if object_key(obj) in live:
            problem("drifted", f"{obj['kind']}/{obj['metadata']['name']} is not what the "
                    "spec builds (an update not applied, or someone else's edit kept)")  # fmt: skip
    uid = metadata.get("uid")
    for child in children:
        owners = [o for o in child["metadata"].get("ownerReferences", []) if o.get("controller")]
        if [o.get("uid") for o in owners] != [uid]:
            problem("owner", f"{_where(child)} is controlled by {[o.get('uid') for o in owners]}, "
                    f"not the service ({uid})")  # fmt: skip

    desired = next((o for o in built.objects if o["kind"] in WORKLOAD_KINDS), None)
    live_workload = next((w for w in workloads if desired and w["kind"] == desired["kind"]), None)
    if desired is not None and live_workload is not None:
        template = live_workload["spec"]["template"]["spec"]
        image = template["containers"][0].get("image")
        if image != model.spec.image:
            problem("image", f"the workload runs {image!r}, the spec says {model.spec.image!r}")
        # A field the spec stops setting must go (derives() cannot see that); this one names
        # an object the operator deletes with the roles, so a leftover blocks every new pod.
        want_account = desired["spec"]["template"]["spec"].get("serviceAccountName") or "default"
        have_account = template.get("serviceAccountName") or "default"
        if want_account != have_account:
            problem("service account", f"the pod template runs as {have_account!r} "
                    f"(serviceAccount {template.get('serviceAccount')!r}), the spec builds "
                    f"{want_account!r}")  # fmt: skip
        for condition in live_workload.get("status", {}).get("conditions", []):
            if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
                problem("pods cannot be made", f"{_where(live_workload)}: "
                        f"{condition.get('reason')}: {condition.get('message')}")  # fmt: skip
        if desired["kind"] != "DaemonSet":
            want = desired["spec"].get("replicas")
            have = live_workload["spec"].get("replicas")
            if want != have:
                problem("replicas", f"the workload has {have}, the spec builds {want}")
            active = [p for p in pods if _active(p)]
            running = [p for p in active if p.get("status", {}).get("phase") == "Running"]
            if (
                "Running" in allowed
                and status.get("state") == "Running"
                and (len(active) != want or len(running) != want)
            ):
                problem("pods", f"{len(running)} Running of {len(active)} pods, want {want}")
    return problems


def converge(
    api: client.ApiClient,
    namespaces: Collection[str],
    timeout: float,
    *,
    states: Callable[[Service], Collection[str]] | Collection[str] = RUNNING,
    gone: Iterable[Key] = (),
    interval: float = 1.0,
) -> Verdict:
    """`inspect` until no problem is left, or `timeout` seconds pass; returns the last look
    (with `seconds` the time it took to converge, or the timeout)."""
    started = time.monotonic()
    gone = list(gone)
    timeline: list[tuple[float, Counter[str]]] = []
    while True:
        looked = time.monotonic() - started
        verdict = inspect(api, namespaces, states=states, gone=gone)
        verdict.seconds = time.monotonic() - started
        timeline.append((looked, Counter(p.check for p in verdict.problems)))
        verdict.timeline = timeline
        if verdict.ok or verdict.seconds > timeout:
            return verdict
        time.sleep(interval)


def leftovers(
    api: client.ApiClient, namespaces: Collection[str], services: Collection[str] | None = None
) -> list[Problem]:
    """Objects labelled as the operator's in `namespaces` (of the `services` named, if given),
    which should hold none any more."""
    return [
        Problem(_where(obj), "leaked", f"still exists ({_phase(obj)})")
        for obj in list_managed(api)
        if obj["metadata"]["namespace"] in namespaces
        and (
            services is None
            or obj["metadata"].get("labels", {}).get(constants.LABEL_SERVICE) in services
        )
    ]


def _phase(obj: Object) -> str:
    metadata = obj["metadata"]
    if metadata.get("deletionTimestamp"):
        finalizers = metadata.get("finalizers")
        return f"deleting since {metadata['deletionTimestamp']}, finalizers {finalizers}"
    return f"owners {[o.get('kind') for o in metadata.get('ownerReferences', [])]}"


# -- the operator's log -------------------------------------------------------------------------


def tracebacks(records: Iterable[LogRecord]) -> list[LogRecord]:
    return [record for record in records if record.traceback]


def conflict_tracebacks(records: Iterable[LogRecord]) -> list[LogRecord]:
    """Tracebacks a write conflict (HTTP 409) caused: those must have been retried quietly."""
    return [
        record
        for record in tracebacks(records)
        if "(409)" in record.text or "Conflict" in record.text or " 409" in record.text
    ]


def mentioning(records: Iterable[LogRecord], namespace: str, name: str) -> list[LogRecord]:
    """Records about the service namespace/name (the work queue logs keys as tuples)."""
    needles = (f"('{namespace}', '{name}')", f"{namespace}/{name}")
    return [r for r in records if any(needle in r.text for needle in needles)]
