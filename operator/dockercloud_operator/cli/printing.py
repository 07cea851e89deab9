"""What `kubectl dcs` prints: tables as kubectl and docker-cloud print them, refusals, progress."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from dockercloud_operator.documented.lifecycle import ALLOWED_ACTIONS, Action, allowed_states
from dockercloud_operator.schema.parts import (
    State,
)

Object = dict[str, Any]
PROG = "kubectl dcs"


def say(text: str, stream: TextIO | None = None) -> None:
    print(text, file=stream or sys.stdout, flush=True)


def warn(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def refusal(action: Action, state: State | None, service: str) -> str | None:
    """Why `action` is not allowed on `service` in `state`, or None when it is.

    A service without a state yet (the operator has not reported one) is not refused: there is
    nothing to check against."""
    if state is None or action in ALLOWED_ACTIONS[state]:
        return None
    if not ALLOWED_ACTIONS[state]:
        return (
            f'cannot {action} service "{service}": it is {state}, and no action is allowed '
            f"while a service is {state}; wait until it settles, or pass --force"
        )
    allowed = " or ".join(str(s) for s in allowed_states(action))
    return (
        f'cannot {action} service "{service}": it is {state}; {action} is allowed only when '
        f"a service is {allowed} (pass --force to {action} it anyway)"
    )


def progress(service: Object) -> str:
    """One line of --sync progress: the state and running/target containers."""
    status = service.get("status", {})
    state = status.get("state") or "(no state reported yet)"
    counts = status.get("running_of_target")
    return f"{state}, {counts} containers running" if counts else state


def short_uuid(uid: str | None) -> str:
    return (uid or "")[:8]


def age(created: str | None, now: datetime) -> str:
    """kubectl's short age: 42s, 5m, 3h, 12d, 2y."""
    if not created:
        return "<unknown>"
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 86400 * 365:
        return f"{seconds // 86400}d"
    return f"{seconds // (86400 * 365)}y"


PS_HEADERS = ["NAME", "UUID", "IMAGE", "STATE", "#CONTAINERS", "STRATEGY", "AGE"]


def ps_row(service: Object, now: datetime, with_namespace: bool = False) -> list[str]:
    metadata = service.get("metadata", {})
    spec = service.get("spec", {})
    status = service.get("status", {})
    image = status.get("image_name") or spec.get("image") or ""
    running = status.get("running_of_target") or f"0/{spec.get('target_num_containers', 0)}"
    row = [
        metadata.get("name", ""),
        short_uuid(status.get("uuid") or metadata.get("uid")),
        image,
        status.get("state") or "<none>",
        running,
        spec.get("deployment_strategy", ""),
        age(metadata.get("creationTimestamp"), now),
    ]
    return [metadata.get("namespace", ""), *row] if with_namespace else row


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns three spaces apart, as kubectl and docker-cloud print them."""
    lines = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
