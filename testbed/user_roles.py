"""The user roles of manifests/user-roles.yaml on a cluster, and a token bound to one of them:
what a caller of the REST API brings (the benchmark, the fault suite and the tests share it)."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

ROLES = Path(__file__).resolve().parents[1] / "manifests" / "user-roles.yaml"
EDITOR = "dockercloud-service-editor"


def install(api: client.ApiClient) -> None:
    """Creates the ClusterRoles, or brings those already there up to date."""
    rbac = client.RbacAuthorizationV1Api(api)
    for role in yaml.safe_load_all(ROLES.read_text()):
        try:
            rbac.create_cluster_role(role)
        except ApiException as error:
            if error.status != 409:
                raise
            rbac.replace_cluster_role(role["metadata"]["name"], role)


def token(
    api: client.ApiClient, namespace: str, account: str, role: str = EDITOR, seconds: int = 3600
) -> str:
    """A new ServiceAccount of `namespace`, bound there to the ClusterRole `role`; its token."""
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=account))
    )
    client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=account),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role
            ),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=account,
                                           namespace=namespace)],
        ),
    )  # fmt: skip
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
    )
    status = core.create_namespaced_service_account_token(account, namespace, request).status
    if status is None or not status.token:
        raise RuntimeError(f"no token was issued for {namespace}/{account}")
    return str(status.token)
