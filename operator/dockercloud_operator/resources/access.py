"""`roles: [global]`: a ServiceAccount with a token, allowed to use the Service API of its
namespace (Docker Cloud's API role, scoped to what a Kubernetes namespace holds)."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.resources.meta import child_metadata
from dockercloud_operator.schema import constants, names
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    Role,
)

Object = dict[str, Any]
API_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def api_access(service: Service) -> list[Object]:
    if Role.global_ not in service.spec.roles:
        return []
    account = names.service_account(service.name)
    role = names.api_role(service.name)
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": child_metadata(service, account),
            "automountServiceAccountToken": True,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": child_metadata(service, role),
            "rules": [
                {
                    "apiGroups": [constants.GROUP],
                    "resources": [constants.PLURAL, f"{constants.PLURAL}/scale"],
                    "verbs": API_VERBS,
                },
                {
                    "apiGroups": [constants.GROUP],
                    "resources": [f"{constants.PLURAL}/status"],
                    "verbs": ["get"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": child_metadata(service, role),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": role,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": account, "namespace": service.namespace}
            ],
        },
    ]
