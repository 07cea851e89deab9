"""The operator on a real control plane: documented semantics become Kubernetes objects, and
the objects stay as the service says however they are disturbed."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from dockercloud_operator.schema import names
from testbed.controlplane import NODE_NAME, fake_node
from tests import services
from tests.operator_process import OperatorProcess
from tests.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator")


def _deployment(api: client.ApiClient, namespace: str, name: str) -> Any:
    return services.read_or_none(client.AppsV1Api(api).read_namespaced_deployment, name, namespace)


def _kubernetes_service(api: client.ApiClient, namespace: str, name: str) -> Any:
    return services.read_or_none(client.CoreV1Api(api).read_namespaced_service, name, namespace)


def _ready_nodes(api: client.ApiClient) -> set[str]:
    return {
        node.metadata.name
        for node in client.CoreV1Api(api).list_node().items
        if not node.spec.unschedulable
        and any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    }


def test_high_availability_puts_three_containers_on_three_nodes(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(
        api, namespace, "web", image="nginx", target_num_containers=3,
        deployment_strategy="HIGH_AVAILABILITY",
    )  # fmt: skip
    pods = wait_for(lambda: services.exactly_running(api, namespace, "web", 3), "3 containers")
    assert len({pod.spec.node_name for pod in pods}) == 3


def test_every_node_runs_one_container_per_node_and_a_new_node_gets_one(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    services.create(api, namespace, "agent", image="nginx", deployment_strategy="EVERY_NODE")
    nodes = _ready_nodes(api)
    pods = wait_for(
        lambda: services.exactly_running(api, namespace, "agent", len(nodes)), "a pod per node"
    )
    assert sorted(pod.spec.node_name for pod in pods) == sorted(nodes)

    extra = NODE_NAME.format(f"extra-{namespace}")
    core.create_node(fake_node(extra, {}))
    try:
        pods = wait_for(
            lambda: services.exactly_running(api, namespace, "agent", len(nodes) + 1),
            "a container on the new node",
        )
        assert sorted(pod.spec.node_name for pod in pods) == sorted({*nodes, extra})
    finally:
        core.delete_node(extra)


def test_tags_place_containers_only_on_nodes_with_every_tag(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(
        api, namespace, "fast", image="nginx", target_num_containers=3, tags=[{"name": "ssd"}]
    )
    pods = wait_for(lambda: services.exactly_running(api, namespace, "fast", 3), "3 containers")
    assert {pod.spec.node_name for pod in pods} == {NODE_NAME.format(0)}  # the tagged node

    services.create(api, namespace, "nowhere", image="nginx", tags=[{"name": "gpu"}])
    pending = wait_for(lambda: services.pods(api, namespace, "nowhere"), "a pod")
    assert pending[0].spec.node_selector == {"tags.dockercloud.dev/gpu": "true"}
    assert pending[0].status.phase == "Pending"  # no node carries the tag


def test_links_put_docker_style_variables_into_the_containers(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(
        api, namespace, "db", image="mysql:5.7", target_num_containers=2,
        container_ports=[{"protocol": "tcp", "inner_port": 3306}],
        container_envvars=[{"key": "MYSQL_DATABASE", "value": "wordpress"}],
    )  # fmt: skip
    services.create(
        api, namespace, "web", image="wordpress",
        linked_to_service=[{"to_service": "db", "name": "DB"}],
    )  # fmt: skip
    pods = wait_for(lambda: services.exactly_running(api, namespace, "web", 1), "the web pod")
    pod = pods[0]
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    address = f"db.{namespace}.svc"
    assert env["DB_PORT"] == f"tcp://{address}:3306"
    assert env["DB_PORT_3306_TCP_ADDR"] == address
    assert env["DB_PORT_3306_TCP_PORT"] == "3306"
    assert env["DB_PORT_3306_TCP_PROTO"] == "tcp"
    assert env["DB_ENV_MYSQL_DATABASE"] == "wordpress"
    assert env["DB_1_PORT_3306_TCP"] == f"tcp://{address}:3306"
    assert env["DB_2_ENV_MYSQL_DATABASE"] == "wordpress"
    # Kubernetes' own service variables are off, so they cannot clash with the links'.
    assert pod.spec.enable_service_links is False

    # The target gains a variable: the linking containers get it too.
    services.patch_spec(
        api, namespace, "db",
        container_envvars=[{"key": "MYSQL_DATABASE", "value": "wordpress"},
                           {"key": "MYSQL_USER", "value": "admin"}],
    )  # fmt: skip

    def relinked() -> bool:
        deployment = _deployment(api, namespace, "web")
        env = {e.name: e.value for e in deployment.spec.template.spec.containers[0].env}
        return env.get("DB_ENV_MYSQL_USER") == "admin"

    wait_for(relinked, "the link variables to follow the target")


def test_ports_are_reachable_as_documented(api: client.ApiClient, namespace: str) -> None:
    services.create(
        api, namespace, "web", image="nginx",
        container_ports=[
            {"protocol": "tcp", "inner_port": 80, "published": True, "outer_port": 8080},
            {"protocol": "tcp", "inner_port": 443, "published": True},
            {"protocol": "udp", "inner_port": 53},
        ],
    )  # fmt: skip
    # Every port, published or not, is reachable inside the cluster (for links).
    internal = wait_for(lambda: _kubernetes_service(api, namespace, "web"), "the web Service")
    assert internal.spec.type == "ClusterIP"
    assert sorted((p.port, p.protocol) for p in internal.spec.ports) == [
        (53, "UDP"), (80, "TCP"), (443, "TCP"),
    ]  # fmt: skip
    # A published port without outer_port: on every node, at an allocated port.
    published = wait_for(
        lambda: _kubernetes_service(api, namespace, names.published_service("web")),
        "the published Service",
    )
    assert published.spec.type == "NodePort"
    assert [(p.port, p.protocol) for p in published.spec.ports] == [(443, "TCP")]
    assert 30000 <= published.spec.ports[0].node_port <= 32767
    # A published port with outer_port: on the node's interface at that port.
    pod = wait_for(lambda: services.exactly_running(api, namespace, "web", 1), "the pod")[0]
    host_ports = {p.container_port: p.host_port for p in pod.spec.containers[0].ports}
    assert host_ports == {80: 8080, 443: None, 53: None}


def test_kubectl_delete_removes_every_child(api: client.ApiClient, namespace: str) -> None:
    services.create(
        api, namespace, "web", image="nginx", roles=["global"],
        container_ports=[{"protocol": "tcp", "inner_port": 80, "published": True}],
    )  # fmt: skip
    wait_for(lambda: services.exactly_running(api, namespace, "web", 1), "the pod")
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    selector = "app.dockercloud.dev/service=web"

    def children() -> list[str]:
        found = [
            *(f"deployment/{d.metadata.name}" for d in client.AppsV1Api(api)
              .list_namespaced_deployment(namespace, label_selector=selector).items),
            *(f"service/{s.metadata.name}" for s in core
              .list_namespaced_service(namespace, label_selector=selector).items),
            *(f"serviceaccount/{s.metadata.name}" for s in core
              .list_namespaced_service_account(namespace, label_selector=selector).items),
            *(f"role/{r.metadata.name}" for r in rbac
              .list_namespaced_role(namespace, label_selector=selector).items),
            *(f"rolebinding/{r.metadata.name}" for r in rbac
              .list_namespaced_role_binding(namespace, label_selector=selector).items),
            *(f"pod/{p.metadata.name}" for p in services.pods(api, namespace, "web")),
        ]  # fmt: skip
        return found

    assert len(children()) == 7  # deployment, 2 services, account, role, binding, pod
    services.delete(api, namespace, "web")
    wait_for(lambda: not children(), "every child to be deleted", timeout=90)


def test_a_deleted_child_is_restored_and_an_edited_one_reverted(
    api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    services.create(
        api, namespace, "web", image="nginx", target_num_containers=2,
        container_ports=[{"protocol": "tcp", "inner_port": 80}],
    )  # fmt: skip
    original = wait_for(lambda: _kubernetes_service(api, namespace, "web"), "the Service")

    core.delete_namespaced_service("web", namespace)
    restored = wait_for(
        lambda: (
            (s := _kubernetes_service(api, namespace, "web"))
            and s.metadata.uid != original.metadata.uid
            and s
        ),
        "the deleted Service to come back",
        timeout=10,
    )
    assert [p.port for p in restored.spec.ports] == [80]

    wait_for(lambda: _deployment(api, namespace, "web"), "the Deployment")
    apps.patch_namespaced_deployment(
        "web", namespace,
        {"spec": {"replicas": 5, "template": {"spec": {"containers": [
            {"name": "web", "image": "evil:latest"}]}}}},
    )  # fmt: skip

    def reverted() -> bool:
        deployment = _deployment(api, namespace, "web")
        return bool(
            deployment.spec.replicas == 2
            and deployment.spec.template.spec.containers[0].image == "nginx"
        )

    wait_for(reverted, "the edited Deployment to be reverted", timeout=10)


def test_a_spec_change_reaches_the_child(api: client.ApiClient, namespace: str) -> None:
    services.create(api, namespace, "web", image="nginx")
    wait_for(lambda: _deployment(api, namespace, "web"), "the Deployment")
    services.patch_spec(api, namespace, "web", target_num_containers=4, running=True)
    wait_for(
        lambda: _deployment(api, namespace, "web").spec.replicas == 4, "4 replicas", timeout=10
    )
    services.patch_spec(api, namespace, "web", running=False)
    wait_for(lambda: _deployment(api, namespace, "web").spec.replicas == 0, "stopped", timeout=10)
    assert services.get(api, namespace, "web")["spec"]["target_num_containers"] == 4


def test_sequential_deployment_starts_containers_in_order_with_stable_names(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(
        api, namespace, "db", image="mysql", target_num_containers=3, sequential_deployment=True
    )
    pods = wait_for(lambda: services.exactly_running(api, namespace, "db", 3), "3 containers")
    assert sorted(pod.metadata.name for pod in pods) == ["db-0", "db-1", "db-2"]
    statefulset = client.AppsV1Api(api).read_namespaced_stateful_set("db", namespace)
    assert statefulset.spec.pod_management_policy == "OrderedReady"


def test_roles_global_grants_a_token_and_others_get_none(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(api, namespace, "admin", image="tutum/cli", roles=["global"])
    services.create(api, namespace, "plain", image="nginx")
    admin = wait_for(lambda: services.exactly_running(api, namespace, "admin", 1), "admin")[0]
    plain = wait_for(lambda: services.exactly_running(api, namespace, "plain", 1), "plain")[0]
    assert admin.spec.service_account_name == "admin"
    assert admin.spec.automount_service_account_token is not False
    assert plain.spec.automount_service_account_token is False

    review = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{namespace}:admin",
                "resourceAttributes": {
                    "group": "app.dockercloud.dev", "resource": "services",
                    "verb": "update", "namespace": namespace,
                },
            },
        }
    )  # fmt: skip
    assert review.status.allowed
    secrets = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{namespace}:admin",
                "resourceAttributes": {
                    "resource": "secrets",
                    "verb": "get",
                    "namespace": namespace,
                },
            },
        }
    )
    assert not secrets.status.allowed


def test_a_restarted_operator_writes_nothing_over_existing_services(
    api: client.ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    services.create(
        api, namespace, "db", image="mysql",
        container_ports=[{"protocol": "tcp", "inner_port": 3306}],
    )  # fmt: skip
    services.create(
        api, namespace, "web", image="nginx", target_num_containers=2, roles=["global"],
        container_ports=[{"protocol": "tcp", "inner_port": 80, "published": True}],
        linked_to_service=[{"to_service": "db"}],
    )  # fmt: skip
    wait_for(lambda: services.exactly_running(api, namespace, "web", 2), "the web containers")

    def settled(name: str, running_of_target: str) -> bool:
        status = services.get(api, namespace, name).get("status") or {}
        return (status.get("state"), status.get("running_of_target")) == (
            "Running", running_of_target,
        )  # fmt: skip

    # Its status written too (a moment after the containers run), before it is looked at.
    wait_for(lambda: settled("db", "1/1") and settled("web", "2/2"), "both to be Running")

    def versions() -> dict[str, Any]:
        found: dict[str, Any] = {
            f"Deployment/{d.metadata.name}": services.written(d)
            for d in client.AppsV1Api(api).list_namespaced_deployment(namespace).items
        }
        listed = [
            *client.CoreV1Api(api).list_namespaced_service(namespace).items,
            *client.CoreV1Api(api).list_namespaced_service_account(namespace).items,
            *client.RbacAuthorizationV1Api(api).list_namespaced_role(namespace).items,
            *client.RbacAuthorizationV1Api(api).list_namespaced_role_binding(namespace).items,
        ]
        found.update({f"{o.kind}/{o.metadata.name}": o.metadata.resource_version for o in listed})
        for name in ("db", "web"):
            found[f"dcs/{name}"] = services.get(api, namespace, name)["metadata"]["resourceVersion"]
        return found

    before = versions()
    operator.stop()
    offset = operator.log.stat().st_size
    operator.start()
    after = versions()
    writes = [
        line
        for line in operator.output(offset).splitlines()
        if ("Applying" in line or "Deleting" in line) and f" {namespace}/" in line
    ]
    assert after == before
    assert writes == []


def test_text_outside_the_basic_multilingual_plane_reaches_the_containers(
    api: client.ApiClient, namespace: str
) -> None:
    services.create(
        api, namespace, "web", image="nginx", nickname="web 🚀",
        container_envvars=[{"key": "GREETING", "value": "héllo 👋"}],
    )  # fmt: skip
    deployment = wait_for(lambda: _deployment(api, namespace, "web"), "the Deployment")
    env = {e.name: e.value for e in deployment.spec.template.spec.containers[0].env}
    assert env["GREETING"] == "héllo 👋"
    assert deployment.metadata.annotations["app.dockercloud.dev/nickname"] == "web 🚀"


def test_a_child_the_api_server_refuses_is_reported_and_retried_once_allowed(
    api: client.ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    """A quota of no Deployments: the operator cannot make the workload. The status says so
    (condition Applied, with the server's words), a Warning event too, and the log carries no
    traceback; once the quota goes, the service starts."""
    core = client.CoreV1Api(api)
    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="no-deployments"),
        spec=client.V1ResourceQuotaSpec(hard={"count/deployments.apps": "0"}),
    )
    core.create_namespaced_resource_quota(namespace, quota)
    wait_for(
        lambda: core.read_namespaced_resource_quota("no-deployments", namespace).status.hard,
        "the quota to be counted",
    )
    offset = len(operator.output())
    services.create(api, namespace, "web", image="nginx")

    def refused() -> dict[str, Any] | None:
        conditions = (services.get(api, namespace, "web").get("status") or {}).get("conditions")
        applied = next((c for c in conditions or [] if c["type"] == "Applied"), None)
        return applied if applied and applied["status"] == "False" else None

    applied = wait_for(refused, "the refusal in the status")
    assert applied["reason"] == "Refused"
    assert applied["message"].startswith("Deployment web: ")
    assert "exceeded quota: no-deployments" in applied["message"]
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=web")
    warning = next(e for e in events.items if e.reason == "Refused")
    assert warning.type == "Warning" and "exceeded quota" in warning.message
    assert "Traceback" not in operator.output()[offset:]

    core.delete_namespaced_resource_quota("no-deployments", namespace)
    wait_for(
        lambda: (services.get(api, namespace, "web").get("status") or {}).get("state") == "Running",
        "web to start once the quota is gone",
        timeout=90,  # the retry's backoff, at most 60 s
    )
    assert refused() is None


def test_a_statefulset_is_made_anew_when_what_cannot_change_in_place_changes(
    api: client.ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    """A new binding is a new claim template, and sequential_deployment the pod management
    policy: a StatefulSet refuses both changes, so the operator replaces it."""
    apps = client.AppsV1Api(api)
    services.create(api, namespace, "db", image="mysql", bindings=[{"container_path": "/data"}])
    wait_for(lambda: services.exactly_running(api, namespace, "db", 1), "db to run")
    first = apps.read_namespaced_stateful_set("db", namespace)
    claim = client.CoreV1Api(api).list_namespaced_persistent_volume_claim(namespace).items[0]
    offset = len(operator.output())

    services.patch_spec(
        api, namespace, "db", sequential_deployment=True,
        bindings=[{"container_path": "/data"}, {"container_path": "/logs"}],
    )  # fmt: skip

    def replaced() -> Any:
        statefulset = apps.read_namespaced_stateful_set("db", namespace)
        return statefulset if statefulset.metadata.uid != first.metadata.uid else None

    statefulset = wait_for(replaced, "a new StatefulSet")
    assert statefulset.spec.pod_management_policy == "OrderedReady"
    assert len(statefulset.spec.volume_claim_templates) == 2
    wait_for(
        lambda: (
            (services.get(api, namespace, "db").get("status") or {}).get("state") == "Running"
            and services.exactly_running(api, namespace, "db", 1)
        ),
        "db to run again",
    )
    claims = client.CoreV1Api(api).list_namespaced_persistent_volume_claim(namespace).items
    assert claim.metadata.uid in {c.metadata.uid for c in claims}  # /data's claim is kept
    conditions = services.get(api, namespace, "db")["status"]["conditions"]
    assert next(c for c in conditions if c["type"] == "Applied")["status"] == "True"
    assert "Traceback" not in operator.output()[offset:]

    services.delete(api, namespace, "db")  # terminating deletes the kept claims
    wait_for(
        lambda: (
            not [
                c
                for c in client.CoreV1Api(api)
                .list_namespaced_persistent_volume_claim(namespace)
                .items
                if c.metadata.deletion_timestamp is None
            ]
        ),
        "the claims to be deleted",
    )
