"""Redeploying without reusing volumes (`redeploy.reuse_volumes: false`)."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.resources.pod import REDEPLOY_ANNOTATION
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]


def _redeploy_token(workload: Object | None) -> str | None:
    template = (workload or {}).get("spec", {}).get("template", {})
    token = template.get("metadata", {}).get("annotations", {}).get(REDEPLOY_ANNOTATION)
    return str(token) if token is not None else None


def resets_volumes(service: Service, desired: Object, live: Object | None) -> bool:
    """True when this reconcile starts a redeploy that must not reuse the containers' volumes:
    the token is new, reuse_volumes is false, and the workload has claims to reset."""
    redeploy = service.spec.redeploy
    return bool(
        redeploy is not None
        and not redeploy.reuse_volumes
        and live is not None
        and live.get("kind") == desired.get("kind") == "StatefulSet"
        and desired["spec"].get("volumeClaimTemplates")
        and _redeploy_token(live) != redeploy.token
    )
