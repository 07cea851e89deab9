"""Which Kubernetes workload runs a service's containers."""

from __future__ import annotations

from enum import StrEnum

from dockercloud_operator.schema.model import (
    ServiceSpec,
)
from dockercloud_operator.schema.parts import (
    DeploymentStrategy,
)


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"
    DAEMON_SET = "DaemonSet"


def container_volumes(spec: ServiceSpec) -> list[int]:
    """Indexes of the bindings that are container-path volumes (no host path, no volumes_from)."""
    return [
        index
        for index, binding in enumerate(spec.bindings)
        if binding.container_path and not binding.host_path
    ]


def workload_kind(spec: ServiceSpec) -> WorkloadKind:
    """EVERY_NODE: a DaemonSet. Ordered start, or containers with volumes of their own (which
    must outlive a redeploy): a StatefulSet, with stable ordinal names. Otherwise a Deployment."""
    if spec.deployment_strategy == DeploymentStrategy.EVERY_NODE:
        return WorkloadKind.DAEMON_SET
    if spec.sequential_deployment or container_volumes(spec):
        return WorkloadKind.STATEFUL_SET
    return WorkloadKind.DEPLOYMENT
