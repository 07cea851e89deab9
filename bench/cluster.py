"""The cluster side of the benchmark: identities whose API requests the API server counts apart,
its request metrics, applies from a thread pool, and watches that record when each object
became ready.

How requests are told apart: `apiserver_request_total` has no user or user-agent label, and
every test-bed component (kube-controller-manager, kube-scheduler, kwok) authenticates with the
admin certificate, so that metric cannot isolate the operator. API Priority and Fairness can:
the operator (or the baseline's client) gets a ServiceAccount of its own, bound to
cluster-admin, and a set of FlowSchemas matching only that ServiceAccount, one per request class
(verb, or status / events / metadata writes). `apiserver_flowcontrol_dispatched_requests_total`
counts requests by FlowSchema, so by class. The schemas use the `exempt` priority level, as the
admin certificate's requests do: the counting neither queues nor throttles anything.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.schema import constants

Object = dict[str, Any]
Say = Callable[[str], None]

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
READ_VERBS = ("get", "list", "watch")
# apiserver_request_total's verbs (server-side apply is APPLY there, not PATCH).
METRIC_WRITE_VERBS = ("POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION")
METRIC_READ_VERBS = ("GET", "LIST", "WATCH", "CONNECT")


@dataclass(frozen=True)
class RequestClass:
    """One FlowSchema: the first class (in this order) a request matches counts it."""

    name: str
    write: bool
    verbs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    non_resource: bool = False


REQUEST_CLASSES = (
    RequestClass("status-patch", True, ("patch", "update"), (constants.GROUP,),
                 ("services/status",)),
    RequestClass("service-patch", True, ("patch", "update"), (constants.GROUP,), ("services",)),
    RequestClass("event-create", True, ("create", "patch", "update"), ("", "events.k8s.io"),
                 ("events",)),
    *(RequestClass(verb, True, (verb,)) for verb in WRITE_VERBS),
    *(RequestClass(verb, False, (verb,)) for verb in READ_VERBS),
    RequestClass("other", False, ("*",)),
    RequestClass("non-resource", False, ("*",), non_resource=True),
)  # fmt: skip
# The FlowSchemas go before the built-in ones for service accounts (9000) and the catch-all.
PRECEDENCE = 500


# -- clients ------------------------------------------------------------------------------------


def api_client(kubeconfig: Path) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    return api


def create_namespace(api: client.ApiClient, name: str) -> str:
    Kube(api).request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    return name


@dataclass
class Identity:
    """A ServiceAccount with cluster-admin rights, a kubeconfig that logs in as it, and the
    FlowSchemas that count its requests by class."""

    name: str
    kubeconfig: Path
    schemas: dict[str, RequestClass]  # FlowSchema name -> class

    @classmethod
    def create(
        cls, api: client.ApiClient, admin_kubeconfig: Path, name: str, folder: Path, *,
        namespace: str = "bench-system", precedence: int = PRECEDENCE,
    ) -> Identity:  # fmt: skip
        kube = Kube(api)
        try:
            kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
        except ApiException as error:
            if error.status != 409:
                raise
        accounts = f"/api/v1/namespaces/{namespace}/serviceaccounts"
        kube.request("POST", accounts, body={"metadata": {"name": name}})
        binding = {
            "metadata": {"name": f"bench-{name}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        kube.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body=binding)
        token_request = {"spec": {"expirationSeconds": 24 * 3600}}
        token = kube.request("POST", f"{accounts}/{name}/token", body=token_request)
        subject = {
            "kind": "ServiceAccount",
            "serviceAccount": {"name": name, "namespace": namespace},
        }
        schemas = {}
        for offset, request_class in enumerate(REQUEST_CLASSES):
            schema = f"bench-{name}-{request_class.name}"
            rule: Object = {"subjects": [subject]}
            if request_class.non_resource:
                rule["nonResourceRules"] = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
            else:
                rule["resourceRules"] = [
                    {
                        "verbs": list(request_class.verbs),
                        "apiGroups": list(request_class.groups),
                        "resources": list(request_class.resources),
                        "clusterScope": True,
                        "namespaces": ["*"],
                    }
                ]
            flow_schema = {
                "metadata": {"name": schema},
                "spec": {
                    "priorityLevelConfiguration": {"name": "exempt"},
                    "matchingPrecedence": precedence + offset,
                    "rules": [rule],
                },
            }
            kube.request(
                "POST", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas", body=flow_schema
            )
            schemas[schema] = request_class
        kubeconfig = folder / f"{name}.kubeconfig"
        write_token_kubeconfig(admin_kubeconfig, kubeconfig, name, str(token["status"]["token"]))
        return cls(name, kubeconfig, schemas)

    def requests(self, delta: Counter[str]) -> dict[str, int]:
        """Its requests in a metrics delta, by class name."""
        return {
            request_class.name: int(delta.get(schema, 0))
            for schema, request_class in self.schemas.items()
        }


def write_token_kubeconfig(admin: Path, path: Path, user: str, token: str) -> None:
    """The admin kubeconfig's cluster, with a bearer token for `user` instead."""
    admin_config = json.loads(admin.read_text())  # the test bed writes it as JSON
    cluster = admin_config["clusters"][0]
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": cluster["name"], "user": user}}],
        "current-context": user,
    }
    path.write_text(json.dumps(kubeconfig, indent=2))
    path.chmod(0o600)


def split(classes: dict[str, int]) -> dict[str, int]:
    """{"writes": n, "reads": n} of an identity's requests by class."""
    by_name = {request_class.name: request_class for request_class in REQUEST_CLASSES}
    writes = sum(count for name, count in classes.items() if by_name[name].write)
    return {"writes": writes, "reads": sum(classes.values()) - writes}


# -- metrics ------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(
    text: str, names: Sequence[str] = (), prefix: str | None = None
) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample in Prometheus text of the metrics `names` (or whose
    name starts with `prefix`)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        if match["name"] not in names and not (prefix and match["name"].startswith(prefix)):
            continue
        labels = dict(_LABEL.findall(match["labels"] or ""))
        samples.append((match["name"], labels, float(match["value"])))
    return samples


@dataclass
class Snapshot:
    """The counters the benchmark reads, at one moment."""

    by_verb: Counter[str] = field(default_factory=Counter)  # apiserver_request_total
    by_resource: Counter[str] = field(default_factory=Counter)  # "VERB group/resource/sub"
    by_flow: Counter[str] = field(default_factory=Counter)  # dispatched, by FlowSchema
    # apiserver_request_duration_seconds by "VERB group/resource/sub": its _sum and _count
    seconds: dict[str, float] = field(default_factory=dict)
    timed: Counter[str] = field(default_factory=Counter)

    def __sub__(self, earlier: Snapshot) -> Snapshot:
        return Snapshot(
            self.by_verb - earlier.by_verb,
            self.by_resource - earlier.by_resource,
            self.by_flow - earlier.by_flow,
            {key: value - earlier.seconds.get(key, 0.0) for key, value in self.seconds.items()},
            self.timed - earlier.timed,
        )

    def mean_seconds(self) -> dict[str, float]:
        """The API server's mean time to serve a request, by verb (WATCH and CONNECT, which
        last as long as the client keeps them, left out)."""
        seconds: dict[str, float] = {}
        timed: Counter[str] = Counter()
        for key, count in self.timed.items():
            verb = key.partition(" ")[0]
            seconds[verb] = seconds.get(verb, 0.0) + self.seconds.get(key, 0.0)
            timed[verb] += count
        return {
            verb: round(seconds[verb] / count, 4)
            for verb, count in sorted(timed.items())
            if count and verb not in ("WATCH", "CONNECT")
        }

    def busiest(self, top: int = 15) -> dict[str, dict[str, float]]:
        """The (verb, resource) pairs that took the API server the most time, with their
        request count and mean duration (watches left out)."""
        keys = sorted(
            (key for key in self.timed if not key.startswith(("WATCH", "CONNECT"))),
            key=lambda key: self.seconds.get(key, 0.0),
            reverse=True,
        )
        return {
            key: {
                "count": self.timed[key],
                "seconds": round(self.seconds.get(key, 0.0), 2),
                "mean_seconds": round(self.seconds.get(key, 0.0) / max(1, self.timed[key]), 4),
            }
            for key in keys[:top]
        }


def verb_totals(by_verb: Counter[str]) -> dict[str, int]:
    """All components' requests: writes, reads, and each verb."""
    writes = sum(int(by_verb.get(verb, 0)) for verb in METRIC_WRITE_VERBS)
    return {
        "writes": writes,
        "reads": int(sum(by_verb.values())) - writes,
        **{verb: int(count) for verb, count in sorted(by_verb.items())},
    }


class Metrics:
    """Scrapes kube-apiserver's /metrics with the admin client certificate of the kubeconfig
    (the test bed's: JSON, with the certificates embedded)."""

    def __init__(self, kubeconfig: Path, folder: Path) -> None:
        admin = yaml.safe_load(kubeconfig.read_text())
        cluster, user = admin["clusters"][0]["cluster"], admin["users"][0]["user"]
        files = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            files[key] = folder / f"metrics-{key}.pem"
            files[key].write_bytes(base64.b64decode(cluster.get(key) or user[key]))
            files[key].chmod(0o600)
        self.url = f"{cluster['server']}/metrics"
        self.context = ssl.create_default_context(cafile=files["certificate-authority-data"])
        self.context.load_cert_chain(files["client-certificate-data"], files["client-key-data"])

    def scrape(self) -> Snapshot:
        with urllib.request.urlopen(self.url, context=self.context, timeout=30) as reply:
            text = reply.read().decode()
        snapshot = Snapshot()
        names = (
            "apiserver_request_total",
            "apiserver_flowcontrol_dispatched_requests_total",
            "apiserver_request_duration_seconds_sum",
            "apiserver_request_duration_seconds_count",
        )
        for name, labels, value in parse_metrics(text, names):
            verb = labels.get("verb", "")
            parts = (labels.get("group"), labels.get("resource"), labels.get("subresource"))
            key = f"{verb} {'/'.join(part for part in parts if part) or '-'}"
            if name == "apiserver_request_duration_seconds_sum":
                snapshot.seconds[key] = snapshot.seconds.get(key, 0.0) + value
            elif name == "apiserver_request_duration_seconds_count":
                snapshot.timed[key] += int(value)
            elif name == "apiserver_request_total":
                snapshot.by_verb[verb] += int(value)
                snapshot.by_resource[key] += int(value)
            else:
                snapshot.by_flow[labels.get("flow_schema", "")] += int(value)
        return snapshot


# -- applies ------------------------------------------------------------------------------------

RETRIED_STATUSES = (429, 500, 502, 503, 504)


def apply_with_retries(kube: Kube, obj: Object, attempts: int = 5) -> None:
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            kube.apply(obj)
            return
        except ApiException as error:
            if error.status not in RETRIED_STATUSES or last:
                raise
        except urllib3.exceptions.HTTPError:
            if last:
                raise
        time.sleep(0.2 * 2**attempt)


def apply_group(kube: Kube, objects: Sequence[Object]) -> None:
    for obj in objects:
        apply_with_retries(kube, obj)


def apply_all(
    kube: Kube, groups: Sequence[Sequence[Object]], threads: int, timeout: float
) -> float:
    """Server-side applies each group's objects, in order, groups in parallel on `threads`
    threads; returns the seconds it took."""
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-apply")
    try:
        futures = [pool.submit(apply_group, kube, group) for group in groups]
        done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # raises the first error
        if pending:
            raise TimeoutError(
                f"{len(pending)} of {len(groups)} applies unfinished after {timeout:.0f}s"
            )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return time.monotonic() - started


# -- watches ------------------------------------------------------------------------------------


class Tracker:
    """Lists, then watches, one resource in one namespace (as dicts, cheaply); records the
    monotonic time each object was first seen `ready`, and calls `seen` with every version."""

    def __init__(
        self,
        api: client.ApiClient,
        group: str,
        version: str,
        plural: str,
        namespace: str,
        ready: Callable[[Object], bool],
        seen: Callable[[Object, float], None] | None = None,
    ) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.resource = (group, version, namespace, plural)
        self.is_ready = ready
        self.seen = seen
        self.ready_at: dict[str, float] = {}
        self.events = 0
        self.error: BaseException | None = None
        self._listed = threading.Event()
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name=f"bench-watch-{plural}", daemon=True)

    def __enter__(self) -> Tracker:
        self._thread.start()
        if not self._listed.wait(60):
            raise TimeoutError(f"could not list {'/'.join(self.resource)}: {self.error!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()  # type: ignore[no-untyped-call]
        self._thread.join(1)  # a daemon: a watch blocked on a read ends with the plane

    @property
    def count(self) -> int:
        return len(self.ready_at)

    def _see(self, obj: Object) -> None:
        now = time.monotonic()
        self.events += 1
        name = obj["metadata"]["name"]
        if name not in self.ready_at and self.is_ready(obj):
            self.ready_at[name] = now
        if self.seen is not None:
            self.seen(obj, now)

    def _run(self) -> None:
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    listed = self.custom.list_namespaced_custom_object(
                        *self.resource, _request_timeout=60
                    )
                    for item in listed["items"]:  # type: ignore[index]
                        self._see(item)
                    resource_version = listed["metadata"]["resourceVersion"]  # type: ignore[index]
                    self._listed.set()
                self._watch = watch.Watch()  # type: ignore[no-untyped-call]
                for event in self._watch.stream(  # type: ignore[no-untyped-call]
                    self.custom.list_namespaced_custom_object,
                    *self.resource,
                    resource_version=resource_version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=10,
                    _request_timeout=30,
                ):
                    obj = event["raw_object"]
                    resource_version = obj["metadata"]["resourceVersion"]
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._see(obj)
                    if self._stop.is_set():
                        break
            except ApiException as error:
                if error.status == 410:  # too old: list again
                    resource_version = None
                else:
                    self.error = error
                    self._stop.wait(0.5)
            except Exception as error:  # a dropped connection, say: watch again
                self.error = error
                self._stop.wait(0.5)


def node_not_ready_events(api: client.ApiClient) -> int:
    """How often kube-controller-manager saw a node go NotReady (0 in a valid run)."""
    events = Kube(api).request(
        "GET", "/api/v1/events", query=[("fieldSelector", "reason=NodeNotReady")]
    )["items"]
    return sum(int(event.get("count") or 1) for event in events)


def deployment_available(deployment: Object) -> bool:
    """Every replica of the current template available, and no other left."""
    wanted = int(deployment.get("spec", {}).get("replicas", 1))
    status = deployment.get("status", {})
    return (
        int(status.get("observedGeneration", 0)) >= int(deployment["metadata"].get("generation", 0))
        and int(status.get("availableReplicas", 0)) >= wanted
        and int(status.get("updatedReplicas", 0)) == wanted
        and int(status.get("replicas", 0)) == wanted
    )


def service_running(service: Object) -> bool:
    return bool((service.get("status") or {}).get("state") == "Running")
