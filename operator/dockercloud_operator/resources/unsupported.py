"""Documented attributes a service sets that Kubernetes cannot honour as written.

Nothing is dropped silently: each finding is reported in the service's UnsupportedAttributes
condition (and docs/mapping.md says why)."""

from __future__ import annotations

from dataclasses import dataclass

from dockercloud_operator.resources.context import Context
from dockercloud_operator.resources.pod import numeric_user, security_options
from dockercloud_operator.resources.restarts import keeps_stopped
from dockercloud_operator.resources.workload_kind import container_volumes, workload_kind
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    Autodestroy,
    Autorestart,
    DeploymentStrategy,
    NetworkMode,
)


@dataclass(frozen=True)
class Finding:
    attribute: str
    reason: str

    def __str__(self) -> str:
        return f"{self.attribute}: {self.reason}"


def unsupported(service: Service, context: Context) -> list[Finding]:
    spec = service.spec
    findings: list[Finding] = []

    def note(attribute: str, reason: str) -> None:
        findings.append(Finding(attribute, reason))

    if spec.autorestart != Autorestart.ALWAYS and not keeps_stopped(service, context.restart_rules):
        if context.restart_rules:
            why = f"a {workload_kind(spec)} recreates a stopped container (as ALWAYS)"
        else:
            why = (
                "the cluster does not offer a container's own restartPolicy "
                "(ContainerRestartRules): stopped containers are restarted (as ALWAYS)"
            )
        note(f"autorestart={spec.autorestart}", why)
        if spec.autodestroy != Autodestroy.OFF:
            note(f"autodestroy={spec.autodestroy}", "containers are restarted, never removed")
    if numeric_user(spec.user) is None:
        note(f"user={spec.user}", "Kubernetes runs containers as a numeric uid[:gid] only")
    for attribute, value in [
        ("domainname", spec.domainname),
        ("mac_address", spec.mac_address),
        ("cgroup_parent", spec.cgroup_parent),
        ("cpuset", spec.cpuset),
    ]:
        if value:
            note(attribute, "a pod cannot set it per container")
    if spec.devices:
        note("devices", "Kubernetes exposes devices through device plugins only")
    if spec.memory_swap is not None and spec.memory_swap != spec.memory:
        note("memory_swap", "swap is configured per node in Kubernetes, not per container")
    _, unknown_options = security_options(spec.security_opt)
    for option in unknown_options:
        note(f"security_opt={option}", "no pod security setting says it")
    if spec.net == NetworkMode.host:
        for port in spec.container_ports:
            if port.outer_port and port.outer_port != port.inner_port:
                note(
                    f"container_ports[{port.inner_port}/{port.protocol}].outer_port",
                    "with net: host the port is the inner_port on the node",
                )
    if spec.deployment_strategy == DeploymentStrategy.EVERY_NODE and container_volumes(spec):
        note(
            "bindings",
            "the container-path volumes of an EVERY_NODE service are emptyDir: they do not "
            "survive a redeploy",
        )
    for index, source in context.volumes_from.items():
        if container_volumes(source.spec):
            note(
                f"bindings[{index}].volumes_from",
                f"only the host-path volumes of {source.name} are shared; its own volumes "
                "belong to its containers",
            )
    return findings
