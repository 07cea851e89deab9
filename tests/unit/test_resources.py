"""The builders: what a Service becomes in Kubernetes (docs/mapping.md, row by row).

Expected objects are written out whole, as literals, so a reader sees exactly what the operator
creates, and any field a builder adds or drops fails a test."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dockercloud_operator.resources import build, object_key
from dockercloud_operator.resources.access import api_access
from dockercloud_operator.resources.compare import (
    APPLIED_ANNOTATION,
    derives,
    fingerprint,
    plan,
    stamped,
)
from dockercloud_operator.resources.context import Context, Link, Services, resolve
from dockercloud_operator.resources.links import NUMBERED_CONTAINERS, link_variables
from dockercloud_operator.resources.networking import kubernetes_services
from dockercloud_operator.resources.pod import command_words, cpu_quantity, memory_quantity
from dockercloud_operator.resources.unsupported import unsupported
from dockercloud_operator.resources.workload import workload
from dockercloud_operator.resources.workload_kind import workload_kind
from dockercloud_operator.schema.fields import (
    MAX_INT32,
)
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]

NS = "shop"
UID = "09cbcf8d-a727-40d9-b420-c8e18b7fa55b"
DB_UID = "72f175bd-390b-46e3-9463-830aca32ce3e"
IMAGE = "tutum/hello-world"
DOCUMENTED_EXAMPLE = Path(__file__).parent.parent / "data" / "documented-example.yaml"


def service(
    name: str = "web", *, uid: str | None = UID, namespace: str = NS, **spec: Any
) -> Service:
    metadata: Object = {"name": name, "namespace": namespace}
    if uid is not None:
        metadata["uid"] = uid
    return Service.model_validate({"metadata": metadata, "spec": {"image": IMAGE, **spec}})


def labels(name: str = "web") -> Object:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": "dockercloud-operator",
        "app.dockercloud.dev/service": name,
    }


def selector(name: str = "web") -> Object:
    return {"app.dockercloud.dev/service": name}


def owner(name: str = "web", uid: str = UID) -> Object:
    return {
        "apiVersion": "app.dockercloud.dev/v1",
        "kind": "Service",
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def meta(name: str, service_name: str = "web", **extra: Any) -> Object:
    return {
        "name": name,
        "namespace": NS,
        "labels": labels(service_name),
        "ownerReferences": [owner(service_name)],
        **extra,
    }


EMPTIEST_NODE_SPREAD = {
    "maxSkew": 1,
    "topologyKey": "kubernetes.io/hostname",
    "whenUnsatisfiable": "ScheduleAnyway",
    "labelSelector": {"matchLabels": {"app.kubernetes.io/managed-by": "dockercloud-operator"}},
}


def minimal_pod(name: str = "web", **extra: Any) -> Object:
    """The pod spec of a service that sets nothing but its image, plus `extra`."""
    return {
        "containers": [{"name": name, "image": IMAGE}],
        "enableServiceLinks": False,
        "serviceAccountName": "default",
        "automountServiceAccountToken": False,
        "topologySpreadConstraints": [EMPTIEST_NODE_SPREAD],
        **extra,
    }


def pod_spec(svc: Service, context: Context | None = None) -> Object:
    spec: Object = workload(svc, context or Context())["spec"]["template"]["spec"]
    return spec


def container(svc: Service, context: Context | None = None) -> Object:
    only: list[Object] = pod_spec(svc, context)["containers"]
    assert len(only) == 1
    return only[0]


def findings(svc: Service, context: Context | None = None) -> list[str]:
    return [str(finding) for finding in unsupported(svc, context or Context())]


# -- the workload -------------------------------------------------------------------------------


def test_a_minimal_service_is_a_deployment_of_one_container() -> None:
    assert build(service()).objects == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("web"),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": selector()},
                "template": {"metadata": {"labels": labels()}, "spec": minimal_pod()},
                "revisionHistoryLimit": 3,
            },
        }
    ]


def test_spec_name_equal_to_the_metadata_name_changes_nothing() -> None:
    named = Service.model_validate(
        {
            "metadata": {"name": "web", "namespace": NS, "uid": UID},
            "spec": {"image": IMAGE, "name": "web"},
        }
    )
    assert build(named).objects == build(service()).objects


def test_target_num_containers_is_the_replica_count() -> None:
    assert workload(service(target_num_containers=3), Context())["spec"]["replicas"] == 3
    assert workload(service(target_num_containers=0), Context())["spec"]["replicas"] == 0


def test_every_node_becomes_a_daemonset() -> None:
    agent = service("agent", deployment_strategy="EVERY_NODE", target_num_containers=3)
    assert build(agent).objects == [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta("agent", "agent"),
            "spec": {
                "selector": {"matchLabels": selector("agent")},
                "template": {
                    "metadata": {"labels": labels("agent")},
                    "spec": {
                        "containers": [{"name": "agent", "image": IMAGE}],
                        "enableServiceLinks": False,
                        "serviceAccountName": "default",
                        "automountServiceAccountToken": False,
                    },
                },
                "revisionHistoryLimit": 3,
            },
        }
    ]


def test_sequential_deployment_becomes_an_ordered_stateful_set_with_a_headless_service() -> None:
    db = service("db", sequential_deployment=True, target_num_containers=3)
    assert build(db).objects == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("db-containers", "db"),
            "spec": {
                "selector": selector("db"),
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta("db", "db"),
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": selector("db")},
                "template": {"metadata": {"labels": labels("db")}, "spec": minimal_pod("db")},
                "revisionHistoryLimit": 3,
                "serviceName": "db-containers",
                "podManagementPolicy": "OrderedReady",
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Retain",
                    "whenScaled": "Delete",
                },
            },
        },
    ]


def test_container_path_volumes_become_claim_templates_of_a_parallel_stateful_set() -> None:
    db = service(
        "db",
        bindings=[
            {"container_path": "/var/lib/data"},
            {"host_path": "/etc/ssl", "container_path": "/etc/ssl", "rewritable": False},
            {"container_path": "/cache", "rewritable": False},
        ],
    )
    claim = {
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        }
    }
    assert workload(db, Context()) == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta("db", "db"),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector("db")},
            "template": {
                "metadata": {"labels": labels("db")},
                "spec": {
                    "containers": [
                        {
                            "name": "db",
                            "image": IMAGE,
                            "volumeMounts": [
                                {"name": "binding-0", "mountPath": "/var/lib/data"},
                                {"name": "binding-1", "mountPath": "/etc/ssl", "readOnly": True},
                                {"name": "binding-2", "mountPath": "/cache", "readOnly": True},
                            ],
                        }
                    ],
                    "enableServiceLinks": False,
                    "serviceAccountName": "default",
                    "automountServiceAccountToken": False,
                    "topologySpreadConstraints": [EMPTIEST_NODE_SPREAD],
                    "volumes": [
                        {
                            "name": "binding-1",
                            "hostPath": {"path": "/etc/ssl", "type": "DirectoryOrCreate"},
                        }
                    ],
                },
            },
            "revisionHistoryLimit": 3,
            "serviceName": "db-containers",
            "podManagementPolicy": "Parallel",
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Delete",
            },
            "volumeClaimTemplates": [
                {"metadata": {"name": "binding-0", "labels": labels("db")}, **claim},
                {"metadata": {"name": "binding-2", "labels": labels("db")}, **claim},
            ],
        },
    }


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ({}, "Deployment"),
        ({"deployment_strategy": "HIGH_AVAILABILITY"}, "Deployment"),
        ({"bindings": [{"host_path": "/srv", "container_path": "/srv"}]}, "Deployment"),
        ({"bindings": [{"volumes_from": "files"}]}, "Deployment"),
        ({"sequential_deployment": True}, "StatefulSet"),
        ({"bindings": [{"container_path": "/data"}]}, "StatefulSet"),
        (
            {"deployment_strategy": "HIGH_AVAILABILITY", "sequential_deployment": True},
            "StatefulSet",
        ),
        ({"deployment_strategy": "EVERY_NODE"}, "DaemonSet"),
        ({"deployment_strategy": "EVERY_NODE", "sequential_deployment": True}, "DaemonSet"),
        (
            {"deployment_strategy": "EVERY_NODE", "bindings": [{"container_path": "/d"}]},
            "DaemonSet",
        ),
    ],
)
def test_the_workload_kind_follows_strategy_order_and_volumes(spec: Object, kind: str) -> None:
    svc = service(**spec)
    assert workload_kind(svc.spec) == kind
    assert workload(svc, Context())["kind"] == kind


def test_an_every_node_service_keeps_container_path_volumes_in_empty_dirs() -> None:
    agent = service("agent", deployment_strategy="EVERY_NODE", bindings=[{"container_path": "/d"}])
    pod = pod_spec(agent)
    assert pod["volumes"] == [{"name": "binding-0", "emptyDir": {}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "binding-0", "mountPath": "/d"}]
    assert findings(agent) == [
        AUTORESTART_OFF,
        "bindings: the container-path volumes of an EVERY_NODE service are emptyDir: they do not "
        "survive a redeploy",
    ]


def test_a_stopped_service_runs_no_containers_and_keeps_its_target() -> None:
    stopped = service(target_num_containers=3, running=False)
    assert stopped.spec.target_num_containers == 3
    assert workload(stopped, Context())["spec"]["replicas"] == 0
    assert workload(service(target_num_containers=3), Context())["spec"]["replicas"] == 3


def test_a_stopped_stateful_set_keeps_its_volumes_for_the_next_start() -> None:
    db = service("db", running=False, bindings=[{"container_path": "/data"}])
    spec = workload(db, Context())["spec"]
    assert spec["replicas"] == 0
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_a_stopped_every_node_service_selects_no_node() -> None:
    agent = service("agent", deployment_strategy="EVERY_NODE", running=False)
    assert pod_spec(agent) == {
        "containers": [{"name": "agent", "image": IMAGE}],
        "enableServiceLinks": False,
        "serviceAccountName": "default",
        "automountServiceAccountToken": False,
        "nodeSelector": {"app.dockercloud.dev/stopped": "true"},
    }
    tagged = service(
        "agent", deployment_strategy="EVERY_NODE", running=False, tags=[{"name": "edge"}]
    )
    assert pod_spec(tagged)["nodeSelector"] == {
        "tags.dockercloud.dev/edge": "true",
        "app.dockercloud.dev/stopped": "true",
    }


def test_a_redeploy_token_annotates_the_pod_template_so_every_container_is_replaced() -> None:
    first = workload(service(redeploy={"token": "1"}), Context())["spec"]["template"]
    second = workload(service(redeploy={"token": "2"}), Context())["spec"]["template"]
    assert first == {
        "metadata": {"labels": labels(), "annotations": {"app.dockercloud.dev/redeploy": "1"}},
        "spec": minimal_pod(),
    }
    assert second["metadata"]["annotations"] == {"app.dockercloud.dev/redeploy": "2"}
    assert "annotations" not in workload(service(), Context())["spec"]["template"]["metadata"]


def test_docker_labels_become_pod_annotations_verbatim() -> None:
    svc = service(
        labels={"com.example.description": "Accounting webapp", "com.example.empty": ""},
        redeploy={"token": "7", "reuse_volumes": False},
    )
    assert workload(svc, Context())["spec"]["template"]["metadata"] == {
        "labels": labels(),
        "annotations": {
            "app.dockercloud.dev/redeploy": "7",
            "com.example.description": "Accounting webapp",
            "com.example.empty": "",
        },
    }


def test_nickname_and_stack_annotate_the_workload() -> None:
    stack = "/api/app/v1/stack/46aca402-2109-4a70-a378-760cfed43816/"
    svc = service(name="web", nickname="The shop", stack=stack)
    assert workload(svc, Context())["metadata"] == meta(
        "web",
        annotations={
            "app.dockercloud.dev/nickname": "The shop",
            "app.dockercloud.dev/stack": stack,
        },
    )


def test_a_manifest_without_a_uid_has_no_owner_references() -> None:
    svc = service(
        uid=None,
        roles=["global"],
        sequential_deployment=True,
        container_ports=[{"protocol": "tcp", "inner_port": 80, "published": True}],
    )
    objects = build(svc).objects
    assert [obj["kind"] for obj in objects] == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Service",
        "Service",
        "Service",
        "StatefulSet",
    ]
    for obj in objects:
        assert obj["metadata"] == {
            "name": obj["metadata"]["name"],
            "namespace": NS,
            "labels": labels(),
        }


def test_every_child_of_a_created_service_is_owned_by_it() -> None:
    svc = service(
        roles=["global"],
        sequential_deployment=True,
        container_ports=[{"protocol": "tcp", "inner_port": 80, "published": True}],
    )
    for obj in build(svc).objects:
        assert obj["metadata"]["ownerReferences"] == [owner()]


# -- runtime attributes: the container ----------------------------------------------------------

CONTAINER_CASES: list[tuple[str, Object, Object]] = [
    (
        "image",
        {"image": "registry.example.com:5000/team/app:1.2"},
        {"name": "web", "image": "registry.example.com:5000/team/app:1.2"},
    ),
    (
        "entrypoint_and_run_command",
        {"entrypoint": "/usr/sbin/sshd -D", "run_command": "/run.sh --port 22"},
        {
            "name": "web",
            "image": IMAGE,
            "command": ["/usr/sbin/sshd", "-D"],
            "args": ["/run.sh", "--port", "22"],
        },
    ),
    ("empty_entrypoint_is_the_images", {"entrypoint": "", "run_command": ""}, {}),
    (
        "dollars_are_passed_literally",
        {"run_command": "sh -c 'echo $$ $(HOME)'"},
        {"name": "web", "image": IMAGE, "args": ["sh", "-c", "echo $$$$ $$(HOME)"]},
    ),
    ("working_dir", {"working_dir": "/app"}, {"name": "web", "image": IMAGE, "workingDir": "/app"}),
    ("working_dir_default_is_the_images", {"working_dir": "/"}, {}),
    (
        "container_envvars",
        {
            "container_envvars": [
                {"key": "DB_PASS", "value": "test"},
                {"key": "EMPTY", "value": ""},
                {"key": "PRICE", "value": "$5 or $(COST)"},
            ]
        },
        {
            "name": "web",
            "image": IMAGE,
            "env": [
                {"name": "DB_PASS", "value": "test"},
                {"name": "EMPTY", "value": ""},
                {"name": "PRICE", "value": "$$5 or $$(COST)"},
            ],
        },
    ),
    (
        "container_ports",
        {
            "container_ports": [
                {
                    "protocol": "tcp",
                    "inner_port": 80,
                    "outer_port": 8080,
                    "published": True,
                    "port_name": "http",
                },
                {"protocol": "udp", "inner_port": 53},
                {"protocol": "tcp", "inner_port": 443, "published": True},
            ]
        },
        {
            "name": "web",
            "image": IMAGE,
            "ports": [
                {"name": "http", "containerPort": 80, "protocol": "TCP", "hostPort": 8080},
                {"name": "udp-53", "containerPort": 53, "protocol": "UDP"},
                {"name": "tcp-443", "containerPort": 443, "protocol": "TCP"},
            ],
        },
    ),
    (
        "host_network_ports_have_no_host_port",
        {
            "net": "host",
            "container_ports": [
                {"protocol": "tcp", "inner_port": 80, "outer_port": 80, "published": True}
            ],
        },
        {
            "name": "web",
            "image": IMAGE,
            "ports": [{"name": "tcp-80", "containerPort": 80, "protocol": "TCP"}],
        },
    ),
    (
        "cpu_shares_and_memory",
        {"cpu_shares": 512, "memory": 2048},
        {
            "name": "web",
            "image": IMAGE,
            "resources": {"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"}},
        },
    ),
    (
        "cpu_shares",
        {"cpu_shares": 100},
        {"name": "web", "image": IMAGE, "resources": {"requests": {"cpu": "98m"}}},
    ),
    (
        "memory_swap_sets_nothing",
        {"memory": 1536, "memory_swap": 8192},
        {"name": "web", "image": IMAGE, "resources": {"limits": {"memory": "1536Mi"}}},
    ),
    (
        "privileged",
        {"privileged": True},
        {"name": "web", "image": IMAGE, "securityContext": {"privileged": True}},
    ),
    (
        "read_only",
        {"read_only": True},
        {"name": "web", "image": IMAGE, "securityContext": {"readOnlyRootFilesystem": True}},
    ),
    (
        "cap_add_and_cap_drop",
        {"cap_add": ["ALL"], "cap_drop": ["NET_ADMIN", "SYS_ADMIN"]},
        {
            "name": "web",
            "image": IMAGE,
            "securityContext": {
                "capabilities": {"add": ["ALL"], "drop": ["NET_ADMIN", "SYS_ADMIN"]}
            },
        },
    ),
    (
        "user_root",
        {"user": "root"},
        {"name": "web", "image": IMAGE, "securityContext": {"runAsUser": 0}},
    ),
    (
        "user_uid_and_gid",
        {"user": "1000:2000"},
        {"name": "web", "image": IMAGE, "securityContext": {"runAsUser": 1000, "runAsGroup": 2000}},
    ),
    (
        "user_root_group",
        {"user": "33:root"},
        {"name": "web", "image": IMAGE, "securityContext": {"runAsUser": 33, "runAsGroup": 0}},
    ),
    ("user_by_name_is_the_images", {"user": "www-data"}, {}),
    (
        "security_opt",
        {
            "security_opt": [
                "no-new-privileges",
                "seccomp=unconfined",
                "apparmor:unconfined",
                "label=disable",
            ]
        },
        {
            "name": "web",
            "image": IMAGE,
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "appArmorProfile": {"type": "Unconfined"},
                "seccompProfile": {"type": "Unconfined"},
            },
        },
    ),
    (
        "no_new_privileges_true",
        {"security_opt": ["no-new-privileges:true"]},
        {"name": "web", "image": IMAGE, "securityContext": {"allowPrivilegeEscalation": False}},
    ),
    ("tty", {"tty": True}, {"name": "web", "image": IMAGE, "tty": True}),
    ("stdin_open", {"stdin_open": True}, {"name": "web", "image": IMAGE, "stdin": True}),
    (
        "bindings_host_path",
        {"bindings": [{"host_path": "/etc", "container_path": "/etc"}]},
        {
            "name": "web",
            "image": IMAGE,
            "volumeMounts": [{"name": "binding-0", "mountPath": "/etc"}],
        },
    ),
    (
        "unsupported_attributes_set_nothing",
        {
            "domainname": "example.com",
            "mac_address": "02:42:ac:11:65:43",
            "cgroup_parent": "m-executor-abcd",
            "cpuset": "0,1",
            "devices": ["/dev/ttyUSB0:/dev/ttyUSB0"],
            "autorestart": "ON_FAILURE",
            "autodestroy": "ALWAYS",
            "autoredeploy": True,
            "nickname": "shop",
        },
        {},
    ),
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [(spec, expected) for _, spec, expected in CONTAINER_CASES],
    ids=[case for case, _, _ in CONTAINER_CASES],
)
def test_runtime_attributes_become_container_fields(spec: Object, expected: Object) -> None:
    assert container(service(**spec)) == (expected or {"name": "web", "image": IMAGE})


def test_all_container_security_settings_combine_in_one_context() -> None:
    svc = service(
        privileged=True,
        read_only=True,
        cap_add=["NET_ADMIN"],
        user="1000",
        security_opt=["seccomp=unconfined"],
    )
    assert container(svc)["securityContext"] == {
        "privileged": True,
        "readOnlyRootFilesystem": True,
        "capabilities": {"add": ["NET_ADMIN"]},
        "runAsUser": 1000,
        "seccompProfile": {"type": "Unconfined"},
    }


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (None, None),
        ("", None),
        ("/run.sh", ["/run.sh"]),
        ("/usr/sbin/sshd -D", ["/usr/sbin/sshd", "-D"]),
        ("sh -c 'echo hello world'", ["sh", "-c", "echo hello world"]),
        ('python -m "http.server"  8000', ["python", "-m", "http.server", "8000"]),
        (r"touch a\ b", ["touch", "a b"]),
        ("echo it's open", ["echo it's open"]),
        ('sh -c "unbalanced', ['sh -c "unbalanced']),
    ],
)
def test_commands_are_split_like_a_shell_and_an_unbalanced_quote_is_one_word(
    line: str | None, words: list[str] | None
) -> None:
    assert command_words(line) == words


def test_an_unbalanced_run_command_is_passed_as_one_argument() -> None:
    assert container(service(run_command="echo it's"))["args"] == ["echo it's"]


@pytest.mark.parametrize(
    ("shares", "quantity"),
    [
        (2, "2m"),
        (100, "98m"),
        (512, "500m"),
        (1000, "977m"),
        (1024, "1"),
        (1536, "1500m"),
        (2048, "2"),
        (262144, "256"),
    ],
)
def test_cpu_shares_are_a_cpu_request_in_canonical_form(shares: int, quantity: str) -> None:
    assert cpu_quantity(shares) == quantity


@pytest.mark.parametrize(
    ("megabytes", "quantity"),
    [
        (1, "1Mi"),
        (512, "512Mi"),
        (1024, "1Gi"),
        (1536, "1536Mi"),
        (2048, "2Gi"),
        (3 * 1024 * 1024, "3Ti"),
        (1024**3, "1Pi"),
        (2**31 - 1, "2147483647Mi"),
    ],
)
def test_memory_is_a_limit_in_canonical_binary_units(megabytes: int, quantity: str) -> None:
    assert memory_quantity(megabytes) == quantity


# -- runtime attributes: the pod ----------------------------------------------------------------

HIGH_AVAILABILITY_SPREAD = {
    "maxSkew": 1,
    "topologyKey": "kubernetes.io/hostname",
    "whenUnsatisfiable": "DoNotSchedule",
    "labelSelector": {"matchLabels": selector()},
}

POD_CASES: list[tuple[str, Object, Object]] = [
    ("defaults", {"net": "bridge", "pid": "none", "deployment_strategy": "EMPTIEST_NODE"}, {}),
    ("net_host", {"net": "host"}, {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}),
    ("pid_host", {"pid": "host"}, {"hostPID": True}),
    ("hostname", {"hostname": "hostname"}, {"hostname": "hostname"}),
    (
        "extra_hosts_grouped_by_ip",
        {"extra_hosts": ["onehost:50.31.209.229", "v6host:::1", "twohost:50.31.209.229"]},
        {
            "hostAliases": [
                {"ip": "50.31.209.229", "hostnames": ["onehost", "twohost"]},
                {"ip": "::1", "hostnames": ["v6host"]},
            ]
        },
    ),
    (
        "dns_and_dns_search",
        {"dns": ["8.8.8.8", "1.1.1.1"], "dns_search": ["example.com"]},
        {"dnsConfig": {"nameservers": ["8.8.8.8", "1.1.1.1"], "searches": ["example.com"]}},
    ),
    ("dns_search", {"dns_search": ["example.com"]}, {"dnsConfig": {"searches": ["example.com"]}}),
    (
        "tags",
        {"tags": [{"name": "tag_one"}, {"name": "tag-two"}]},
        {
            "nodeSelector": {
                "tags.dockercloud.dev/tag_one": "true",
                "tags.dockercloud.dev/tag-two": "true",
            }
        },
    ),
    (
        "high_availability",
        {"deployment_strategy": "HIGH_AVAILABILITY"},
        {
            "topologySpreadConstraints": [
                {**HIGH_AVAILABILITY_SPREAD, "matchLabelKeys": ["pod-template-hash"]}
            ]
        },
    ),
    (
        "high_availability_stateful_set",
        {"deployment_strategy": "HIGH_AVAILABILITY", "sequential_deployment": True},
        {"topologySpreadConstraints": [HIGH_AVAILABILITY_SPREAD]},
    ),
]


@pytest.mark.parametrize(
    ("spec", "extra"),
    [(spec, extra) for _, spec, extra in POD_CASES],
    ids=[case for case, _, _ in POD_CASES],
)
def test_runtime_attributes_become_pod_fields(spec: Object, extra: Object) -> None:
    assert pod_spec(service(**spec)) == minimal_pod(**extra)


def test_tags_and_high_availability_together_spread_over_the_tagged_nodes() -> None:
    svc = service(deployment_strategy="HIGH_AVAILABILITY", tags=[{"name": "edge"}])
    assert pod_spec(svc) == minimal_pod(
        nodeSelector={"tags.dockercloud.dev/edge": "true"},
        topologySpreadConstraints=[
            {**HIGH_AVAILABILITY_SPREAD, "matchLabelKeys": ["pod-template-hash"]}
        ],
    )


# -- Kubernetes Services ------------------------------------------------------------------------

PORTS = [
    {
        "protocol": "tcp",
        "inner_port": 80,
        "outer_port": 8080,
        "published": True,
        "port_name": "http",
    },
    {"protocol": "udp", "inner_port": 53},
    {"protocol": "tcp", "inner_port": 443, "published": True},
]


def test_every_port_is_on_a_cluster_ip_service_and_dynamic_ones_on_a_node_port_service() -> None:
    assert kubernetes_services(service(container_ports=PORTS)) == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("web"),
            "spec": {
                "selector": selector(),
                "type": "ClusterIP",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"},
                    {"name": "udp-53", "port": 53, "targetPort": 53, "protocol": "UDP"},
                    {"name": "tcp-443", "port": 443, "targetPort": 443, "protocol": "TCP"},
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("web-published"),
            "spec": {
                "selector": selector(),
                "type": "NodePort",
                "ports": [{"name": "tcp-443", "port": 443, "targetPort": 443, "protocol": "TCP"}],
            },
        },
    ]


def test_a_stateful_set_with_ports_gets_them_on_its_headless_service_too() -> None:
    db = service("db", sequential_deployment=True, container_ports=[PORTS[1]])
    port = {"name": "udp-53", "port": 53, "targetPort": 53, "protocol": "UDP"}
    assert kubernetes_services(db) == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("db", "db"),
            "spec": {"selector": selector("db"), "type": "ClusterIP", "ports": [port]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("db-containers", "db"),
            "spec": {
                "selector": selector("db"),
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "ports": [port],
            },
        },
    ]


def test_a_service_without_ports_has_no_kubernetes_service() -> None:
    assert kubernetes_services(service()) == []


def test_host_network_needs_no_node_port_service() -> None:
    svc = service(net="host", container_ports=PORTS)
    assert [obj["metadata"]["name"] for obj in kubernetes_services(svc)] == ["web"]


# -- API access ---------------------------------------------------------------------------------


def test_the_global_role_is_a_service_account_allowed_the_service_api_of_its_namespace() -> None:
    svc = service(roles=["global"])
    assert api_access(svc) == [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta("web"),
            "automountServiceAccountToken": True,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta("web-dockercloud-api"),
            "rules": [
                {
                    "apiGroups": ["app.dockercloud.dev"],
                    "resources": ["services", "services/scale"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                },
                {
                    "apiGroups": ["app.dockercloud.dev"],
                    "resources": ["services/status"],
                    "verbs": ["get"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta("web-dockercloud-api"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "web-dockercloud-api",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": NS}],
        },
    ]
    assert pod_spec(svc) == {
        "containers": [{"name": "web", "image": IMAGE}],
        "enableServiceLinks": False,
        "serviceAccountName": "web",
        "topologySpreadConstraints": [EMPTIEST_NODE_SPREAD],
    }


def test_without_roles_a_service_gets_no_account_and_its_pods_no_api_token() -> None:
    assert api_access(service()) == []
    assert pod_spec(service())["automountServiceAccountToken"] is False


def test_objects_are_built_in_apply_order() -> None:
    svc = service(roles=["global"], container_ports=PORTS)
    assert [object_key(obj) for obj in build(svc).objects] == [
        ("ServiceAccount", NS, "web"),
        ("Role", NS, "web-dockercloud-api"),
        ("RoleBinding", NS, "web-dockercloud-api"),
        ("Service", NS, "web"),
        ("Service", NS, "web-published"),
        ("Deployment", NS, "web"),
    ]


# -- links --------------------------------------------------------------------------------------


def database(**spec: Any) -> Service:
    return service(
        "db",
        uid=DB_UID,
        container_ports=[{"protocol": "tcp", "inner_port": 5432}],
        container_envvars=[{"key": "USER", "value": "admin"}],
        **spec,
    )


def address_variables(prefix: str, address: str) -> dict[str, str]:
    return {
        f"{prefix}_ENV_USER": "admin",
        f"{prefix}_PORT": f"tcp://{address}:5432",
        f"{prefix}_PORT_5432_TCP": f"tcp://{address}:5432",
        f"{prefix}_PORT_5432_TCP_ADDR": address,
        f"{prefix}_PORT_5432_TCP_PORT": "5432",
        f"{prefix}_PORT_5432_TCP_PROTO": "tcp",
    }


def test_link_variables_of_a_deployment_point_every_number_at_its_cluster_service() -> None:
    assert link_variables("db", database(target_num_containers=2)) == {
        **address_variables("DB", "db.shop.svc"),
        **address_variables("DB_1", "db.shop.svc"),
        **address_variables("DB_2", "db.shop.svc"),
    }


def test_link_variables_of_a_stateful_set_number_each_container_by_its_own_dns_name() -> None:
    db = database(target_num_containers=2, sequential_deployment=True)
    assert link_variables("db", db) == {
        **address_variables("DB", "db.shop.svc"),
        **address_variables("DB_1", "db-0.db-containers.shop.svc"),
        **address_variables("DB_2", "db-1.db-containers.shop.svc"),
    }


@pytest.mark.parametrize("target", [NUMBERED_CONTAINERS + 1, MAX_INT32])
def test_link_variables_number_only_the_first_ten_containers(target: int) -> None:
    db = database(target_num_containers=target, sequential_deployment=True)
    numbered = {
        key: value
        for n in range(1, NUMBERED_CONTAINERS + 1)
        for key, value in address_variables(f"DB_{n}", f"db-{n - 1}.db-containers.shop.svc").items()
    }
    assert NUMBERED_CONTAINERS == 10
    assert link_variables("db", db) == {**address_variables("DB", "db.shop.svc"), **numbered}


def test_link_variables_of_an_every_node_service_are_unnumbered() -> None:
    assert link_variables("db", database(deployment_strategy="EVERY_NODE")) == address_variables(
        "DB", "db.shop.svc"
    )


def test_the_link_port_variable_is_the_lowest_port_and_aliases_are_upper_snake_case() -> None:
    target = service(
        "my-cache",
        target_num_containers=0,
        container_ports=[
            {"protocol": "tcp", "inner_port": 6379},
            {"protocol": "udp", "inner_port": 53},
        ],
    )
    assert link_variables("my-cache.v2", target) == {
        "MY_CACHE_V2_PORT": "udp://my-cache.shop.svc:53",
        "MY_CACHE_V2_PORT_53_UDP": "udp://my-cache.shop.svc:53",
        "MY_CACHE_V2_PORT_53_UDP_ADDR": "my-cache.shop.svc",
        "MY_CACHE_V2_PORT_53_UDP_PORT": "53",
        "MY_CACHE_V2_PORT_53_UDP_PROTO": "udp",
        "MY_CACHE_V2_PORT_6379_TCP": "tcp://my-cache.shop.svc:6379",
        "MY_CACHE_V2_PORT_6379_TCP_ADDR": "my-cache.shop.svc",
        "MY_CACHE_V2_PORT_6379_TCP_PORT": "6379",
        "MY_CACHE_V2_PORT_6379_TCP_PROTO": "tcp",
    }


def test_links_resolve_by_name_or_resource_uri_and_default_to_the_target_name() -> None:
    db = database()
    other = service("db", namespace="other", uid="2f4f54e5-9d3b-4ac1-85ad-a2d4ff25a179")
    web = service(
        linked_to_service=[
            {"to_service": "db"},
            {"to_service": "/api/app/v1/service/2f4f54e5-9d3b-4ac1-85ad-a2d4ff25a179/"},
            {"to_service": "ghost", "name": "spooky"},
        ]
    )
    context = resolve(web, Services([db, other, web]))
    assert context.links == [Link(alias="db", target=db), Link(alias="db", target=other)]
    assert context.unresolved == ["linked_to_service[2]: no service ghost"]
    named = service(
        linked_to_service=[
            {"to_service": "db", "name": "DB", "from_service": f"/api/app/v1/service/{UID}/"}
        ]
    )
    assert resolve(named, {("shop", "db"): db}).links == [Link(alias="DB", target=db)]


def test_link_variables_come_first_and_the_services_own_variables_override_them() -> None:
    web = service(
        linked_to_service=[{"to_service": "db", "name": "DB"}],
        container_envvars=[
            {"key": "DB_PORT", "value": "tcp://elsewhere:5432"},
            {"key": "MODE", "value": "production"},
        ],
    )
    context = resolve(web, Services([database(), web]))
    assert container(web, context)["env"] == [
        {"name": "DB_1_ENV_USER", "value": "admin"},
        {"name": "DB_1_PORT", "value": "tcp://db.shop.svc:5432"},
        {"name": "DB_1_PORT_5432_TCP", "value": "tcp://db.shop.svc:5432"},
        {"name": "DB_1_PORT_5432_TCP_ADDR", "value": "db.shop.svc"},
        {"name": "DB_1_PORT_5432_TCP_PORT", "value": "5432"},
        {"name": "DB_1_PORT_5432_TCP_PROTO", "value": "tcp"},
        {"name": "DB_ENV_USER", "value": "admin"},
        {"name": "DB_PORT_5432_TCP", "value": "tcp://db.shop.svc:5432"},
        {"name": "DB_PORT_5432_TCP_ADDR", "value": "db.shop.svc"},
        {"name": "DB_PORT_5432_TCP_PORT", "value": "5432"},
        {"name": "DB_PORT_5432_TCP_PROTO", "value": "tcp"},
        {"name": "DB_PORT", "value": "tcp://elsewhere:5432"},
        {"name": "MODE", "value": "production"},
    ]


def test_an_unresolved_link_injects_nothing_until_its_target_exists() -> None:
    web = service(linked_to_service=[{"to_service": "db"}])
    context = resolve(web, Services([web]))
    assert context.unresolved == ["linked_to_service[0]: no service db"]
    assert "env" not in container(web, context)


# -- volumes_from -------------------------------------------------------------------------------

FILES = {
    "bindings": [
        {"host_path": "/srv/files", "container_path": "/files"},
        {"host_path": "/srv/ro", "container_path": "/ro", "rewritable": False},
        {"container_path": "/cache"},
    ]
}


@pytest.mark.parametrize(
    ("rewritable", "files_mount"),
    [
        (True, {"name": "from-files-0", "mountPath": "/files"}),
        (False, {"name": "from-files-0", "mountPath": "/files", "readOnly": True}),
    ],
)
def test_volumes_from_shares_the_host_path_volumes_of_the_source(
    rewritable: bool, files_mount: Object
) -> None:
    files = service("files", uid="2f4f54e5-9d3b-4ac1-85ad-a2d4ff25a179", **FILES)
    web = service(
        bindings=[
            {
                "volumes_from": "/api/app/v1/service/2f4f54e5-9d3b-4ac1-85ad-a2d4ff25a179/",
                "rewritable": rewritable,
            }
        ]
    )
    context = resolve(web, Services([files, web]))
    assert context.volumes_from == {0: files}
    assert pod_spec(web, context) == minimal_pod(
        containers=[
            {
                "name": "web",
                "image": IMAGE,
                "volumeMounts": [
                    files_mount,
                    {"name": "from-files-1", "mountPath": "/ro", "readOnly": True},
                ],
            }
        ],
        volumes=[
            {
                "name": "from-files-0",
                "hostPath": {"path": "/srv/files", "type": "DirectoryOrCreate"},
            },
            {"name": "from-files-1", "hostPath": {"path": "/srv/ro", "type": "DirectoryOrCreate"}},
        ],
    )
    assert findings(web, context)[1:] == [
        "bindings[0].volumes_from: only the host-path volumes of files are shared; its own "
        "volumes belong to its containers"
    ]


def test_an_unresolved_volumes_from_mounts_nothing_until_its_source_exists() -> None:
    web = service(bindings=[{"volumes_from": "files"}])
    context = resolve(web, Services([web]))
    assert context.unresolved == ["bindings[0].volumes_from: no service files"]
    assert pod_spec(web, context) == minimal_pod()


# -- unsupported attributes ---------------------------------------------------------------------

RESTARTS = (
    "the cluster does not offer a container's own restartPolicy (ContainerRestartRules): "
    "stopped containers are restarted (as ALWAYS)"
)
AUTORESTART_OFF = f"autorestart=OFF: {RESTARTS}"

UNSUPPORTED_CASES: list[tuple[Object, list[str]]] = [
    ({"autorestart": "ALWAYS"}, []),
    ({}, [AUTORESTART_OFF]),
    ({"autorestart": "ON_FAILURE"}, [f"autorestart=ON_FAILURE: {RESTARTS}"]),
    # containers that always restart never stop, so never go: as in Docker Cloud
    ({"autorestart": "ALWAYS", "autodestroy": "ON_SUCCESS"}, []),
    ({"autorestart": "ALWAYS", "autodestroy": "ALWAYS"}, []),
    (
        {"autodestroy": "ALWAYS"},
        [AUTORESTART_OFF, "autodestroy=ALWAYS: containers are restarted, never removed"],
    ),
    ({"autorestart": "ALWAYS", "autoredeploy": True}, []),  # the registry hook honours it
    (
        {"autorestart": "ALWAYS", "user": "www-data"},
        ["user=www-data: Kubernetes runs containers as a numeric uid[:gid] only"],
    ),
    (
        {"autorestart": "ALWAYS", "user": "1000:staff"},
        ["user=1000:staff: Kubernetes runs containers as a numeric uid[:gid] only"],
    ),
    ({"autorestart": "ALWAYS", "user": "root:0"}, []),
    (
        {
            "autorestart": "ALWAYS",
            "domainname": "example.com",
            "mac_address": "02:42:ac:11:65:43",
            "cgroup_parent": "m-executor-abcd",
            "cpuset": "0-3",
        },
        [
            "domainname: a pod cannot set it per container",
            "mac_address: a pod cannot set it per container",
            "cgroup_parent: a pod cannot set it per container",
            "cpuset: a pod cannot set it per container",
        ],
    ),
    (
        {"autorestart": "ALWAYS", "devices": ["/dev/ttyUSB0:/dev/ttyUSB0"]},
        ["devices: Kubernetes exposes devices through device plugins only"],
    ),
    (
        {"autorestart": "ALWAYS", "memory": 2048, "memory_swap": 8192},
        ["memory_swap: swap is configured per node in Kubernetes, not per container"],
    ),
    (
        {"autorestart": "ALWAYS", "memory": 2048, "memory_swap": -1},
        ["memory_swap: swap is configured per node in Kubernetes, not per container"],
    ),
    ({"autorestart": "ALWAYS", "memory": 2048, "memory_swap": 2048}, []),
    (
        {"autorestart": "ALWAYS", "security_opt": ["no-new-privileges", "label=disable"]},
        ["security_opt=label=disable: no pod security setting says it"],
    ),
    (
        {
            "autorestart": "ALWAYS",
            "net": "host",
            "container_ports": [
                {"protocol": "tcp", "inner_port": 80, "outer_port": 8080, "published": True},
                {"protocol": "tcp", "inner_port": 443, "outer_port": 443, "published": True},
            ],
        },
        [
            "container_ports[80/tcp].outer_port: with net: host the port is the inner_port on "
            "the node"
        ],
    ),
    (
        {"autorestart": "ALWAYS", "deployment_strategy": "EVERY_NODE"},
        [],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), UNSUPPORTED_CASES)
def test_attributes_kubernetes_cannot_honour_are_reported(
    spec: Object, expected: list[str]
) -> None:
    assert findings(service(**spec)) == expected
    assert [str(finding) for finding in build(service(**spec)).unsupported] == expected


def test_the_documented_example_builds_a_stateful_set_and_reports_what_it_cannot_honour() -> None:
    document = yaml.safe_load(DOCUMENTED_EXAMPLE.read_text())
    document["metadata"].update(namespace=NS, uid=UID)
    example = Service.model_validate(document)
    built = build(example, resolve(example, Services([example])))
    assert [object_key(obj) for obj in built.objects] == [
        ("ServiceAccount", NS, "wordpress-stackable"),
        ("Role", NS, "wordpress-stackable-dockercloud-api"),
        ("RoleBinding", NS, "wordpress-stackable-dockercloud-api"),
        ("Service", NS, "wordpress-stackable"),
        ("Service", NS, "wordpress-stackable-containers"),
        ("StatefulSet", NS, "wordpress-stackable"),
    ]
    assert [str(finding) for finding in built.unsupported] == [
        f"autorestart=ON_FAILURE: {RESTARTS}",
        "domainname: a pod cannot set it per container",
        "mac_address: a pod cannot set it per container",
        "cgroup_parent: a pod cannot set it per container",
        "cpuset: a pod cannot set it per container",
        "devices: Kubernetes exposes devices through device plugins only",
        "memory_swap: swap is configured per node in Kubernetes, not per container",
    ]
    assert container(example) == {
        "name": "wordpress-stackable",
        "image": "tutum/wordpress-stackable:latest",
        "args": ["/run-wordpress.sh"],
        "workingDir": "/app",
        "env": [{"name": "DB_PASS", "value": "test"}],
        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP", "hostPort": 80}],
        "resources": {"requests": {"cpu": "98m"}, "limits": {"memory": "2Gi"}},
        "volumeMounts": [
            {"name": "binding-0", "mountPath": "/tmp"},
            {"name": "binding-1", "mountPath": "/etc"},
        ],
        "securityContext": {
            "capabilities": {"add": ["ALL"], "drop": ["NET_ADMIN", "SYS_ADMIN"]},
            "readOnlyRootFilesystem": True,
            "runAsUser": 0,
        },
    }


# -- comparing desired and live objects ---------------------------------------------------------


def as_stored(obj: Object) -> Object:
    """`obj` as the API server returns it after an apply: server fields and defaults added."""
    live = copy.deepcopy(obj)
    live["metadata"] |= {
        "uid": "3a1e6c1a-0000-4000-8000-000000000001",
        "resourceVersion": "42",
        "generation": 1,
        "creationTimestamp": "2024-01-01T00:00:00Z",
    }
    spec = live.get("spec", {})
    if obj["kind"] == "Deployment":
        live["metadata"]["annotations"] = {
            **live["metadata"].get("annotations", {}),
            "deployment.kubernetes.io/revision": "1",
        }
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate"})
        pod = spec["template"]["spec"]
        pod |= {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "x"}
        for item in pod["containers"]:
            item |= {"imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log"}
            for port in item.get("ports", []):
                port.setdefault("hostIP", "")
        live["status"] = {"replicas": 1, "readyReplicas": 1}
    if obj["kind"] == "Service":
        spec |= {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"], "sessionAffinity": "None"}
        for port in spec["ports"]:
            if spec["type"] == "NodePort":
                port["nodePort"] = 31234
    return live


def applied(objects: list[Object]) -> list[Object]:
    """The live children after the operator applied `objects` to an empty namespace."""
    return [as_stored(obj) for obj in plan(objects, []).apply]


def test_an_unchanged_child_with_server_defaults_needs_no_write() -> None:
    desired = build(service(roles=["global"], container_ports=PORTS)).objects
    assert not plan(desired, applied(desired))


def test_a_missing_child_is_applied() -> None:
    desired = build(service(container_ports=PORTS)).objects
    live = [obj for obj in applied(desired) if obj["kind"] != "Deployment"]
    work = plan(desired, live)
    assert work.apply == [stamped(desired[-1])]
    assert work.delete == []


def test_a_child_someone_edited_is_applied_again() -> None:
    desired = build(service(container_ports=PORTS)).objects
    live = applied(desired)
    live[-1]["spec"]["replicas"] = 5
    live[-1]["spec"]["template"]["spec"]["containers"][0]["image"] = "someone/else"
    assert plan(desired, live).apply == [stamped(desired[-1])]


def test_a_child_no_longer_wanted_is_deleted() -> None:
    before = applied(build(service(container_ports=PORTS)).objects)
    unpublished = [*PORTS[:2], {**PORTS[2], "published": False}]
    work = plan(build(service(container_ports=unpublished)).objects, before)
    assert [object_key(obj) for obj in work.delete] == [("Service", NS, "web-published")]
    assert work.apply == []


def test_an_attribute_removed_from_the_spec_is_applied_although_no_live_field_differs() -> None:
    stopped = applied(
        build(service("agent", deployment_strategy="EVERY_NODE", running=False)).objects
    )
    started = build(service("agent", deployment_strategy="EVERY_NODE")).objects
    assert derives(started[-1], stopped[-1])  # the stopped selector is only extra to the start
    assert plan(started, stopped).apply == [stamped(started[-1])]

    privileged = applied(build(service(privileged=True)).objects)
    assert plan(build(service()).objects, privileged).apply == [
        stamped(build(service()).objects[0])
    ]


def test_applied_objects_carry_a_fingerprint_of_their_desired_form() -> None:
    desired = build(service()).objects[0]
    first = stamped(desired)
    assert first["metadata"]["annotations"] == {APPLIED_ANNOTATION: fingerprint(desired)}
    assert APPLIED_ANNOTATION == "app.dockercloud.dev/applied"
    assert "annotations" not in desired["metadata"]  # the desired object is not changed
    annotated = workload(service(nickname="shop"), Context())
    assert stamped(annotated)["metadata"]["annotations"] == {
        "app.dockercloud.dev/nickname": "shop",
        APPLIED_ANNOTATION: fingerprint(annotated),
    }
    reordered = dict(reversed(list(desired.items())))
    assert fingerprint(reordered) == fingerprint(desired)
    assert fingerprint(build(service(tty=True)).objects[0]) != fingerprint(desired)


# What children hold: strings, integers, booleans and nulls, in lists and objects.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_a_fingerprint_is_the_digest_of_the_standard_librarys_sorted_compact_text(
    value: Any,
) -> None:
    """Children annotated before keep their digests (a new one would be a write each)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    assert fingerprint(value) == hashlib.sha256(text.encode()).hexdigest()[:20]


def test_a_fingerprint_is_the_same_whatever_the_text_or_the_keys_hold() -> None:
    for value in ({"é": "\x7f", "a": "\U0001f600"}, {1: "one"}, {"big": 2**64}):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        assert fingerprint(value) == hashlib.sha256(text.encode()).hexdigest()[:20]


@pytest.mark.parametrize(
    ("desired", "live", "derived"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, True),
        ({"a": False}, {}, False),
        ({"a": False}, {"a": False}, True),
        ({"a": True}, {}, False),
        ({"a": 0}, {}, False),
        ({"a": None}, {}, True),
        ({"a": ""}, {}, True),
        ({"a": []}, {}, True),
        ({"a": {}}, {}, True),
        ({"a": {"b": None}}, {}, True),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, False),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),
        ({"a": [{"x": 1}]}, {"a": {"x": 1}}, False),
        ({"a": "1"}, {"a": 1}, False),
    ],
)
def test_a_live_value_derives_from_the_desired_one_only_when_every_set_field_matches(
    desired: Object, live: Object, derived: bool
) -> None:
    assert derives(desired, live) is derived


@pytest.mark.parametrize(
    ("spec", "one_at_a_time"),
    [
        ({"container_ports": [{"protocol": "tcp", "inner_port": 80, "published": True,
                               "outer_port": 8080}]}, True),
        ({"container_ports": [{"protocol": "tcp", "inner_port": 80}], "net": "host"}, True),
        ({"container_ports": [{"protocol": "tcp", "inner_port": 80, "published": True}]}, False),
        ({}, False),
    ],
)  # fmt: skip
def test_containers_holding_node_ports_are_replaced_one_at_a_time(
    spec: dict[str, Any], one_at_a_time: bool
) -> None:
    deployment = build(service(**spec)).objects[-1]
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert (deployment["spec"].get("strategy") == strategy) is one_at_a_time
