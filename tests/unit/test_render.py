"""`dockercloud-operator render`: the objects of Service manifests, offline and deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dockercloud_operator.cli.main import main
from dockercloud_operator.resources.render import RenderError, render

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "wordpress.yaml"


def test_the_example_stack_renders_every_child_in_order() -> None:
    output, notes = render(EXAMPLE.read_text())
    objects = list(yaml.safe_load_all(output))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Service", "db"),
        ("Service", "db-containers"),
        ("StatefulSet", "db"),
        ("Service", "web"),
        ("Service", "web-published"),
        ("Deployment", "web"),
    ]
    assert all("ownerReferences" not in o["metadata"] for o in objects)  # no uid offline
    env = {e["name"] for e in objects[-1]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"DB_PORT", "DB_PORT_3306_TCP_ADDR", "DB_1_PORT", "DB_ENV_MYSQL_DATABASE"} <= env
    assert any("autorestart" in note for note in notes) is False  # both say ALWAYS


def test_rendering_is_deterministic() -> None:
    assert render(EXAMPLE.read_text()) == render(EXAMPLE.read_text())


def test_a_link_to_a_service_outside_the_file_is_a_note() -> None:
    manifest = """
apiVersion: app.dockercloud.dev/v1
kind: Service
metadata: {name: web}
spec: {image: nginx, linked_to_service: [{to_service: db}], autorestart: ALWAYS}
"""
    _, notes = render(manifest)
    assert notes == ["web: linked_to_service[0]: no service db"]


def test_other_objects_in_the_file_are_skipped_and_namespace_can_be_set() -> None:
    manifest = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: app.dockercloud.dev/v1
kind: Service
metadata: {name: web}
spec: {image: nginx}
"""
    output, _ = render(manifest, namespace="shop")
    objects = list(yaml.safe_load_all(output))
    assert [(o["kind"], o["metadata"]["namespace"]) for o in objects] == [("Deployment", "shop")]


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("{image: 'Bad Image'}", "spec.image: must be a Docker image reference"),
        ("{image: nginx, memory: 0}", "spec.memory"),
        ("{image: nginx, colour: blue}", "spec.colour"),
    ],
)
def test_an_invalid_manifest_names_the_document_and_the_field(spec: str, says: str) -> None:
    manifest = (
        f"apiVersion: app.dockercloud.dev/v1\nkind: Service\nmetadata: {{name: x}}\nspec: {spec}\n"
    )
    with pytest.raises(RenderError, match="document 1") as error:
        render(manifest)
    assert says in str(error.value)


def test_the_command_prints_objects_and_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: app.dockercloud.dev/v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {image: nginx, mac_address: '02:42:ac:11:65:43'}\n"
    )
    assert main(["render", str(manifest)]) == 0
    out, err = capsys.readouterr()
    assert next(yaml.safe_load_all(out))["kind"] == "Deployment"
    assert "# web: unsupported mac_address" in err


def test_the_command_fails_clearly_on_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml" in capsys.readouterr().err
