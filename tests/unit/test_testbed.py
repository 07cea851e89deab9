"""The pure parts of the test bed: versions, cache keys, build flags, fake nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import build
from testbed.controlplane import KWOK_NODE_ANNOTATION, fake_node


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
