"""The Stack resource: the services of a Docker Cloud stackfile, kept and run as one.

`spec.services` holds the services in the documented service attributes (a stackfile converts
into it one to one, `documented/stackfile.py`), each named; `running` and `redeploy` are the
stack's, as a Service has them, and pass down to every service. The operator makes one Service
resource per entry, named `<stack>-<service>` so that two stacks in a namespace may each have a
`web`; the service's documented `name` stays `web`.
"""

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
    _LABEL,
    MAX_BINDINGS,
    SERVICE_NAME,
    SERVICE_NAME_MAX,
    Str,
    _Model,
)
from dockercloud_operator.schema.model import (
    Condition,
    ServiceSpec,
)
from dockercloud_operator.schema.parts import (
    Binding,
    Link,
    Redeploy,
)

STACK_NAME_MAX = 20  # with "-" and a member's name, a Service name of at most SERVICE_NAME_MAX
MEMBER_NAME_MAX = SERVICE_NAME_MAX - STACK_NAME_MAX - 1
MAX_SERVICES = 100
STACK_OWNED = ("running", "redeploy", "stack")  # a member's attributes the stack sets

StackName = Annotated[str, StringConstraints(pattern=SERVICE_NAME, max_length=STACK_NAME_MAX)]
MemberName = Annotated[str, StringConstraints(pattern=SERVICE_NAME, max_length=MEMBER_NAME_MAX)]


# In a stack, a link or volumes_from names a service of the stack (`db`), of another stack
# (`db.other`), or a standalone service (`db`, when the stack has none of that name).
STACK_REFERENCE = rf"^{_LABEL}(\.{_LABEL})?$"
StackReference = Annotated[str, StringConstraints(pattern=STACK_REFERENCE, max_length=253)]


class StackLink(Link):
    to_service: StackReference = Field(
        description="The linked service: a service of this stack, <service>.<stack> for one of "
        "another stack, or the name of a service outside any stack."
    )


class StackBinding(Binding):
    volumes_from: StackReference | None = Field(
        None,
        description="The service whose volumes to mount, named as a link names it "
        "(required if container_path is omitted).",
    )


class StackState(StrEnum):
    """The documented stack states."""

    NOT_RUNNING = "Not Running"
    STARTING = "Starting"
    RUNNING = "Running"
    PARTLY_RUNNING = "Partly running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    REDEPLOYING = "Redeploying"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


class StackService(ServiceSpec):
    """One service of the stack: the documented service attributes and its name in the stack
    (a DNS-1035 label of at most MEMBER_NAME_MAX characters)."""

    model_config = ConfigDict(json_schema_extra=None)

    name: MemberName = Field(description="The service's name in the stack (the stackfile's key).")
    linked_to_service: list[StackLink] = Field(  # type: ignore[assignment]
        default_factory=list, description="The services this service is linked to."
    )
    bindings: list[StackBinding] = Field(  # type: ignore[assignment]
        default_factory=list,
        max_length=MAX_BINDINGS,
        description=f"The volume bindings the service mounts (at most {MAX_BINDINGS}).",
    )

    @model_validator(mode="after")
    def _stack_owned(self) -> StackService:
        set_here = sorted(self.model_fields_set & set(STACK_OWNED))
        if set_here:
            raise ValueError(f"{', '.join(set_here)}: set on the stack, not on one of its services")
        return self


class StackSpec(_Model):
    """The writable attributes of a Docker Cloud stack."""

    services: list[StackService] = Field(
        default_factory=list,
        max_length=MAX_SERVICES,
        description="The services of the stack, each with its name in the stack.",
    )
    nickname: Str | None = Field(None, description="A user-friendly name for the stack.")
    running: StrictBool = Field(
        True,
        description="Start (true) or stop (false) every service of the stack; a stack created "
        "with false is created without starting it (Not Running).",
    )
    redeploy: Redeploy | None = Field(
        None, description="Redeploys every service of the stack whenever its token changes."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> StackSpec:
        names = [service.name for service in self.services]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"services: {', '.join(twice)} named more than once")
        return self


class StackStatus(_Model):
    """The documented stack object, as the operator reports it."""

    uuid: Str | None = Field(None, description="A unique identifier for the stack.")
    resource_uri: Str | None = Field(None, description="A unique API endpoint for the stack.")
    name: Str | None = Field(None, description="The name of the stack.")
    nickname: Str | None = Field(None, description="A user-friendly name for the stack.")
    state: StackState | None = Field(None, description="The state of the stack.")
    synchronized: StrictBool | None = Field(
        None, description="Whether every service runs the stack's current definition."
    )
    services: list[Str] = Field(
        default_factory=list, description="Resource URIs of the stack's services."
    )
    deployed_datetime: Str | None = Field(None, description="The last deploy of the stack.")
    destroyed_datetime: Str | None = Field(None, description="The terminate operation.")
    observedGeneration: int | None = Field(
        None, description="The spec generation this status describes."
    )
    observedRedeployToken: Str | None = Field(
        None, description="The redeploy token every service of the stack has run."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Kubernetes conditions: Ready, ServicesValid.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
