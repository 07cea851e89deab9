"""The Service model: the documented example, defaults, enums, and offline validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from dockercloud_operator.schema.model import (
    ServiceSpec,
    ServiceStatus,
)
from dockercloud_operator.schema.parts import (
    Autodestroy,
    Autorestart,
    DeploymentStrategy,
    State,
)
from tests.invalid_specs import AT_THE_LIMITS, INVALID_SPECS, VALID_SPEC, Invalid

DOCUMENTED_EXAMPLE = Path(__file__).parent.parent / "data" / "documented-example.yaml"


def documented_spec() -> dict[str, Any]:
    return dict(yaml.safe_load(DOCUMENTED_EXAMPLE.read_text())["spec"])


def test_the_documented_example_round_trips() -> None:
    spec = documented_spec()
    model = ServiceSpec.model_validate(spec)
    assert model.model_dump(mode="json", exclude_unset=True) == spec
    assert ServiceSpec.model_validate(model.model_dump(mode="json")) == model


def test_a_minimal_spec_gets_the_documented_defaults() -> None:
    spec = ServiceSpec.model_validate({"image": "tutum/hello-world"})
    assert spec.target_num_containers == 1
    assert spec.autorestart == "OFF" and spec.autodestroy == "OFF"
    assert spec.deployment_strategy == "EMPTIEST_NODE"
    assert spec.net == "bridge" and spec.pid == "none"
    assert spec.working_dir == "/"
    assert spec.running is True
    assert spec.sequential_deployment is False and spec.privileged is False
    assert spec.autoredeploy is False and spec.tty is False and spec.stdin_open is False
    assert spec.read_only is False
    assert spec.container_ports == [] and spec.bindings == [] and spec.roles == []


def test_nested_defaults_are_the_documented_ones() -> None:
    spec = ServiceSpec.model_validate(
        {
            "image": "tutum/hello-world",
            "container_ports": [{"protocol": "tcp", "inner_port": 80}],
            "bindings": [{"container_path": "/data"}],
            "redeploy": {"token": "1"},
        }
    )
    assert spec.container_ports[0].published is False
    assert spec.container_ports[0].outer_port is None
    assert spec.bindings[0].rewritable is True
    assert spec.redeploy is not None and spec.redeploy.reuse_volumes is True


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (Autorestart, ["OFF", "ON_FAILURE", "ALWAYS"]),
        (Autodestroy, ["OFF", "ON_SUCCESS", "ALWAYS"]),
        (DeploymentStrategy, ["EMPTIEST_NODE", "HIGH_AVAILABILITY", "EVERY_NODE"]),
        (
            State,
            [
                "Not running", "Starting", "Running", "Partly running", "Scaling",
                "Redeploying", "Stopping", "Stopped", "Terminating", "Terminated",
            ],
        ),
    ],
)  # fmt: skip
def test_enums_hold_exactly_the_documented_values(enum: Any, values: list[str]) -> None:
    assert [member.value for member in enum] == values


def test_enum_values_are_stored_as_their_documented_strings() -> None:
    spec = ServiceSpec.model_validate({"image": "x", "autorestart": "ALWAYS"})
    assert spec.model_dump()["autorestart"] == "ALWAYS"


def test_read_only_attributes_are_not_accepted_in_the_spec() -> None:
    for read_only in ["uuid", "state", "synchronized", "containers", "current_num_containers"]:
        with pytest.raises(ValidationError, match=read_only):
            ServiceSpec.model_validate({**VALID_SPEC, read_only: "x"})


def test_the_status_holds_every_read_only_attribute() -> None:
    documented = {
        "uuid", "resource_uri", "image_name", "state", "synchronized", "deployed_datetime",
        "started_datetime", "stopped_datetime", "destroyed_datetime", "current_num_containers",
        "running_num_containers", "stopped_num_containers", "containers", "public_dns",
        "link_variables", "linked_from_service",
    }  # fmt: skip
    assert documented <= set(ServiceStatus.model_fields)
    assert (
        "endpoint_uri"
        in ServiceStatus.model_fields["container_ports"].annotation.__args__[0].model_fields
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "case", [c for c in INVALID_SPECS if not c.server_only], ids=lambda case: case.id
)
def test_the_model_rejects_what_the_api_server_rejects(case: Invalid) -> None:
    with pytest.raises(ValidationError):
        ServiceSpec.model_validate(case.full_spec())


@pytest.mark.parametrize("spec", AT_THE_LIMITS.values(), ids=list(AT_THE_LIMITS))
def test_the_model_accepts_what_is_just_within_the_limits(spec: dict[str, Any]) -> None:
    ServiceSpec.model_validate({**VALID_SPEC, **spec})
