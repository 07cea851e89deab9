"""On the local control plane every simulated container has a log without any set-up: the
bed's log writer gives each one lines naming it and its start. A service started the demo's
way (`kubectl apply` of the example, the operator running) shows them through `kubectl logs`,
`kubectl dcs logs` (found by kubectl as a plugin) and the REST API's logs endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.schema.names import selector
from testbed.container_logs import KWOK_API_VERSION, KWOK_GROUP
from tests import services
from tests.rest_api import Client, RestApi, service_account_token
from tests.wait import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "wordpress.yaml"


@pytest.fixture
def kwok(api: client.ApiClient) -> None:
    try:
        client.CustomObjectsApi(api).get_api_resources(KWOK_GROUP, KWOK_API_VERSION)
    except ApiException:
        pytest.skip("the default container logs are the local control plane's")


@pytest.fixture
def web(kubectl: str, kubeconfig: Path, api: client.ApiClient, namespace: str, operator: Any,
        kwok: None) -> list[str]:  # fmt: skip
    """The example's web service (3 containers), applied with kubectl and Running; its pods."""
    documents = [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d]
    [web] = [d for d in documents if d["metadata"]["name"] == "web"]
    web["spec"].pop("linked_to_service")  # alone in the namespace: no db to link to
    subprocess.run(
        [kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "apply", "-f", "-"],
        input=yaml.safe_dump(web), text=True, check=True, capture_output=True,
    )  # fmt: skip
    wait_for(
        lambda: services.get(api, namespace, "web").get("status", {}).get("state") == "Running",
        "web to be Running", timeout=90,
    )  # fmt: skip
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector("web"))
    names = sorted(pod.metadata.name for pod in pods.items if not pod.metadata.deletion_timestamp)
    assert len(names) == 3
    return names


def _dcs_logs(kubectl: str, kubeconfig: Path, namespace: str) -> subprocess.CompletedProcess[str]:
    """`kubectl dcs logs web --tail 3`: kubectl finds the plugin on PATH (and takes no flag
    before a plugin's name)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        [kubectl, "dcs", "-n", namespace, "logs", "web", "--tail", "3"],
        env={**os.environ, "PATH": path, "KUBECONFIG": str(kubeconfig)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_kubectl_logs_shows_which_container_and_when(
    kubectl: str, kubeconfig: Path, namespace: str, web: list[str]
) -> None:
    def log() -> str | None:
        result = subprocess.run(
            [kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "logs", web[0]],
            capture_output=True, text=True,
        )  # fmt: skip
        return result.stdout if result.returncode == 0 else None

    lines = wait_for(log, f"the log of {web[0]}", timeout=30).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"container web of pod {namespace}/{web[0]} started at 20")
    assert lines[1] == "image wordpress:6"


def test_kubectl_dcs_logs_shows_the_last_lines_of_every_container(
    kubectl: str, kubeconfig: Path, namespace: str, web: list[str]
) -> None:
    def served() -> list[dict[str, Any]] | None:
        result = _dcs_logs(kubectl, kubeconfig, namespace)
        if result.returncode != 0 or "no logs" in result.stderr:
            return None
        return [json.loads(line) for line in result.stdout.splitlines()]

    messages = wait_for(served, "every container's log through kubectl dcs", timeout=30)
    assert {m["source"] for m in messages} == {"web-1", "web-2", "web-3"}
    assert len(messages) == 9  # the last 3 lines of each container: all it has
    starts = sorted(m["log"].split(" started")[0] for m in messages if " started at " in m["log"])
    assert starts == [f"container web of pod {namespace}/{pod}" for pod in web]
    assert all(m["type"] == "log" and m["streamType"] == "stdout" for m in messages)


def test_the_logs_endpoint_streams_them(
    api: client.ApiClient, namespace: str, rest_api: RestApi, user_roles: None, web: list[str]
) -> None:
    token = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    caller = Client(rest_api, token, namespace)
    [service] = caller.call("GET", caller.base + "?name=web").json()["objects"]
    url = f"{rest_api.url}{caller.service(service['uuid'], 'logs')}?follow=false"

    async def read() -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, headers=caller.headers) as socket,
        ):
            return [json.loads(message.data) async for message in socket]

    def served() -> list[dict[str, Any]] | None:
        messages = asyncio.run(read())
        return messages if len(messages) == 9 else None

    messages = wait_for(served, "the 9 lines of web's 3 containers", timeout=30)
    assert {m["source"] for m in messages} == {"web-1", "web-2", "web-3"}
    starts = sorted(m["log"].split(" started")[0] for m in messages if " started at " in m["log"])
    assert starts == [f"container web of pod {namespace}/{pod}" for pod in web]
