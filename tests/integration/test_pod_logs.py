"""`kubectl logs` works on the test bed: kwok, standing in for the nodes' kubelet, serves a
container's log from the file a kwok `Logs` or `ClusterLogs` object names, and the API server
proxies the `pods/log` subresource to it, `tailLines` and `follow` included. These tests
configure kwok's logs themselves, in namespaces the bed's log writer leaves alone."""

from __future__ import annotations

import datetime
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from testbed.container_logs import DEFAULT_LOGS_LABEL
from testbed.controlplane import (
    KWOK_API_VERSION,
    KWOK_CRDS,
    KWOK_GROUP,
    LogsFiles,
    cluster_logs,
    cri_log,
    pod_logs,
)
from tests.conftest import fresh_namespace
from tests.wait import wait_for

FOLLOW_TIMEOUT = 15.0


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace without the bed's default container logs."""
    yield from fresh_namespace(api, labels={DEFAULT_LOGS_LABEL: "off"})


@pytest.fixture(scope="module")
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    """The API of kwok's Logs/ClusterLogs; skips on a cluster whose nodes are not kwok's."""
    try:
        resources = client.CustomObjectsApi(api).get_api_resources(KWOK_GROUP, KWOK_API_VERSION)
    except ApiException as error:
        if error.status == 404:
            pytest.skip("kwok's Logs/ClusterLogs are not served: not the local control plane")
        raise
    served = {resource.name for resource in resources.resources}
    if not set(KWOK_CRDS.values()) <= served:
        pytest.skip("kwok's Logs/ClusterLogs are not served: not the local control plane")
    return client.CustomObjectsApi(api)


def _pod(name: str, containers: tuple[str, ...] = ("app",)) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": container, "image": "example.invalid/app:1"} for container in containers
            ],
        },
    }


def _phase(pod: client.V1Pod) -> str | None:
    return pod.status.phase if pod.status else None


def _running(core: client.CoreV1Api, name: str, namespace: str) -> bool:
    return _phase(core.read_namespaced_pod(name, namespace)) == "Running"


def _start_pod(
    core: client.CoreV1Api, namespace: str, name: str, containers: tuple[str, ...] = ("app",)
) -> None:
    core.create_namespaced_pod(namespace, _pod(name, containers))
    wait_for(lambda: _running(core, name, namespace), f"pod {name} to be Running")


def _give_logs(custom: client.CustomObjectsApi, namespace: str, pod: str, logs: LogsFiles) -> None:
    custom.create_namespaced_custom_object(
        KWOK_GROUP, KWOK_API_VERSION, namespace, "logs", pod_logs(pod, namespace, logs)
    )


def _log(core: client.CoreV1Api, name: str, namespace: str, **options: Any) -> str | None:
    """The pod's log, or None while kwok has not yet seen the object that configures it."""
    try:
        return str(core.read_namespaced_pod_log(name, namespace, **options))
    except ApiException as error:
        if error.status == 400 and "no logs found" in str(error.body):
            return None
        raise


def _served_log(core: client.CoreV1Api, name: str, namespace: str, **options: Any) -> str:
    return wait_for(lambda: _log(core, name, namespace, **options), f"the log of {name}")


def test_a_containers_log_is_its_files_lines_and_tail_lines_keeps_the_last(
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    kubectl: str,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    core = client.CoreV1Api(api)
    _start_pod(core, namespace, "web")
    log_file = tmp_path / "web.log"
    at = datetime.datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    log_file.write_text(
        cri_log("starting", "listening on :8080", at=at) + cri_log("oops", stream="stderr", at=at)
    )
    _give_logs(custom, namespace, "web", log_file)

    assert _served_log(core, "web", namespace) == "starting\nlistening on :8080\noops\n"
    assert _log(core, "web", namespace, tail_lines=2) == "listening on :8080\noops\n"
    assert _log(core, "web", namespace, tail_lines=1, timestamps=True) == (
        "2025-01-02T03:04:05.678000000Z oops\n"
    )
    shown = subprocess.run(
        [kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "logs", "web", "--tail=1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert shown.stdout == "oops\n"


def test_each_container_logs_its_own_file(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(api)
    _start_pod(core, namespace, "web", ("web", "sidecar"))
    (tmp_path / "web.log").write_text(cri_log("GET / 200"))
    (tmp_path / "sidecar.log").write_text(cri_log("shipped 1 line"))
    _give_logs(
        custom,
        namespace,
        "web",
        {"web": tmp_path / "web.log", "sidecar": tmp_path / "sidecar.log"},
    )

    assert _served_log(core, "web", namespace, container="web") == "GET / 200\n"
    assert _log(core, "web", namespace, container="sidecar") == "shipped 1 line\n"


def test_a_container_without_a_log_file_has_no_log(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    _start_pod(core, namespace, "quiet")
    with pytest.raises(ApiException) as refused:
        core.read_namespaced_pod_log("quiet", namespace)
    assert refused.value.status == 400
    message = json.loads(refused.value.body)["message"]
    assert message == f'no logs found for container "app" in pod "{namespace}/quiet"'


@pytest.fixture
def namespace_logs(
    custom: client.CustomObjectsApi, namespace: str, tmp_path: Path
) -> Iterator[Path]:
    """Every container in the namespace logs one file (a ClusterLogs object, removed after)."""
    log_file = tmp_path / "namespace.log"
    name = f"test-{uuid.uuid4().hex[:8]}"
    custom.create_cluster_custom_object(
        KWOK_GROUP,
        KWOK_API_VERSION,
        "clusterlogs",
        cluster_logs(name, log_file, namespaces=[namespace]),
    )
    yield log_file
    custom.delete_cluster_custom_object(KWOK_GROUP, KWOK_API_VERSION, "clusterlogs", name)


def test_cluster_logs_give_a_deployments_pods_a_log(
    api: client.ApiClient, namespace: str, namespace_logs: Path
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    namespace_logs.write_text(cri_log("worker ready"))
    labels = {"app": "worker"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "worker"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": _pod("x")["spec"]},
            },
        },
    )

    def running() -> list[str]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=worker").items
        names = [str(pod.metadata.name) for pod in pods if _phase(pod) == "Running"]
        return names if len(names) == 2 else []

    for pod in wait_for(running, "2 Running worker pods"):
        assert _served_log(core, pod, namespace) == "worker ready\n"


def _lines_of(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _next_lines(lines: queue.Queue[str], count: int) -> list[str]:
    deadline = time.monotonic() + FOLLOW_TIMEOUT
    got: list[str] = []
    while len(got) < count:
        try:
            got.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"only {got!r} within {FOLLOW_TIMEOUT:.0f}s") from None
    return got


def test_kubectl_logs_follow_streams_a_line_appended_later(
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    kubectl: str,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    core = client.CoreV1Api(api)
    _start_pod(core, namespace, "web")
    log_file = tmp_path / "web.log"
    log_file.write_text(cri_log("one", "two"))
    _give_logs(custom, namespace, "web", log_file)
    _served_log(core, "web", namespace)

    follower = subprocess.Popen(
        [kubectl, "-n", namespace, "logs", "-f", "web"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        assert follower.stdout is not None
        threading.Thread(target=_lines_of, args=(follower.stdout, lines), daemon=True).start()
        assert _next_lines(lines, 2) == ["one\n", "two\n"]
        with log_file.open("a") as out:
            out.write(cri_log("three"))
        assert _next_lines(lines, 1) == ["three\n"]
        assert follower.poll() is None, "kubectl logs -f returned: it was not following"
    finally:
        follower.terminate()
        follower.wait(10)


def test_the_api_streams_a_followed_log(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(api)
    _start_pod(core, namespace, "web")
    log_file = tmp_path / "web.log"
    log_file.write_text(cri_log("one", "two", "three"))
    _give_logs(custom, namespace, "web", log_file)
    _served_log(core, "web", namespace)

    # Without preloading, the client hands back the streaming urllib3 response.
    response = cast(
        urllib3.HTTPResponse,
        core.read_namespaced_pod_log(
            "web",
            namespace,
            follow=True,
            tail_lines=1,
            _preload_content=False,
            _request_timeout=(10, FOLLOW_TIMEOUT),  # a read that blocks longer fails the test
        ),
    )
    try:
        received = b""
        chunks = response.stream(1024)
        while received.count(b"\n") < 1:
            received += next(chunks)
        assert received == b"three\n"
        with log_file.open("a") as out:
            out.write(cri_log("four"))
        while received.count(b"\n") < 2:
            received += next(chunks)
        assert received == b"three\nfour\n"
    finally:
        response.close()
        response.release_conn()
