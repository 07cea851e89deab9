"""A stack's status (pure): the documented stack object, its state derived from the states of
its services.

A transition of any service is the stack's (Redeploying, then Stopping, then Starting, in that
order of precedence); at rest the stack is Running when every service runs, Not Running when
none was ever started, Stopped when none runs, and Partly running otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dockercloud_operator.controller.status import documented_datetime, kubernetes_time
from dockercloud_operator.resources.stack import stack_uri
from dockercloud_operator.schema.names import resource_uri
from dockercloud_operator.schema.parts import (
    State,
)
from dockercloud_operator.schema.stack import StackState

Object = dict[str, Any]

RESTING_STOPPED = (State.STOPPED, State.NOT_RUNNING)
COMING_UP = (None, StackState.NOT_RUNNING, StackState.STOPPED, StackState.STARTING)


def stack_state(running: bool, deleting: bool, states: list[State | None],
                previous: StackState | None, redeploying: bool) -> StackState:  # fmt: skip
    """`states`: each wanted service's state, None where it has not reported on the stack's
    current wish yet (not made, or its status older than its spec); `redeploying`: a redeploy
    of the stack is under way (its token is newer than the last one all services ran)."""
    if deleting:
        return StackState.TERMINATING
    settled = None not in states
    if running:
        if settled and all(s is State.RUNNING for s in states):
            return StackState.RUNNING
        if redeploying:
            return StackState.REDEPLOYING
        if previous in COMING_UP:
            return StackState.STARTING
        if not settled or any(s in (State.STARTING, State.REDEPLOYING, State.SCALING)
                              for s in states):  # fmt: skip
            return previous or StackState.STARTING  # on its way: say what it was doing
        return StackState.PARTLY_RUNNING
    never_started = previous in (None, StackState.NOT_RUNNING)
    if never_started and (not settled or all(s is State.NOT_RUNNING for s in states)):
        return StackState.NOT_RUNNING
    if settled and all(s in RESTING_STOPPED for s in states):
        return StackState.STOPPED
    return StackState.STOPPING


def _condition(kind: str, ok: bool, reason: str, message: str, previous: list[Object],
               now: datetime, generation: int | None) -> Object:  # fmt: skip
    status = "True" if ok else "False"
    before = next((c for c in previous if c.get("type") == kind), {})
    since = before.get("lastTransitionTime") if before.get("status") == status else None
    return {
        "type": kind, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": since or kubernetes_time(now), "observedGeneration": generation,
    }  # fmt: skip


def running_of(states: list[State | None]) -> str:
    return f"{states.count(State.RUNNING)}/{len(states)} services running"


def compute(stack: Object, services: Sequence[Object | None], invalid: str, previous: Object,
            now: datetime) -> Object:  # fmt: skip
    """The stack's status; `services`: each wanted service's resource as read (None: not made
    yet); `invalid`: why the spec cannot be made into services ("" when it can)."""
    meta, spec = stack["metadata"], stack.get("spec") or {}
    generation = meta.get("generation")
    running = bool(spec.get("running", True))
    states: list[State | None] = []
    in_sync = not invalid
    uris = []
    token = (spec.get("redeploy") or {}).get("token")
    for service in services:
        status = (service or {}).get("status") or {}
        generation_seen = status.get("observedGeneration") == (service or {}).get(
            "metadata", {}
        ).get("generation")
        reported = service is not None and generation_seen and bool(status.get("state"))
        states.append(State(status["state"]) if reported else None)
        in_sync = in_sync and reported and bool(status.get("synchronized"))
        if service is not None and service["metadata"].get("uid"):
            uris.append(resource_uri(service["metadata"]["uid"], service["metadata"]["namespace"]))
    before = StackState(previous["state"]) if previous.get("state") else None
    redeploying = token is not None and token != previous.get("observedRedeployToken")
    state = stack_state(running, bool(meta.get("deletionTimestamp")), states, before,
                        redeploying or before is StackState.REDEPLOYING)  # fmt: skip
    # The redeploy is done once every service runs again: the token is then the one they ran.
    done = previous.get("observedRedeployToken")
    if token is not None and (state is StackState.RUNNING or not running):
        done = token
    stamp = documented_datetime(now)
    result: Object = {
        "uuid": meta.get("uid"),
        "resource_uri": stack_uri(meta.get("uid", ""), meta.get("namespace", "default")),
        "name": meta["name"],
        "nickname": spec.get("nickname") or meta["name"],
        "state": str(state),
        "synchronized": in_sync,
        "services": sorted(uris),
        "deployed_datetime": previous.get("deployed_datetime"),
        "destroyed_datetime": previous.get("destroyed_datetime"),
        "observedGeneration": generation,
        "observedRedeployToken": done,
    }
    if state != before and state in (StackState.STARTING, StackState.REDEPLOYING):
        result["deployed_datetime"] = stamp
    if state is StackState.RUNNING and not result["deployed_datetime"]:
        result["deployed_datetime"] = stamp  # up before a Starting was seen
    if state != before and state is StackState.TERMINATING:
        result["destroyed_datetime"] = stamp
    conditions = previous.get("conditions") or []
    result["conditions"] = [
        _condition("Ready", state is StackState.RUNNING, state.name.title().replace("_", ""),
                   running_of(states),
                   conditions, now, generation),
        _condition("ServicesValid", not invalid, "Invalid" if invalid else "Valid",
                   invalid or "every service of the stack is a valid service", conditions,
                   now, generation),
    ]  # fmt: skip
    return {key: value for key, value in result.items() if value is not None}
