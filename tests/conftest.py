"""Fixtures shared by the test suite.

Integration tests get a real Kubernetes API: the cluster `KUBECONFIG` names (kind, a real one), or
else the local control plane, started once for the whole session and stopped at its end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from dockercloud_operator.schema import crd
from testbed import build
from testbed import service_crd as service_crd_module
from testbed import user_roles as user_roles_module
from testbed.controlplane import ControlPlane
from tests.operator_process import OperatorProcess
from tests.rest_api import RestApi


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    external = os.environ.get("KUBECONFIG")
    if external:
        yield Path(external)
        return
    with ControlPlane(say=print) as plane:
        yield plane.kubeconfig


@pytest.fixture(scope="session")
def api(kubeconfig: Path) -> client.ApiClient:
    """A Kubernetes API client for the test cluster."""
    return config.new_client_from_config(config_file=str(kubeconfig))


def fresh_namespace(api: client.ApiClient, labels: dict[str, str] | None = None) -> Iterator[str]:
    """A new namespace, deleted (with everything in it) when the generator closes."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    metadata = client.V1ObjectMeta(name=name, labels=labels)
    core.create_namespace(client.V1Namespace(metadata=metadata))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace, deleted (with everything in it) after the test."""
    yield from fresh_namespace(api)


@pytest.fixture
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    """A second fresh namespace, for tests that need two."""
    yield from fresh_namespace(api)


@pytest.fixture(scope="session")
def kubectl() -> str:
    """kubectl of the test bed's Kubernetes version, else the one on PATH."""
    built = build.bin_dir() / "kubectl"
    found = str(built) if built.exists() else shutil.which("kubectl")
    assert found, "no kubectl: run `make testbed`"
    return found


@pytest.fixture(scope="session")
def service_crd(api: client.ApiClient) -> str:
    """The Service CRD, server-side applied from the models and served; returns its name."""
    service_crd_module.install(api, field_manager="dockercloud-operator-tests")
    return crd.CRD_NAME


@pytest.fixture(scope="session")
def operator(
    kubeconfig: Path, service_crd: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator, running against the test cluster for the whole session."""
    process = OperatorProcess(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log")
    process.start()
    yield process
    process.stop()
    print(f"operator log: {process.log}")


@pytest.fixture(scope="session")
def rest_api(
    kubeconfig: Path, service_crd: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestApi]:
    """The REST API (`dockercloud-operator api`) for the whole session; its un-namespaced
    paths act in `default`."""
    rest = RestApi(kubeconfig, tmp_path_factory.mktemp("rest-api") / "api.log").start()
    yield rest
    rest.stop()
    print(f"REST API log: {rest.log}")


@pytest.fixture(scope="session")
def user_roles(api: client.ApiClient) -> None:
    """The viewer and editor ClusterRoles of manifests/user-roles.yaml."""
    user_roles_module.install(api)
