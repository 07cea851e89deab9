"""`kubectl dcs` on the real control plane, with the operator running: every command as users
run it (a process of its own, `KUBECONFIG` and `-n`), and what it did to the services."""

from __future__ import annotations

import datetime
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.documented.logs import container_sources
from testbed.container_logs import DEFAULT_LOGS_LABEL
from testbed.controlplane import KWOK_API_VERSION, KWOK_CRDS, KWOK_GROUP, cri_log, pod_logs
from tests import services
from tests.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator")

SYNC_TIMEOUT = "90"  # seconds; the commands' own --timeout, well under the test's
Run = Callable[..., subprocess.CompletedProcess[str]]


def _command(kubeconfig: Path, namespace: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "dockercloud_operator.cli.dcs", "-n", namespace, *args]


def _env(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig)}


@pytest.fixture
def dcs(kubeconfig: Path, namespace: str) -> Run:
    """Runs `kubectl dcs -n <namespace> ARGS...`; returns the finished process."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _command(kubeconfig, namespace, *args),
            env=_env(kubeconfig),
            capture_output=True,
            text=True,
            timeout=150,
        )

    return run


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def state(api: client.ApiClient, namespace: str, name: str) -> str | None:
    found: str | None = services.get(api, namespace, name).get("status", {}).get("state")
    return found


def _ps_rows(output: str) -> dict[str, list[str]]:
    """`ps` rows by name: columns are three or more spaces apart (STATE may hold one)."""
    lines = output.splitlines()
    assert lines[0].split() == ["NAME", "UUID", "IMAGE", "STATE", "#CONTAINERS", "STRATEGY", "AGE"]
    rows = [[cell.strip() for cell in line.split("   ") if cell.strip()] for line in lines[1:]]
    return {row[0]: row for row in rows}


def test_run_sync_reaches_running_and_ps_lists_it(
    dcs: Run, api: client.ApiClient, namespace: str
) -> None:
    result = ok(dcs("run", "tutum/hello-world", "-t", "2", "--sync", "--timeout", SYNC_TIMEOUT))
    assert result.stdout.strip() == "hello-world"  # the documented default name
    assert "hello-world: Running, 2/2 containers running" in result.stderr
    assert state(api, namespace, "hello-world") == "Running"
    assert services.exactly_running(api, namespace, "hello-world", 2)

    row = _ps_rows(ok(dcs("ps")).stdout)["hello-world"]
    uid = services.get(api, namespace, "hello-world")["metadata"]["uid"]
    assert row[1:6] == [uid[:8], "tutum/hello-world:latest", "Running", "2/2", "EMPTIEST_NODE"]


def test_ps_state_filters_on_the_server(dcs: Run, namespace: str) -> None:
    ok(dcs("run", "nginx", "--name", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    ok(dcs("create", "redis", "--name", "cache", "--sync", "--timeout", SYNC_TIMEOUT))
    assert set(_ps_rows(ok(dcs("ps")).stdout)) == {"web", "cache"}
    assert set(_ps_rows(ok(dcs("ps", "--state", "Running")).stdout)) == {"web"}
    assert set(_ps_rows(ok(dcs("ps", "--state", "Not running")).stdout)) == {"cache"}
    assert _ps_rows(ok(dcs("ps", "--state", "Stopped")).stdout) == {}
    assert set(_ps_rows(ok(dcs("ps", "--name", "cache")).stdout)) == {"cache"}


def test_create_leaves_it_not_running(dcs: Run, api: client.ApiClient, namespace: str) -> None:
    result = ok(dcs("create", "nginx:1.27", "--name", "web", "-t", "2", "--sync"))
    assert "web: Not running" in result.stderr
    service = services.get(api, namespace, "web")
    assert service["spec"]["running"] is False
    assert service["spec"]["target_num_containers"] == 2
    assert service["status"]["state"] == "Not running"
    assert services.pods(api, namespace, "web") == []


def test_scale_sync_to_three(dcs: Run, api: client.ApiClient, namespace: str) -> None:
    ok(dcs("run", "nginx", "--name", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    result = ok(dcs("scale", "web", "3", "--sync", "--timeout", SYNC_TIMEOUT))
    assert "web: Running, 3/3 containers running" in result.stderr
    assert services.get(api, namespace, "web")["spec"]["target_num_containers"] == 3
    assert services.exactly_running(api, namespace, "web", 3)


def test_stop_sync_reaches_stopped_and_start_sync_running_again(
    dcs: Run, api: client.ApiClient, namespace: str
) -> None:
    ok(dcs("run", "nginx", "--name", "web", "-t", "2", "--sync", "--timeout", SYNC_TIMEOUT))
    result = ok(dcs("stop", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    assert "web: Stopped" in result.stderr
    assert state(api, namespace, "web") == "Stopped"
    assert services.get(api, namespace, "web")["spec"]["target_num_containers"] == 2
    assert wait_for(
        lambda: not services.running_pods(api, namespace, "web") or None, "no running pods"
    )

    ok(dcs("start", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    assert state(api, namespace, "web") == "Running"
    assert services.exactly_running(api, namespace, "web", 2)


def test_start_on_a_running_service_is_refused(
    dcs: Run, api: client.ApiClient, namespace: str
) -> None:
    ok(dcs("run", "nginx", "--name", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    generation = services.get(api, namespace, "web")["metadata"]["generation"]
    result = dcs("start", "web")
    assert result.returncode == 1
    assert 'cannot start service "web": it is Running' in result.stderr
    assert "Not running or Partly running or Stopped" in result.stderr
    assert services.get(api, namespace, "web")["metadata"]["generation"] == generation

    ok(dcs("start", "web", "--force"))  # --force does it anyway (here: nothing to change)

    stopped = dcs("stop", "web", "--sync", "--timeout", SYNC_TIMEOUT)
    ok(stopped)
    again = dcs("stop", "web")
    assert again.returncode == 1 and "it is Stopped" in again.stderr


def test_redeploy_sync_replaces_every_container(
    dcs: Run, api: client.ApiClient, namespace: str
) -> None:
    ok(dcs("run", "nginx", "--name", "web", "-t", "2", "--sync", "--timeout", SYNC_TIMEOUT))
    before = {p.metadata.name for p in services.running_pods(api, namespace, "web")}
    result = ok(dcs("redeploy", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    assert result.stdout.strip() == "web"
    service = services.get(api, namespace, "web")
    assert service["spec"]["redeploy"]["reuse_volumes"] is True
    assert service["status"]["state"] == "Running"
    assert service["status"]["synchronized"] is True
    after = services.exactly_running(api, namespace, "web", 2)
    assert after and not before & {p.metadata.name for p in after}

    ok(dcs("redeploy", "web", "--not-reuse-volumes"))
    assert services.get(api, namespace, "web")["spec"]["redeploy"]["reuse_volumes"] is False


def test_inspect_shows_the_documented_keys(dcs: Run, api: client.ApiClient, namespace: str) -> None:
    ok(dcs("run", "tutum/hello-world", "--name", "web", "-t", "2", "--expose", "80", "--sync"))
    view = json.loads(ok(dcs("inspect", "web")).stdout)
    live = services.get(api, namespace, "web")
    uid = live["metadata"]["uid"]
    assert view["uuid"] == uid
    assert view["resource_uri"] == f"/api/app/v1/{namespace}/service/{uid}/"  # not `default`
    assert view["state"] == "Running"
    assert view["target_num_containers"] == 2
    assert view["image_name"] == "tutum/hello-world:latest"
    assert view["containers"] == live["status"]["containers"] and len(view["containers"]) == 2
    assert view["container_ports"][0]["inner_port"] == 80
    assert "running_of_target" not in view and "conditions" not in view

    by_uuid = json.loads(ok(dcs("inspect", uid[:8])).stdout)  # a short uuid, as ps shows it
    assert by_uuid["name"] == "web"


def test_terminate_sync_removes_it(dcs: Run, api: client.ApiClient, namespace: str) -> None:
    ok(dcs("run", "nginx", "--name", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    result = ok(dcs("terminate", "web", "--sync", "--timeout", SYNC_TIMEOUT))
    assert "web: terminated" in result.stderr
    assert services.read_or_none(services.get, api, namespace, "web") is None
    assert wait_for(lambda: not services.pods(api, namespace, "web") or None, "no pods left")


def test_a_missing_service_is_a_clear_error(dcs: Run, namespace: str) -> None:
    for command in (["inspect", "nope"], ["stop", "nope"], ["logs", "nope"]):
        result = dcs(*command)
        assert result.returncode == 1
        assert f'service "nope" not found in namespace "{namespace}"' in result.stderr
        assert "Traceback" not in result.stderr


# -- logs ---------------------------------------------------------------------------------------

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


@pytest.fixture
def kwok_logs(api: client.ApiClient, namespace: str) -> client.CustomObjectsApi:
    """kwok's Logs API, for a namespace the bed's log writer leaves alone (its tests give the
    containers' logs themselves); skips on a cluster whose nodes are not the test bed's kwok."""
    try:
        resources = client.CustomObjectsApi(api).get_api_resources(KWOK_GROUP, KWOK_API_VERSION)
    except ApiException as error:
        if error.status == 404:
            pytest.skip("kwok's Logs are not served: not the local control plane")
        raise
    if not set(KWOK_CRDS.values()) <= {r.name for r in resources.resources}:
        pytest.skip("kwok's Logs are not served: not the local control plane")
    quiet = {"metadata": {"labels": {DEFAULT_LOGS_LABEL: "off"}}}
    client.CoreV1Api(api).patch_namespace(namespace, quiet)
    return client.CustomObjectsApi(api)


def _give_logs(
    custom: client.CustomObjectsApi,
    namespace: str,
    pods: list[str],
    folder: Path,
    lines: Callable[[int, str], str],
) -> dict[str, Path]:
    """Each pod logs the file `lines(i, pod)` fills (i: the pod's rank in `pods`, which the
    callers give in the order the CLI numbers them)."""
    files = {}
    for index, pod in enumerate(pods):
        path = folder / f"{pod}.log"
        path.write_text(lines(index, pod))
        custom.create_namespaced_custom_object(
            KWOK_GROUP, KWOK_API_VERSION, namespace, "logs", pod_logs(pod, namespace, path)
        )
        files[pod] = path
    return files


def _two_containers(dcs: Run, api: client.ApiClient, namespace: str) -> list[str]:
    ok(dcs("run", "nginx", "--name", "web", "-t", "2", "--sync", "--timeout", SYNC_TIMEOUT))
    running = services.exactly_running(api, namespace, "web", 2)
    assert running
    # In the order the CLI numbers them (web-1, web-2): pod names compared with numbers as
    # numbers, so a random suffix "x9" comes before "x10" (tests/unit/test_dcs.py).
    return list(container_sources("web", [p.metadata.name for p in running]))


def test_logs_aggregate_every_container_in_documented_lines(
    dcs: Run, api: client.ApiClient, namespace: str, kwok_logs: Any, tmp_path: Path
) -> None:
    pods = _two_containers(dcs, api, namespace)

    def lines(index: int, pod: str) -> str:
        early = cri_log(f"{pod} starting", at=T0 + datetime.timedelta(seconds=index))
        late = cri_log(f"{pod} ready", at=T0 + datetime.timedelta(seconds=10 + index))
        return early + late

    _give_logs(kwok_logs, namespace, pods, tmp_path, lines)

    def served() -> list[dict[str, Any]] | None:
        result = dcs("logs", "web")
        found = [json.loads(line) for line in result.stdout.splitlines()]
        return found if result.returncode == 0 and len(found) == 4 else None

    messages = wait_for(served, "the containers' logs to be served", timeout=30)
    start = int(T0.timestamp())
    assert messages == [
        {"type": "log", "source": "web-1", "log": f"{pods[0]} starting",
         "streamType": "stdout", "timestamp": start},
        {"type": "log", "source": "web-2", "log": f"{pods[1]} starting",
         "streamType": "stdout", "timestamp": start + 1},
        {"type": "log", "source": "web-1", "log": f"{pods[0]} ready",
         "streamType": "stdout", "timestamp": start + 10},
        {"type": "log", "source": "web-2", "log": f"{pods[1]} ready",
         "streamType": "stdout", "timestamp": start + 11},
    ]  # fmt: skip

    tail = [json.loads(line) for line in ok(dcs("logs", "web", "--tail", "1")).stdout.splitlines()]
    assert [m["log"] for m in tail] == [f"{pods[0]} ready", f"{pods[1]} ready"]


def _reader(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def test_logs_follow_streams_every_container_until_ctrl_c(
    dcs: Run,
    api: client.ApiClient,
    namespace: str,
    kubeconfig: Path,
    kwok_logs: Any,
    tmp_path: Path,
) -> None:
    pods = _two_containers(dcs, api, namespace)
    files = _give_logs(
        kwok_logs, namespace, pods, tmp_path, lambda i, pod: cri_log(f"{pod} old", at=T0)
    )
    wait_for(
        lambda: dcs("logs", "web").stdout.count("old") == 2 or None,
        "the containers' logs to be served",
        timeout=30,
    )

    process = subprocess.Popen(
        _command(kubeconfig, namespace, "logs", "web", "--follow", "--tail", "1"),
        env=_env(kubeconfig),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    received: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_reader, args=(process.stdout, received), daemon=True).start()
    messages: list[dict[str, Any]] = []

    def seen(*texts: str) -> bool | None:
        while not received.empty():
            messages.append(json.loads(received.get()))
        return {m["log"] for m in messages} >= set(texts) or None

    try:
        wait_for(lambda: seen(*(f"{pod} old" for pod in pods)), "the tails", timeout=30)
        for pod in pods:
            with files[pod].open("a") as log:
                log.write(cri_log(f"{pod} new"))
        wait_for(lambda: seen(*(f"{pod} new" for pod in pods)), "the new lines", timeout=30)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=15)
        finally:
            process.kill()
    assert code == 130
    sources = {m["log"]: m["source"] for m in messages}
    assert sources[f"{pods[0]} new"] == "web-1" and sources[f"{pods[1]} new"] == "web-2"
    assert all(m["type"] == "log" and m["streamType"] == "stdout" for m in messages)
    assert process.stderr is not None and "Traceback" not in process.stderr.read()
