"""The Helm chart on a real API server: a server-side dry run accepts it; `helm install` makes
every object it rendered (and the CRD, which Helm installs from crds/ only where it is absent);
`helm upgrade` applies new values; a value the schema refuses fails the install with a message
naming it; `helm uninstall` leaves nothing but the CRD, as Helm does.

The release is recorded in `default` and installs into a namespace of its own, `dcs-helm-<id>`
(namespace.name), so it never meets tests/integration/test_install.py's `dockercloud-operator`.
Its ClusterRoles and ClusterRoleBinding are named `dcs-helm-<id>-...`: a release not named like
the chart prefixes its cluster-scoped names with its own (tests/unit/test_chart.py)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.schema import crd
from testbed import build
from tests.wait import wait_for

REPO = Path(__file__).resolve().parent.parent.parent
CHART = REPO / "charts" / "dockercloud-operator"
RELEASE = NAMESPACE = f"dcs-helm-{uuid.uuid4().hex[:6]}"
RELEASE_NAMESPACE = "default"  # where Helm records the release
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
OPERATOR = f"system:serviceaccount:{NAMESPACE}:dockercloud-operator"
# Every kind the chart makes, for `kubectl get -l <instance>`.
KINDS = (
    "namespaces,serviceaccounts,services,deployments.apps,poddisruptionbudgets.policy,"
    "roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,"
    "clusterroles.rbac.authorization.k8s.io,clusterrolebindings.rbac.authorization.k8s.io"
)


@pytest.fixture(scope="session")
def helm(pytestconfig: pytest.Config) -> str:
    """The test bed's helm, built from testbed/helm the first time (its progress shown)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    assert capture is not None
    with capture.global_and_fixture_disabled():
        return str(build.ensure_helm(lambda line: print(line, flush=True)))


class Tools:
    """helm and kubectl on the test cluster, helm's own folders kept out of $HOME."""

    def __init__(self, helm: str, kubectl: str, kubeconfig: Path, home: Path) -> None:
        self.helm_binary, self.kubectl_binary = helm, kubectl
        self.env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }

    def run(self, *command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, input=stdin, env=self.env, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip

    def helm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.helm_binary, *args)

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(self.kubectl_binary, *args, stdin=stdin)

    def ok(self, done: subprocess.CompletedProcess[str]) -> str:
        assert done.returncode == 0, f"{shlex.join(done.args)}:\n{done.stdout}{done.stderr}"
        return done.stdout


@pytest.fixture(scope="module")
def tools(
    helm: str, kubectl: str, kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Tools:
    return Tools(helm, kubectl, kubeconfig, tmp_path_factory.mktemp("helm-home"))


def _objects(manifest: str) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all(manifest) if o]


@pytest.fixture(scope="module")
def release(tools: Tools) -> Iterator[list[dict[str, Any]]]:
    """The chart installed with its default values (but the namespace); returns the objects of
    the release's manifest. Uninstalled afterwards if a test has not done it."""
    try:
        install = tools.helm(
            "install", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE,
            "--set", f"namespace.name={NAMESPACE}", "--wait", "--timeout", "3m",
        )  # fmt: skip
        tools.ok(install)
        manifest = tools.ok(tools.helm("get", "manifest", RELEASE, "-n", RELEASE_NAMESPACE))
        yield _objects(manifest)
    finally:
        tools.helm("uninstall", RELEASE, "-n", RELEASE_NAMESPACE, "--ignore-not-found")
        tools.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")


def test_a_server_side_dry_run_accepts_the_chart(tools: Tools, namespace: str) -> None:
    """Every object, the CRD and the Namespace included, as the API server would store it;
    rendered into an existing namespace, as namespaced objects cannot be dry-run otherwise.
    Then helm's own dry run against the cluster."""
    for values in ([], ["--set", "api.tls.secretName=api-tls", "--set", "operator.replicas=1",
                        "--set", "operator.watchNamespaces={team-a,team-b}"]):  # fmt: skip
        rendered = tools.ok(
            tools.helm(
                "template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE,
                "--include-crds", "--set", f"namespace.name={namespace}", *values,
            )
        )  # fmt: skip
        dry = tools.ok(tools.kubectl("apply", "--dry-run=server", "-f", "-", stdin=rendered))
        assert dry.count("(server dry run)") == len(_objects(rendered)), dry
    helm_dry = tools.helm(
        "install", f"{RELEASE}-dry", str(CHART), "--namespace", RELEASE_NAMESPACE,
        "--set", f"namespace.name={namespace}", "--set", "namespace.create=false",
        "--dry-run=server",
    )  # fmt: skip
    assert "STATUS: pending-install" in tools.ok(helm_dry)


def test_a_value_the_schema_refuses_fails_the_install_naming_it(tools: Tools) -> None:
    done = tools.helm(
        "install", f"{RELEASE}-bad", str(CHART), "--namespace", RELEASE_NAMESPACE,
        "--set", f"namespace.name={RELEASE}-bad", "--set", "operator.replicas=-1",
    )  # fmt: skip
    assert done.returncode != 0
    assert "at '/operator/replicas': minimum: got -1, want 0" in done.stderr, done.stderr
    listed = tools.ok(tools.helm("list", "-n", RELEASE_NAMESPACE, "-a", "-q"))
    assert f"{RELEASE}-bad" not in listed.split()


def test_install_makes_every_object_and_the_crd(
    release: list[dict[str, Any]], tools: Tools, api: client.ApiClient
) -> None:
    kinds = sorted(o["kind"] for o in release)
    assert kinds == sorted(
        ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
         "RoleBinding", "Deployment", "PodDisruptionBudget", "ClusterRole", "ClusterRole",
         "ServiceAccount", "Deployment", "Service", "PodDisruptionBudget"]
    )  # fmt: skip
    got = tools.ok(tools.kubectl("get", KINDS, "-A", "-l", INSTANCE, "-o", "json"))
    found = {(o["kind"], o["metadata"]["name"]) for o in json.loads(got)["items"]}
    assert found == {(o["kind"], o["metadata"]["name"]) for o in release}
    for o in release:
        assert o["metadata"].get("namespace", NAMESPACE) == NAMESPACE, o["metadata"]
    # The CRD: from the chart's crds/ when it was absent, else the one already there.
    served = client.ApiextensionsV1Api(api).read_custom_resource_definition(crd.CRD_NAME)
    assert any(c.type == "Established" and c.status == "True" for c in served.status.conditions)
    space = client.CoreV1Api(api).read_namespace(NAMESPACE)
    assert space.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    status = json.loads(tools.ok(tools.helm("status", RELEASE, "-n", RELEASE_NAMESPACE, "-o",
                                            "json")))  # fmt: skip
    assert status["info"]["status"] == "deployed"


def test_the_deployments_run_and_the_operator_account_holds_its_rights(
    release: list[dict[str, Any]], tools: Tools, api: client.ApiClient
) -> None:
    """`helm install --wait` returned once both Deployments were available; the
    ClusterRoleBinding with the release's name binds the install's own ServiceAccount."""
    apps = client.AppsV1Api(api)
    for name in ("dockercloud-operator", "dockercloud-operator-api"):
        assert apps.read_namespaced_deployment(name, NAMESPACE).status.available_replicas == 2
    for verb, resource, where, answer in (
        ("patch", "deployments.apps", "--namespace=anywhere", "yes"),
        ("patch", "services.app.dockercloud.dev/status", "--namespace=anywhere", "yes"),
        ("update", "leases.coordination.k8s.io/dockercloud-operator", f"-n={NAMESPACE}", "yes"),
        ("get", "secrets", "--all-namespaces", "no"),
    ):
        said = tools.kubectl("auth", "can-i", verb, resource, where, f"--as={OPERATOR}")
        assert said.stdout.strip() == answer, (verb, resource, said.stdout, said.stderr)


def test_an_upgrade_applies_new_values(
    release: list[dict[str, Any]], tools: Tools, api: client.ApiClient
) -> None:
    def upgrade(*sets: str) -> None:
        args = [arg for s in sets for arg in ("--set", s)]
        tools.ok(
            tools.helm("upgrade", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE,
                       "--reuse-values", "--wait", "--timeout", "3m", *args)
        )  # fmt: skip

    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    upgrade("operator.replicas=1", "operator.watchNamespaces={team-a,team-b}",
            "api.tls.secretName=api-tls")  # fmt: skip
    operator = apps.read_namespaced_deployment("dockercloud-operator", NAMESPACE)
    assert operator.spec.replicas == 1
    env = {e.name: e.value for e in operator.spec.template.spec.containers[0].env}
    assert env["DOCKERCLOUD_NAMESPACES"] == "team-a,team-b"
    policy = client.PolicyV1Api(api)
    with pytest.raises(ApiException) as gone:  # one replica: no disruption budget
        policy.read_namespaced_pod_disruption_budget("dockercloud-operator", NAMESPACE)
    assert gone.value.status == 404
    rest = apps.read_namespaced_deployment("dockercloud-operator-api", NAMESPACE)
    container = rest.spec.template.spec.containers[0]
    assert container.args[-2:] == ["--tls-cert=/tls/tls.crt", "--tls-key=/tls/tls.key"]
    assert container.readiness_probe.http_get.scheme == "HTTPS"
    ports = core.read_namespaced_service("dockercloud-operator-api", NAMESPACE).spec.ports
    assert [(p.name, p.port) for p in ports] == [("https", 443)]

    upgrade("api.enabled=false")
    left = tools.ok(tools.kubectl("get", KINDS, "-n", NAMESPACE, "-l", INSTANCE, "-o", "name"))
    assert "dockercloud-operator-api" not in left, left
    assert "deployment.apps/dockercloud-operator\n" in left


def test_uninstall_leaves_nothing_but_the_crd(
    release: list[dict[str, Any]], tools: Tools, api: client.ApiClient
) -> None:
    tools.ok(tools.helm("uninstall", RELEASE, "-n", RELEASE_NAMESPACE, "--wait",
                        "--timeout", "3m"))  # fmt: skip
    left = tools.ok(tools.kubectl("get", KINDS, "-A", "-l", INSTANCE, "-o", "name"))
    assert left == "", left
    core = client.CoreV1Api(api)

    def namespace_gone() -> bool:
        try:
            core.read_namespace(NAMESPACE)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(namespace_gone, f"the namespace {NAMESPACE} gone")
    # Each object of the release by its name, the cluster-scoped ones included.
    names = [f"{o['kind'].lower()}/{o['metadata']['name']}" for o in release]
    still = tools.kubectl("get", *names, "-n", NAMESPACE, "--ignore-not-found", "-o", "name")
    assert tools.ok(still) == ""
    listed = tools.ok(tools.helm("list", "-n", RELEASE_NAMESPACE, "-a", "-q"))
    assert RELEASE not in listed.split()
    # Helm never deletes what it installed from crds/.
    client.ApiextensionsV1Api(api).read_custom_resource_definition(crd.CRD_NAME)
