"""The Kubernetes API calls the operator makes, on the official client: server-side apply,
delete, list and status patches of the few kinds it manages."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller import metrics
from dockercloud_operator.resources.events import event
from dockercloud_operator.schema import constants, encoding

Object = dict[str, Any]

# (apiVersion, kind) -> plural, for every kind the operator reads or writes.
PLURALS = {
    ("apps/v1", "Deployment"): "deployments",
    ("apps/v1", "StatefulSet"): "statefulsets",
    ("apps/v1", "DaemonSet"): "daemonsets",
    ("v1", "Service"): "services",
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "Pod"): "pods",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("rbac.authorization.k8s.io/v1", "Role"): "roles",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rolebindings",
    (f"{constants.GROUP}/{constants.VERSION}", constants.KIND): constants.PLURAL,
    (f"{constants.GROUP}/{constants.VERSION}", "Stack"): "stacks",
}
SERVICE_API = (f"{constants.GROUP}/{constants.VERSION}", constants.KIND)
# The kinds the operator creates for a service (pods and claims are made by its workload).
CHILD_KINDS = [
    key
    for key in PLURALS
    if key[0] != SERVICE_API[0] and key[1] not in ("Pod", "PersistentVolumeClaim")
]


def path(api_version: str, kind: str, namespace: str | None = None, name: str | None = None) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    parts = [prefix]
    if namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(PLURALS[(api_version, kind)])
    if name:
        parts.append(name)
    return "/".join(parts)


JSON = "application/json"
CREDENTIALS_TTL = 10.0  # seconds the client's credentials are used before they are read again
API_THREADS = 32  # concurrent API calls: the handlers' thread pool and the connection pool


def new_api_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the current kubeconfig."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = API_THREADS
    return client.ApiClient(configuration)


class NamespaceTerminating(Exception):
    """The namespace is being deleted: nothing new can be created in it, and need not be."""


def _terminating(error: ApiException) -> bool:
    if error.status != 403 or not error.body:
        return False
    try:
        causes = json.loads(error.body).get("details", {}).get("causes", [])
    except ValueError:
        return False
    return any(cause.get("reason") == "NamespaceTerminating" for cause in causes)


def error_kind(error: ApiException) -> str | None:
    """The resource (plural) an API error is about, as the server's Status names it."""
    try:
        return str(json.loads(error.body or "{}").get("details", {}).get("kind")) or None
    except (ValueError, AttributeError):
        return None


class Kube:
    """Thin, synchronous calls (the handlers run them in threads)."""

    def __init__(self, api: client.ApiClient, field_manager: str = constants.FIELD_MANAGER):
        self.api = api
        self.field_manager = field_manager
        # Every write names its field manager (else managedFields say the client's user agent).
        self._manager = [("fieldManager", field_manager)]
        host = urllib.parse.urlsplit(api.configuration.host)
        self._prefix = host.path.rstrip("/")  # an API server behind a path (a proxy's)
        self._pool = api.rest_client.pool_manager.connection_from_url(api.configuration.host)
        self._headers: dict[str, str] = {}
        self._credentials_until = 0.0  # time.monotonic() until which `_headers` hold

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Object | bytes | None = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One call, straight on the client's connection pool: the client's own path (its
        parameter serialisation, a walk of every body, stdlib JSON, a pool lookup by URL)
        cost 60-100 µs of CPU a request more (measured sequentially against the test bed)."""
        headers = {**self._credentials(), "Content-Type": content_type, "Accept": JSON}
        target = self._prefix + url
        if query:
            target += "?" + urllib.parse.urlencode(query)
        data = body if body is None or isinstance(body, bytes) else encoding.dumps(body)
        response = self._pool.urlopen(
            method, target, body=data, headers=headers, redirect=False, preload_content=True
        )
        metrics.api_request(method, url, response.status)
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        return encoding.loads(response.data) if response.data else None

    def _credentials(self) -> dict[str, str]:
        """The client's headers and credentials, as it would send them, read again every
        CREDENTIALS_TTL seconds: reading them runs the client's refresh hook (a kubeconfig's
        token, in-cluster, exec plugins), which re-applies its whole configuration each time
        (2.3 % of the operator's CPU when it ran for every request). Tokens are rotated long
        before they expire, so one read some seconds ago is still good."""
        now = time.monotonic()
        if now >= self._credentials_until:
            headers = dict(self.api.default_headers)
            for auth in self.api.configuration.auth_settings().values():
                if auth["in"] == "header" and auth["value"]:
                    headers[auth["key"]] = auth["value"]
            self._headers, self._credentials_until = headers, now + CREDENTIALS_TTL
        return self._headers

    def offers_container_restart_rules(self, namespace: str) -> tuple[bool, str]:
        """Whether a container may have its own restartPolicy (Kubernetes' ContainerRestartRules),
        and why not: a server-side dry run of a Deployment whose container says Never, which
        the API server refuses (the gate is off) or drops (it does not know the field)."""
        probe = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "dockercloud-operator-probe", "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": {"probe": "restart-rules"}},
                "template": {
                    "metadata": {"labels": {"probe": "restart-rules"}},
                    "spec": {"containers": [
                        {"name": "probe", "image": "probe", "restartPolicy": "Never"}
                    ]},
                },
            },
        }  # fmt: skip
        url = path("apps/v1", "Deployment", namespace)
        try:
            created = self.request("POST", url, body=probe, query=[("dryRun", "All")])
        except ApiException as error:
            return False, f"the API server refused a container's restartPolicy ({error.reason})"
        [container] = created["spec"]["template"]["spec"]["containers"]
        if container.get("restartPolicy") != "Never":
            return False, "the API server does not keep a container's restartPolicy"
        return True, "a container may have its own restartPolicy"

    def apply(self, obj: Object, text: bytes | None = None) -> Object:
        """Server-side apply under the operator's field manager; returns the stored object.
        `text`, when given, is the whole object as JSON, and `obj` need only name it."""
        metadata = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], metadata.get("namespace"), metadata["name"])
        query = [*self._manager, ("force", "true")]
        # Sent as UTF-8 JSON: JSON is YAML, and a character outside the Basic Multilingual
        # Plane (an emoji) escaped as a surrogate pair would be refused by the API server's
        # YAML decoder.
        body = encoding.dumps(obj) if text is None else text
        try:
            applied: Object = self.request(
                "PATCH", url, body=body, query=query, content_type="application/apply-patch+yaml"
            )
        except ApiException as error:
            if _terminating(error):
                raise NamespaceTerminating(metadata.get("namespace")) from None
            raise
        return applied

    def delete(self, obj: Object) -> None:
        """Deletes an object (the very one: by uid), ignoring one already gone."""
        metadata = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], metadata.get("namespace"), metadata["name"])
        body: Object = {"propagationPolicy": "Background"}
        if metadata.get("uid"):
            body["preconditions"] = {"uid": metadata["uid"]}
        try:
            self.request("DELETE", url, body=body)
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str = ""
    ) -> list[Object]:
        query = [("labelSelector", selector)] if selector else []
        listed = self.request("GET", path(api_version, kind, namespace), query=query)
        items: list[Object] = listed["items"]
        for item in items:  # a list's items carry no type of their own
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def patch_status(self, service: Object, status: Object) -> Object:
        """Writes a service's status; fields the new status lacks are removed."""
        metadata = service["metadata"]
        previous = service.get("status") or {}
        body = {"status": {**{key: None for key in previous if key not in status}, **status}}
        api = (service.get("apiVersion") or SERVICE_API[0], service.get("kind") or SERVICE_API[1])
        url = path(*api, metadata["namespace"], metadata["name"]) + "/status"
        patched: Object = self.request(
            "PATCH",
            url,
            body=body,
            query=self._manager,
            content_type="application/merge-patch+json",
        )
        return patched

    def set_finalizers(self, service: Object, finalizers: list[str]) -> Object:
        """Replaces a service's finalizers, if nobody changed the service since it was read."""
        metadata = service["metadata"]
        body = {
            "metadata": {"finalizers": finalizers, "resourceVersion": metadata["resourceVersion"]}
        }
        api = (service.get("apiVersion") or SERVICE_API[0], service.get("kind") or SERVICE_API[1])
        url = path(*api, metadata["namespace"], metadata["name"])
        patched: Object = self.request(
            "PATCH",
            url,
            body=body,
            query=self._manager,
            content_type="application/merge-patch+json",
        )
        return patched

    def post_event(self, about: Object, reason: str, message: str, kind: str = "Normal") -> None:
        """Records an Event about an object, as `kubectl describe` shows them."""
        body = event(about, reason, message, kind, self.field_manager)
        namespace = about["metadata"]["namespace"]
        self.request("POST", f"/api/v1/namespaces/{namespace}/events", body=body)
