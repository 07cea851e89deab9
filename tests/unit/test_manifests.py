"""The install manifests, read as files: the CRD copy in step, and the Deployment and RBAC shaped
as docs/operations.md says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dockercloud_operator.schema import admission, crd, stack_crd

REPO = Path(__file__).resolve().parent.parent.parent
MANIFESTS = REPO / "manifests"


def _objects(name: str) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all((MANIFESTS / name).read_text()) if o]


def _one(name: str, kind: str) -> dict[str, Any]:
    (found,) = [o for o in _objects(name) if o["kind"] == kind]
    return found


def test_the_crd_copy_is_the_generated_crd() -> None:
    """kustomize reads nothing outside manifests/ (symlinks included), hence a copy."""
    for name, generated in (("service.yaml", crd.render_yaml()),
                            ("stack.yaml", stack_crd.render_yaml())):  # fmt: skip
        copy = (MANIFESTS / "crd" / name).read_text()
        assert copy == (REPO / "crds" / name).read_text() == generated, "run `make crds`"


def test_the_finalizer_policy_file_is_the_generated_one() -> None:
    assert (REPO / "crds" / "finalizer-policy.yaml").read_text() == admission.render_yaml(), (
        "run `make crds`"
    )


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    files = {str(p.relative_to(MANIFESTS)) for p in MANIFESTS.rglob("*.yaml")}
    assert set(kustomization["resources"]) == files - {"kustomization.yaml"}
    assert kustomization["namespace"] == "dockercloud-operator"


def test_the_deployment_runs_two_locked_down_replicas_with_probes() -> None:
    deployment = _one("deployment.yaml", "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= container["resources"].keys()
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DOCKERCLOUD_LEADER_ELECTION"] == "true"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": int(env["DOCKERCLOUD_METRICS_PORT"]),
                     "health": int(env["DOCKERCLOUD_HEALTH_PORT"])}  # fmt: skip
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_rbac_has_no_wildcards_and_no_secrets() -> None:
    roles = [o for o in _objects("rbac.yaml") if o["kind"] in ("ClusterRole", "Role")]
    assert len(roles) == 2
    for role in roles:
        for rule in role["rules"]:
            values = [*rule["apiGroups"], *rule["resources"], *rule["verbs"]]
            assert not any("*" in value for value in values), rule
            assert "secrets" not in rule["resources"], rule
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule


def test_the_operator_holds_what_the_api_role_it_grants_holds() -> None:
    """Kubernetes lets nobody create a Role granting more than they hold (no `escalate`)."""
    from dockercloud_operator.resources.access import api_access
    from dockercloud_operator.schema.model import (
        Service,
    )

    service = Service.model_validate(
        {"metadata": {"name": "s", "namespace": "n"}, "spec": {"image": "i", "roles": ["global"]}}
    )
    granted = next(o for o in api_access(service) if o["kind"] == "Role")["rules"]
    held = _one("rbac.yaml", "ClusterRole")["rules"]
    for rule in granted:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert any(
                        group in h["apiGroups"]
                        and resource in h["resources"]
                        and verb in h["verbs"]
                        for h in held
                    ), (group, resource, verb)


def test_the_rest_api_runs_two_locked_down_replicas_without_a_token() -> None:
    deployment = _one("api.yaml", "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == _one("api.yaml", "ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"][:3] == ["api", "--listen", "0.0.0.0:8080"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    # Nothing binds the API's account to a role: it holds no permission of its own.
    account = _one("api.yaml", "ServiceAccount")["metadata"]["name"]
    for path in MANIFESTS.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            for subject in (document or {}).get("subjects") or []:
                assert subject["name"] != account, path


def test_the_user_roles_aggregate_into_view_edit_and_admin() -> None:
    roles = {r["metadata"]["name"]: r for r in _objects("user-roles.yaml")}
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    viewer = roles["dockercloud-service-viewer"]["metadata"]["labels"]
    editor = roles["dockercloud-service-editor"]["metadata"]["labels"]
    assert {f"{aggregate}view", f"{aggregate}edit", f"{aggregate}admin"} <= viewer.keys()
    assert {f"{aggregate}edit", f"{aggregate}admin"} <= editor.keys()
    assert f"{aggregate}view" not in editor
    read_only = {"get", "list", "watch"}
    for rule in roles["dockercloud-service-viewer"]["rules"]:
        assert set(rule["verbs"]) <= read_only, rule
