"""Metadata every child carries: its name, the service's labels, the owner reference."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.schema import constants, names
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]
NICKNAME_ANNOTATION = f"{constants.GROUP}/nickname"
STACK_ANNOTATION = f"{constants.GROUP}/stack"


def owner_reference(service: Service) -> Object | None:
    """The controller reference to the Service, so deleting it deletes its children.
    None for a manifest that was never created (no uid), as `render` sees it."""
    if not service.metadata.uid:
        return None
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "name": service.name,
        "uid": service.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_metadata(service: Service, name: str, annotations: Object | None = None) -> Object:
    metadata: Object = {
        "name": name,
        "namespace": service.namespace,
        "labels": names.labels(service.name),
    }
    if annotations:
        metadata["annotations"] = annotations
    if (owner := owner_reference(service)) is not None:
        metadata["ownerReferences"] = [owner]
    return metadata


def service_annotations(service: Service) -> Object:
    """Documented attributes that are only information: kept where a reader finds them."""
    annotations: Object = {}
    if service.spec.nickname:
        annotations[NICKNAME_ANNOTATION] = service.spec.nickname
    if service.spec.stack:
        annotations[STACK_ANNOTATION] = service.spec.stack
    return annotations
