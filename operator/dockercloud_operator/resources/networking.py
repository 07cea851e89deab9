"""Kubernetes Services for a service's ports.

- every port, published or not: a ClusterIP Service named after the service, which links and
  in-cluster clients reach (`<name>.<namespace>.svc`);
- a StatefulSet: a headless Service too, which gives each container its own DNS name;
- published ports without an outer_port: a NodePort Service, so the port is reachable on
  every node's interface at an allocated port. (Published ports with an outer_port are the
  container's hostPort: reachable on the node it runs on, at that port, as with Docker.)
"""

from __future__ import annotations

from typing import Any

from dockercloud_operator.resources.meta import child_metadata
from dockercloud_operator.resources.workload_kind import WorkloadKind, workload_kind
from dockercloud_operator.schema import names
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    ContainerPort,
    NetworkMode,
)

Object = dict[str, Any]


def _service_port(port: ContainerPort) -> Object:
    return {
        "name": port.kubernetes_name,
        "port": port.inner_port,
        "targetPort": port.inner_port,
        "protocol": str(port.protocol).upper(),
    }


def _kubernetes_service(service: Service, name: str, spec: Object) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(service, name),
        "spec": {"selector": names.selector_labels(service.name), **spec},
    }


def dynamically_published(service: Service) -> list[ContainerPort]:
    """Published ports whose node port Kubernetes allocates (no outer_port given)."""
    if service.spec.net == NetworkMode.host:  # the container is on the node's network already
        return []
    return [p for p in service.spec.container_ports if p.published and p.outer_port is None]


def kubernetes_services(service: Service) -> list[Object]:
    ports = [_service_port(port) for port in service.spec.container_ports]
    objects = []
    if ports:
        objects.append(
            _kubernetes_service(
                service, names.cluster_service(service.name), {"type": "ClusterIP", "ports": ports}
            )
        )
    if workload_kind(service.spec) is WorkloadKind.STATEFUL_SET:
        headless: Object = {"clusterIP": "None", "publishNotReadyAddresses": True}
        if ports:
            headless["ports"] = ports
        objects.append(_kubernetes_service(service, names.headless_service(service.name), headless))
    if published := dynamically_published(service):
        objects.append(
            _kubernetes_service(
                service,
                names.published_service(service.name),
                {"type": "NodePort", "ports": [_service_port(port) for port in published]},
            )
        )
    return objects
