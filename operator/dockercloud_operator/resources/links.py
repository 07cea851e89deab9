"""Docker-link-style environment variables, pointing at Kubernetes DNS names.

For a link with alias DB to a service with port 5432/tcp and variable USER=admin, a container
gets, as Docker would give it:

    DB_PORT=tcp://db.ns.svc:5432                DB_1_PORT=tcp://<container 1>:5432
    DB_PORT_5432_TCP=tcp://db.ns.svc:5432       DB_1_PORT_5432_TCP=...
    DB_PORT_5432_TCP_ADDR=db.ns.svc             DB_1_PORT_5432_TCP_ADDR=...
    DB_PORT_5432_TCP_PORT=5432                  ...
    DB_PORT_5432_TCP_PROTO=tcp
    DB_ENV_USER=admin                           DB_1_ENV_USER=admin

The unnumbered address is the service's ClusterIP Service. Numbered ones (one per container, for
the first `NUMBERED_CONTAINERS`) are the containers' own DNS names when the service runs as a
StatefulSet, and otherwise the Service's name too: a Deployment's containers have no stable names.
"""

from __future__ import annotations

from dockercloud_operator.resources.workload_kind import WorkloadKind, workload_kind
from dockercloud_operator.schema import names
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    DeploymentStrategy,
)

# Docker numbers every container, but target_num_containers may be up to 2**31 - 1, and the
# variables go into every linking container's env and into status.link_variables: numbered
# for all, they outgrow what an object may hold (5 MiB at 20000 containers) and exhaust the
# operator's memory. Past the first ten, containers are reached through the unnumbered address.
NUMBERED_CONTAINERS = 10


def service_address(service: Service) -> str:
    return f"{names.cluster_service(service.name)}.{service.namespace}.svc"


def container_address(service: Service, number: int) -> str:
    """The DNS name of the number-th (1-based, as Docker counts) container of a service."""
    if workload_kind(service.spec) is WorkloadKind.STATEFUL_SET:
        pod = f"{names.workload(service.name)}-{number - 1}"
        return f"{pod}.{names.headless_service(service.name)}.{service.namespace}.svc"
    return service_address(service)


def _address_variables(prefix: str, address: str, service: Service) -> dict[str, str]:
    ports = sorted(service.spec.container_ports, key=lambda p: (p.inner_port, p.protocol))
    variables: dict[str, str] = {}
    for port in ports:
        url = f"{port.protocol}://{address}:{port.inner_port}"
        key = f"{prefix}_PORT_{port.inner_port}_{str(port.protocol).upper()}"
        variables[key] = url
        variables[f"{key}_ADDR"] = address
        variables[f"{key}_PORT"] = str(port.inner_port)
        variables[f"{key}_PROTO"] = str(port.protocol)
    if ports:  # Docker's <ALIAS>_PORT is the lowest exposed port
        variables[f"{prefix}_PORT"] = f"{ports[0].protocol}://{address}:{ports[0].inner_port}"
    for envvar in service.spec.container_envvars:
        variables[f"{prefix}_ENV_{envvar.key}"] = envvar.value
    return variables


def link_variables(alias: str, target: Service) -> dict[str, str]:
    """The variables a link named `alias` to `target` puts into the linking containers."""
    prefix = names.link_alias(alias)
    variables = _address_variables(prefix, service_address(target), target)
    # An EVERY_NODE service has as many containers as nodes, which the spec does not say.
    if target.spec.deployment_strategy != DeploymentStrategy.EVERY_NODE:
        for number in range(1, min(target.spec.target_num_containers, NUMBERED_CONTAINERS) + 1):
            variables |= _address_variables(
                f"{prefix}_{number}", container_address(target, number), target
            )
    return dict(sorted(variables.items()))
