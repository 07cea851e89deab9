"""What a reconcile writes, decided from what the store holds of a service: pure but for
reading the store, so that the reconciler (`reconciler.py`) only sends and reports."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dockercloud_operator.controller.actions import Decision, decide
from dockercloud_operator.controller.store import Key, Store
from dockercloud_operator.resources import build, restarts
from dockercloud_operator.resources.compare import plan
from dockercloud_operator.resources.context import Context, resolve
from dockercloud_operator.resources.restarts import GivenUp, keeps_stopped
from dockercloud_operator.resources.unsupported import Finding
from dockercloud_operator.resources.volumes import resets_volumes
from dockercloud_operator.schema import constants, encoding
from dockercloud_operator.schema.model import Service
from dockercloud_operator.schema.parts import State

Object = dict[str, Any]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}


@dataclass
class Step:
    """What a reconcile writes, and what its status reports need meanwhile."""

    service: Service  # as the state allows it now
    context: Context
    decision: Decision
    unsupported: list[Finding]
    applies: list[tuple[Object, bytes]]  # each child as named by `head`, and as JSON text
    deletes: list[Object]  # children no longer wanted
    stopped: list[Object]  # stopped containers the workload now remembers
    finalizer: Object | None  # the service with its finalizers, if it lacks the operator's
    resets_volumes: bool


def next_step(store: Store, key: Key, service: Service, body: Object, restart_rules: bool) -> Step:
    """What a reconcile of the service at `key` writes. The objects to apply are kept as JSON
    text from here on: with thousands of services changed at once, reconciles wait seconds
    for their writes, and each would otherwise hold its children, decoded, and the objects
    built for it (about 50 KiB a service, measured at 3,000)."""
    context = resolve(service, store.index)
    children = store.children_of(key)
    last_state = (body.get("status") or {}).get("state")
    decision = decide(service, workload_of(children), State(last_state) if last_state else None)
    service = decision.effective  # actions the state does not allow yet wait
    stopped_for_good = None
    if keeps_stopped(service, restart_rules):
        stopped_for_good = restarts.plan(service, workload_of(children), store.pods_of(key))
    context = replace(
        context,
        restart_rules=restart_rules,
        given_up=stopped_for_good.given_up if stopped_for_good else GivenUp(),
    )
    built = build(service, context)
    desired_workload = next(o for o in built.objects if o["kind"] in WORKLOAD_KINDS)
    work = plan(built.objects, children)
    return Step(
        service=service,
        context=context,
        decision=decision,
        unsupported=built.unsupported,
        applies=[(head(obj), encoding.dumps(obj)) for obj in work.apply],
        deletes=work.delete,
        stopped=stopped_for_good.delete if stopped_for_good else [],
        finalizer=_with_finalizer(body),
        resets_volumes=resets_volumes(service, desired_workload, workload_of(children)),
    )


def _with_finalizer(body: Object) -> Object | None:
    """The service as read, named, with the operator's finalizer added; None if it has it."""
    metadata = body["metadata"]
    if constants.FINALIZER in metadata.get("finalizers", []):
        return None
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            "namespace": metadata["namespace"],
            "name": metadata["name"],
            "resourceVersion": metadata["resourceVersion"],
            "finalizers": [*metadata.get("finalizers", []), constants.FINALIZER],
        },
    }


def head(obj: Object) -> Object:
    """What names an object: its apiVersion, kind, namespace and name."""
    metadata = {k: obj["metadata"][k] for k in ("namespace", "name") if k in obj["metadata"]}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": metadata}


def workload_of(children: list[Object]) -> Object | None:
    return next((c for c in children if c["kind"] in WORKLOAD_KINDS), None)
