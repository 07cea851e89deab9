"""The in-cluster install (`kubectl apply -k manifests/`) on a real API server: it applies
cleanly, its RBAC is enough for the operator to do all its work, and no more than that."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.schema import names
from dockercloud_operator.schema.constants import FIELD_MANAGER
from tests import services
from tests.operator_process import OperatorProcess
from tests.operators import (
    Operator,
    delete_services,
    paused,
    running,
    service_account_kubeconfig,
)
from tests.wait import wait_for

REPO = Path(__file__).resolve().parent.parent.parent
MANIFESTS = REPO / "manifests"
NAMESPACE = ACCOUNT = "dockercloud-operator"
SUBJECT = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
CLUSTER_SCOPED_TO_REMOVE = [("clusterrolebinding", ACCOUNT), ("clusterrole", ACCOUNT)]


def _kubectl(kubectl: str, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl, *args],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(
    kubeconfig: Path, api: client.ApiClient, kubectl: str
) -> Iterator[list[dict[str, Any]]]:
    """The manifests, server-side dry-run then applied; removed afterwards (all but the CRD,
    which every other test's services live in). Returns the objects kustomize built."""
    core = client.CoreV1Api(api)
    try:
        core.read_namespace(NAMESPACE)
    except ApiException as error:
        assert error.status == 404, error
    else:
        pytest.skip(f"the namespace {NAMESPACE} exists already: the operator is installed here")
    built = _kubectl(kubectl, kubeconfig, "kustomize", str(MANIFESTS))
    assert built.returncode == 0, built.stderr
    objects = [o for o in yaml.safe_load_all(built.stdout) if o]

    # Namespaced objects cannot even be dry-run into a namespace that does not exist yet.
    namespace = _kubectl(kubectl, kubeconfig, "apply", "-f", str(MANIFESTS / "namespace.yaml"))
    assert namespace.returncode == 0, namespace.stderr
    try:
        dry = _kubectl(kubectl, kubeconfig, "apply", "-k", str(MANIFESTS), "--dry-run=server")
        assert dry.returncode == 0, dry.stderr
        assert "(server dry run)" in dry.stdout
        applied = _kubectl(kubectl, kubeconfig, "apply", "-k", str(MANIFESTS))
        assert applied.returncode == 0, applied.stderr
        yield objects
    finally:
        for kind, name in CLUSTER_SCOPED_TO_REMOVE:
            _kubectl(
                kubectl, kubeconfig, "delete", kind, name, "--ignore-not-found", "--wait=false"
            )
        _kubectl(kubectl, kubeconfig, "delete", "namespace", NAMESPACE, "--wait=false")


@pytest.fixture
def alone(operator: OperatorProcess) -> Iterator[None]:
    """Only this test's operator acts: the session's one is stopped meanwhile."""
    with paused(operator):
        yield


def test_apply_creates_every_object_of_the_manifests(
    installed: list[dict[str, Any]], kubeconfig: Path, kubectl: str
) -> None:
    kinds = sorted(o["kind"] for o in installed)
    operator = [
        "Namespace", "CustomResourceDefinition", "CustomResourceDefinition",  # Service, Stack
        "ServiceAccount", "ClusterRole",
        "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget",
    ]  # fmt: skip
    users = ["ClusterRole", "ClusterRole"]  # the viewer and editor roles
    rest_api = ["ServiceAccount", "Deployment", "Service", "PodDisruptionBudget"]
    assert kinds == sorted(operator + users + rest_api)
    got = _kubectl(kubectl, kubeconfig, "get", "-k", str(MANIFESTS), "-o", "json")
    assert got.returncode == 0, got.stderr
    found = {(o["kind"], o["metadata"]["name"]) for o in json.loads(got.stdout)["items"]}
    assert found == {(o["kind"], o["metadata"]["name"]) for o in installed}


def test_the_deployment_runs_two_replicas(
    installed: list[dict[str, Any]], api: client.ApiClient
) -> None:
    """On the test bed the pods go Running without running any code: the objects are right."""
    apps = client.AppsV1Api(api)

    def two_replicas() -> Any:
        deployment = apps.read_namespaced_deployment(ACCOUNT, NAMESPACE)
        return deployment if deployment.status.replicas == 2 else None

    spec = wait_for(two_replicas, "the operator's two replicas").spec.template.spec
    assert spec.service_account_name == ACCOUNT
    assert spec.containers[0].security_context.read_only_root_filesystem is True


def test_the_rest_api_runs_two_replicas_without_a_token_of_its_own(
    installed: list[dict[str, Any]], api: client.ApiClient
) -> None:
    apps = client.AppsV1Api(api)

    def two_replicas() -> Any:
        deployment = apps.read_namespaced_deployment(f"{ACCOUNT}-api", NAMESPACE)
        return deployment if deployment.status.replicas == 2 else None

    spec = wait_for(two_replicas, "the REST API's two replicas").spec.template.spec
    assert spec.service_account_name == f"{ACCOUNT}-api"
    assert spec.automount_service_account_token is False
    assert spec.containers[0].args[0] == "api"
    service = client.CoreV1Api(api).read_namespaced_service(f"{ACCOUNT}-api", NAMESPACE)
    assert service.spec.selector == {"app.kubernetes.io/name": f"{ACCOUNT}-api"}


def test_namespace_editors_and_viewers_get_the_service_roles(
    installed: list[dict[str, Any]], api: client.ApiClient
) -> None:
    """The user roles aggregate into Kubernetes' own: whoever may edit a namespace may change
    its services, and whoever may view it may read them."""
    rbac = client.RbacAuthorizationV1Api(api)

    def grants(role: str, verb: str) -> bool:
        rules = rbac.read_cluster_role(role).rules or []
        return any(
            "app.dockercloud.dev" in (r.api_groups or [])
            and "services" in (r.resources or [])
            and verb in (r.verbs or [])
            for r in rules
        )

    for role, verb in (("view", "list"), ("edit", "create"), ("edit", "delete"),
                       ("admin", "patch")):  # fmt: skip
        wait_for(lambda role=role, verb=verb: grants(role, verb), f"{role} to {verb} services")
    assert not grants("view", "create")


def test_the_service_account_can_do_all_the_operator_does(
    installed: list[dict[str, Any]],
    alone: None,
    api: client.ApiClient,
    kubeconfig: Path,
    namespace: str,
    tmp_path: Path,
) -> None:
    """The operator, authenticated as the install's ServiceAccount, with leader election on (the
    Lease Role), reconciles every kind of child: a Deployment with a Role, RoleBinding,
    ServiceAccount and Services (`roles: [global]`, a published port), a DaemonSet, a
    StatefulSet whose claims a redeploy deletes; and lets a deleted service go."""
    own = service_account_kubeconfig(
        api, kubeconfig, NAMESPACE, ACCOUNT, tmp_path / "operator.kubeconfig"
    )
    operator = Operator(
        own,
        tmp_path / "operator.log",
        "--leader-election",
        "--metrics-port=0",
        env={"POD_NAMESPACE": NAMESPACE},
    )
    with running(operator):
        operator.start(ready="Leading: holding the Lease")
        services.create(
            api, namespace, "web", image="nginx", roles=["global"],
            container_ports=[{"protocol": "tcp", "inner_port": 80, "published": True}],
        )  # fmt: skip
        services.create(api, namespace, "agent", image="nginx", deployment_strategy="EVERY_NODE")
        services.create(api, namespace, "db", image="mysql", bindings=[{"container_path": "/d"}])
        for name in ("web", "agent", "db"):
            wait_for(lambda n=name: _state(api, namespace, n) == "Running", f"{name} Running")
        services.patch_spec(api, namespace, "db", redeploy={"token": "1", "reuse_volumes": False})
        wait_for(lambda: "without reusing volumes" in operator.output(), "the claims deleted")
        role = client.RbacAuthorizationV1Api(api).read_namespaced_role(
            names.api_role("web"), namespace
        )
        assert role.rules, "the Role the operator granted"
        # A stack's service, made by the operator; and a container autodestroy removes.
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "app.dockercloud.dev", "v1", namespace, "stacks",
            {"apiVersion": "app.dockercloud.dev/v1", "kind": "Stack", "metadata": {"name": "st"},
             "spec": {"services": [{"name": "one", "image": "nginx"}]}},
        )  # fmt: skip
        wait_for(lambda: _state(api, namespace, "st-one") == "Running", "the stack's service")
        if _kwok(api):  # containers exit on demand on the local control plane
            services.create(api, namespace, "task", image="busybox", autodestroy="ALWAYS",
                            labels={"testbed.dockercloud.dev/exit-code": "0"})  # fmt: skip
            wait_for(lambda: _state(api, namespace, "task") == "Stopped"
                     and not services.pods(api, namespace, "task"), "the task removed")  # fmt: skip
        client.CustomObjectsApi(api).delete_namespaced_custom_object(
            "app.dockercloud.dev", "v1", namespace, "stacks", "st"
        )
        wait_for(lambda: services.read_or_none(services.get, api, namespace, "st-one") is None,
                 "the stack's service gone", timeout=90)  # fmt: skip
        events = client.CoreV1Api(api).list_namespaced_event(namespace).items
        assert any(e.reporting_component == FIELD_MANAGER for e in events), "its Events"
        delete_services(api, namespace)  # the finalizer removed: a patch of each service
        log = operator.output()
    for kind in ("Deployment", "Role", "RoleBinding", "ServiceAccount", "Service"):
        assert f"Applying {kind} {namespace}/web" in log, log
    assert f"Applying DaemonSet {namespace}/agent" in log, log
    assert f"Applying StatefulSet {namespace}/db" in log, log
    # Refusals (403 Forbidden, and kopf's "Not enough permissions ..."), but not an Event about
    # a service of another test in a namespace being deleted: those are refused to anyone.
    troubles = ("Forbidden", "forbidden", "permission")
    refused_event = "Could not record the"
    problems = [
        line
        for line in log.splitlines()
        if any(trouble in line for trouble in troubles) and refused_event not in line
    ]
    assert not problems, log


def _kwok(api: client.ApiClient) -> bool:
    try:
        client.CustomObjectsApi(api).get_api_resources("kwok.x-k8s.io", "v1alpha1")
    except ApiException:
        return False
    return True


def _state(api: client.ApiClient, namespace: str, name: str) -> str | None:
    found = services.read_or_none(services.get, api, namespace, name) or {}
    state: str | None = (found.get("status") or {}).get("state")
    return state


NOTHING_ELSE = [
    ("get", "secrets", "--all-namespaces", "no"),
    ("list", "secrets", "--all-namespaces", "no"),
    ("watch", "secrets", "--namespace=default", "no"),
    ("*", "*", "--all-namespaces", "no"),
    ("create", "pods", "--all-namespaces", "no"),
    ("create", "pods/exec", "--all-namespaces", "no"),
    ("update", "roles", "--all-namespaces", "no"),
    ("escalate", "roles", "--all-namespaces", "no"),
    ("bind", "roles", "--all-namespaces", "no"),
    ("bind", "clusterroles", "--all-namespaces", "no"),
    ("create", "clusterroles", "--all-namespaces", "no"),
    ("create", "clusterrolebindings", "--all-namespaces", "no"),
    ("impersonate", "serviceaccounts", "--all-namespaces", "no"),
    ("delete", "namespaces", "--all-namespaces", "no"),
    ("update", "deployments", "--all-namespaces", "no"),
    ("delete", "replicasets.apps", "--all-namespaces", "no"),
    ("delete", "customresourcedefinitions", "--all-namespaces", "no"),
    ("create", "leases.coordination.k8s.io", "--namespace=kube-system", "no"),
    ("get", "leases.coordination.k8s.io/kube-scheduler", f"--namespace={NAMESPACE}", "no"),
]
WHAT_THE_OPERATOR_DOES = [
    ("patch", "deployments.apps", "--namespace=anywhere", "yes"),
    ("patch", "replicasets.apps", "--namespace=anywhere", "yes"),
    ("create", "roles.rbac.authorization.k8s.io", "--namespace=anywhere", "yes"),
    ("patch", "services.app.dockercloud.dev/status", "--namespace=anywhere", "yes"),
    ("delete", "persistentvolumeclaims", "--namespace=anywhere", "yes"),
    ("create", "events", "--namespace=anywhere", "yes"),
    ("update", f"leases.coordination.k8s.io/{ACCOUNT}", f"--namespace={NAMESPACE}", "yes"),
]


@pytest.mark.parametrize(
    ("verb", "resource", "where", "answer"), NOTHING_ELSE + WHAT_THE_OPERATOR_DOES
)
def test_the_service_account_may_do_what_the_operator_does_and_nothing_else(
    installed: list[dict[str, Any]],
    kubeconfig: Path,
    kubectl: str,
    verb: str,
    resource: str,
    where: str,
    answer: str,
) -> None:
    said = _kubectl(kubectl, kubeconfig, "auth", "can-i", verb, resource, where, f"--as={SUBJECT}")
    assert said.stdout.strip() == answer, (said.stdout, said.stderr)


def test_no_rule_has_a_wildcard_or_reaches_secrets(
    installed: list[dict[str, Any]], api: client.ApiClient
) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    rules = [
        *rbac.read_cluster_role(ACCOUNT).rules,
        *rbac.read_namespaced_role(f"{ACCOUNT}-leader-election", NAMESPACE).rules,
    ]
    assert rules
    for rule in rules:
        for field in (rule.api_groups, rule.resources, rule.verbs, rule.resource_names or []):
            assert not any("*" in item for item in field), rule
        assert not rule.non_resource_urls, rule
        assert "secrets" not in rule.resources, rule
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule.verbs), rule
