"""The stream API's logs endpoint over a real websocket: the documented message shape, `tail`,
`follow=false` closing, and `follow=true` receiving the lines of a container that starts after
the stream opened. kwok serves each simulated container's log from a file a `ClusterLogs`
object names."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client

from dockercloud_operator.schema.constants import LABEL_SERVICE
from testbed.controlplane import cri_log
from tests.rest_api import EARLIER, Client, RestApi, cluster_log_file, service_account_token

pytestmark = pytest.mark.integration


@pytest.fixture
def log_file(api: client.ApiClient, namespace: str, tmp_path: Path) -> Iterator[Path]:
    """Every container of the namespace logs this file (kwok's ClusterLogs)."""
    with cluster_log_file(api, namespace, tmp_path) as path:
        yield path


@pytest.fixture
def caller(
    api: client.ApiClient, namespace: str, rest_api: RestApi, user_roles: None, operator: Any
) -> Client:
    """A caller that may edit services and read their logs in the namespace."""
    editor = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    return Client(rest_api, editor, namespace)


def running_service(caller: Client, name: str, containers: int) -> dict[str, Any]:
    from tests.integration.test_rest_api import wait_state

    created = caller.create(image="nginx", name=name, target_num_containers=containers)
    caller.call("POST", caller.service(created["uuid"], "start"))
    return wait_state(caller, created["uuid"], "Running", running=containers)


async def _messages(
    caller: Client, uuid: str, query: str, until: Any = None, timeout: float = 20.0,
    during: Any = None,
) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
    """The messages of one websocket, and whether the server closed it (rather than us)."""
    url = f"{caller.rest.url}{caller.service(uuid, 'logs')}?{query}"
    received: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=caller.headers) as socket,
    ):
        if during is not None:
            await asyncio.get_running_loop().run_in_executor(None, during)
        try:
            async with asyncio.timeout(timeout):
                async for message in socket:
                    received.append(json.loads(message.data))
                    if until is not None and until(received):
                        return received, False
        except TimeoutError:
            return received, False
        return received, True


def test_logs_are_the_documented_messages_of_every_container_with_tail(
    caller: Client, log_file: Path
) -> None:
    service = running_service(caller, "web", 2)
    received, closed = asyncio.run(_messages(caller, service["uuid"], "tail=3&follow=false"))
    assert closed  # follow=false: the server closes once the tail is sent
    assert len(received) == 3  # the last 3 lines of the service, not 3 of each container
    for message in received:
        assert set(message) == {"type", "source", "log", "streamType", "timestamp"}
        assert message["type"] == "log"
        assert message["streamType"] == "stdout"
        assert message["timestamp"] == int(EARLIER.timestamp())
        assert message["source"] in ("web-1", "web-2")
    assert [m["log"] for m in received][-1] == "four"

    everything, _ = asyncio.run(_messages(caller, service["uuid"], "follow=false"))
    assert sorted(m["log"] for m in everything) == sorted(["one", "two", "three", "four"] * 2)
    assert {m["source"] for m in everything} == {"web-1", "web-2"}
    stamps = [m["timestamp"] for m in everything]
    assert stamps == sorted(stamps)  # merged in time order


def test_follow_is_the_default_and_picks_up_containers_that_start_later(
    caller: Client, log_file: Path, api: client.ApiClient, namespace: str
) -> None:
    service = running_service(caller, "worker", 1)

    def scale_up() -> None:
        answer = caller.call(
            "PATCH", caller.service(service["uuid"]), json={"target_num_containers": 2}
        )
        assert answer.status_code == 200, answer.text

    def from_second(received: list[dict[str, Any]]) -> bool:
        return any(m["source"] == "worker-2" for m in received)

    received, closed = asyncio.run(
        _messages(caller, service["uuid"], "tail=1", until=from_second, during=scale_up, timeout=60)
    )
    assert not closed  # following: the server keeps the socket open
    assert received[0] == {**received[0], "source": "worker-1", "log": "four"}
    assert from_second(received), (received, _pods_and_logs(api, namespace))


def test_a_container_still_starting_when_the_socket_opens_does_not_take_a_running_ones_number(
    caller: Client, log_file: Path, api: client.ApiClient, namespace: str
) -> None:
    """The client's own scale-up can make a pod between the socket opening and the stream
    listing the service's pods; the running container stays `worker-1` even if the new pod's
    name sorts first."""
    service = running_service(caller, "worker", 1)
    name = service["name"]
    pending = client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"{name}-0000-starting", labels={LABEL_SERVICE: name}),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name=name, image="nginx")],
            node_selector={"no-such-node": "true"},  # never scheduled: it stays Pending
        ),
    )
    client.CoreV1Api(api).create_namespaced_pod(namespace, pending)
    received, closed = asyncio.run(_messages(caller, service["uuid"], "tail=1&follow=false"))
    assert closed
    assert received == [{**received[0], "source": "worker-1", "log": "four"}]


def _pods_and_logs(api: client.ApiClient, namespace: str) -> list[tuple[str, str, str]]:
    """(pod, phase, its log or why not): what a failure needs to say."""
    core = client.CoreV1Api(api)
    found = []
    for pod in core.list_namespaced_pod(namespace).items:
        try:
            log = core.read_namespaced_pod_log(pod.metadata.name, namespace, tail_lines=2)
        except client.ApiException as error:
            log = f"HTTP {error.status}: {error.body}"
        found.append((pod.metadata.name, str(pod.status.phase), str(log)))
    return found


def test_followed_logs_show_new_lines_as_they_are_written(caller: Client, log_file: Path) -> None:
    service = running_service(caller, "tailer", 1)

    def write() -> None:
        with log_file.open("a") as out:
            out.write(cri_log("fresh line"))

    received, _ = asyncio.run(
        _messages(
            caller, service["uuid"], "tail=0&follow=true",
            until=lambda r: any(m["log"] == "fresh line" for m in r), during=write,
        )
    )  # fmt: skip
    assert [m["log"] for m in received] == ["fresh line"]


def test_logs_need_a_websocket_and_valid_parameters(caller: Client, log_file: Path) -> None:
    created = caller.create(image="nginx", name="quiet")
    plain = caller.call("GET", caller.service(created["uuid"], "logs"))
    assert plain.status_code == 400
    assert "websocket" in plain.json()["error"]
    for query, word in (("tail=-1", "tail"), ("follow=maybe", "follow"), ("since=1", "since")):
        answer = caller.call("GET", caller.service(created["uuid"], "logs") + "?" + query)
        assert answer.status_code == 400 and word in answer.json()["error"], answer.text
