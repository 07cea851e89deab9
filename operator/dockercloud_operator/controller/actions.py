"""The documented actions (start, stop, scale, redeploy) and the states that allow them.

Declaratively, an action is a spec change: `running` turned on or off, a new
`target_num_containers`, a new redeploy token. The documentation allows each action only in
some states ("Starting: no actions allowed in this state"). An action that arrives in a state
that does not allow it is held: the operator keeps the deployed value, says so in the
ActionsAllowed condition and a Warning event, and carries it out once the state allows it.
Changes that are no action (a new image, ports, variables) always apply. Terminating is
`kubectl delete`, which the operator cannot hold.

The documented table names no state for scaling; scale is allowed where stop or start is
(Running, Partly running, Stopped, Not running), and held in the transitional states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockercloud_operator.documented.lifecycle import ALLOWED_ACTIONS, Action
from dockercloud_operator.resources.pod import REDEPLOY_ANNOTATION, STOPPED_NODE_LABEL
from dockercloud_operator.resources.restarts import live_given_up
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    Redeploy,
    State,
)

Object = dict[str, Any]


# The documented table, less terminate: that is `kubectl delete`, which the operator cannot hold.
ALLOWED: dict[State, frozenset[Action]] = {
    state: actions - {Action.TERMINATE} for state, actions in ALLOWED_ACTIONS.items()
}


@dataclass(frozen=True)
class Deployed:
    """What the live workload runs, in the terms of the actions."""

    running: bool
    replicas: int | None  # None for a DaemonSet (one per node)
    redeploy_token: str | None


def deployed(workload: Object) -> Deployed:
    spec = workload.get("spec", {})
    template = spec.get("template", {})
    if workload.get("kind") == "DaemonSet":
        running = STOPPED_NODE_LABEL not in template.get("spec", {}).get("nodeSelector", {})
        replicas = None
    else:
        # The target it runs for: its replicas, and the containers that stopped for good.
        replicas = int(spec.get("replicas", 1)) + live_given_up(workload)
        running = replicas > 0
    token = template.get("metadata", {}).get("annotations", {}).get(REDEPLOY_ANNOTATION)
    return Deployed(running=running, replicas=replicas, redeploy_token=token)


def requested(service: Service, live: Deployed) -> list[Action]:
    """The actions the spec asks for, compared with what is deployed."""
    spec = service.spec
    actions = []
    if spec.running and not live.running:
        actions.append(Action.START)
    if not spec.running and live.running:
        actions.append(Action.STOP)
    if live.running and live.replicas is not None and live.replicas != spec.target_num_containers:
        actions.append(Action.SCALE)
    token = spec.redeploy.token if spec.redeploy else None
    if token is not None and token != live.redeploy_token:
        actions.append(Action.REDEPLOY)
    return actions


@dataclass(frozen=True)
class Decision:
    effective: Service  # the service as it may be deployed now
    held: list[Action]
    state: State | None

    def message(self) -> str:
        if not self.held or self.state is None:
            return "every requested action is carried out"
        allowed = ", ".join(sorted(ALLOWED[self.state])) or "no action"
        waiting = ", ".join(self.held)
        return (
            f"{waiting} waits: the state {self.state} allows {allowed}; "
            "it is carried out when the state allows it"
        )


def decide(service: Service, workload: Object | None, state: State | None) -> Decision:
    """Holds the requested actions the current state does not allow."""
    if workload is None or state is None:
        return Decision(service, [], state)
    live = deployed(workload)
    held = [a for a in requested(service, live) if a not in ALLOWED.get(state, frozenset())]
    if not held:
        return Decision(service, [], state)
    update: dict[str, Any] = {}
    if Action.START in held or Action.STOP in held:
        update["running"] = live.running
    if Action.SCALE in held and live.replicas is not None:
        update["target_num_containers"] = live.replicas
    if Action.REDEPLOY in held:
        current = service.spec.redeploy
        update["redeploy"] = (
            Redeploy(token=live.redeploy_token, reuse_volumes=current.reuse_volumes)
            if live.redeploy_token is not None and current is not None
            else None
        )
    spec = service.spec.model_copy(update=update)
    return Decision(service.model_copy(update={"spec": spec}), held, state)
