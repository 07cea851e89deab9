"""Documented actions: which states allow them, and what is held until they do."""

from __future__ import annotations

from typing import Any

import pytest

from dockercloud_operator.controller.actions import ALLOWED, Action, decide, deployed, requested
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    State,
)


def service(**spec: Any) -> Service:
    return Service.model_validate(
        {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"image": "nginx", **spec}}
    )


def deployment(replicas: int, token: str | None = None) -> dict[str, Any]:
    annotations = {"app.dockercloud.dev/redeploy": token} if token else {}
    return {
        "kind": "Deployment",
        "spec": {"replicas": replicas, "template": {"metadata": {"annotations": annotations}}},
    }


def test_the_documented_table() -> None:
    assert ALLOWED[State.NOT_RUNNING] == {Action.START, Action.SCALE}
    assert ALLOWED[State.RUNNING] == {Action.STOP, Action.REDEPLOY, Action.SCALE}
    assert ALLOWED[State.PARTLY_RUNNING] >= {Action.STOP, Action.REDEPLOY}
    assert ALLOWED[State.STOPPED] >= {Action.START, Action.REDEPLOY}
    for busy in (State.STARTING, State.SCALING, State.REDEPLOYING, State.STOPPING):
        assert not ALLOWED[busy], busy


@pytest.mark.parametrize(
    ("spec", "workload", "expected"),
    [
        ({"running": True, "target_num_containers": 2}, deployment(0), [Action.START]),
        ({"running": False, "target_num_containers": 2}, deployment(2), [Action.STOP]),
        ({"target_num_containers": 3}, deployment(2), [Action.SCALE]),
        ({"target_num_containers": 2}, deployment(2), []),
        ({"target_num_containers": 2, "redeploy": {"token": "2"}}, deployment(2, "1"),
         [Action.REDEPLOY]),
        ({"target_num_containers": 2, "redeploy": {"token": "1"}}, deployment(2, "1"), []),
        ({"running": False, "target_num_containers": 5}, deployment(0), []),
    ],
)  # fmt: skip
def test_requested_actions_compare_the_spec_with_what_is_deployed(
    spec: dict[str, Any], workload: dict[str, Any], expected: list[Action]
) -> None:
    assert requested(service(**spec), deployed(workload)) == expected


def test_a_stopped_daemonset_is_deployed_but_not_running() -> None:
    daemonset = {
        "kind": "DaemonSet",
        "spec": {"template": {"spec": {"nodeSelector": {"app.dockercloud.dev/stopped": "true"}}}},
    }
    live = deployed(daemonset)
    assert (live.running, live.replicas) == (False, None)


def test_an_allowed_action_is_carried_out() -> None:
    decision = decide(service(target_num_containers=3), deployment(2), State.RUNNING)
    assert decision.held == []
    assert decision.effective.spec.target_num_containers == 3


def test_an_action_the_state_does_not_allow_waits_with_the_deployed_value() -> None:
    wanted = service(
        running=False, target_num_containers=2, image="nginx:2", redeploy={"token": "2"}
    )
    decision = decide(wanted, deployment(2, "1"), State.STARTING)
    assert decision.held == [Action.STOP, Action.REDEPLOY]
    effective = decision.effective.spec
    assert effective.running is True
    assert effective.redeploy is not None and effective.redeploy.token == "1"
    assert effective.image == "nginx:2"  # a change that is no action applies
    assert "Starting allows no action" in decision.message()


def test_a_scale_in_a_transition_keeps_the_deployed_count() -> None:
    decision = decide(service(target_num_containers=5), deployment(2), State.REDEPLOYING)
    assert decision.held == [Action.SCALE]
    assert decision.effective.spec.target_num_containers == 2


def test_nothing_is_held_before_anything_is_deployed_or_known() -> None:
    assert decide(service(running=False), None, State.STARTING).held == []
    assert decide(service(target_num_containers=9), deployment(2), None).held == []
