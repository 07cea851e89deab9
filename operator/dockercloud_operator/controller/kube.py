"""The Kubernetes API calls the operator makes, on the official client: server-side apply,
delete, list and status patches of the few kinds it manages."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import should_bypass_proxies

from dockercloud_operator.controller import metrics
from dockercloud_operator.resources.events import event
from dockercloud_operator.schema import constants, encoding

Object = dict[str, Any]

# (apiVersion, kind) -> plural, for every kind the operator reads or writes.
PLURALS = {
    ("apps/v1", "Deployment"): "deployments",
    ("apps/v1", "StatefulSet"): "statefulsets",
    ("apps/v1", "DaemonSet"): "daemonsets",
    ("apps/v1", "ReplicaSet"): "replicasets",  # a Deployment's, read when its roll-out stalls
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
# The kinds the operator creates for a service (the others are made by its workload).
CHILD_KINDS = [
    key
    for key in PLURALS
    if key[0] != SERVICE_API[0] and key[1] not in ("Pod", "PersistentVolumeClaim", "ReplicaSet")
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
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = 300.0  # seconds a reconcile's request may take, answer included
CONNECT_TIMEOUT = 10.0
CREDENTIALS_TTL = 10.0  # seconds the client's credentials are used before they are read again
# Concurrent API calls: the reconciles' connections (AsyncKube), and the threads and connection
# pool of the other calls (leader election, the start-up probe).
API_THREADS = 32


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


def error_message(error: ApiException) -> str:
    """The API server's own words (its Status message), else the HTTP reason."""
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


@dataclass(frozen=True)
class Call:
    """One request of the operator's, built once (`Calls`) and sent by either transport:
    `Kube` (synchronous: tools, tests, leader election) or `AsyncKube` (the reconciles)."""

    method: str
    url: str  # the path, from /api or /apis
    body: bytes | None = None
    query: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON
    tolerated: frozenset[int] = frozenset()  # answers that are no error (a delete's 404)
    # A 403 that says this namespace is being deleted is NamespaceTerminating, not an error.
    terminating: str | None = None

    @property
    def target(self) -> str:
        return f"{self.url}?{urllib.parse.urlencode(self.query)}" if self.query else self.url


def answer(call: Call, status: int, data: bytes, error: Callable[[], ApiException]) -> Any:
    """What a call's answer means: its decoded body, None, or the error `error` builds."""
    if 200 <= status <= 299:
        return encoding.loads(data) if data else None
    if status in call.tolerated:
        return None
    failure = error()
    if call.terminating is not None and _terminating(failure):
        raise NamespaceTerminating(call.terminating) from None
    raise failure


def typed_items(listed: Object, api_version: str, kind: str) -> list[Object]:
    items: list[Object] = listed["items"]
    for item in items:  # a list's items carry no type of their own
        item.setdefault("apiVersion", api_version)
        item.setdefault("kind", kind)
    return items


class Calls:
    """The operator's API calls, built: server-side apply, delete, list, status and finalizer
    patches, Events. Every write names the field manager (else managedFields say the client's
    user agent)."""

    def __init__(self, field_manager: str = constants.FIELD_MANAGER) -> None:
        self.field_manager = field_manager
        self.manager = (("fieldManager", field_manager),)

    def apply(self, obj: Object, text: bytes | None = None) -> Call:
        """Server-side apply, forced; `text`, when given, is the whole object as JSON, and
        `obj` need only name it."""
        metadata = obj["metadata"]
        namespace = metadata.get("namespace")
        # Sent as UTF-8 JSON: JSON is YAML, and a character outside the Basic Multilingual
        # Plane (an emoji) escaped as a surrogate pair would be refused by the API server's
        # YAML decoder.
        return Call(
            "PATCH",
            path(obj["apiVersion"], obj["kind"], namespace, metadata["name"]),
            encoding.dumps(obj) if text is None else text,
            (*self.manager, ("force", "true")),
            "application/apply-patch+yaml",
            terminating=namespace or "",
        )

    def delete(self, obj: Object) -> Call:
        """Deletes an object (the very one: by uid); one already gone is no error."""
        metadata = obj["metadata"]
        body: Object = {"propagationPolicy": "Background"}
        if metadata.get("uid"):
            body["preconditions"] = {"uid": metadata["uid"]}
        url = path(obj["apiVersion"], obj["kind"], metadata.get("namespace"), metadata["name"])
        return Call("DELETE", url, encoding.dumps(body), tolerated=frozenset({404, 409}))

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str = ""
    ) -> Call:
        query = (("labelSelector", selector),) if selector else ()
        return Call("GET", path(api_version, kind, namespace), query=query)

    def patch_status(self, service: Object, status: Object) -> Call:
        """A service's status; fields the new status lacks are removed."""
        previous = service.get("status") or {}
        body = {"status": {**{key: None for key in previous if key not in status}, **status}}
        return self.merge_patch(service, body, "/status")

    def set_finalizers(self, service: Object, finalizers: list[str]) -> Call:
        """A service's finalizers, if nobody changed the service since it was read."""
        version = service["metadata"]["resourceVersion"]
        return self.merge_patch(
            service, {"metadata": {"finalizers": finalizers, "resourceVersion": version}}
        )

    def merge_patch(
        self,
        obj: Object,
        body: Object,
        subresource: str = "",
        tolerated: frozenset[int] = frozenset(),
    ) -> Call:
        """A merge patch of an object (a service unless it names its own kind)."""
        metadata = obj["metadata"]
        api = (obj.get("apiVersion") or SERVICE_API[0], obj.get("kind") or SERVICE_API[1])
        url = path(*api, metadata["namespace"], metadata["name"]) + subresource
        return Call(
            "PATCH", url, encoding.dumps(body), self.manager, MERGE_PATCH, tolerated=tolerated
        )

    def post_event(self, about: Object, reason: str, message: str, kind: str = "Normal") -> Call:
        """An Event about an object, as `kubectl describe` shows them."""
        body = event(about, reason, message, kind, self.field_manager)
        url = f"/api/v1/namespaces/{about['metadata']['namespace']}/events"
        return Call("POST", url, encoding.dumps(body))


class Kube:
    """The operator's calls, synchronous, on the Kubernetes client's connection pool (tools,
    tests, leader election; the reconciles send theirs through `AsyncKube`)."""

    def __init__(self, api: client.ApiClient, field_manager: str = constants.FIELD_MANAGER):
        self.api = api
        self.field_manager = field_manager
        self.calls = Calls(field_manager)
        host = urllib.parse.urlsplit(api.configuration.host)
        self.prefix = host.path.rstrip("/")  # an API server behind a path (a proxy's)
        self._pool = api.rest_client.pool_manager.connection_from_url(api.configuration.host)
        self._headers: dict[str, str] = {}
        self._credentials_until = 0.0  # time.monotonic() until which `_headers` hold

    def run(self, call: Call) -> Any:
        """One call, straight on the client's connection pool: the client's own path (its
        parameter serialisation, a walk of every body, stdlib JSON, a pool lookup by URL)
        cost 60-100 µs of CPU a request more (measured sequentially against the test bed)."""
        headers = {**self.credentials(), "Content-Type": call.content_type, "Accept": JSON}
        response = self._pool.urlopen(
            call.method,
            self.prefix + call.target,
            body=call.body,
            headers=headers,
            redirect=False,
            preload_content=True,
        )
        metrics.api_request(call.method, call.url, response.status)
        return answer(
            call, response.status, response.data, lambda: ApiException(http_resp=response)
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Object | bytes | None = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = JSON,
    ) -> Any:
        data = body if body is None or isinstance(body, bytes) else encoding.dumps(body)
        return self.run(Call(method, url, data, tuple(query or ()), content_type))

    def credentials(self) -> dict[str, str]:
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
        """Server-side apply under the operator's field manager; returns the stored object."""
        applied: Object = self.run(self.calls.apply(obj, text))
        return applied

    def delete(self, obj: Object) -> None:
        self.run(self.calls.delete(obj))

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str = ""
    ) -> list[Object]:
        listed = self.run(self.calls.list_objects(api_version, kind, namespace, selector))
        return typed_items(listed, api_version, kind)

    def patch_status(self, service: Object, status: Object) -> Object:
        patched: Object = self.run(self.calls.patch_status(service, status))
        return patched

    def set_finalizers(self, service: Object, finalizers: list[str]) -> Object:
        patched: Object = self.run(self.calls.set_finalizers(service, finalizers))
        return patched

    def post_event(self, about: Object, reason: str, message: str, kind: str = "Normal") -> None:
        self.run(self.calls.post_event(about, reason, message, kind))


class AsyncKube:
    """The same calls, sent by aiohttp on the event loop, with `kube`'s credentials. With 32
    requests in flight a request cost this process about 120 µs of CPU this way, against 300
    through a pool of threads on the Kubernetes client's connections (the threads' hand-offs
    and their contention for the GIL; `bench/request_cost.py`). A cluster reached through a
    proxy keeps the client's connections (it knows its proxies), in threads. Half as many
    connections as threads: asyncio gives each TLS connection a 256 KiB read buffer, and 16
    made 1,000 services as fast as 32 did."""

    def __init__(self, kube: Kube, connections: int = API_THREADS // 2) -> None:
        self.kube = kube
        self.calls = kube.calls
        self.connections = connections
        configuration = kube.api.configuration
        self._server = configuration.host.rstrip("/")
        self._server_hostname = configuration.tls_server_name or None
        self._proxied = bool(configuration.proxy) and not should_bypass_proxies(
            configuration.host, configuration.no_proxy or ""
        )
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=_ssl_context(self.kube.api.configuration), limit=self.connections
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
            skip_auto_headers=("User-Agent",),  # the client's own goes with the credentials
        )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, call: Call) -> Any:
        if self._proxied:
            return await asyncio.to_thread(self.kube.run, call)
        session = self._session or self._open()
        headers = {**self.kube.credentials(), "Content-Type": call.content_type, "Accept": JSON}
        url = yarl.URL(self._server + call.target, encoded=True)
        try:
            async with session.request(
                call.method, url, data=call.body, headers=headers,
                server_hostname=self._server_hostname,
            ) as response:  # fmt: skip
                data = await response.read()
        except aiohttp.ClientConnectionError as error:  # the server is away: no answer at all
            raise ConnectionError(
                f"{call.method} {call.url}: {error or type(error).__name__}"
            ) from error
        metrics.api_request(call.method, call.url, response.status)
        return answer(call, response.status, data, lambda: _api_exception(response, data))

    async def apply(self, obj: Object, text: bytes | None = None) -> Object:
        applied: Object = await self.run(self.calls.apply(obj, text))
        return applied

    async def delete(self, obj: Object) -> None:
        await self.run(self.calls.delete(obj))

    async def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str = ""
    ) -> list[Object]:
        listed = await self.run(self.calls.list_objects(api_version, kind, namespace, selector))
        return typed_items(listed, api_version, kind)

    async def patch_status(self, service: Object, status: Object) -> Object:
        patched: Object = await self.run(self.calls.patch_status(service, status))
        return patched

    async def set_finalizers(self, service: Object, finalizers: list[str]) -> Object:
        patched: Object = await self.run(self.calls.set_finalizers(service, finalizers))
        return patched

    async def post_event(
        self, about: Object, reason: str, message: str, kind: str = "Normal"
    ) -> None:
        await self.run(self.calls.post_event(about, reason, message, kind))


def _ssl_context(configuration: client.Configuration) -> ssl.SSLContext:
    """The TLS the Kubernetes client would use: its CA (a file or in-memory), its client
    certificate, and whether to verify at all."""
    context = ssl.create_default_context(
        cafile=configuration.ssl_ca_cert, cadata=configuration.ca_cert_data
    )
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


def _api_exception(response: aiohttp.ClientResponse, data: bytes) -> ApiException:
    """The Kubernetes client's error for an answer, as its own transport would raise it."""
    error = ApiException(status=response.status, reason=response.reason)
    error.body = data.decode("utf-8", errors="replace")
    error.headers = response.headers
    return error
