"""The generated CRD: in step with the models, structural, and shaped for kubectl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dockercloud_operator.schema import crd

COMMITTED = Path(__file__).parent.parent.parent / "crds" / "service.yaml"


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for name, child in node.get("properties", {}).items():
            yield from _nodes(child, f"{path}.{name}")
        if "items" in node:
            yield from _nodes(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from _nodes(node["additionalProperties"], f"{path}{{}}")


def _version() -> dict[str, Any]:
    return dict(crd.custom_resource_definition()["spec"]["versions"][0])


def test_the_committed_crd_is_what_the_models_generate() -> None:
    assert COMMITTED.read_text() == crd.render_yaml(), "run `make crds` and commit crds/"


def test_the_schema_is_structural() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]
    for path, node in _nodes(schema):
        assert "type" in node, f"{path} has no type"
        assert not {"$ref", "anyOf", "oneOf", "allOf", "title", "$defs"} & node.keys(), path
        assert not [key for key in node if key.startswith("x-") and "kubernetes" not in key]


def test_every_map_says_what_its_values_are() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]
    maps = [p for p, n in _nodes(schema) if n["type"] == "object" and "properties" not in n]
    assert maps and all("additionalProperties" in _lookup(schema, p) for p in maps)


def _lookup(schema: dict[str, Any], path: str) -> dict[str, Any]:
    return next(node for p, node in _nodes(schema) if p == path)


def test_every_pattern_is_reported_in_words() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]
    patterns = [path for path, node in _nodes(schema) if "pattern" in node]
    assert patterns == [".status.conditions[].status"]  # status is written by the operator only


def test_names_and_scope() -> None:
    definition = crd.custom_resource_definition()
    assert definition["metadata"]["name"] == "services.app.dockercloud.dev"
    assert definition["spec"]["scope"] == "Namespaced"
    names = definition["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"], names["categories"]) == (
        "Service", "services", ["dcs"], ["dockercloud"],
    )  # fmt: skip


def test_scale_subresource_maps_replicas_to_containers() -> None:
    assert _version()["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.target_num_containers",
            "statusReplicasPath": ".status.running_num_containers",
            "labelSelectorPath": ".status.selector",
        },
    }


def test_printer_columns_show_state_running_image_strategy_age() -> None:
    columns = [c["name"] for c in _version()["additionalPrinterColumns"] if "priority" not in c]
    assert columns == ["State", "Running", "Image", "Strategy", "Age"]


def test_spec_fields_keep_their_documented_names_and_defaults() -> None:
    spec = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["target_num_containers"]["default"] == 1
    assert spec["autorestart"]["default"] == "OFF"
    assert spec["deployment_strategy"]["default"] == "EMPTIEST_NODE"
    assert spec["net"]["default"] == "bridge"
    assert spec["working_dir"]["default"] == "/"
    assert spec["bindings"]["items"]["properties"]["rewritable"]["default"] is True
    assert spec["container_ports"]["items"]["properties"]["published"]["default"] is False
    assert spec["container_ports"]["x-kubernetes-list-map-keys"] == ["inner_port", "protocol"]


def test_the_status_has_no_server_side_defaults() -> None:
    status = _version()["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert not [path for path, node in _nodes(status) if "default" in node]


def test_the_yaml_parses_back_to_the_object() -> None:
    assert yaml.safe_load(crd.render_yaml()) == crd.custom_resource_definition()
