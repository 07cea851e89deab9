"""Every name and label of a service's children, computed in one place."""

from __future__ import annotations

import re

from dockercloud_operator.schema import constants

OPERATOR = "dockercloud-operator"
# The namespace whose services have the documented, un-namespaced resource URIs.
DEFAULT_NAMESPACE = "default"
_RESOURCE_URI = re.compile(
    r"^/api/app/v1/(?:(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/)?service/(?P<uid>[0-9a-f-]{36})/$"
)


def resource_uri(uid: str, namespace: str) -> str:
    """The documented resource URI of a service (its uuid is the object's metadata.uid):
    `/api/app/v1/service/<uuid>/` in the default namespace, and elsewhere
    `/api/app/v1/<namespace>/service/<uuid>/`, the path the documented clients use in a
    namespace, so that the URI alone says where to fetch the service back."""
    if namespace == DEFAULT_NAMESPACE:
        return f"/api/app/v1/service/{uid}/"
    return f"/api/app/v1/{namespace}/service/{uid}/"


def parse_resource_uri(uri: str) -> tuple[str, str] | None:
    """(namespace, uuid) of a service resource URI, or None if `uri` is not one."""
    match = _RESOURCE_URI.match(uri)
    if not match:
        return None
    return match["namespace"] or DEFAULT_NAMESPACE, match["uid"]


def workload(service: str) -> str:
    """The Deployment, StatefulSet or DaemonSet, and the containers' name."""
    return service


def cluster_service(service: str) -> str:
    """The ClusterIP Service that links and in-cluster clients reach (`<name>.<ns>.svc`)."""
    return service


def headless_service(service: str) -> str:
    """The headless Service that gives each container of a StatefulSet its own DNS name."""
    return f"{service}-containers"


def published_service(service: str) -> str:
    """The NodePort Service of published ports without an outer_port."""
    return f"{service}-published"


def service_account(service: str) -> str:
    return service


def api_role(service: str) -> str:
    """The Role (and RoleBinding) behind `roles: [global]`."""
    return f"{service}-dockercloud-api"


def container_volume(index: int) -> str:
    """The volume (and StatefulSet claim template) of the index-th binding."""
    return f"binding-{index}"


def selector_labels(service: str) -> dict[str, str]:
    """The labels that select a service's containers; they never change for a service."""
    return {constants.LABEL_SERVICE: service}


def labels(service: str) -> dict[str, str]:
    """The labels of every child and container of a service."""
    return {
        constants.LABEL_NAME: service,
        constants.LABEL_MANAGED_BY: OPERATOR,
        **selector_labels(service),
    }


def selector(service: str) -> str:
    """The label selector string (for the scale subresource and `kubectl -l`)."""
    return ",".join(f"{key}={value}" for key, value in selector_labels(service).items())


def link_alias(name: str) -> str:
    """The prefix of a link's environment variables, as Docker spells it (`my-db` -> `MY_DB`)."""
    return "".join(c if c.isalnum() else "_" for c in name).upper()
