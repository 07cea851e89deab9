"""The Service CRD on a real API server: documented objects accepted with their defaults, bad
input rejected naming the field, EVERY_NODE transitions refused, scale and field selectors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.schema.constants import GROUP, PLURAL, VERSION
from dockercloud_operator.schema.model import (
    ServiceSpec,
)
from tests.invalid_specs import AT_THE_LIMITS, INVALID_SPECS, VALID_SPEC, Invalid
from tests.unit.test_model import DOCUMENTED_EXAMPLE
from tests.wait import wait_for

pytestmark = pytest.mark.usefixtures("service_crd")


def _body(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": spec,
    }


def _create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    # Strict, as kubectl is: an unknown field is an error, not a warning.
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict"
    )
    return created


def _patch_spec(
    api: client.ApiClient, namespace: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    patched: dict[str, Any] = client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": spec}
    )
    return patched


def _rejection(error: ApiException) -> str:
    assert error.status in (400, 422), error
    return str(json.loads(error.body)["message"])


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def test_the_documented_example_is_accepted_as_written(
    api: client.ApiClient, namespace: str
) -> None:
    manifest = yaml.safe_load(DOCUMENTED_EXAMPLE.read_text())
    created = _create(api, namespace, manifest)
    # Nulls mean "not set" and are dropped; every other documented value is kept exactly.
    written = _without_nulls(manifest["spec"])
    assert {key: created["spec"][key] for key in written} == written


def test_a_minimal_service_gets_the_models_defaults_from_the_server(
    api: client.ApiClient, namespace: str
) -> None:
    created = _create(api, namespace, _body("minimal", {"image": "tutum/hello-world"}))
    model_defaults = {
        key: value
        for key, value in ServiceSpec.model_validate({"image": "tutum/hello-world"})
        .model_dump(mode="json", exclude_none=True)
        .items()
        if value not in ([], {})  # lists and maps are simply absent until given
    }
    assert created["spec"] == model_defaults
    assert created["spec"]["target_num_containers"] == 1
    assert created["spec"]["deployment_strategy"] == "EMPTIEST_NODE"


@pytest.mark.parametrize("case", INVALID_SPECS, ids=lambda case: case.id)
def test_the_api_server_rejects_invalid_specs_naming_the_field(
    api: client.ApiClient, namespace: str, case: Invalid
) -> None:
    with pytest.raises(ApiException) as rejected:
        _create(api, namespace, _body(case.metadata_name, case.full_spec()))
    message = _rejection(rejected.value)
    assert case.field in message, message
    assert case.says in message, message


@pytest.mark.parametrize("case", list(AT_THE_LIMITS))
def test_the_api_server_accepts_what_is_just_within_the_limits(
    api: client.ApiClient, namespace: str, case: str
) -> None:
    _create(api, namespace, _body(case, {**VALID_SPEC, **AT_THE_LIMITS[case]}))


@pytest.mark.parametrize(
    ("before", "after"),
    [("EMPTIEST_NODE", "EVERY_NODE"), ("HIGH_AVAILABILITY", "EVERY_NODE"),
     ("EVERY_NODE", "EMPTIEST_NODE"), ("EVERY_NODE", "HIGH_AVAILABILITY")],
)  # fmt: skip
def test_a_service_cannot_be_updated_to_or_from_every_node(
    api: client.ApiClient, namespace: str, before: str, after: str
) -> None:
    _create(api, namespace, _body("web", {"image": "nginx", "deployment_strategy": before}))
    with pytest.raises(ApiException) as rejected:
        _patch_spec(api, namespace, "web", {"deployment_strategy": after})
    message = _rejection(rejected.value)
    assert "spec.deployment_strategy" in message
    assert "cannot be updated to or from a deployment_strategy of EVERY_NODE" in message


def test_other_updates_are_accepted(api: client.ApiClient, namespace: str) -> None:
    _create(
        api, namespace, _body("web", {"image": "nginx", "deployment_strategy": "EMPTIEST_NODE"})
    )
    updated = _patch_spec(
        api,
        namespace,
        "web",
        {
            "deployment_strategy": "HIGH_AVAILABILITY",
            "image": "nginx:1.27",
            "target_num_containers": 3,
            "tags": [{"name": "ssd"}],
            "running": False,
        },
    )
    assert updated["spec"]["deployment_strategy"] == "HIGH_AVAILABILITY"
    assert updated["spec"]["target_num_containers"] == 3
    back = _patch_spec(api, namespace, "web", {"deployment_strategy": "EMPTIEST_NODE"})
    assert back["spec"]["deployment_strategy"] == "EMPTIEST_NODE"


def test_an_every_node_service_cannot_be_scaled(api: client.ApiClient, namespace: str) -> None:
    _create(api, namespace, _body("agent", {"image": "nginx", "deployment_strategy": "EVERY_NODE"}))
    with pytest.raises(ApiException) as rejected:
        _patch_spec(api, namespace, "agent", {"target_num_containers": 4})
    assert "spec.target_num_containers" in _rejection(rejected.value)
    # Everything else can still change.
    assert _patch_spec(api, namespace, "agent", {"image": "nginx:2"})["spec"]["image"] == "nginx:2"


def _kubectl(kubectl: str, kubeconfig: Path, *args: str) -> str:
    result = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kubectl_scale_sets_target_num_containers(
    api: client.ApiClient, namespace: str, kubectl: str, kubeconfig: Path
) -> None:
    _create(api, namespace, _body("web", {"image": "nginx"}))
    _kubectl(kubectl, kubeconfig, "-n", namespace, "scale", "dcs/web", "--replicas=3")
    service = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "web"
    )
    assert service["spec"]["target_num_containers"] == 3
    scale = client.CustomObjectsApi(api).get_namespaced_custom_object_scale(
        GROUP, VERSION, namespace, PLURAL, "web"
    )
    assert scale["spec"]["replicas"] == 3


@pytest.mark.usefixtures("operator")
def test_field_selectors_filter_by_state_and_columns_show_it(
    api: client.ApiClient, namespace: str, kubectl: str, kubeconfig: Path
) -> None:
    custom = client.CustomObjectsApi(api)
    _create(api, namespace, _body("web", {"image": "nginx", "target_num_containers": 2}))
    _create(api, namespace, _body("worker", {"image": "nginx", "running": False}))

    def state_of(name: str) -> str | None:
        service = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return service.get("status", {}).get("state")

    wait_for(lambda: state_of("web") == "Running", "web to run")
    wait_for(lambda: state_of("worker") == "Not running", "worker to be reported")

    selected = _kubectl(
        kubectl, kubeconfig, "-n", namespace, "get", "dcs",
        "--field-selector", "status.state=Running", "-o", "name",
    )  # fmt: skip
    assert selected.split() == ["service.app.dockercloud.dev/web"]
    not_running = custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, field_selector="status.state=Not running"
    )
    assert [item["metadata"]["name"] for item in not_running["items"]] == ["worker"]

    table = _kubectl(kubectl, kubeconfig, "-n", namespace, "get", "dcs").splitlines()
    assert table[0].split() == ["NAME", "STATE", "RUNNING", "IMAGE", "STRATEGY", "AGE"]
    assert table[1].split()[:5] == ["web", "Running", "2/2", "nginx", "EMPTIEST_NODE"]
