"""The Service resource: pydantic models of the documented Docker Cloud service object.

These models are the single source of truth for the CRD schema (`crd.py` generates
`crds/service.yaml` from them): field names, types, enums, defaults and descriptions are the
documented ones. Writable attributes form the spec; read-only ones the status. Constraints the
schema cannot state are CEL rules (`x-kubernetes-validations`), so the API server rejects bad
input before the operator sees it; the same rules are checked here for offline use (`render`).
The field types and their rules are in `fields.py`, the enums and the spec's small parts
(ports, variables, links, bindings) in `parts.py`.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from dockercloud_operator.schema.fields import (
    LABEL_KEY,
    MAX_BINDINGS,
    MAX_DNS_SEARCH,
    MAX_DNS_SEARCH_CHARS,
    MAX_INT32,
    MAX_LABELS_BYTES,
    MAX_LIST,
    MAX_STRING,
    SERVICE_NAME,
    SERVICE_NAME_MAX,
    AbsolutePath,
    Capability,
    Cpuset,
    Device,
    DnsLabel,
    DnsSubdomain,
    ExtraHost,
    ImageReference,
    MacAddress,
    Name,
    Port,
    Str,
    User,
    _Model,
    cel,
    kubernetes,
    spec_rule,
)
from dockercloud_operator.schema.parts import (
    Autodestroy,
    Autorestart,
    Binding,
    ContainerPort,
    DeploymentStrategy,
    EnvVar,
    Link,
    NetworkMode,
    PidMode,
    Protocol,
    Redeploy,
    Role,
    State,
    Tag,
)


def _list(description: str, *keys: str, max_items: int = MAX_LIST, **extra: Any) -> Any:
    """A bounded list field; with `keys`, items are unique by them (a list-type map)."""
    extensions = (
        kubernetes(list_type="map", list_map_keys=list(keys), **extra)
        if keys
        else kubernetes(**extra)
        if extra
        else None
    )
    return Field(
        default_factory=list,
        max_length=max_items,
        description=description,
        json_schema_extra=extensions,
    )


PORT_NAMES_UNIQUE = (
    "two ports cannot share a name: a Kubernetes Service's port names are unique (a port "
    "without a port_name is named <protocol>-<inner_port>, e.g. tcp-80)"
)
CONTAINER_PATHS_UNIQUE = (
    "two bindings cannot share a container_path: a container mounts one volume at a path"
)
DNS_SEARCH_CHARS = (
    f"dns_search may hold at most {MAX_DNS_SEARCH_CHARS} characters in all (joined by "
    "spaces), as a pod's DNS search list"
)
LABELS_SIZE = (
    f"labels may hold at most {MAX_LABELS_BYTES // 1024} KiB in all (keys and values, UTF-8 "
    "bytes): they become the pod's annotations, which Kubernetes caps at 256 KiB, and the "
    "operator adds its own"
)


class ServiceSpec(_Model):
    """The writable attributes of a Docker Cloud service."""

    model_config = ConfigDict(
        json_schema_extra=kubernetes(
            validations=[
                spec_rule(
                    "(self.deployment_strategy == 'EVERY_NODE') == "
                    "(oldSelf.deployment_strategy == 'EVERY_NODE')",
                    "A service cannot be updated to or from a deployment_strategy of EVERY_NODE",
                    "deployment_strategy",
                ),
                spec_rule(
                    "self.deployment_strategy != 'EVERY_NODE' || "
                    "self.target_num_containers == oldSelf.target_num_containers",
                    "An EVERY_NODE service runs one container on every node and cannot be "
                    "scaled: target_num_containers cannot change",
                    "target_num_containers",
                ),
                spec_rule(
                    "!has(self.memory_swap) || self.memory_swap == -1 || "
                    "(has(self.memory) && self.memory_swap >= self.memory)",
                    "memory_swap (memory + swap, in MB) needs memory and must be at least "
                    "memory, or -1 for unlimited swap",
                    "memory_swap",
                ),
                spec_rule(
                    "!has(self.container_ports) || self.container_ports.all(p, "
                    "!has(p.outer_port) || self.container_ports.exists_one(q, "
                    "has(q.outer_port) && q.outer_port == p.outer_port && "
                    "q.protocol == p.protocol))",
                    "two published ports cannot share an outer_port and protocol",
                    "container_ports",
                ),
                # A named port p clashes with a named q of the same name, or with an unnamed
                # q named like it (<protocol>-<inner_port>). Parsing p's name, rather than
                # spelling q's with string(), keeps the rule within the server's cost budget.
                spec_rule(
                    "!has(self.container_ports) || self.container_ports.all(p, "
                    "!has(p.port_name) || self.container_ports.exists_one(q, "
                    "has(q.port_name) ? q.port_name == p.port_name : "
                    "(p.port_name.matches('^(tcp|udp)-[1-9][0-9]*$') && "
                    "p.port_name.startsWith(q.protocol) && "
                    "int(p.port_name.substring(4)) == q.inner_port)))",
                    PORT_NAMES_UNIQUE,
                    "container_ports",
                ),
                spec_rule(
                    "!has(self.bindings) || self.bindings.all(b, !has(b.container_path) || "
                    "self.bindings.exists_one(c, "
                    "has(c.container_path) && c.container_path == b.container_path))",
                    CONTAINER_PATHS_UNIQUE,
                    "bindings",
                ),
            ]
        )
    )

    image: ImageReference = Field(
        description="The image used to deploy this service in docker format, "
        "i.e. tutum/hello-world, tutum/ubuntu:5.6. If no tag is indicated, it will be set to "
        "latest by default."
    )
    name: DnsLabel | None = Field(
        None,
        description="A human-readable name for the service; when given, it must equal "
        "metadata.name, which names the service, its containers, endpoint URLs and "
        "environment variables.",
    )
    nickname: Name | None = Field(
        None, description="A user-friendly name for the service (name by default)."
    )
    running: StrictBool = Field(
        True,
        description="Start (true) or stop (false) the service. A service created with false "
        "is created without starting it (Not running); stopping keeps target_num_containers.",
    )
    redeploy: Redeploy | None = Field(
        None,
        description="Redeploys all containers with the current configuration whenever its "
        "token changes.",
    )
    target_num_containers: StrictInt = Field(
        1,
        ge=0,
        le=MAX_INT32,
        description="The requested number of containers to deploy for the service.",
    )
    run_command: Str | None = Field(
        None,
        description="The command used to start the containers of this service, overriding "
        "the value specified in the image, i.e. /run.sh.",
    )
    entrypoint: Str | None = Field(
        None,
        description="The command prefix used to start the containers of this service, "
        "overriding the value specified in the image, i.e. /usr/sbin/sshd.",
    )
    container_ports: list[ContainerPort] = _list(
        "Ports to be published on the containers of this service, added to the image's.",
        "inner_port",
        "protocol",
    )
    container_envvars: list[EnvVar] = _list(
        "User-defined environment variables of the containers, overriding the image's.",
        "key",
    )
    linked_to_service: list[Link] = _list("The services this service is linked to.", "to_service")
    bindings: list[Binding] = _list(
        f"The volume bindings the service mounts (at most {MAX_BINDINGS}).",
        max_items=MAX_BINDINGS,
    )
    autorestart: Autorestart = Field(
        Autorestart.OFF,
        description="Whether the containers should be restarted if they stop "
        "(OFF, ON_FAILURE, ALWAYS).",
    )
    autodestroy: Autodestroy = Field(
        Autodestroy.OFF,
        description="Whether the containers should be terminated if they stop "
        "(OFF, ON_SUCCESS, ALWAYS).",
    )
    autoredeploy: StrictBool = Field(
        False,
        description="Whether to redeploy the containers when the image is updated in the registry.",
    )
    sequential_deployment: StrictBool = Field(
        False, description="Whether the containers should be launched and scaled in sequence."
    )
    roles: list[Role] = _list(
        "Docker Cloud API roles granted to the service (possible values: global).",
        list_type="set",
    )
    privileged: StrictBool = Field(
        False,
        description="Whether to start the containers with Docker's privileged flag set, "
        "which allows access to all devices on the host among other things.",
    )
    deployment_strategy: DeploymentStrategy = Field(
        DeploymentStrategy.EMPTIEST_NODE,
        description="Container distribution among nodes (EMPTIEST_NODE, HIGH_AVAILABILITY, "
        "EVERY_NODE). A service cannot be updated to or from EVERY_NODE.",
    )
    tags: list[Tag] = _list("Tags used to deploy the service (node selection).", "name")
    net: NetworkMode = Field(
        NetworkMode.bridge, description="The network mode of the containers (bridge, host)."
    )
    pid: PidMode = Field(
        PidMode.none, description="The PID namespace mode of the containers (none, host)."
    )
    working_dir: AbsolutePath = Field(
        "/", description="Working directory for running binaries within a container."
    )
    user: User | None = Field(
        None,
        description="The user (name or uid, optionally :group) the containers run as "
        "(the image's, root by default).",
    )
    hostname: DnsLabel | None = Field(None, description="The hostname of the containers.")
    domainname: DnsSubdomain | None = Field(None, description="The domainname of the containers.")
    mac_address: MacAddress | None = Field(
        None, description="Ethernet device's MAC address of the containers."
    )
    cgroup_parent: Name | None = Field(
        None, description="Optional parent cgroup of the containers."
    )
    tty: StrictBool = Field(False, description="Whether the containers have a tty.")
    stdin_open: StrictBool = Field(False, description="Whether the containers have stdin opened.")
    read_only: StrictBool = Field(
        False, description="Whether the filesystem of every container is read-only."
    )
    dns: list[Annotated[str, StringConstraints(max_length=45)]] = _list(
        "Custom DNS servers (IP addresses) of the containers; at most 2, since a pod has at "
        "most 3 nameservers and the cluster's DNS keeps links resolving.",
        validations=[cel("self.all(s, isIP(s))", "dns entries must be IP addresses")],
        max_items=2,
    )
    dns_search: list[DnsSubdomain] = _list(
        f"Custom DNS search domains of the containers; at most {MAX_DNS_SEARCH}, of "
        f"{MAX_DNS_SEARCH_CHARS} characters in all, as a pod's search list.",
        validations=[cel(f"size(self.join(' ')) <= {MAX_DNS_SEARCH_CHARS}", DNS_SEARCH_CHARS)],
        max_items=MAX_DNS_SEARCH,
    )
    cap_add: list[Capability] = _list(
        "Capabilities added to the containers (e.g. NET_ADMIN, ALL).", list_type="set"
    )
    cap_drop: list[Capability] = _list(
        "Capabilities dropped from the containers (e.g. NET_ADMIN, ALL).", list_type="set"
    )
    devices: list[Device] = _list(
        "Device mappings of the containers (host_path[:container_path][:rwm])."
    )
    extra_hosts: list[ExtraHost] = _list(
        "Hostname mappings of the containers (hostname:IP).",
        validations=[
            cel(
                "self.all(h, isIP(h.substring(h.indexOf(':') + 1)))",
                "extra_hosts entries must be hostname:IP",
            )
        ],
    )
    security_opt: list[Annotated[str, StringConstraints(max_length=MAX_STRING)]] = _list(
        "Labeling scheme (security options) of the containers."
    )
    labels: dict[Annotated[str, StringConstraints(pattern=LABEL_KEY, max_length=317)], Str] = Field(
        default_factory=dict,
        max_length=MAX_LIST,
        description="Metadata in form of dictionary used for every container of this service "
        "(they become the containers' annotations, so keys follow annotation-key syntax: "
        "[dns.prefix/]name, e.g. com.example.description; at most "
        f"{MAX_LABELS_BYTES // 1024} KiB in all).",
        json_schema_extra=kubernetes(
            validations=[
                cel(
                    f"self.all(k, k.matches(r'{LABEL_KEY}'))",
                    "label keys must be [dns.prefix/]name: a name of at most 63 letters, "
                    "digits, '-', '_', '.', starting and ending with a letter or digit, "
                    "e.g. com.example.description",
                ),
                cel(
                    f"self.map(k, size(k) + size(bytes(self[k]))).sum() <= {MAX_LABELS_BYTES}",
                    LABELS_SIZE,
                ),
            ]
        ),
    )
    cpu_shares: StrictInt | None = Field(
        None,
        ge=2,
        le=262144,
        description="The relative CPU priority of the containers (1024 = one CPU).",
    )
    cpuset: Cpuset | None = Field(
        None, description="CPUs in which to allow execution (e.g. 0,1 or 0-3)."
    )
    memory: StrictInt | None = Field(
        None, ge=1, le=MAX_INT32, description="The memory limit of the containers in MB."
    )
    memory_swap: StrictInt | None = Field(
        None,
        ge=-1,
        le=MAX_INT32,
        description="Total memory limit (memory + swap) of the containers in MB; -1 for "
        "unlimited swap.",
    )
    stack: Annotated[str, StringConstraints(max_length=253)] | None = Field(
        None, description="Resource URI of the stack that the service belongs to."
    )

    @model_validator(mode="after")
    def _cross_field_rules(self) -> ServiceSpec:
        """The CEL rules that need only the new object, checked offline too."""
        swap = self.memory_swap
        if swap not in (None, -1) and (self.memory is None or swap < self.memory):
            raise ValueError("memory_swap needs memory and must be at least memory, or -1")
        # The list-type maps and sets of the schema: the server rejects duplicate keys.
        unique_by: list[tuple[str, list[Any]]] = [
            ("container_ports", [(p.inner_port, p.protocol) for p in self.container_ports]),
            ("container_envvars", [e.key for e in self.container_envvars]),
            ("linked_to_service", [link.to_service for link in self.linked_to_service]),
            ("tags", [tag.name for tag in self.tags]),
            ("roles", list(self.roles)),
            ("cap_add", self.cap_add),
            ("cap_drop", self.cap_drop),
        ]
        for attribute, keys in unique_by:
            if len(keys) != len(set(keys)):
                raise ValueError(f"{attribute} has duplicate entries")
        outer = [(p.outer_port, p.protocol) for p in self.container_ports if p.outer_port]
        if len(outer) != len(set(outer)):
            raise ValueError("two published ports cannot share an outer_port and protocol")
        if _has_duplicates([p.kubernetes_name for p in self.container_ports]):
            raise ValueError(PORT_NAMES_UNIQUE)
        if _has_duplicates([b.container_path for b in self.bindings if b.container_path]):
            raise ValueError(CONTAINER_PATHS_UNIQUE)
        if len(" ".join(self.dns_search)) > MAX_DNS_SEARCH_CHARS:
            raise ValueError(DNS_SEARCH_CHARS)
        if sum(len(k.encode()) + len(v.encode()) for k, v in self.labels.items()) > (
            MAX_LABELS_BYTES
        ):
            raise ValueError(LABELS_SIZE)
        if not all(_is_ip(server) for server in self.dns):
            raise ValueError("dns entries must be IP addresses")
        if not all(_is_ip(host.partition(":")[2]) for host in self.extra_hosts):
            raise ValueError("extra_hosts entries must be hostname:IP")
        return self


def _has_duplicates(items: list[Any]) -> bool:
    return len(items) != len(set(items))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# -- status -------------------------------------------------------------------------------------


class PortStatus(_Model):
    """Where a port of the service is reached."""

    protocol: Protocol
    inner_port: Port
    outer_port: Port | None = None
    published: bool = False
    endpoint_uri: Str | None = Field(None, description="The URI of the endpoint for this port.")


class LinkStatus(_Model):
    name: Str
    from_service: Str
    to_service: Str


class Condition(_Model):
    """A Kubernetes condition (metav1.Condition)."""

    type: Annotated[str, StringConstraints(max_length=316)]
    status: Annotated[str, StringConstraints(pattern="^(True|False|Unknown)$")]
    reason: Annotated[str, StringConstraints(max_length=1024)] = ""
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    lastTransitionTime: Str | None = None
    observedGeneration: int | None = None


class ServiceStatus(_Model):
    """The read-only attributes of a Docker Cloud service, maintained by the operator."""

    uuid: Str | None = Field(None, description="A unique identifier (the object's metadata.uid).")
    resource_uri: Str | None = Field(
        None, description="A unique API endpoint that represents the service."
    )
    image_name: Str | None = Field(
        None, description="The Docker image name and tag used for the service containers."
    )
    state: State | None = Field(None, description="The state of the service.")
    synchronized: StrictBool | None = Field(
        None,
        description="Whether the current service definition is synchronized with the "
        "current containers.",
    )
    deployed_datetime: Str | None = Field(None, description="The last deployment.")
    started_datetime: Str | None = Field(None, description="The last start operation.")
    stopped_datetime: Str | None = Field(None, description="The last stop operation.")
    destroyed_datetime: Str | None = Field(None, description="The terminate operation.")
    current_num_containers: StrictInt | None = Field(
        None, description="The actual number of containers deployed."
    )
    running_num_containers: StrictInt | None = Field(
        None, description="The number of deployed containers in Running state."
    )
    stopped_num_containers: StrictInt | None = Field(
        None, description="The number of deployed containers in Stopped state."
    )
    running_of_target: Str | None = Field(
        None, description="running_num_containers/target_num_containers, for display."
    )
    containers: list[Str] = Field(
        default_factory=list, description="Resource URIs of the service's containers."
    )
    container_ports: list[PortStatus] = Field(
        default_factory=list, description="The service's ports and their endpoint URIs."
    )
    public_dns: Str | None = Field(
        None, description="A name that resolves to the service's published endpoints."
    )
    link_variables: dict[str, Str] = Field(
        default_factory=dict,
        description="The environment variables exposed in containers linked to this service.",
    )
    linked_from_service: list[LinkStatus] = Field(
        default_factory=list, description="The services that link to this one."
    )
    selector: Str | None = Field(
        None, description="The label selector of the containers (for the scale subresource)."
    )
    observedGeneration: StrictInt | None = Field(
        None, description="The spec generation this status describes."
    )
    observedRedeployToken: Str | None = Field(
        None,
        description="The redeploy token of the spec this status describes: a newer one in the "
        "spec is a redeploy the operator has not reported on yet.",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Kubernetes conditions: Ready, Synchronized, UnsupportedAttributes.",
        json_schema_extra=kubernetes(list_type="map", list_map_keys=["type"]),
    )


# -- the whole resource -------------------------------------------------------------------------


class ObjectMeta(BaseModel):
    """The parts of a resource's metadata the operator reads."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, StringConstraints(pattern=SERVICE_NAME, max_length=SERVICE_NAME_MAX)]
    namespace: str = "default"
    uid: str | None = None
    generation: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    deletionTimestamp: str | None = None


class Service(BaseModel):
    """A Service custom resource as read from the API server or a manifest."""

    model_config = ConfigDict(extra="ignore")

    apiVersion: str = "app.dockercloud.dev/v1"
    kind: str = "Service"
    metadata: ObjectMeta
    spec: ServiceSpec

    @model_validator(mode="after")
    def _name_matches(self) -> Service:
        if self.spec.name is not None and self.spec.name != self.metadata.name:
            raise ValueError("spec.name, when given, must equal metadata.name")
        return self

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace
