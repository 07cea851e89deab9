"""A Stack's Service resources (pure): one a service of the stack, named `<stack>-<service>`,
owned by the stack, with the stack's `running` and redeploy token, its links and volumes_from
resolved to Service names.

A link or volumes_from names a service of the stack (`db` -> `<stack>-db`), of another stack
(`db.other` -> `other-db`), or, when the stack has no service of that name, a service outside any
stack (`db` -> `db`). A link keeps the name it had in the stack as its alias (`DB_PORT`, not
`MYSTACK_DB_PORT`), and each service's nickname is its name in the stack.
"""

from __future__ import annotations

from typing import Any

from dockercloud_operator.schema import constants
from dockercloud_operator.schema.stack import STACK_OWNED, StackService, StackSpec

Object = dict[str, Any]

STACK_LABEL = constants.STACK_LABEL
STACK_API = (f"{constants.GROUP}/{constants.VERSION}", "Stack")


def member_name(stack: str, service: str) -> str:
    return f"{stack}-{service}"


def stack_uri(uid: str, namespace: str) -> str:
    """The documented resource URI of a stack, namespaced as a service's is."""
    if namespace == "default":
        return f"/api/app/v1/stack/{uid}/"
    return f"/api/app/v1/{namespace}/stack/{uid}/"


def _target(reference: str, stack: str, members: set[str]) -> tuple[str, str]:
    """(the Service resource's name, the name the stack gave it)."""
    service, _, other = reference.partition(".")
    if other:
        return member_name(other, service), service
    if service in members:
        return member_name(stack, service), service
    return service, service


def service_spec(member: StackService, stack: str, members: set[str], spec: StackSpec,
                 uri: str) -> Object:  # fmt: skip
    """The Service resource's spec of one service of the stack."""
    body = member.model_dump(exclude_none=True, exclude_defaults=True, exclude={"name"})
    for owned in STACK_OWNED:
        body.pop(owned, None)
    body["image"] = member.image
    body["nickname"] = member.nickname or member.name
    links = []
    for link in member.linked_to_service:
        target, alias = _target(link.to_service, stack, members)
        links.append({"to_service": target, "name": link.name or alias})
    if links:
        body["linked_to_service"] = links
    bindings = []
    for binding in member.bindings:
        entry = binding.model_dump(exclude_none=True, exclude_defaults=True)
        if binding.volumes_from:
            entry["volumes_from"] = _target(binding.volumes_from, stack, members)[0]
        bindings.append(entry)
    if bindings:
        body["bindings"] = bindings
    body["stack"] = uri
    body["running"] = spec.running
    if spec.redeploy is not None:
        body["redeploy"] = spec.redeploy.model_dump()
    return body


def member_services(stack: Object, spec: StackSpec) -> list[Object]:
    """The Service resources the stack wants, each owned by it."""
    meta = stack["metadata"]
    name, namespace = meta["name"], meta.get("namespace", "default")
    uri = stack_uri(meta.get("uid", ""), namespace)
    members = {member.name for member in spec.services}
    owner = {
        "apiVersion": STACK_API[0], "kind": STACK_API[1], "name": name,
        "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip
    return [
        {
            "apiVersion": STACK_API[0],
            "kind": constants.KIND,
            "metadata": {
                "name": member_name(name, member.name),
                "namespace": namespace,
                "labels": {STACK_LABEL: name},
                "ownerReferences": [owner],
            },
            "spec": service_spec(member, name, members, spec, uri),
        }
        for member in spec.services
    ]
