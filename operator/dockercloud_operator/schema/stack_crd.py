"""The Stack CustomResourceDefinition, generated from the models in `stack.py`.

A stack's services carry the Service resource's schema (types, enums, patterns, lengths), but
not its CEL rules: repeated for each of up to MAX_SERVICES services, they exceed the API
server's cost budget. The operator validates each service with the Service model before it
makes anything (the stack's ServicesValid condition names what is wrong), and the API server
checks every rule again when the operator creates the service's Service resource.
"""

from __future__ import annotations

from typing import Any

import yaml

from dockercloud_operator.schema import constants
from dockercloud_operator.schema.crd import HEADER, _without_defaults, definition, schema_of
from dockercloud_operator.schema.fields import (
    SERVICE_NAME,
    cel,
)
from dockercloud_operator.schema.stack import (
    STACK_NAME_MAX,
    STACK_OWNED,
    StackService,
    StackSpec,
    StackStatus,
)

KIND = "Stack"
PLURAL = "stacks"
SINGULAR = "stack"
SHORT_NAME = "dcstack"
CRD_NAME = f"{PLURAL}.{constants.GROUP}"

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Synchronized", "type": "boolean", "jsonPath": ".status.synchronized"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Nickname", "type": "string", "jsonPath": ".spec.nickname", "priority": 1},
]

ROOT_RULES = [
    cel(
        f"self.metadata.name.matches(r'{SERVICE_NAME}') && "
        f"size(self.metadata.name) <= {STACK_NAME_MAX}",
        f"metadata.name must be a DNS-1035 label of at most {STACK_NAME_MAX} characters "
        "(lowercase letters, digits and '-', starting with a letter): with '-' and a "
        "service's name it names the service",
        fieldPath=".metadata.name",
    ),
]


def member_schema() -> dict[str, Any]:
    member = schema_of(StackService, rules=False)
    for owned in STACK_OWNED:
        member["properties"].pop(owned)
    member["description"] = "A service of the stack: the documented service attributes."
    return member


def openapi_schema() -> dict[str, Any]:
    spec = schema_of(StackSpec, rules=False)
    spec["properties"]["services"]["items"] = member_schema()
    spec["properties"]["services"]["x-kubernetes-list-type"] = "map"
    spec["properties"]["services"]["x-kubernetes-list-map-keys"] = ["name"]
    spec["description"] = "The writable attributes of the Docker Cloud stack (its spec)."
    status = _without_defaults(schema_of(StackStatus))
    status["description"] = "The read-only attributes of the Docker Cloud stack."
    return {
        "type": "object",
        "description": "A Docker Cloud stack: services defined, started and stopped as one.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": ROOT_RULES,
    }


def custom_resource_definition() -> dict[str, Any]:
    return definition(
        KIND, PLURAL, SINGULAR, SHORT_NAME, openapi_schema(), {"status": {}}, PRINTER_COLUMNS,
        [".status.state"],
    )  # fmt: skip


def render_yaml() -> str:
    """The CRD as the YAML checked in at crds/stack.yaml."""
    header = HEADER.replace("model.py", "stack.py")
    return header + yaml.safe_dump(
        custom_resource_definition(), sort_keys=False, width=100, allow_unicode=True
    )
