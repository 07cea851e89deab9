"""The pure parts of the test bed: versions, cache keys, build flags, fake nodes, volumes, and
the kwok objects and files that give containers a log."""

from __future__ import annotations

import datetime
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from testbed import build
from testbed.controlplane import (
    KWOK_CRDS,
    KWOK_GROUP,
    KWOK_NODE_ANNOTATION,
    PROVISIONER,
    STORAGE_CLASS,
    ControlPlane,
    StartError,
    cluster_logs,
    cri_log,
    fake_node,
    is_released,
    needs_volume,
    nodes_for,
    persistent_volume_for,
    pod_logs,
    read_kwok_crds,
    storage_class,
)


def test_pinned_versions_come_from_the_committed_go_modules() -> None:
    versions = build.pinned_versions()
    assert versions.kubernetes.startswith("v1.34.")
    assert versions.etcd.startswith("v3.6.")
    assert versions.kwok.startswith("v0.7.")
    # Kubernetes v1.N.P pairs with staging modules v0.N.P: every replace must agree.
    staging = "v0." + versions.kubernetes.removeprefix("v1.")
    replaces = [
        line.split() for line in (build.TESTBED / "go.mod").read_text().splitlines() if "=>" in line
    ]
    assert len(replaces) > 25
    assert all(parts[3] == staging for parts in replaces), replaces


def test_the_cache_folder_is_keyed_by_every_version() -> None:
    versions = build.Versions(kubernetes="v1.34.4", etcd="v3.6.4", kwok="v0.7.0")
    assert build.bin_dir(versions) == (
        build.CACHE_ROOT / "k8s-v1.34.4_etcd-v3.6.4_kwok-v0.7.0" / "bin"
    )


def test_kubernetes_binaries_are_stamped_with_their_version() -> None:
    versions = build.Versions(kubernetes="v1.34.4", etcd="v3.6.4", kwok="v0.7.0")
    flags = build._ldflags("kube-apiserver", versions)
    assert "-X k8s.io/component-base/version.gitVersion=v1.34.4" in flags
    assert "-X k8s.io/component-base/version.gitMinor=34" in flags
    assert "component-base" not in build._ldflags("etcd", versions)


def test_missing_binaries_lists_what_is_not_executable(tmp_path: Path) -> None:
    (tmp_path / "etcd").write_text("")
    (tmp_path / "etcd").chmod(0o755)
    (tmp_path / "kwok").write_text("")  # not executable: a half-written build
    assert build.missing_binaries(tmp_path) == [n for n in build.PACKAGES if n != "etcd"]


@pytest.mark.parametrize("labels", [{}, {"tags.dockercloud.dev/ssd": "true"}])
def test_fake_nodes_are_managed_by_kwok_and_carry_their_labels(labels: dict[str, str]) -> None:
    node = fake_node("kwok-node-7", labels)
    assert node["metadata"]["annotations"][KWOK_NODE_ANNOTATION] == "fake"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "kwok-node-7"
    assert labels.items() <= node["metadata"]["labels"].items()
    assert node["status"]["allocatable"]["pods"] == "1000"


def test_there_are_nodes_enough_for_every_container_and_its_replacement() -> None:
    assert nodes_for(1000, 10) == 10  # the nodes asked for, when they are enough
    assert nodes_for(10_000, 10) == 20  # 10,000 containers and 10,000 surged replacements
    assert nodes_for(10_001, 10) == 21
    assert nodes_for(0, 3) == 3


def _claim(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "data-db-0", "namespace": "shop", "uid": "1234-abcd"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "2Gi"}},
            "storageClassName": STORAGE_CLASS,
            **spec,
        },
        "status": {"phase": "Pending"},
    }


def test_the_storage_class_is_the_default_one_and_binds_immediately() -> None:
    body = storage_class()
    assert body["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert body["provisioner"] == PROVISIONER
    assert (body["volumeBindingMode"], body["reclaimPolicy"]) == ("Immediate", "Delete")


def test_a_volume_is_sized_and_claimed_for_its_claim(tmp_path: Path) -> None:
    volume = persistent_volume_for(_claim(accessModes=["ReadWriteMany"]), tmp_path)
    assert volume["metadata"]["name"] == "pvc-1234-abcd"
    assert volume["metadata"]["annotations"] == {"pv.kubernetes.io/provisioned-by": PROVISIONER}
    spec = volume["spec"]
    assert spec["capacity"] == {"storage": "2Gi"}
    assert spec["accessModes"] == ["ReadWriteMany"]
    assert spec["storageClassName"] == STORAGE_CLASS
    assert spec["persistentVolumeReclaimPolicy"] == "Delete"
    assert spec["hostPath"] == {"path": str(tmp_path / "1234-abcd"), "type": "DirectoryOrCreate"}
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "shop",
        "name": "data-db-0",
        "uid": "1234-abcd",
    }


def test_only_pending_unbound_live_claims_of_the_class_need_a_volume() -> None:
    assert needs_volume(_claim())
    assert not needs_volume(_claim(volumeName="pvc-1234-abcd"))
    assert not needs_volume(_claim(storageClassName="other"))
    assert not needs_volume({**_claim(), "status": {"phase": "Bound"}})
    deleting = _claim()
    deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert not needs_volume(deleting)


@pytest.mark.parametrize(
    ("storage_class_name", "phase", "released"),
    [
        (STORAGE_CLASS, "Released", True),
        (STORAGE_CLASS, "Failed", True),
        (STORAGE_CLASS, "Bound", False),
        (STORAGE_CLASS, "Available", False),
        ("other", "Released", False),
    ],
)
def test_only_released_volumes_of_the_class_are_deleted(
    storage_class_name: str, phase: str, released: bool
) -> None:
    volume = {"spec": {"storageClassName": storage_class_name}, "status": {"phase": phase}}
    assert is_released(volume) is released


def test_the_provisioner_survives_errors_and_stops_promptly(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    plane = ControlPlane(workdir=tmp_path)
    calls: list[tuple[str, str]] = []

    def api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        calls.append((method, path))
        if len(calls) == 1:
            raise urllib.error.URLError("connection refused")
        if method == "POST":
            raise urllib.error.HTTPError(path, 409, "Conflict", {}, None)  # type: ignore[arg-type]
        return {"items": [_claim()] if path.endswith("claims") else []}

    plane._api = api  # type: ignore[method-assign]
    plane._keep("provisioner", plane._provision_pass, 0.05)
    deadline = time.monotonic() + 5
    while ("POST", "/api/v1/persistentvolumes") not in calls and time.monotonic() < deadline:
        time.sleep(0.05)
    plane._stopping.set()
    [thread] = plane._housekeepers
    thread.join(2)

    assert not thread.is_alive()
    assert ("POST", "/api/v1/persistentvolumes") in calls  # after the failed pass, and a 409
    assert "connection refused" in (tmp_path / "logs" / "provisioner.log").read_text()


def test_pod_logs_name_the_pod_and_give_every_container_the_file(tmp_path: Path) -> None:
    body = pod_logs("web-0", "shop", tmp_path / "web.log")
    assert body["apiVersion"] == f"{KWOK_GROUP}/v1alpha1"
    assert body["kind"] == "Logs"
    assert body["metadata"] == {"name": "web-0", "namespace": "shop"}
    assert body["spec"] == {"logs": [{"logsFile": str(tmp_path / "web.log"), "follow": True}]}


def test_pod_logs_can_give_each_container_its_own_file() -> None:
    body = pod_logs("web-0", "shop", {"web": "/logs/web", "sidecar": Path("/logs/sidecar")})
    assert body["spec"]["logs"] == [
        {"containers": ["web"], "logsFile": "/logs/web", "follow": True},
        {"containers": ["sidecar"], "logsFile": "/logs/sidecar", "follow": True},
    ]


def test_cluster_logs_select_pods_by_namespace_and_name() -> None:
    body = cluster_logs("shop-logs", "/logs/all", namespaces=["shop"], pods=["web-0", "web-1"])
    assert body["kind"] == "ClusterLogs"
    assert body["metadata"] == {"name": "shop-logs"}
    assert body["spec"] == {
        "selector": {"matchNamespaces": ["shop"], "matchNames": ["web-0", "web-1"]},
        "logs": [{"logsFile": "/logs/all", "follow": True}],
    }
    assert cluster_logs("all", "/logs/all")["spec"]["selector"] == {}  # every pod


def test_cri_log_lines_carry_a_time_a_stream_and_a_full_line_tag() -> None:
    at = datetime.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    assert cri_log("hello", "world", at=at) == (
        "2025-01-02T03:04:05.678901Z stdout F hello\n2025-01-02T03:04:05.678901Z stdout F world\n"
    )
    assert cri_log("oops", stream="stderr", at=at) == "2025-01-02T03:04:05.678901Z stderr F oops\n"
    assert cri_log(at=at) == ""
    local = at.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert cri_log("x", at=local) == cri_log("x", at=at)  # always written in UTC
    now = cri_log("x")
    assert now.endswith("Z stdout F x\n")
    assert datetime.datetime.fromisoformat(now.split(" ")[0]) <= datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize(("line", "stream"), [("two\nlines", "stdout"), ("x", "stdin")])
def test_cri_log_refuses_what_the_format_cannot_carry(line: str, stream: str) -> None:
    with pytest.raises(ValueError):
        cri_log(line, stream=stream)


def _crd(kind: str) -> str:
    return f"---\napiVersion: apiextensions.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: x\n"


def test_kwoks_crds_are_read_from_its_modules_kustomize_bases(tmp_path: Path) -> None:
    bases = tmp_path / "kustomize" / "crd" / "bases"
    bases.mkdir(parents=True)
    for plural in KWOK_CRDS.values():
        (bases / f"{KWOK_GROUP}_{plural}.yaml").write_text(_crd("CustomResourceDefinition"))
    crds = read_kwok_crds(tmp_path)
    assert [crd["kind"] for crd in crds] == ["CustomResourceDefinition"] * len(KWOK_CRDS)

    (bases / f"{KWOK_GROUP}_logs.yaml").write_text(_crd("Stage"))
    with pytest.raises(StartError, match="not a CustomResourceDefinition"):
        read_kwok_crds(tmp_path)


def test_stale_leases_are_the_kwok_nodes_not_renewed_for_too_long() -> None:
    import datetime

    from testbed.controlplane import stale_leases

    now = datetime.datetime(2026, 11, 29, 3, 0, 0, tzinfo=datetime.UTC)

    def lease(name: str, seconds_ago: float | None) -> dict[str, object]:
        spec = {} if seconds_ago is None else {
            "renewTime": (now - datetime.timedelta(seconds=seconds_ago)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ")}  # fmt: skip
        return {"metadata": {"name": name}, "spec": spec}

    leases = [lease("kwok-node-0", 5), lease("kwok-node-1", 46), lease("kwok-node-2", 300),
              lease("kwok-node-3", None), lease("real-node", 600)]  # fmt: skip
    nodes = {"kwok-node-0", "kwok-node-1", "kwok-node-2", "kwok-node-3"}
    assert stale_leases(leases, nodes, now) == ["kwok-node-1", "kwok-node-2"]
    assert stale_leases(leases, nodes, now, limit=100) == ["kwok-node-2"]


class _Plane:
    """What LeaseWatchdog reads of the plane: every kwok node's Lease last renewed long ago."""

    def __init__(self, started: float) -> None:
        self.kwok_started = started
        self.restarts = 0

    def _kwok_nodes(self) -> set[str]:
        return {"kwok-node-0"}

    def _api(self, method: str, path: str) -> dict[str, object]:
        spec = {"renewTime": "2026-01-01T00:00:00.000000Z"}
        return {"items": [{"metadata": {"name": "kwok-node-0"}, "spec": spec}]}

    def _logger(self, name: str) -> object:
        return lambda line: None

    def restart_kwok(self) -> None:
        self.restarts += 1


def test_the_lease_watchdog_restarts_kwok_on_two_stale_looks_but_not_while_it_starts() -> None:
    import time

    from testbed.controlplane import LeaseWatchdog

    plane = _Plane(started=time.monotonic() - 3600)
    watchdog = LeaseWatchdog(plane)  # type: ignore[arg-type]
    watchdog.step()
    assert plane.restarts == 0  # one look may be a renewal on its way
    watchdog.step()
    assert plane.restarts == 1

    plane = _Plane(started=time.monotonic())  # its Leases are being taken over
    watchdog = LeaseWatchdog(plane)  # type: ignore[arg-type]
    watchdog.step()
    watchdog.step()
    assert plane.restarts == 0
