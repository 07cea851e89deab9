"""The status hold (`--status-hold`): a transitional state is written, with its Event, once it
has lasted the hold; a shorter one is folded into the state that follows. The operator here
runs with a hold of 5 s, long enough that a start on kwok (well under a second) always fits
into it, and watches only the test's namespace."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests import services
from tests.operator_process import OperatorProcess
from tests.operators import Operator, delete_services, paused, running
from tests.wait import wait_for

HOLD = 5.0


@pytest.fixture(scope="module", autouse=True)
def _alone(operator: OperatorProcess) -> Iterator[None]:
    """Only the hold's operator acts: the session's one is stopped meanwhile."""
    with paused(operator):
        yield


@pytest.fixture
def held(kubeconfig: Path, service_crd: str, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    operator = Operator(
        kubeconfig, tmp_path / "operator.log",
        f"--namespace={namespace}", "--metrics-port=0", f"--status-hold={HOLD:g}",
    )  # fmt: skip
    with running(operator):
        yield operator.start("children; reconciling.")


def _state(api: client.ApiClient, namespace: str, name: str) -> str | None:
    state: str | None = (services.get(api, namespace, name).get("status") or {}).get("state")
    return state


def _event_reasons(api: client.ApiClient, namespace: str, name: str) -> list[str]:
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace,
        field_selector=f"involvedObject.name={name},involvedObject.kind=Service,"
        "involvedObject.apiVersion=app.dockercloud.dev/v1",
    )
    return [e.reason for e in sorted(events.items, key=lambda e: e.metadata.creation_timestamp)]


def test_a_quick_start_is_written_once_as_running(
    api: client.ApiClient, namespace: str, held: Operator
) -> None:
    services.create(api, namespace, "web", image="nginx")
    versions: list[str] = []

    def running_seen() -> bool:
        service = services.get(api, namespace, "web")
        state = (service.get("status") or {}).get("state")
        if state and (not versions or versions[-1] != state):
            versions.append(state)
        return state == "Running"

    wait_for(running_seen, "web to be Running", timeout=30, interval=0.05)
    assert versions == ["Running"]
    time.sleep(HOLD + 1)  # a held Starting, had there been one, would be written by now
    # No Event either: the status says what a "Running" Event would (a state change of a
    # service that has a state gets one, as the tests below see).
    assert _event_reasons(api, namespace, "web") == []
    assert _state(api, namespace, "web") == "Running"
    delete_services(api, namespace)


def test_a_start_that_lasts_is_written_as_starting_once_the_hold_is_over(
    api: client.ApiClient, namespace: str, held: Operator
) -> None:
    created = time.monotonic()
    services.create(api, namespace, "web", image="nginx", tags=[{"name": "nowhere"}])
    wait_for(lambda: services.pods(api, namespace, "web"), "its container to be made")
    assert _state(api, namespace, "web") is None  # reconciled, and held
    wait_for(lambda: _state(api, namespace, "web") == "Starting", "Starting", timeout=HOLD + 15)
    assert time.monotonic() - created >= HOLD - 0.5
    assert _event_reasons(api, namespace, "web") == ["Starting"]
    assert "Traceback" not in held.output()
    delete_services(api, namespace)


def test_a_scale_held_past_the_hold_is_written_as_scaling(
    api: client.ApiClient, namespace: str, held: Operator
) -> None:
    """A container per node on a host port: one more than there are nodes cannot be placed.
    The new container exists (Pending) within the hold; the state written after it is Scaling,
    as if the hold had not been there (not Partly running)."""
    nodes = len(client.CoreV1Api(api).list_node().items)
    port = {"protocol": "tcp", "inner_port": 80, "published": True, "outer_port": 8080}
    services.create(
        api, namespace, "web", image="nginx", target_num_containers=nodes, container_ports=[port]
    )
    wait_for(lambda: _state(api, namespace, "web") == "Running", "web to run", timeout=60)
    services.patch_spec(api, namespace, "web", target_num_containers=nodes + 1)
    wait_for(lambda: len(services.pods(api, namespace, "web")) == nodes + 1, "the extra container")
    wait_for(lambda: _state(api, namespace, "web") != "Running", "a new state", timeout=HOLD + 15)
    assert _state(api, namespace, "web") == "Scaling"
    assert _event_reasons(api, namespace, "web")[-1] == "Scaling"
    delete_services(api, namespace)


REFRESH = 4.0


@pytest.fixture
def refreshed(
    kubeconfig: Path, service_crd: str, namespace: str, tmp_path: Path
) -> Iterator[Operator]:
    operator = Operator(
        kubeconfig, tmp_path / "operator.log", f"--namespace={namespace}", "--metrics-port=0",
        "--status-hold=1", f"--status-refresh={REFRESH:g}",
    )  # fmt: skip
    with running(operator):
        yield operator.start("children; reconciling.")


def test_a_long_transition_writes_its_progress_once_a_refresh_interval(
    api: client.ApiClient, namespace: str, refreshed: Operator
) -> None:
    """Four containers on a host port (one a node) of nodes tagged `refresh`, which appear one
    every 1.5 s: the service is Starting for about 6 s while its running count climbs 1, 2, 3.
    Written: Starting once the hold is over, its progress at most once a refresh interval, and
    Running as soon as the last container runs."""
    from testbed.controlplane import fake_node

    core = client.CoreV1Api(api)
    tag = f"refresh-{namespace[-6:]}"
    port = {"protocol": "tcp", "inner_port": 80, "published": True, "outer_port": 8181}
    services.create(api, namespace, "web", image="nginx", target_num_containers=4,
                    container_ports=[port], tags=[{"name": tag}])  # fmt: skip
    writes: list[tuple[float, str, str]] = []  # (when, state, running/target)
    stop = threading.Event()

    def watch() -> None:
        seen = ""
        while not stop.is_set():
            status = services.get(api, namespace, "web").get("status") or {}
            shown = f"{status.get('state')} {status.get('running_of_target')}"
            if status and shown != seen:
                writes.append((time.monotonic(), str(status.get("state")),
                               str(status.get("running_of_target"))))  # fmt: skip
                seen = shown
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    nodes = [f"refresh-{namespace[-6:]}-{i}" for i in range(4)]
    try:
        time.sleep(2)  # Starting, with no node to run on
        for name in nodes:
            core.create_node(fake_node(name, {f"tags.dockercloud.dev/{tag}": "true"}))
            time.sleep(1.5)
        wait_for(lambda: _state(api, namespace, "web") == "Running", "Running", timeout=60)
        done = time.monotonic()
        time.sleep(0.5)
        reasons = _event_reasons(api, namespace, "web")
    finally:
        stop.set()
        watcher.join(5)
        delete_services(api, namespace)
        for name in nodes:
            core.delete_node(name)
    states = [state for _, state, _ in writes]
    assert states[0] == "Starting" and states[-1] == "Running", writes
    starting = [(when, shown) for when, state, shown in writes if state == "Starting"]
    # the start, then progress no more often than the refresh interval
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(starting)]
    assert all(gap >= REFRESH - 0.5 for gap in gaps), writes
    assert len(starting) <= 1 + int((done - starting[0][0]) / REFRESH) + 1, writes
    assert writes[-1][0] - done < 1.0  # the end is written at once
    assert reasons == ["Starting", "Running"]  # an Event for each state written, no more


def test_a_long_redeploy_is_written_at_its_start_and_end(
    api: client.ApiClient, namespace: str, refreshed: Operator
) -> None:
    """Three containers on a host port (one a node) move to nodes tagged `later`, which appear
    one every 1.5 s: the rollout lasts about 5 s, while old and new containers come and go. A
    watch on the resource counts every status write: the start (Redeploying) and the end
    (Running), and in between at most one a refresh interval; an Event for each state written,
    no more."""
    from testbed.controlplane import fake_node

    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    tag = f"later-{namespace[-6:]}"
    port = {"protocol": "tcp", "inner_port": 80, "published": True, "outer_port": 8282}
    services.create(api, namespace, "web", image="nginx", target_num_containers=3,
                    container_ports=[port])  # fmt: skip
    wait_for(lambda: _state(api, namespace, "web") == "Running", "web to run", timeout=60)
    time.sleep(REFRESH)  # the start's writes are over
    before = _event_reasons(api, namespace, "web")
    listed = custom.list_namespaced_custom_object(
        "app.dockercloud.dev", "v1", namespace, "services", field_selector="metadata.name=web"
    )
    writes: list[tuple[float, dict[str, Any]]] = []
    stop = threading.Event()

    def watch() -> None:
        from kubernetes import watch as kube_watch

        seen = listed["items"][0].get("status")
        stream = kube_watch.Watch()
        for event in stream.stream(
            custom.list_namespaced_custom_object, "app.dockercloud.dev", "v1", namespace,
            "services", field_selector="metadata.name=web",
            resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=60,
        ):  # fmt: skip
            status = event["object"].get("status")
            if status != seen:
                writes.append((time.monotonic(), status))
                seen = status
            if stop.is_set():
                stream.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    nodes = [f"{tag}-{i}" for i in range(3)]
    try:
        services.patch_spec(api, namespace, "web", tags=[{"name": tag}])
        time.sleep(2)  # the new containers wait for a node
        for name in nodes:
            core.create_node(fake_node(name, {f"tags.dockercloud.dev/{tag}": "true"}))
            time.sleep(1.5)
        wait_for(lambda: any(s.get("state") == "Running" and s.get("synchronized")
                             for _, s in writes), "Running again", timeout=60)  # fmt: skip
        time.sleep(REFRESH + 1)  # nothing more is written
        reasons = _event_reasons(api, namespace, "web")[len(before) :]
    finally:
        stop.set()
        services.patch_spec(api, namespace, "web", running=False)  # a write, to end the watch
        watcher.join(10)
        delete_services(api, namespace)
        for name in nodes:
            core.delete_node(name)
    told = [(s.get("state"), s.get("synchronized"), s.get("running_of_target")) for _, s in writes]
    ends = [index for index, (state, synced, _) in enumerate(told) if state == "Running" and synced]
    told, times = told[: ends[0] + 1], [when for when, _ in writes][: ends[0] + 1]
    assert told[0][:2] == ("Redeploying", False), told
    assert told[-1] == ("Running", True, "3/3"), told
    lasted = times[-1] - times[0]
    assert lasted > REFRESH / 2, told  # long enough that progress would have shown
    assert len(told) <= 2 + int(lasted / REFRESH), told
    gaps = [b - a for a, b in itertools.pairwise(times[:-1])]
    assert all(gap >= REFRESH - 0.5 for gap in gaps), (told, gaps)
    assert reasons == ["Redeploying", "Running"], reasons
