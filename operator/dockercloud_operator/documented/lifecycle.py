"""The documented service states and the actions each allows, and the actions as spec changes.

The documented "Service states" table says which actions each state allows ("No actions allowed
in this state" is the empty set). Declaratively an action is a change of the Service resource:
start and stop set `spec.running`, scale sets `target_num_containers`, redeploy sets a new
`spec.redeploy.token`, terminate deletes the resource.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from dockercloud_operator.schema import constants
from dockercloud_operator.schema.parts import (
    State,
)
from dockercloud_operator.schema.stack import StackState

Object = dict[str, Any]


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    SCALE = "scale"
    REDEPLOY = "redeploy"
    TERMINATE = "terminate"


_START, _STOP, _SCALE, _REDEPLOY, _TERMINATE = Action
# The documented "Service states" table: the actions each state allows ("No actions allowed in
# this state" is the empty set). Two readings beyond the table, which the operator makes too
# (it holds an action the state does not allow): start also in Partly running, as the start
# endpoint says ("Starts all containers in a stopped or partly running service"); and scale,
# which the table does not name (it is an update of target_num_containers), wherever the table
# allows any action.
ALLOWED_ACTIONS: dict[State, frozenset[Action]] = {
    State.NOT_RUNNING: frozenset({_START, _TERMINATE, _SCALE}),
    State.STARTING: frozenset(),
    State.RUNNING: frozenset({_STOP, _REDEPLOY, _TERMINATE, _SCALE}),
    State.PARTLY_RUNNING: frozenset({_START, _STOP, _REDEPLOY, _TERMINATE, _SCALE}),
    State.SCALING: frozenset(),
    State.REDEPLOYING: frozenset(),
    State.STOPPING: frozenset(),
    State.STOPPED: frozenset({_START, _REDEPLOY, _TERMINATE, _SCALE}),
    State.TERMINATING: frozenset(),
    State.TERMINATED: frozenset(),
}


# The state an accepted action moves a service to, as the answer to it says.
TRANSITIONS: dict[Action, State] = {
    Action.START: State.STARTING,
    Action.STOP: State.STOPPING,
    Action.SCALE: State.SCALING,
    Action.REDEPLOY: State.REDEPLOYING,
    Action.TERMINATE: State.TERMINATING,
}


def allowed_states(action: Action) -> list[State]:
    """The states in which the documentation allows `action`, in the table's order."""
    return [state for state in State if action in ALLOWED_ACTIONS[state]]


def state_of(service: Object) -> State | None:
    value = service.get("status", {}).get("state")
    try:
        return State(value) if value else None
    except ValueError:
        return None


def resting_state(running: bool, before: State | None) -> State:
    """The state a service settles in after a change: Running when it runs; when it does not,
    Not running if it never ran, else Stopped."""
    if running:
        return State.RUNNING
    return State.NOT_RUNNING if before in (None, State.NOT_RUNNING) else State.STOPPED


def settled(service: Object, expected: State, generation: int) -> bool:
    """The operator has seen the spec of `generation` (or a later one), reports `expected`, and
    the containers run that spec (`synchronized`: a state computed before the workload took
    the change, a redeploy say, would otherwise still read Running)."""
    status = service.get("status", {})
    observed = status.get("observedGeneration")
    return (
        observed is not None
        and int(observed) >= generation
        and state_of(service) is expected
        and status.get("synchronized") is not False
    )


def start_patch() -> Object:
    """The change that requests a start: `running`, and a start request never made before, so
    that containers that stopped for good (autorestart OFF, ON_FAILURE) run again even where
    the service is already meant to run (Partly running, or Stopped by its containers)."""
    return {
        "metadata": {"annotations": {constants.START_ANNOTATION: uuid.uuid4().hex}},
        "spec": {"running": True},
    }


def redeploy_patch(reuse_volumes: bool, token: str | None = None) -> Object:
    """The spec change that requests a redeploy: a token never used before."""
    return {
        "spec": {"redeploy": {"token": token or uuid.uuid4().hex, "reuse_volumes": reuse_volumes}}
    }


# The stack actions and the states that allow them, as the service table has them.
STACK_ALLOWED_ACTIONS: dict[StackState, frozenset[str]] = {
    StackState.NOT_RUNNING: frozenset({"start", "terminate"}),
    StackState.STARTING: frozenset(),
    StackState.RUNNING: frozenset({"stop", "redeploy", "terminate"}),
    StackState.PARTLY_RUNNING: frozenset({"start", "stop", "redeploy", "terminate"}),
    StackState.STOPPING: frozenset(),
    StackState.STOPPED: frozenset({"start", "redeploy", "terminate"}),
    StackState.REDEPLOYING: frozenset(),
    StackState.TERMINATING: frozenset(),
    StackState.TERMINATED: frozenset(),
}
# The state each stack action leads through, and the one it comes to rest in (None: gone).
STACK_TRANSITIONS = {
    "start": StackState.STARTING,
    "stop": StackState.STOPPING,
    "redeploy": StackState.REDEPLOYING,
    "terminate": StackState.TERMINATING,
}
STACK_RESTING = {
    "start": StackState.RUNNING,
    "stop": StackState.STOPPED,
    "redeploy": StackState.RUNNING,
    "terminate": None,
}
