"""Pure builders: a Service (and what it links to) in, the Kubernetes objects that run it out.

No API calls, no clock: `build(service, context)` is all a reader needs to learn what the
operator creates, and what `dockercloud-operator render` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockercloud_operator.resources.access import api_access
from dockercloud_operator.resources.context import Context
from dockercloud_operator.resources.networking import kubernetes_services
from dockercloud_operator.resources.unsupported import Finding, unsupported
from dockercloud_operator.resources.workload import workload
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]


@dataclass(frozen=True)
class Built:
    objects: list[Object]
    unsupported: list[Finding]


def build(service: Service, context: Context | None = None) -> Built:
    """Every object the service needs, in the order they should be applied."""
    context = context or Context()
    objects = [*api_access(service), *kubernetes_services(service), workload(service, context)]
    return Built(objects=objects, unsupported=unsupported(service, context))


def object_key(obj: Object) -> tuple[str, str, str]:
    """(kind, namespace, name): how children are told apart."""
    metadata = obj["metadata"]
    return (obj["kind"], metadata.get("namespace", ""), metadata["name"])
