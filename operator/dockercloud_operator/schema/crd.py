"""The Service CustomResourceDefinition, generated from the pydantic models in `model.py`.

pydantic emits JSON Schema; Kubernetes wants a *structural* OpenAPI v3 schema: every node typed,
no `$ref`, no `anyOf` with null, no titles. `structural()` does that translation, and the
`x-kubernetes-*` extensions the models carry pass through unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import BaseModel

from dockercloud_operator.schema import constants
from dockercloud_operator.schema.fields import (
    SAYS,
    SERVICE_NAME,
    SERVICE_NAME_MAX,
    cel,
)
from dockercloud_operator.schema.model import (
    ServiceSpec,
    ServiceStatus,
)

CRD_NAME = f"{constants.PLURAL}.{constants.GROUP}"
HEADER = (
    "# Generated from operator/dockercloud_operator/schema/model.py by `make crds`. Do not edit.\n"
)

# JSON Schema keywords a structural schema keeps as they are.
_KEPT = {
    "type", "description", "default", "enum", "format", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "minItems", "maxItems", "maxProperties", "required",
}  # fmt: skip

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Running", "type": "string", "jsonPath": ".status.running_of_target"},
    {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
    {"name": "Strategy", "type": "string", "jsonPath": ".spec.deployment_strategy"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Synchronized", "type": "boolean", "jsonPath": ".status.synchronized", "priority": 1},
    {"name": "Public-DNS", "type": "string", "jsonPath": ".status.public_dns", "priority": 1},
]

# The documented list filters the API server can serve (`kubectl get dcs --field-selector`):
# state, the stack and the uuid (how the REST API finds a service by uuid in one request); name
# is metadata.name, always selectable.
SELECTABLE_FIELDS = [
    ".status.state",
    ".spec.stack",
    ".spec.deployment_strategy",
    ".spec.image",
    ".status.uuid",
]

ROOT_RULES = [
    cel(
        f"self.metadata.name.matches(r'{SERVICE_NAME}') && "
        f"size(self.metadata.name) <= {SERVICE_NAME_MAX}",
        f"metadata.name must be a DNS-1035 label of at most {SERVICE_NAME_MAX} characters "
        "(lowercase letters, digits and '-', starting with a letter): it names the "
        "service's containers, Kubernetes Services and DNS names",
        fieldPath=".metadata.name",
    ),
    cel(
        "!has(self.spec.name) || self.spec.name == self.metadata.name",
        "spec.name, when given, must equal metadata.name (the service's name)",
        fieldPath=".spec.name",
    ),
]


def _resolve(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Inlines a `$ref` and unwraps `anyOf: [X, null]`, keeping the outer node's keywords."""
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        outer = {key: value for key, value in node.items() if key != "$ref"}
        return _resolve({**target, **outer}, definitions)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"a structural schema cannot say anyOf {node['anyOf']}")
        outer = {key: value for key, value in node.items() if key != "anyOf"}
        if outer.get("default", ...) is None:
            del outer["default"]  # null means "not set": the field is simply omitted
        return _resolve({**options[0], **outer}, definitions)
    return node


def _pattern_as_rule(node: dict[str, Any], says: str) -> dict[str, Any]:
    """Moves `pattern` into a CEL rule, so a mismatch is reported in words."""
    pattern = node.pop("pattern")
    if "'" in pattern:
        raise ValueError(f"pattern {pattern!r} cannot be a raw CEL string")
    rule = cel(f"self.matches(r'{pattern}')", says)
    # The grammar first: the value's own rules (a range, a length) read as its refinements.
    node["x-kubernetes-validations"] = [rule, *node.get("x-kubernetes-validations", [])]
    return node


def structural(
    node: dict[str, Any], definitions: dict[str, Any], rules: bool = True
) -> dict[str, Any]:
    """A pydantic JSON Schema node as a Kubernetes structural schema node. Without `rules`, no
    CEL: patterns stay OpenAPI patterns (for a schema repeated in a list, where the server's
    CEL cost estimate multiplies by the list's length)."""
    node = _resolve(node, definitions)
    result = {key: copy.deepcopy(value) for key, value in node.items() if key in _KEPT}
    result.update({k: copy.deepcopy(v) for k, v in node.items() if k.startswith("x-kubernetes-")})
    if not rules:
        result.pop("x-kubernetes-validations", None)
    if "properties" in node:
        result["type"] = "object"
        result["properties"] = {
            name: structural(child, definitions, rules)
            for name, child in node["properties"].items()
        }
    if "items" in node:
        result["items"] = structural(node["items"], definitions, rules)
    values = node.get("additionalProperties")
    if "patternProperties" in node:  # keys with a pattern: the rule on the map checks them
        (values,) = node["patternProperties"].values()
    if isinstance(values, dict):
        result["additionalProperties"] = structural(values, definitions, rules)
    if SAYS in node and "pattern" in result and rules:
        result = _pattern_as_rule(result, node[SAYS])
    if "enum" in node and "type" not in result:
        result["type"] = "string"
    if "type" not in result:
        raise ValueError(f"a structural schema needs a type: {node}")
    return result


# Keys in the order a reader looks for them; the rest follow alphabetically.
_ORDER = ["type", "description", "required", "default", "enum", "format", "pattern"]


def _ordered(node: Any) -> Any:
    if isinstance(node, list):
        return [_ordered(item) for item in node]
    if not isinstance(node, dict):
        return node
    keys = sorted(node, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), k))
    if "properties" in node:  # property order is the models' field order
        keys.remove("properties")
        keys.append("properties")
    return {key: node[key] if key == "properties" else _ordered(node[key]) for key in keys} | (
        {"properties": {k: _ordered(v) for k, v in node["properties"].items()}}
        if "properties" in node
        else {}
    )


def schema_of(model: type[BaseModel], rules: bool = True) -> dict[str, Any]:
    raw = model.model_json_schema(mode="validation")
    return dict(_ordered(structural(raw, raw.get("$defs", {}), rules)))


def _without_defaults(node: Any) -> Any:
    """Status is written by the operator alone: no server-side defaults there."""
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_defaults(item) for item in node]
    return node


def openapi_schema() -> dict[str, Any]:
    spec = schema_of(ServiceSpec)
    spec["description"] = "The writable attributes of the Docker Cloud service (its spec)."
    status = _without_defaults(schema_of(ServiceStatus))
    status["description"] = "The read-only attributes of the Docker Cloud service."
    return {
        "type": "object",
        "description": "A Docker Cloud service: a template used to deploy one or more containers.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 63}},
            },
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": ROOT_RULES,
    }


def definition(
    kind: str, plural: str, singular: str, short_name: str, schema: dict[str, Any],
    subresources: dict[str, Any], printer_columns: list[dict[str, Any]],
    selectable_fields: list[str],
) -> dict[str, Any]:  # fmt: skip
    """A CustomResourceDefinition of the API group, one served and stored version."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{constants.GROUP}",
            "labels": {constants.LABEL_NAME: "dockercloud-operator"},
        },
        "spec": {
            "group": constants.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": [short_name],
                "categories": [constants.CATEGORY],
            },
            "versions": [
                {
                    "name": constants.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": subresources,
                    "additionalPrinterColumns": printer_columns,
                    "selectableFields": [{"jsonPath": path} for path in selectable_fields],
                }
            ],
        },
    }


def custom_resource_definition() -> dict[str, Any]:
    """The Service CRD as a Kubernetes object."""
    scale = {
        "specReplicasPath": ".spec.target_num_containers",
        "statusReplicasPath": ".status.running_num_containers",
        "labelSelectorPath": ".status.selector",
    }
    return definition(
        constants.KIND, constants.PLURAL, constants.SINGULAR, constants.SHORT_NAME,
        openapi_schema(), {"status": {}, "scale": scale}, PRINTER_COLUMNS, SELECTABLE_FIELDS,
    )  # fmt: skip


def render_yaml() -> str:
    """The CRD as the YAML checked in at crds/service.yaml."""
    return HEADER + yaml.safe_dump(
        custom_resource_definition(), sort_keys=False, width=100, allow_unicode=True
    )


if __name__ == "__main__":
    print(render_yaml(), end="")
