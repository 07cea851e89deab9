"""The pod template: a service's runtime attributes as a Kubernetes container and pod spec.

Builders emit only what differs from Kubernetes' defaults (no `false`, no empty lists), in the
canonical form the API server stores (quantities such as `2Gi`, `500m`), so that a live object
can be compared with the desired one field by field.
"""

from __future__ import annotations

import shlex
from typing import Any

from dockercloud_operator.resources.context import Context
from dockercloud_operator.resources.links import link_variables
from dockercloud_operator.resources.restarts import container_restart_policy
from dockercloud_operator.resources.workload_kind import WorkloadKind, workload_kind
from dockercloud_operator.schema import constants, names
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    DeploymentStrategy,
    NetworkMode,
    PidMode,
    Role,
)

Object = dict[str, Any]

REDEPLOY_ANNOTATION = f"{constants.GROUP}/redeploy"
STOPPED_NODE_LABEL = f"{constants.GROUP}/stopped"  # no node has it: a stopped DaemonSet's selector
HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"


def command_words(line: str | None) -> list[str] | None:
    """`entrypoint`/`run_command` split like a shell; None when unset or empty (image default).
    A line a shell could not split (an open quote) is passed as one word."""
    if not line:
        return None
    try:
        return shlex.split(line)
    except ValueError:
        return [line]


def literal(text: str) -> str:
    """`text` escaped for env values, command and args, where Kubernetes (not Docker) expands
    `$(VAR)` and reduces `$$` to `$`: every `$` doubled comes out as written."""
    return text.replace("$", "$$")


def cpu_quantity(shares: int) -> str:
    """CPU shares as a CPU request: 1024 shares are one CPU (canonical form, e.g. `98m`, `2`)."""
    millicores = max(1, round(shares * 1000 / 1024))
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(megabytes: int) -> str:
    """Docker's MB (mebibytes) as a canonical Kubernetes quantity (`512Mi`, `2Gi`)."""
    value, units = megabytes, ["Mi", "Gi", "Ti", "Pi"]
    while value % 1024 == 0 and len(units) > 1:
        value, units = value // 1024, units[1:]
    return f"{value}{units[0]}"


def numeric_user(user: str | None) -> tuple[int | None, int | None] | None:
    """(uid, gid) for `uid[:gid]` or root; None when Kubernetes cannot express it (a name)."""
    if user is None:
        return (None, None)
    name, _, group = user.partition(":")
    uid = 0 if name == "root" else int(name) if name.isdigit() else None
    gid = None if not group else 0 if group == "root" else int(group) if group.isdigit() else -1
    if uid is None or gid == -1:
        return None
    return (uid, gid)


def security_options(options: list[str]) -> tuple[Object, list[str]]:
    """The Docker security options Kubernetes can say (as container securityContext fields),
    and the ones it cannot."""
    context: Object = {}
    unknown: list[str] = []
    for option in options:
        key, _, value = option.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and value in ("", "true"):
            context["allowPrivilegeEscalation"] = False
        elif key == "seccomp" and value == "unconfined":
            context["seccompProfile"] = {"type": "Unconfined"}
        elif key == "apparmor" and value == "unconfined":
            context["appArmorProfile"] = {"type": "Unconfined"}
        else:
            unknown.append(option)
    return context, unknown


def environment(service: Service, context: Context) -> list[Object]:
    """Link variables first, then the service's own variables, which override them."""
    variables: dict[str, str] = {}
    for link in context.links:
        variables |= link_variables(link.alias, link.target)
    own = {envvar.key: envvar.value for envvar in service.spec.container_envvars}
    ordered = [(k, v) for k, v in variables.items() if k not in own] + list(own.items())
    return [{"name": key, "value": literal(value)} for key, value in ordered]


def _ports(service: Service) -> list[Object]:
    host_network = service.spec.net == NetworkMode.host
    ports = []
    for port in service.spec.container_ports:
        entry: Object = {
            "name": port.kubernetes_name,
            "containerPort": port.inner_port,
            "protocol": str(port.protocol).upper(),
        }
        if port.published and port.outer_port and not host_network:
            entry["hostPort"] = port.outer_port  # the node's interface, as Docker's -p
        ports.append(entry)
    return ports


def _volumes(service: Service, context: Context) -> tuple[list[Object], list[Object]]:
    """(pod volumes, container mounts) for the bindings. Container-path volumes of a
    StatefulSet come from its claim templates, so they have a mount but no pod volume."""
    kind = workload_kind(service.spec)
    volumes: list[Object] = []
    mounts: list[Object] = []

    def mount(name: str, path: str, writable: bool) -> None:
        entry: Object = {"name": name, "mountPath": path}
        if not writable:
            entry["readOnly"] = True
        mounts.append(entry)

    for index, binding in enumerate(service.spec.bindings):
        name = names.container_volume(index)
        if binding.volumes_from is not None:
            source = context.volumes_from.get(index)
            if source is None:
                continue
            # A host path is shared as it is; another service's own volumes cannot be.
            for source_index, shared in enumerate(source.spec.bindings):
                if shared.host_path and shared.container_path:
                    shared_name = f"from-{source.name}-{source_index}"
                    volumes.append(
                        {
                            "name": shared_name,
                            "hostPath": {"path": shared.host_path, "type": "DirectoryOrCreate"},
                        }
                    )
                    mount(
                        shared_name,
                        shared.container_path,
                        binding.rewritable and shared.rewritable,
                    )
        elif binding.host_path and binding.container_path:
            volumes.append(
                {"name": name, "hostPath": {"path": binding.host_path, "type": "DirectoryOrCreate"}}
            )
            mount(name, binding.container_path, binding.rewritable)
        elif binding.container_path:
            if kind is WorkloadKind.DAEMON_SET:
                volumes.append({"name": name, "emptyDir": {}})
            mount(name, binding.container_path, binding.rewritable)
    return volumes, mounts


def _container(service: Service, context: Context, mounts: list[Object]) -> Object:
    spec = service.spec
    container: Object = {"name": names.workload(service.name), "image": spec.image}
    if policy := container_restart_policy(service, context.restart_rules):
        container["restartPolicy"] = policy
    if (command := command_words(spec.entrypoint)) is not None:
        container["command"] = [literal(word) for word in command]
    if (args := command_words(spec.run_command)) is not None:
        container["args"] = [literal(word) for word in args]
    if spec.working_dir != "/":  # "/" is the documented default: the image's own
        container["workingDir"] = spec.working_dir
    if env := environment(service, context):
        container["env"] = env
    if ports := _ports(service):
        container["ports"] = ports
    resources: Object = {}
    if spec.cpu_shares is not None:
        resources["requests"] = {"cpu": cpu_quantity(spec.cpu_shares)}
    if spec.memory is not None:
        resources["limits"] = {"memory": memory_quantity(spec.memory)}
    if resources:
        container["resources"] = resources
    if mounts:
        container["volumeMounts"] = mounts
    if security := _security_context(service):
        container["securityContext"] = security
    if spec.tty:
        container["tty"] = True
    if spec.stdin_open:
        container["stdin"] = True
    return container


def _security_context(service: Service) -> Object:
    spec = service.spec
    security, _ = security_options(spec.security_opt)
    if spec.privileged:
        security["privileged"] = True
    if spec.read_only:
        security["readOnlyRootFilesystem"] = True
    capabilities: Object = {}
    if spec.cap_add:
        capabilities["add"] = list(spec.cap_add)
    if spec.cap_drop:
        capabilities["drop"] = list(spec.cap_drop)
    if capabilities:
        security["capabilities"] = capabilities
    user = numeric_user(spec.user)
    if user is not None:
        uid, gid = user
        if uid is not None:
            security["runAsUser"] = uid
        if gid is not None:
            security["runAsGroup"] = gid
    return dict(sorted(security.items()))


def _host_aliases(extra_hosts: list[str]) -> list[Object]:
    by_ip: dict[str, list[str]] = {}
    for entry in extra_hosts:
        host, _, ip = entry.partition(":")
        by_ip.setdefault(ip, []).append(host)
    return [{"ip": ip, "hostnames": hosts} for ip, hosts in by_ip.items()]


def _placement(service: Service) -> Object:
    spec = service.spec
    kind = workload_kind(spec)
    placement: Object = {}
    node_selector = {f"{constants.TAG_LABEL_PREFIX}{tag.name}": "true" for tag in spec.tags}
    if kind is WorkloadKind.DAEMON_SET and not spec.running:
        node_selector[STOPPED_NODE_LABEL] = "true"
    if node_selector:
        placement["nodeSelector"] = node_selector
    if spec.deployment_strategy == DeploymentStrategy.HIGH_AVAILABILITY:
        # The fewest containers of this service per node: a hard, even spread over the nodes
        # the tags allow, counting only the current revision's containers.
        revision = "pod-template-hash" if kind is WorkloadKind.DEPLOYMENT else None
        constraint: Object = {
            "maxSkew": 1,
            "topologyKey": HOSTNAME_TOPOLOGY,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": names.selector_labels(service.name)},
        }
        if revision:
            constraint["matchLabelKeys"] = [revision]
        placement["topologySpreadConstraints"] = [constraint]
    elif spec.deployment_strategy == DeploymentStrategy.EMPTIEST_NODE:
        # The fewest containers in all: spread every service's containers over the nodes.
        placement["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": HOSTNAME_TOPOLOGY,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {constants.LABEL_MANAGED_BY: names.OPERATOR}},
            }
        ]
    return placement


def pod_template(service: Service, context: Context) -> Object:
    """The pod template of the service's workload."""
    spec = service.spec
    volumes, mounts = _volumes(service, context)
    pod: Object = {"containers": [_container(service, context, mounts)]}
    # Kubernetes' own service variables would clash with the links' Docker-style ones.
    pod["enableServiceLinks"] = False
    if Role.global_ in spec.roles:
        pod["serviceAccountName"] = names.service_account(service.name)
    else:
        # Least privilege: no API token. The account is named even so: left out, a template
        # that once named the service's own account would keep it through the deprecated
        # `serviceAccount` field, after that account is gone.
        pod["serviceAccountName"] = "default"
        pod["automountServiceAccountToken"] = False
    if spec.net == NetworkMode.host:
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    if spec.pid == PidMode.host:
        pod["hostPID"] = True
    if spec.hostname:
        pod["hostname"] = spec.hostname
    if spec.extra_hosts:
        pod["hostAliases"] = _host_aliases(spec.extra_hosts)
    dns_config: Object = {}
    if spec.dns:
        dns_config["nameservers"] = list(spec.dns)
    if spec.dns_search:
        dns_config["searches"] = list(spec.dns_search)
    if dns_config:
        pod["dnsConfig"] = dns_config
    pod |= _placement(service)
    if volumes:
        pod["volumes"] = volumes

    annotations = dict(spec.labels)  # Docker labels are metadata: annotations, verbatim
    if spec.redeploy is not None:
        annotations[REDEPLOY_ANNOTATION] = spec.redeploy.token
    metadata: Object = {"labels": names.labels(service.name)}
    if annotations:
        metadata["annotations"] = dict(sorted(annotations.items()))
    return {"metadata": metadata, "spec": pod}
