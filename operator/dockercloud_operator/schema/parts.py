"""The enums and the small models a Service spec is made of: ports, environment variables,
links, volume bindings, tags and the redeploy action (`model.py` has the spec itself)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from dockercloud_operator.schema.fields import (
    AbsolutePath,
    EnvKey,
    HostPath,
    LinkName,
    Port,
    PortName,
    ServiceReference,
    ServiceUri,
    Str,
    TagName,
    _Model,
    cel,
    kubernetes,
)

# -- enums --------------------------------------------------------------------------------------


class Autorestart(StrEnum):
    """Whether to restart the containers automatically if they stop (Crash recovery)."""

    OFF = "OFF"
    ON_FAILURE = "ON_FAILURE"
    ALWAYS = "ALWAYS"


class Autodestroy(StrEnum):
    """Whether to terminate the containers automatically if they stop (Autodestroy)."""

    OFF = "OFF"
    ON_SUCCESS = "ON_SUCCESS"
    ALWAYS = "ALWAYS"


class DeploymentStrategy(StrEnum):
    """Container distribution among nodes."""

    EMPTIEST_NODE = "EMPTIEST_NODE"
    HIGH_AVAILABILITY = "HIGH_AVAILABILITY"
    EVERY_NODE = "EVERY_NODE"


class NetworkMode(StrEnum):
    """bridge: a new network stack on the docker bridge; host: the host's network stack."""

    bridge = "bridge"
    host = "host"


class PidMode(StrEnum):
    """The PID (process) namespace mode of the containers."""

    none = "none"
    host = "host"


class Protocol(StrEnum):
    tcp = "tcp"
    udp = "udp"


class Role(StrEnum):
    global_ = "global"


class State(StrEnum):
    """The documented service states."""

    NOT_RUNNING = "Not running"
    STARTING = "Starting"
    RUNNING = "Running"
    PARTLY_RUNNING = "Partly running"
    SCALING = "Scaling"
    REDEPLOYING = "Redeploying"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


# -- spec parts ---------------------------------------------------------------------------------


class ContainerPort(_Model):
    """A port of the service's containers (Service Port attributes)."""

    model_config = ConfigDict(
        json_schema_extra=kubernetes(
            validations=[
                cel(
                    "!has(self.outer_port) || self.published",
                    "outer_port is the port on the nodes' public interface: "
                    "it needs published: true",
                    fieldPath=".outer_port",
                )
            ]
        )
    )

    protocol: Protocol = Field(description="The protocol of the port, either tcp or udp.")
    inner_port: Port = Field(description="The port number inside the container to be published.")
    outer_port: Port | None = Field(
        None,
        description="The port number in the node public network interface to be published "
        "(default: dynamic allocation if published is true).",
    )
    port_name: PortName | None = Field(
        None, description="Name of the service associated to this port."
    )
    published: StrictBool = Field(
        False,
        description="Whether to publish the port in the host public network interface or not. "
        "Non-published ports can only be accessed via links.",
    )

    @property
    def kubernetes_name(self) -> str:
        """The name of the container's and the Kubernetes Services' port: Kubernetes needs one,
        so an unnamed port is `<protocol>-<inner_port>` (`tcp-80`)."""
        return self.port_name or f"{self.protocol}-{self.inner_port}"

    @model_validator(mode="after")
    def _outer_port_needs_published(self) -> ContainerPort:
        if self.outer_port is not None and not self.published:
            raise ValueError("outer_port needs published: true")
        return self


class EnvVar(_Model):
    """A user-defined environment variable (Service Environment Variable attributes)."""

    key: EnvKey = Field(
        description="The name of the environment variable (letters, digits and _, "
        "not starting with a digit)."
    )
    value: Str = Field(description="The value of the environment variable.")


class Link(_Model):
    """A link to another service (Related services attributes)."""

    to_service: ServiceReference = Field(
        description="The target of the link: its resource URI "
        "(/api/app/v1/[<namespace>/]service/<uuid>/) or its name in the same namespace."
    )
    name: LinkName | None = Field(
        None,
        description="The link name, the prefix of the link's environment variables "
        "(default: the target's name).",
    )
    from_service: ServiceUri | None = Field(
        None,
        description="The resource URI of the origin of the link (read back as this service's).",
    )


class Binding(_Model):
    """A volume binding (Service binding attributes)."""

    model_config = ConfigDict(
        json_schema_extra=kubernetes(
            validations=[
                cel(
                    "has(self.container_path) != has(self.volumes_from)",
                    "a binding needs exactly one of container_path (a volume) "
                    "or volumes_from (another service's volumes)",
                ),
                cel(
                    "!has(self.host_path) || has(self.container_path)",
                    "host_path needs the container_path to mount it at",
                    fieldPath=".host_path",
                ),
            ]
        )
    )

    host_path: HostPath | None = Field(
        None, description="The host path of the volume (without '..' elements)."
    )
    container_path: AbsolutePath | None = Field(
        None,
        description="The container path where the volume is mounted "
        "(required if volumes_from is omitted).",
    )
    rewritable: StrictBool = Field(True, description="true if the volume has writable permissions.")
    volumes_from: ServiceReference | None = Field(
        None,
        description="The resource URI (or name) of the service whose volumes to mount "
        "(required if container_path is omitted).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Binding:
        if (self.container_path is None) == (self.volumes_from is None):
            raise ValueError("a binding needs exactly one of container_path or volumes_from")
        if self.host_path is not None and self.container_path is None:
            raise ValueError("host_path needs the container_path to mount it at")
        return self


class Tag(_Model):
    """A deployment tag: containers go only to nodes that carry every tag of the service."""

    name: TagName = Field(
        description="The tag (letters, digits, '-', '_', '.'; at most 63 characters)."
    )


class Redeploy(_Model):
    """A redeploy request: every new token redeploys all containers with the current spec."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="Any new value (a timestamp, a counter) requests a redeploy."
    )
    reuse_volumes: StrictBool = Field(
        True, description="Whether to reuse the container volumes for this redeploy (default)."
    )
