"""The documented stack endpoints over Stack resources: create (from a stackfile's services, as
the documented clients send them), list and filters, get, the actions through the documented
states, update, export, terminate; and bad input answered 400/409 in words."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes import client

from dockercloud_operator.documented.stackfile import to_spec
from tests.rest_api import Client, RestApi, service_account_token
from tests.wait import wait_for

pytestmark = pytest.mark.integration

SERVICES = [
    {"name": "web", "image": "nginx", "target_num_containers": 2, "ports": ["80"],
     "links": ["db:DB"], "environment": ["MODE=test"]},
    {"name": "db", "image": "mysql", "expose": ["3306"], "restart": "always"},
]  # fmt: skip


@pytest.fixture
def caller(
    api: client.ApiClient, namespace: str, rest_api: RestApi, user_roles: None, operator: Any
) -> Client:
    token = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    return Client(rest_api, token, namespace)


def _stacks(caller: Client) -> str:
    return caller.base.replace("/service/", "/stack/")


def _state(caller: Client, uuid: str, state: str, timeout: float = 90) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        answer = caller.call("GET", f"{_stacks(caller)}{uuid}/")
        stack: dict[str, Any] = answer.json()
        return stack if stack["state"] == state and stack["synchronized"] else None

    found: dict[str, Any] = wait_for(reached, f"the stack to be {state}", timeout=timeout)
    return found


def test_a_stack_through_the_documented_endpoints(caller: Client) -> None:
    created = caller.call("POST", _stacks(caller), json={"name": "shop", "services": SERVICES})
    assert created.status_code == 201, created.text
    stack = created.json()
    assert stack["name"] == "shop" and stack["state"] == "Not Running"
    uuid = stack["uuid"]
    assert stack["resource_uri"].endswith(f"/stack/{uuid}/")
    stack = _state(caller, uuid, "Not Running")
    assert len(stack["services"]) == 2

    listed = caller.call("GET", f"{_stacks(caller)}?name=shop").json()
    assert listed["meta"]["total_count"] == 1 and listed["objects"][0]["uuid"] == uuid
    assert caller.call("GET", f"{_stacks(caller)}?name=nope").json()["objects"] == []
    members = caller.call("GET", caller.base, params={"stack": stack["resource_uri"]}).json()
    assert sorted(s["name"] for s in members["objects"]) == ["shop-db", "shop-web"]
    by_name = caller.call("GET", caller.base, params={"stack__name": "shop"}).json()
    assert by_name["meta"]["total_count"] == 2

    def act(action: str, state: str) -> dict[str, Any]:
        answer = caller.call("POST", f"{_stacks(caller)}{uuid}/{action}/")
        assert answer.status_code == 202, answer.text
        assert answer.json()["state"] == {"start": "Starting", "stop": "Stopping",
                                          "redeploy": "Redeploying"}[action]  # fmt: skip
        return _state(caller, uuid, state)

    act("start", "Running")
    refused = caller.call("POST", f"{_stacks(caller)}{uuid}/start/")
    assert (
        refused.status_code == 409
        and "start is not allowed while it is Running" in (refused.json()["error"])
    )
    act("stop", "Stopped")
    act("start", "Running")
    act("redeploy", "Running")

    exported = caller.call("GET", f"{_stacks(caller)}{uuid}/export/")
    assert exported.status_code == 200
    assert exported.json()["web"]["links"] == ["db:DB"]  # JSON, as the documented clients read
    as_yaml = caller.call("GET", f"{_stacks(caller)}{uuid}/export/",
                          headers={"Accept": "application/x-yaml"})  # fmt: skip
    services = to_spec(as_yaml.text, {})["services"]
    assert [s["name"] for s in services] == ["web", "db"]
    assert yaml.safe_load(as_yaml.text) == exported.json()

    added = [*SERVICES, {"name": "cache", "image": "redis"}]
    updated = caller.call("PATCH", f"{_stacks(caller)}{uuid}/", json={"services": added})
    assert updated.status_code == 200, updated.text
    stack = _state(caller, uuid, "Running")
    assert len(stack["services"]) == 3

    deleted = caller.call("DELETE", f"{_stacks(caller)}{uuid}/")
    assert deleted.status_code == 202 and deleted.json()["state"] == "Terminating"
    wait_for(lambda: caller.call("GET", f"{_stacks(caller)}{uuid}/").status_code == 404,
             "the stack to be gone", timeout=90)  # fmt: skip
    wait_for(lambda: caller.call("GET", caller.base, params={"stack__name": "shop"}).json()[
        "meta"]["total_count"] == 0, "its services to be gone", timeout=90)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"services": []}, "name: required"),
        ({"name": "s", "services": "web"}, "services must be a list"),
        ({"name": "s", "services": [{"image": "x"}]}, "services[0] must be an object with a name"),
        ({"name": "s", "services": [{"name": "web", "image": "x", "links": ["nope"]}]},
         "'nope' is not a service of this stack"),
        ({"name": "s", "services": [{"name": "web", "image": "x", "build": "."}]},
         "service 'web'"),
        ({"name": "s", "colour": "red"}, '"colour" is not a stack parameter'),
        ({"name": "s", "services": [{"name": "web", "image": "x", "environment": ["UNSET"]}]},
         "UNSET takes its value from the environment"),
    ],
)  # fmt: skip
def test_bad_stacks_are_a_400_in_words(caller: Client, body: dict[str, Any], words: str) -> None:
    answer = caller.call("POST", _stacks(caller), json=body)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]


def test_an_unknown_stack_is_a_404(caller: Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path in (("GET", ""), ("POST", "start/"), ("GET", "export/"), ("DELETE", "")):
        answer = caller.call(method, f"{_stacks(caller)}{missing}/{path}")
        assert answer.status_code == 404, (method, path, answer.text)
