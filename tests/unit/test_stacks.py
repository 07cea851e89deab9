"""The Stack resource's pure parts: its schema, the Service resources it becomes, and its
state from its services' states."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from dockercloud_operator.controller.stack_status import compute, stack_state
from dockercloud_operator.resources.stack import STACK_LABEL, member_services
from dockercloud_operator.schema import stack_crd
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    State,
)
from dockercloud_operator.schema.stack import StackSpec, StackState

Object = dict[str, Any]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def stack(spec: Object, name: str = "shop", namespace: str = "ns") -> Object:
    meta = {"name": name, "namespace": namespace, "uid": "stack-uid", "generation": 2}
    return {"metadata": meta, "spec": spec}


def test_the_crd_keeps_the_services_schema_without_cel() -> None:
    schema = stack_crd.openapi_schema()
    services = schema["properties"]["spec"]["properties"]["services"]
    assert services["x-kubernetes-list-map-keys"] == ["name"]
    member = services["items"]
    assert "running" not in member["properties"] and "stack" not in member["properties"]
    assert member["properties"]["image"]["pattern"]  # the grammar, as a pattern
    assert "x-kubernetes-validations" not in str(member)
    assert "name" in member["required"]


def test_the_stack_owns_running_redeploy_and_stack() -> None:
    with pytest.raises(ValidationError, match="running: set on the stack"):
        StackSpec.model_validate({"services": [{"name": "web", "image": "x", "running": False}]})
    with pytest.raises(ValidationError, match="web named more than once"):
        StackSpec.model_validate({"services": [{"name": "web", "image": "x"},
                                               {"name": "web", "image": "y"}]})  # fmt: skip


def test_each_service_becomes_a_service_resource_owned_by_the_stack() -> None:
    spec = StackSpec.model_validate({
        "running": False,
        "redeploy": {"token": "t1", "reuse_volumes": False},
        "services": [
            {"name": "web", "image": "nginx", "target_num_containers": 2,
             "linked_to_service": [{"to_service": "db"}, {"to_service": "cache.other"},
                                   {"to_service": "standalone", "name": "S"}],
             "bindings": [{"volumes_from": "db"}, {"container_path": "/data"}]},
            {"name": "db", "image": "mysql", "nickname": "the database"},
        ],
    })  # fmt: skip
    web, db = member_services(stack({}), spec)
    assert web["metadata"]["name"] == "shop-web" and db["metadata"]["name"] == "shop-db"
    assert web["metadata"]["namespace"] == "ns"
    assert web["metadata"]["labels"] == {STACK_LABEL: "shop"}
    [owner] = web["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Stack", "shop", "stack-uid", True,
    )  # fmt: skip
    assert web["spec"]["linked_to_service"] == [
        {"to_service": "shop-db", "name": "db"},
        {"to_service": "other-cache", "name": "cache"},
        {"to_service": "standalone", "name": "S"},
    ]
    assert web["spec"]["bindings"] == [{"volumes_from": "shop-db"}, {"container_path": "/data"}]
    assert web["spec"]["nickname"] == "web" and db["spec"]["nickname"] == "the database"
    assert web["spec"]["stack"] == "/api/app/v1/ns/stack/stack-uid/"
    assert web["spec"]["running"] is False
    assert web["spec"]["redeploy"] == {"token": "t1", "reuse_volumes": False}
    assert web["spec"]["target_num_containers"] == 2
    for manifest in (web, db):
        Service.model_validate(manifest)  # each is a valid Service resource


@pytest.mark.parametrize(
    ("running", "states", "previous", "redeploying", "expected"),
    [
        (True, [State.RUNNING, State.RUNNING], StackState.STARTING, False, StackState.RUNNING),
        (True, [None, State.RUNNING], None, False, StackState.STARTING),
        (True, [State.RUNNING, State.STOPPED], StackState.RUNNING, False,
         StackState.PARTLY_RUNNING),
        (True, [State.RUNNING, State.PARTLY_RUNNING], StackState.RUNNING, False,
         StackState.PARTLY_RUNNING),
        (True, [State.RUNNING, None], StackState.RUNNING, True, StackState.REDEPLOYING),
        (True, [State.RUNNING, State.RUNNING], StackState.REDEPLOYING, True, StackState.RUNNING),
        (True, [State.STARTING, State.RUNNING], StackState.STOPPED, False, StackState.STARTING),
        (False, [State.NOT_RUNNING, State.NOT_RUNNING], None, False, StackState.NOT_RUNNING),
        (False, [State.RUNNING, State.STOPPED], StackState.RUNNING, False, StackState.STOPPING),
        (False, [State.STOPPED, State.STOPPED], StackState.STOPPING, False, StackState.STOPPED),
        (False, [None, State.STOPPED], StackState.RUNNING, False, StackState.STOPPING),
        (True, [], None, False, StackState.RUNNING),
        (False, [], None, False, StackState.NOT_RUNNING),
    ],
)  # fmt: skip
def test_the_stack_state_follows_its_services(
    running: bool, states: list[State | None], previous: StackState | None, redeploying: bool,
    expected: StackState,
) -> None:  # fmt: skip
    assert stack_state(running, False, states, previous, redeploying) is expected
    assert stack_state(running, True, states, previous, redeploying) is StackState.TERMINATING


def _service(state: str, generation: int = 1, seen: int = 1, uri: str = "u") -> Object:
    return {"metadata": {"generation": generation, "uid": uri, "namespace": "ns"},
            "status": {"state": state, "observedGeneration": seen, "synchronized": True,
                       "resource_uri": uri}}  # fmt: skip


def test_the_documented_stack_object() -> None:
    body = stack({"services": [], "nickname": "Shop"})
    status = compute(body, [_service("Running", uri="b"), _service("Running", uri="a")],
                     "", {}, NOW)  # fmt: skip
    assert status["state"] == "Running" and status["synchronized"] is True
    assert status["name"] == "shop" and status["nickname"] == "Shop"
    assert status["uuid"] == "stack-uid"
    assert status["resource_uri"] == "/api/app/v1/ns/stack/stack-uid/"
    assert status["services"] == ["/api/app/v1/ns/service/a/", "/api/app/v1/ns/service/b/"]
    assert status["deployed_datetime"] == "Sat, 28 Nov 2026 12:00:00 +0000"
    ready, valid = status["conditions"]
    assert (ready["type"], ready["status"], ready["message"]) == (
        "Ready", "True", "2/2 services running")  # fmt: skip
    assert (valid["type"], valid["status"]) == ("ServicesValid", "True")


def test_a_service_that_has_not_seen_its_spec_is_not_settled() -> None:
    body = stack({"services": []})
    status = compute(body, [_service("Running", generation=2, seen=1)], "", {"state": "Running"},
                     NOW)  # fmt: skip
    assert status["synchronized"] is False
    invalid = compute(body, [], "spec.services.0.image: Field required", {}, NOW)
    assert invalid["conditions"][1]["status"] == "False"
    assert invalid["conditions"][1]["message"] == "spec.services.0.image: Field required"


def test_a_redeploy_lasts_until_every_service_runs_it() -> None:
    body = stack({"services": [], "redeploy": {"token": "t2"}})
    before = {"state": "Running", "observedRedeployToken": "t1"}
    during = compute(body, [_service("Running", generation=3, seen=2)], "", before, NOW)
    assert during["state"] == "Redeploying" and during["observedRedeployToken"] == "t1"
    after = compute(body, [_service("Running", generation=3, seen=3)], "", during, NOW)
    assert after["state"] == "Running" and after["observedRedeployToken"] == "t2"
