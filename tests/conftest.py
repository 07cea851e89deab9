"""Fixtures shared by the test suite.

Integration tests get a real Kubernetes API: the cluster `KUBECONFIG` names (kind, a real one), or
else the local control plane, started once for the whole session and stopped at its end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from testbed.controlplane import ControlPlane


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


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace, deleted (with everything in it) after the test."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)
