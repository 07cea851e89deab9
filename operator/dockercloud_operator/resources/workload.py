"""The workload that runs a service's containers: Deployment, StatefulSet or DaemonSet."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.resources.context import Context
from dockercloud_operator.resources.meta import child_metadata, service_annotations
from dockercloud_operator.resources.pod import pod_template
from dockercloud_operator.resources.restarts import keeps_stopped
from dockercloud_operator.resources.workload_kind import (
    WorkloadKind,
    container_volumes,
    workload_kind,
)
from dockercloud_operator.schema import names
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    NetworkMode,
)

Object = dict[str, Any]
VOLUME_SIZE = "1Gi"  # Docker volumes have no size; claims must have one
REVISION_HISTORY = 3


def replicas(service: Service, context: Context | None = None) -> int:
    """Stopping keeps target_num_containers and runs none; containers that stopped for good
    are not replaced (restarts)."""
    if not service.spec.running:
        return 0
    given_up = context.given_up.count if context is not None else 0
    return max(0, service.spec.target_num_containers - given_up)


def _claim_templates(service: Service) -> list[Object]:
    templates = []
    for index in container_volumes(service.spec):
        templates.append(
            {
                "metadata": {
                    "name": names.container_volume(index),
                    "labels": names.labels(service.name),
                },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": VOLUME_SIZE}},
                },
            }
        )
    return templates


def _binds_host_ports(service: Service) -> bool:
    """Its containers hold ports of the node: published at an outer_port, or on its network."""
    ports = service.spec.container_ports
    if service.spec.net == NetworkMode.host:
        return bool(ports)
    return any(port.published and port.outer_port for port in ports)


def workload(service: Service, context: Context) -> Object:
    """The workload object of the service."""
    kind = workload_kind(service.spec)
    spec: Object = {
        "selector": {"matchLabels": names.selector_labels(service.name)},
        "template": pod_template(service, context),
        "revisionHistoryLimit": REVISION_HISTORY,
    }
    annotations = service_annotations(service)
    if kind is WorkloadKind.DEPLOYMENT:
        spec = {"replicas": replicas(service, context), **spec}
        if keeps_stopped(service, context.restart_rules):
            annotations = {**annotations, **context.given_up.annotations()}
        if _binds_host_ports(service):
            # A surge container could not get the node's port while the old one holds it:
            # replace one container at a time instead.
            spec["strategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            }
    elif kind is WorkloadKind.STATEFUL_SET:
        spec = {
            "replicas": replicas(service),
            **spec,
            "serviceName": names.headless_service(service.name),
            # Containers start in order, one after another, only when asked to.
            "podManagementPolicy": "OrderedReady"
            if service.spec.sequential_deployment
            else "Parallel",
            # Scaling the service down deletes its containers' volumes; stopping it (replicas 0)
            # keeps them for the next start. The StatefulSet keeps them when it is deleted, so
            # that one made anew (a change of what cannot change in place) takes them up; the
            # operator deletes them when the service terminates or stops being a StatefulSet.
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Delete" if service.spec.running else "Retain",
            },
        }
        if templates := _claim_templates(service):
            spec["volumeClaimTemplates"] = templates
    return {
        "apiVersion": "apps/v1",
        "kind": str(kind),
        "metadata": child_metadata(service, names.workload(service.name), annotations),
        "spec": spec,
    }
