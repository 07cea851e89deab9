"""The Helm chart (charts/dockercloud-operator), rendered offline with the test bed's helm: with
default values it makes the very objects of manifests/ (`kubectl kustomize`), so the two cannot
drift; its values change what they say they change; values.schema.json and the templates refuse
bad values with a message that names them."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed import build

REPO = Path(__file__).resolve().parent.parent.parent
CHART = REPO / "charts" / "dockercloud-operator"
MANIFESTS = REPO / "manifests"
# Helm's standard labels, which the chart adds to every object and manifests/ has not.
HELM_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
)
# A release named like the chart keeps manifests/' names for the cluster-scoped objects; any
# other release prefixes them with its name (and leaves namespaced names alone).
RELEASE = "dockercloud-operator"
CLUSTER_SCOPED_NAMES = {
    ("ClusterRole", "dockercloud-operator"),
    ("ClusterRoleBinding", "dockercloud-operator"),
    ("ClusterRole", "dockercloud-service-viewer"),
    ("ClusterRole", "dockercloud-service-editor"),
}
# helm template's namespace when none is given: the release lives there, the objects in
# namespace.name (dockercloud-operator), as manifests/ has them.
RELEASE_NAMESPACE = "default"
Key = tuple[str, str, str]


@pytest.fixture(scope="session")
def helm(pytestconfig: pytest.Config) -> str:
    """The test bed's helm, built from testbed/helm the first time (its progress shown)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    assert capture is not None
    with capture.global_and_fixture_disabled():
        return str(build.ensure_helm(lambda line: print(line, flush=True)))


def _helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, check=False)


def render(
    helm: str,
    *args: str,
    release: str = RELEASE,
    namespace: str = RELEASE_NAMESPACE,
) -> list[dict[str, Any]]:
    """`helm template`, the CRDs of crds/ included; args: --set, --values."""
    done = _helm(
        helm, "template", release, str(CHART), "--namespace", namespace, "--include-crds", *args
    )
    assert done.returncode == 0, done.stderr
    return [o for o in yaml.safe_load_all(done.stdout) if o]


def refused(helm: str, *args: str, namespace: str = RELEASE_NAMESPACE) -> str:
    """`helm template` that must fail; returns its message."""
    done = _helm(helm, "template", RELEASE, str(CHART), "--namespace", namespace, *args)
    assert done.returncode != 0, done.stdout
    return done.stderr


@pytest.fixture(scope="module")
def kustomized(kubectl: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [o for o in yaml.safe_load_all(done.stdout) if o]


def key(o: dict[str, Any]) -> Key:
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def by_key(objects: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    found = {key(o): o for o in objects}
    assert len(found) == len(objects), "two objects of one kind, namespace and name"
    return found


def without_helm_labels(o: dict[str, Any]) -> dict[str, Any]:
    o = copy.deepcopy(o)
    labels = o["metadata"].get("labels", {})
    for label in HELM_LABELS:
        labels.pop(label, None)
    return o


def expected_from_manifests(
    kustomized: list[dict[str, Any]], release: str = RELEASE, namespace: str = ""
) -> dict[Key, dict[str, Any]]:
    """manifests/' objects as the chart must render them for this release (and install namespace,
    when not dockercloud-operator), the differences made explicit:
    - the CRD: kustomize labels every object `app.kubernetes.io/part-of`, the CRD included;
      Helm installs crds/ as it is (no templating there), and the chart's copy is crds/service.yaml
      byte for byte, so its CRD has no part-of label;
    - cluster-scoped names: `<release>-<name>` unless the release is named like the chart."""
    expected = copy.deepcopy(kustomized)
    for o in expected:
        metadata = o["metadata"]
        if o["kind"] == "CustomResourceDefinition":
            del metadata["labels"]["app.kubernetes.io/part-of"]
        if release != RELEASE and (o["kind"], metadata["name"]) in CLUSTER_SCOPED_NAMES:
            metadata["name"] = f"{release}-{metadata['name']}"
            if o["kind"] == "ClusterRoleBinding":
                o["roleRef"]["name"] = f"{release}-{o['roleRef']['name']}"
        if namespace:
            if o["kind"] == "Namespace":
                metadata["name"] = namespace
            if "namespace" in metadata:
                metadata["namespace"] = namespace
            for subject in o.get("subjects", []):
                subject["namespace"] = namespace
    return by_key(expected)


# -- one source of truth --------------------------------------------------------------------------


def test_the_chart_crd_is_the_generated_crd() -> None:
    """Helm installs the chart's crds/ unrendered: a copy, as manifests/crd/ is."""
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == ["service.yaml", "stack.yaml"]
    for name in ("service.yaml", "stack.yaml"):
        assert (CHART / "crds" / name).read_text() == (REPO / "crds" / name).read_text(), (
            "run `make crds`"
        )


def test_the_default_render_is_manifests_object_for_object(
    helm: str, kustomized: list[dict[str, Any]]
) -> None:
    rendered = by_key(render(helm))
    expected = expected_from_manifests(kustomized)
    assert sorted(rendered) == sorted(expected)
    for k, o in rendered.items():
        if o["kind"] != "CustomResourceDefinition":
            labels = o["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "Helm", k
            assert labels["app.kubernetes.io/instance"] == RELEASE, k
        assert without_helm_labels(o) == expected[k], k


def test_another_release_prefixes_only_the_cluster_scoped_names(
    helm: str, kustomized: list[dict[str, Any]]
) -> None:
    """Two releases (or a release and `kubectl apply -k manifests/`) claim different
    ClusterRoles and ClusterRoleBindings; namespaced objects live in each install's namespace."""
    rendered = by_key(render(helm, "--set", "namespace.name=team-b", release="team-b"))
    expected = expected_from_manifests(kustomized, release="team-b", namespace="team-b")
    assert sorted(rendered) == sorted(expected)
    for k, o in rendered.items():
        assert without_helm_labels(o) == expected[k], k
    assert {name for kind, _, name in rendered if kind.startswith("Cluster")} == {
        "team-b-dockercloud-operator",
        "team-b-dockercloud-service-viewer",
        "team-b-dockercloud-service-editor",
    }


# -- values ---------------------------------------------------------------------------------------

NON_DEFAULT = {
    "namespace": {"name": "", "create": False},
    "image": {"repository": "registry.example/dockercloud-operator", "tag": "1.2.3",
              "pullPolicy": "Always"},
    "operator": {
        "replicas": 1,
        "watchNamespaces": ["team-a", "team-b"],
        "logFormat": "plain",
        "metricsPort": 9090,
        # Helm merges values into the defaults: null removes one.
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": None},
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
    },
    "api": {
        "replicas": 3,
        "defaultNamespace": "team-a",
        "tls": {"secretName": "api-tls"},
        "resources": {"limits": {"memory": "1Gi"}},
        "nodeSelector": {"zone": "a"},
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def values_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chart") / "values.yaml"
    path.write_text(yaml.safe_dump(NON_DEFAULT))
    return path


def _container(objects: dict[Key, dict[str, Any]], key: Key) -> dict[str, Any]:
    (container,) = objects[key]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


@pytest.mark.parametrize("default", [True, False], ids=["default", "non-default"])
def test_helm_lint_passes(helm: str, values_file: Path, default: bool) -> None:
    args = [] if default else ["--values", str(values_file)]
    done = _helm(helm, "lint", "--strict", str(CHART), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


def test_non_default_values(helm: str, values_file: Path) -> None:
    ns = "team-ops"
    objects = by_key(render(helm, "--values", str(values_file), namespace=ns))
    # namespace.name empty: the release's namespace, which Helm makes or finds (no Namespace).
    assert not [k for k in objects if k[0] == "Namespace"]
    assert {k[1] for k in objects if k[0] not in ("CustomResourceDefinition", "ClusterRole",
                                                  "ClusterRoleBinding")} == {ns}  # fmt: skip
    binding = objects[("ClusterRoleBinding", "", "dockercloud-operator")]
    assert binding["subjects"][0]["namespace"] == ns

    operator = objects[("Deployment", ns, "dockercloud-operator")]
    assert operator["spec"]["replicas"] == 1
    # One replica: no PodDisruptionBudget, which would block every drain.
    assert ("PodDisruptionBudget", ns, "dockercloud-operator") not in objects
    pod = operator["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert pod["spec"]["tolerations"] == NON_DEFAULT["operator"]["tolerations"]
    container = _container(objects, ("Deployment", ns, "dockercloud-operator"))
    assert container["image"] == "registry.example/dockercloud-operator:1.2.3"
    assert container["imagePullPolicy"] == "Always"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DOCKERCLOUD_NAMESPACES"] == "team-a,team-b"
    assert env["DOCKERCLOUD_LOG_FORMAT"] == "plain"
    assert env["DOCKERCLOUD_METRICS_PORT"] == "9090"
    assert env["DOCKERCLOUD_LEADER_ELECTION"] == "true"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "metrics": 9090,
        "health": 8081,
    }
    assert container["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"}}

    api = objects[("Deployment", ns, "dockercloud-operator-api")]
    assert api["spec"]["replicas"] == 3
    assert ("PodDisruptionBudget", ns, "dockercloud-operator-api") in objects
    assert api["spec"]["template"]["spec"]["nodeSelector"] == {"zone": "a"}
    assert "tolerations" not in api["spec"]["template"]["spec"]
    container = _container(objects, ("Deployment", ns, "dockercloud-operator-api"))
    assert container["image"] == "registry.example/dockercloud-operator:1.2.3"
    assert container["args"] == [
        "api", "--listen", "0.0.0.0:8080", "--namespace", "team-a",
        "--tls-cert=/tls/tls.crt", "--tls-key=/tls/tls.key",
    ]  # fmt: skip
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "96Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    # TLS: the Secret mounted where the flags say, the probes on HTTPS, the Service on 443.
    assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in container["volumeMounts"]
    volumes = api["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tls", "secret": {"secretName": "api-tls"}} in volumes
    assert container["ports"] == [{"name": "https", "containerPort": 8080}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {
            "path": "/healthz",
            "port": "https",
            "scheme": "HTTPS",
        }
    annotations = api["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scheme"] == "https"
    service = objects[("Service", ns, "dockercloud-operator-api")]
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https"}]


def test_the_rest_api_disabled_leaves_the_rest_as_it_was(helm: str) -> None:
    default = by_key(render(helm))
    objects = by_key(render(helm, "--set", "api.enabled=false"))
    api = {k for k in default if k[2] == "dockercloud-operator-api"}
    assert {k[0] for k in api} == {"ServiceAccount", "Deployment", "Service",
                                   "PodDisruptionBudget"}  # fmt: skip
    assert sorted(objects) == sorted(set(default) - api)
    for k, o in objects.items():
        assert o == default[k], k


def test_metrics_port_zero_turns_the_metrics_server_off(helm: str) -> None:
    objects = by_key(render(helm, "--set", "operator.metricsPort=0"))
    deployment = objects[("Deployment", "dockercloud-operator", "dockercloud-operator")]
    assert "annotations" not in deployment["spec"]["template"]["metadata"]
    container = _container(objects, ("Deployment", "dockercloud-operator", "dockercloud-operator"))
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DOCKERCLOUD_METRICS_PORT"] == "0"
    assert [p["name"] for p in container["ports"]] == ["health"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("operator.replicas=-1", "at '/operator/replicas': minimum: got -1, want 0"),
        ("api.replicas=-2", "at '/api/replicas': minimum: got -2, want 0"),
        ("operator.logFormat=xml", "at '/operator/logFormat': value must be one of"),
        ("operator.metricsPort=70000", "at '/operator/metricsPort': maximum"),
        ("operator.metricsPort=8081", "operator.metricsPort: 8081 is the operator's health port"),
        ("image.pullPolicy=Sometimes", "at '/image/pullPolicy': value must be one of"),
        ("operator.watchNamespaces={Team_A}", "at '/operator/watchNamespaces/0'"),
        ("operator.replica=3", "at '/operator': additional properties 'replica' not allowed"),
        ("api.tls.secretName=Not_A_Name", "at '/api/tls/secretName'"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(
    helm: str, setting: str, message: str
) -> None:
    assert message in refused(helm, "--set", setting)


def test_making_the_release_namespace_is_refused_with_a_way_out(helm: str) -> None:
    """Helm records the release in its namespace before it makes any object: it cannot make
    that namespace from the chart."""
    said = refused(helm, namespace="dockercloud-operator")
    assert "namespace.create" in said
    assert "--create-namespace" in said
    objects = render(helm, "--set", "namespace.create=false", namespace="dockercloud-operator")
    assert "Namespace" not in {o["kind"] for o in objects}
