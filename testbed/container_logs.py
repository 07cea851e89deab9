"""A log for every simulated container, as a kubelet would have one.

kwok serves a container's log only from a file that a `Logs` or `ClusterLogs` object names, so
by default `kubectl logs` answers "no logs found". The control plane's log writer gives each pod
on the kwok nodes a file per container, whose lines say which container it is and when it
started, and a `ClusterLogs` object that names the pod; it removes both when the pod is gone.

It stays out of the way of logs a test configures itself: it gives nothing to a pod that a
`Logs` object or another `ClusterLogs` covers (and takes its own back when one appears), nor to
the pods of a namespace labelled `DEFAULT_LOGS_LABEL: "off"`.
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Object = dict[str, Any]

KWOK_GROUP = "kwok.x-k8s.io"
KWOK_API_VERSION = "v1alpha1"
DEFAULT_LOGS_LABEL = "testbed.dockercloud.dev/default-logs"
POD_ANNOTATION = "testbed.dockercloud.dev/pod"
CLUSTER_LOGS_PATH = f"/apis/{KWOK_GROUP}/{KWOK_API_VERSION}/clusterlogs"


def default_logs_name(pod: Object) -> str:
    """The ClusterLogs of one pod (by uid: a pod recreated under the same name gets a new one)."""
    return "default-logs-" + hashlib.sha256(pod["metadata"]["uid"].encode()).hexdigest()[:20]


def _started(pod: Object, container: str) -> datetime.datetime:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        started = (status.get("state", {}).get("running") or {}).get("startedAt")
        if status.get("name") == container and started:
            return datetime.datetime.fromisoformat(started.replace("Z", "+00:00"))
    return datetime.datetime.now(datetime.UTC)


def container_log(pod: Object, container: Object) -> str:
    """Three CRI-format lines naming the container, its pod, node and image, at its start."""
    meta, name = pod["metadata"], container["name"]
    at = _started(pod, name)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = [
        f"container {name} of pod {meta['namespace']}/{meta['name']} started at "
        f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')} on {pod['spec'].get('nodeName', '?')}",
        f"image {container.get('image', '?')}",
        "a simulated container (kwok): no process writes to this log after these lines",
    ]
    return "".join(f"{stamp} stdout F {line}\n" for line in lines)


def cluster_logs_for(pod: Object, files: dict[str, Path]) -> Object:
    """The ClusterLogs naming this one pod: each container logs its own file."""
    meta = pod["metadata"]
    return {
        "apiVersion": f"{KWOK_GROUP}/{KWOK_API_VERSION}",
        "kind": "ClusterLogs",
        "metadata": {
            "name": default_logs_name(pod),
            "labels": {DEFAULT_LOGS_LABEL: "true"},
            "annotations": {POD_ANNOTATION: f"{meta['namespace']}/{meta['name']}"},
        },
        "spec": {
            "selector": {"matchNamespaces": [meta["namespace"]], "matchNames": [meta["name"]]},
            "logs": [
                {"containers": [container], "logsFile": str(path), "follow": True}
                for container, path in files.items()
            ],
        },
    }


def _matches(cluster_logs: Object, pod: Object) -> bool:
    """kwok's selector: empty lists match any namespace or name."""
    selector = cluster_logs.get("spec", {}).get("selector") or {}
    meta = pod["metadata"]
    namespaces, names = selector.get("matchNamespaces"), selector.get("matchNames")
    return (not namespaces or meta["namespace"] in namespaces) and (
        not names or meta["name"] in names
    )


def _is_own(cluster_logs: Object) -> bool:
    return bool(cluster_logs["metadata"].get("labels", {}).get(DEFAULT_LOGS_LABEL) == "true")


@dataclass(frozen=True)
class Plan:
    """What one pass does: the pods to give a log, and the ClusterLogs of ours to delete."""

    give: list[Object]
    take_back: list[str]


def plan(
    pods: Iterable[Object],
    all_cluster_logs: Iterable[Object],
    pod_logs: Iterable[Object],
    quiet_namespaces: Iterable[str],
) -> Plan:
    """Pure: which pods get a default log and which of ours go (pod gone or covered)."""
    ours = {}
    theirs = []
    for cluster_logs in all_cluster_logs:
        if _is_own(cluster_logs):
            ours[cluster_logs["metadata"]["name"]] = cluster_logs
        else:
            theirs.append(cluster_logs)
    configured = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in pod_logs}
    quiet = set(quiet_namespaces)
    wanted: dict[str, Object] = {}
    for pod in pods:
        meta = pod["metadata"]
        if (
            not pod.get("spec", {}).get("nodeName")
            or meta["namespace"] in quiet
            or (meta["namespace"], meta["name"]) in configured
            or any(_matches(other, pod) for other in theirs)
        ):
            continue
        wanted[default_logs_name(pod)] = pod
    return Plan(
        give=[pod for name, pod in wanted.items() if name not in ours],
        take_back=sorted(name for name in ours if name not in wanted),
    )


class LogWriter:
    """One pass at a time (the control plane calls `step` every second): files and objects."""

    def __init__(self, root: Path, api: Callable[..., Any], say: Callable[[str], None]) -> None:
        self.root = root
        self.api = api  # api(method, path, body=None) -> decoded JSON; raises on HTTP errors
        self.say = say

    def step(self) -> None:
        pods = self.api("GET", "/api/v1/pods")["items"]
        cluster_logs = self.api("GET", CLUSTER_LOGS_PATH)["items"]
        pod_logs = self.api("GET", f"/apis/{KWOK_GROUP}/{KWOK_API_VERSION}/logs")["items"]
        quiet = self.api("GET", f"/api/v1/namespaces?labelSelector={DEFAULT_LOGS_LABEL}%3Doff")
        todo = plan(pods, cluster_logs, pod_logs, [n["metadata"]["name"] for n in quiet["items"]])
        for pod in todo.give:
            self._give(pod)
        for name in todo.take_back:
            self._take_back(name)

    def _call(self, method: str, path: str, body: Object | None = None) -> None:
        try:
            self.api(method, path, body)
        except Exception as error:  # done already: an earlier pass did it, or the pod went
            if getattr(error, "code", None) not in (404, 409):
                raise

    def _give(self, pod: Object) -> None:
        folder = self.root / default_logs_name(pod)
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for container in pod["spec"].get("containers", []):
            path = folder / f"{container['name']}.log"
            path.write_text(container_log(pod, container))
            files[container["name"]] = path
        self._call("POST", CLUSTER_LOGS_PATH, cluster_logs_for(pod, files))
        meta = pod["metadata"]
        self.say(f"logs for {meta['namespace']}/{meta['name']}")

    def _take_back(self, name: str) -> None:
        self._call("DELETE", f"{CLUSTER_LOGS_PATH}/{name}")
        shutil.rmtree(self.root / name, ignore_errors=True)
        self.say(f"removed {name}")
