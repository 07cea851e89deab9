"""Stacks on the real control plane: a stackfile converted and applied becomes its services,
which start, stop, redeploy and go with the stack; edits add, change and remove services and
touch nothing else; links resolve inside a stack and across stacks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests import services
from tests.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator")]
GROUP, VERSION, PLURAL = "app.dockercloud.dev", "v1", "stacks"

STACKFILE = """\
lb:
  image: dockercloud/haproxy
  links: ["web:WEB"]
  ports: ["80"]
web:
  image: dockercloud/quickstart-python
  links: [redis]
  target_num_containers: 2
  environment: {NAME: Friendly Users}
  expose: ["80"]
redis:
  image: redis
  expose: ["6379"]
"""


def _convert(tmp_path: Path, text: str, name: str, running: bool = True) -> dict[str, Any]:
    path = tmp_path / "docker-cloud.yml"
    path.write_text(text)
    printed = subprocess.run(
        [sys.executable, "-m", "dockercloud_operator", "convert", str(path), "--name", name],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    manifest: dict[str, Any] = yaml.safe_load(printed)
    manifest["spec"]["running"] = running
    return manifest


def _custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def _stack(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = _custom(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name
        )
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return found


def _patch(api: client.ApiClient, namespace: str, name: str, spec: dict[str, Any]) -> None:
    _custom(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": spec}
    )


def _state_is(api: client.ApiClient, namespace: str, name: str, state: str,
              timeout: float = 90) -> dict[str, Any]:  # fmt: skip
    def reached() -> dict[str, Any] | None:
        stack = _stack(api, namespace, name) or {}
        status = stack.get("status") or {}
        current = status.get("observedGeneration") == stack.get("metadata", {}).get("generation")
        settled = current and status.get("synchronized")
        return stack if settled and status.get("state") == state else None

    found: dict[str, Any] = wait_for(reached, f"stack {name} to be {state}", timeout=timeout)
    return found


def _members(api: client.ApiClient, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    listed = _custom(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "services", label_selector=f"{GROUP}/stack={name}"
    )
    return {s["metadata"]["name"]: s for s in listed["items"]}


def _reasons(api: client.ApiClient, namespace: str, name: str) -> set[str]:
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=Stack,involvedObject.name={name}"
    )
    return {event.reason for event in events.items}


def test_a_stack_goes_through_the_documented_states_and_takes_its_services_along(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    manifest = _convert(tmp_path, STACKFILE, "shop", running=False)
    _custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
    stack = _state_is(api, namespace, "shop", "Not Running")
    members = _members(api, namespace, "shop")
    assert sorted(members) == ["shop-lb", "shop-redis", "shop-web"]
    assert {m["status"]["state"] for m in members.values()} == {"Not running"}
    assert sorted(stack["status"]["services"]) == sorted(
        m["status"]["resource_uri"] for m in members.values()
    )
    assert all(m["spec"]["stack"] == stack["status"]["resource_uri"] for m in members.values())

    def step(spec: dict[str, Any], state: str) -> dict[str, Any]:
        _patch(api, namespace, "shop", spec)
        return _state_is(api, namespace, "shop", state)

    step({"running": True}, "Running")
    assert len(services.running_pods(api, namespace, "shop-web")) == 2
    step({"running": False}, "Stopped")
    assert all(not services.running_pods(api, namespace, m) for m in members)
    stack = step({"running": True}, "Running")
    assert stack["status"]["synchronized"] is True
    before = {p.metadata.name for p in services.running_pods(api, namespace, "shop-web")}
    stack = step({"redeploy": {"token": "one"}}, "Running")
    assert stack["status"]["observedRedeployToken"] == "one"
    wait_for(lambda: not before & {p.metadata.name
                                   for p in services.running_pods(api, namespace, "shop-web")},
             "web's containers to be replaced")  # fmt: skip

    _custom(api).delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shop")

    def gone() -> bool:
        managed = (
            client.AppsV1Api(api)
            .list_namespaced_deployment(
                namespace, label_selector="app.kubernetes.io/managed-by=dockercloud-operator"
            )
            .items
        )
        return _stack(api, namespace, "shop") is None and not _members(
            api, namespace, "shop") and not managed  # fmt: skip

    wait_for(gone, "the stack, its services and their children to be gone", timeout=90)
    assert {"Starting", "Running", "Stopping", "Stopped", "Redeploying",
            "Terminating"} <= _reasons(api, namespace, "shop")  # fmt: skip


def test_editing_the_services_adds_changes_and_removes_and_touches_nothing_else(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    manifest = _convert(tmp_path, STACKFILE, "edit")
    _custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
    _state_is(api, namespace, "edit", "Running")
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)

    def versions(service: str) -> dict[str, Any]:
        deployment = apps.read_namespaced_deployment(service, namespace)
        kube_service = core.read_namespaced_service(service, namespace)
        return {"Deployment": services.written(deployment),
                "Service": kube_service.metadata.resource_version}  # fmt: skip

    untouched = versions("edit-redis")
    spec = manifest["spec"]
    by_name = {s["name"]: s for s in spec["services"]}
    by_name["web"]["image"] = "dockercloud/quickstart-python:v2"  # changed
    del by_name["lb"]  # removed
    by_name["worker"] = {
        "name": "worker",
        "image": "busybox",
        "linked_to_service": [{"to_service": "redis"}],
    }  # added
    _patch(api, namespace, "edit", {"services": list(by_name.values())})  # replaces the list
    _state_is(api, namespace, "edit", "Running")
    wait_for(lambda: "edit-lb" not in _members(api, namespace, "edit"), "lb to go")
    members = _members(api, namespace, "edit")
    assert sorted(members) == ["edit-redis", "edit-web", "edit-worker"]
    web = apps.read_namespaced_deployment("edit-web", namespace)
    assert web.spec.template.spec.containers[0].image == "dockercloud/quickstart-python:v2"
    assert services.running_pods(api, namespace, "edit-worker")
    assert versions("edit-redis") == untouched

    # The stack owns its services: an edit of one of them directly is put back.
    services.patch_spec(api, namespace, "edit-redis", image="redis:6")
    wait_for(lambda: services.get(api, namespace, "edit-redis")["spec"]["image"] == "redis",
             "the stack to put its service back")  # fmt: skip


def _env(api: client.ApiClient, namespace: str, deployment: str) -> dict[str, str]:
    found = client.AppsV1Api(api).read_namespaced_deployment(deployment, namespace)
    return {e.name: e.value for e in found.spec.template.spec.containers[0].env or []}


def test_links_resolve_inside_each_stack_and_across_stacks(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    one = "web:\n  image: nginx\n  links: [db]\ndb:\n  image: mysql\n  expose: ['3306']\n"
    two = one.replace("links: [db]", "links: [db, 'db.one:OTHER']")
    for name, text in (("one", one), ("two", two)):
        manifest = _convert(tmp_path, text, name)
        _custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
    for name in ("one", "two"):
        _state_is(api, namespace, name, "Running")
    env_one, env_two = _env(api, namespace, "one-web"), _env(api, namespace, "two-web")
    assert "one-db" in env_one["DB_PORT_3306_TCP_ADDR"]
    assert "two-db" in env_two["DB_PORT_3306_TCP_ADDR"]
    assert "one-db" in env_two["OTHER_PORT_3306_TCP_ADDR"]


def test_a_service_the_service_rules_refuse_is_named_and_nothing_is_made(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    manifest = _two_ports_on_one("bad")
    _custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)

    def refused() -> dict[str, Any] | None:
        condition = _condition(_stack(api, namespace, "bad") or {}, "ServicesValid")
        return condition if condition and condition["status"] == "False" else None

    condition = wait_for(refused, "the stack to say which service is refused")
    assert "spec.services[web]" in condition["message"] and "outer_port" in condition["message"]
    time.sleep(2)
    assert _members(api, namespace, "bad") == {}


def _two_ports_on_one(name: str) -> dict[str, Any]:
    """A Stack whose one service has two published ports on outer port 80 (which only the
    Service's own rules refuse)."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Stack", "metadata": {"name": name},
            "spec": {"services": [{"name": "web", "image": "nginx", "container_ports": [
                {"protocol": "tcp", "inner_port": 80, "outer_port": 80, "published": True},
                {"protocol": "tcp", "inner_port": 81, "outer_port": 80, "published": True},
            ]}]}}  # fmt: skip


def _condition(stack: dict[str, Any], kind: str) -> dict[str, Any] | None:
    conditions: list[dict[str, Any]] = (stack.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), None)
