"""A service's life on a real control plane: every documented state is observed, with the
counts, timestamps and conditions `kubectl get dcs` shows, and the actions that move it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller.status import DATETIME_FORMAT
from dockercloud_operator.schema.constants import GROUP, PLURAL, VERSION
from tests import services
from tests.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator")


class StateRecorder:
    """Every state a service's status goes through, in order, from a watch."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str) -> None:
        self.states: list[str] = []
        self.deleted = False
        self._stopped = threading.Event()
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, args=(api, namespace, name), daemon=True)
        self._thread.start()

    def _run(self, api: client.ApiClient, namespace: str, name: str) -> None:
        version: str | None = None
        while not self._stopped.is_set():
            try:
                stream = self._watch.stream(
                    client.CustomObjectsApi(api).list_namespaced_custom_object,
                    GROUP, VERSION, namespace, PLURAL,
                    field_selector=f"metadata.name={name}", timeout_seconds=300,
                    **({"resource_version": version} if version else {}),
                )  # fmt: skip
                for event in stream:
                    version = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] == "DELETED":
                        self.deleted = True
                        return
                    state = event["object"].get("status", {}).get("state")
                    if state and (not self.states or self.states[-1] != state):
                        self.states.append(state)
            except ApiException as error:
                if error.status == 410:  # too old to resume from: list afresh
                    version = None
                time.sleep(0.2)
            except Exception:  # a dropped stream: resume from the last version seen
                time.sleep(0.2)

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()

    def expect(self, check: Callable[[list[str]], bool], what: str) -> None:
        """Waits until the recorded states pass `check`; fails showing them if they do not."""
        try:
            wait_for(lambda: check(self.states), what, timeout=15)
        except AssertionError:
            raise AssertionError(f"{what}: the states seen were {self.states}") from None


def _status(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    return dict(services.get(api, namespace, name).get("status", {}))


def _settled(api: client.ApiClient, namespace: str, name: str, state: str) -> dict[str, Any]:
    """The status once it is `state` and describes the current generation."""

    def probe() -> dict[str, Any] | None:
        service = services.get(api, namespace, name)
        status = service.get("status", {})
        current = status.get("observedGeneration") == service["metadata"]["generation"]
        return status if current and status.get("state") == state else None

    return wait_for(probe, f"{name} to be {state}", timeout=60)


def _parse(moment: str) -> datetime:
    return datetime.strptime(moment, DATETIME_FORMAT)


def _crash_one_container(api: client.ApiClient, namespace: str, pod: client.V1Pod) -> None:
    """What a kubelet reports when a container exits: not ready, the container terminated."""
    core = client.CoreV1Api(api)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    core.patch_namespaced_pod_status(
        pod.metadata.name,
        namespace,
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "False", "lastTransitionTime": now},
                ],
                "containerStatuses": [
                    {
                        "name": pod.spec.containers[0].name,
                        "image": pod.spec.containers[0].image,
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
                    }
                ],
            }
        },
    )


def test_a_service_goes_through_every_documented_state(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(api, namespace, "web", image="nginx", target_num_containers=2, running=False)
    recorder = StateRecorder(api, namespace, "web")
    try:
        # Created without starting.
        created = _settled(api, namespace, "web", "Not running")
        assert created["current_num_containers"] == 0
        assert "started_datetime" not in created and "deployed_datetime" not in created

        # start: Starting -> Running, with the counts and timestamps of a running service.
        services.patch_spec(api, namespace, "web", running=True)
        running = _settled(api, namespace, "web", "Running")
        recorder.expect(lambda seen: seen[:3] == ["Not running", "Starting", "Running"], "start")
        assert (running["current_num_containers"], running["running_num_containers"]) == (2, 2)
        assert running["stopped_num_containers"] == 0
        assert running["synchronized"] is True
        assert running["running_of_target"] == "2/2"
        assert len(running["containers"]) == 2
        started = _parse(running["started_datetime"])
        assert _parse(running["deployed_datetime"]) == started
        scale = client.CustomObjectsApi(api).get_namespaced_custom_object_scale(
            GROUP, VERSION, namespace, PLURAL, "web"
        )
        assert scale["status"]["replicas"] == 2
        assert scale["status"]["selector"] == "app.dockercloud.dev/service=web"

        # scale up and down: Scaling -> Running each time.
        services.patch_spec(api, namespace, "web", target_num_containers=4)
        assert _settled(api, namespace, "web", "Running")["running_num_containers"] == 4
        services.patch_spec(api, namespace, "web", target_num_containers=1)
        assert _settled(api, namespace, "web", "Running")["running_num_containers"] == 1
        recorder.expect(
            lambda seen: seen[2:] == ["Running", "Scaling", "Running", "Scaling", "Running"],
            "scale up and down",
        )

        # A container fails: Partly running, and it counts as stopped.
        services.patch_spec(api, namespace, "web", target_num_containers=2)
        _settled(api, namespace, "web", "Running")
        pod = services.running_pods(api, namespace, "web")[0]
        _crash_one_container(api, namespace, pod)
        partly = _settled(api, namespace, "web", "Partly running")
        assert (partly["running_num_containers"], partly["stopped_num_containers"]) == (1, 1)
        ready = next(c for c in partly["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False"

        # redeploy: every container replaced (the crashed one too) -> Running.
        services.patch_spec(api, namespace, "web", redeploy={"token": "1"})
        redeployed = _settled(api, namespace, "web", "Running")
        recorder.expect(lambda seen: "Redeploying" in seen, "redeploy")
        assert redeployed["running_num_containers"] == 2
        assert pod.metadata.uid not in str(redeployed["containers"])
        assert _parse(redeployed["deployed_datetime"]) >= started
        assert _parse(redeployed["started_datetime"]) == started  # a redeploy is no start

        # stop: Stopping -> Stopped, keeping the target.
        mark = len(recorder.states)
        services.patch_spec(api, namespace, "web", running=False)
        stopped = _settled(api, namespace, "web", "Stopped")
        recorder.expect(lambda seen: seen[mark:][-2:] == ["Stopping", "Stopped"], "stop")
        assert stopped["current_num_containers"] == 0
        assert stopped["running_of_target"] == "0/2"
        assert _parse(stopped["stopped_datetime"]) >= started
        assert services.get(api, namespace, "web")["spec"]["target_num_containers"] == 2

        # terminate: Terminating while the containers go, then gone, with a Terminated event.
        services.delete(api, namespace, "web")
        wait_for(lambda: recorder.deleted, "the service to be gone", timeout=60)
        assert recorder.states[-1] == "Terminating"
    finally:
        recorder.stop()

    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector="involvedObject.name=web,involvedObject.kind=Service"
    )
    reasons = [event.reason for event in events.items]
    for reason in ["NotRunning", "Starting", "Running", "Scaling", "PartlyRunning",
                   "Redeploying", "Stopping", "Stopped", "Terminating", "Terminated"]:  # fmt: skip
        assert reason in reasons, reasons


def test_a_stopped_service_restarts_without_a_new_not_running(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(api, namespace, "web", image="nginx")
    _settled(api, namespace, "web", "Running")
    services.patch_spec(api, namespace, "web", running=False)
    _settled(api, namespace, "web", "Stopped")
    services.patch_spec(api, namespace, "web", running=True)
    status = _settled(api, namespace, "web", "Running")
    assert _parse(status["started_datetime"]) >= _parse(status["stopped_datetime"])


def _claim(api: client.ApiClient, namespace: str) -> client.V1PersistentVolumeClaim:
    claims = client.CoreV1Api(api).list_namespaced_persistent_volume_claim(namespace).items
    return claims[0] if len(claims) == 1 and claims[0].status.phase == "Bound" else None


def _volume_folder(api: client.ApiClient, claim: client.V1PersistentVolumeClaim) -> Path:
    volume = client.CoreV1Api(api).read_persistent_volume(claim.spec.volume_name)
    return Path(volume.spec.host_path.path)


@pytest.mark.parametrize("reuse", [True, False])
def test_redeploy_keeps_container_volumes_only_when_reusing_them(
    api: client.ApiClient, namespace: str, reuse: bool
) -> None:
    services.create(
        api, namespace, "db", image="mysql", bindings=[{"container_path": "/var/lib/mysql"}]
    )
    _settled(api, namespace, "db", "Running")
    claim = wait_for(lambda: _claim(api, namespace), "the container's volume")
    folder = _volume_folder(api, claim)
    local = folder.exists()  # the local test bed's volumes are folders on this machine
    if local:
        (folder / "data.txt").write_text("written by the container")

    services.patch_spec(api, namespace, "db", redeploy={"token": "1", "reuse_volumes": reuse})
    _settled(api, namespace, "db", "Running")
    after = wait_for(lambda: _claim(api, namespace), "the container's volume after redeploy")

    if reuse:
        assert after.metadata.uid == claim.metadata.uid
        if local:
            assert (folder / "data.txt").read_text() == "written by the container"
    else:
        assert after.metadata.uid != claim.metadata.uid
        if local:
            assert not (_volume_folder(api, after) / "data.txt").exists()


def test_an_action_the_state_does_not_allow_waits_and_says_so(
    api: client.ApiClient, namespace: str
) -> None:
    # No node has the tag: the container cannot be placed, so the service stays Starting.
    services.create(api, namespace, "web", image="nginx", tags=[{"name": "nowhere"}])
    _settled(api, namespace, "web", "Starting")

    services.patch_spec(api, namespace, "web", running=False)  # stop: not allowed in Starting
    held = _settled(api, namespace, "web", "Starting")
    condition = next(c for c in held["conditions"] if c["type"] == "ActionsAllowed")
    assert condition["status"] == "False"
    assert "stop waits" in condition["message"] and "Starting" in condition["message"]
    deployment = client.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    assert deployment.spec.replicas == 1
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector="involvedObject.name=web,reason=ActionHeld"
    )
    assert [event.type for event in events.items] == ["Warning"]

    # Once the container can run the service reaches Running, and the stop goes through.
    services.patch_spec(api, namespace, "web", tags=[])
    stopped = _settled(api, namespace, "web", "Stopped")
    condition = next(c for c in stopped["conditions"] if c["type"] == "ActionsAllowed")
    assert condition["status"] == "True"
