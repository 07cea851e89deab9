"""An Event about an object, as `kubectl describe` and `kubectl events` show them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dockercloud_operator.schema import constants

Object = dict[str, Any]


def event(about: Object, reason: str, message: str, kind: str, component: str) -> Object:
    """A core/v1 Event of `reason` about `about` (a Service resource unless it says otherwise),
    reported by `component`; `kind` is Normal or Warning."""
    metadata = about["metadata"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{metadata['name']}.", "namespace": metadata["namespace"]},
        "involvedObject": {
            "apiVersion": about.get("apiVersion", f"{constants.GROUP}/{constants.VERSION}"),
            "kind": about.get("kind", constants.KIND),
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata.get("uid"),
        },
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": component,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
