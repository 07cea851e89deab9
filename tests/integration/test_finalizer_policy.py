"""The finalizer policy (a MutatingAdmissionPolicy) on a real API server: a new service carries
its finalizer from its creation, so the operator does not write it; without the policy the
operator adds it itself."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kubernetes import client

from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.schema import admission, constants
from testbed import service_crd as service_crd_module
from tests import services
from tests.operators import delete_services
from tests.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator")

FIELD_MANAGER = "dockercloud-operator-tests"


@pytest.fixture
def policy_version(api: client.ApiClient, service_crd: str) -> str:
    """The admissionregistration version the cluster serves the policy in (the session
    installed it with the CRD)."""
    version = service_crd_module.policy_api_version(api)
    if version is None:  # a cluster of the user's (KUBECONFIG) may not have the API
        pytest.skip("the cluster serves no MutatingAdmissionPolicy")
    return version


def _operator_wrote_metadata(service: dict[str, Any]) -> bool:
    """The operator's field manager has an update of the service itself (not of its status)."""
    return any(
        entry["manager"] == constants.FIELD_MANAGER and not entry.get("subresource")
        for entry in service["metadata"].get("managedFields", [])
    )


def _state(api: client.ApiClient, namespace: str, name: str) -> str | None:
    state: str | None = (services.get(api, namespace, name).get("status") or {}).get("state")
    return state


def test_a_new_service_has_its_finalizer_from_its_creation(
    api: client.ApiClient, namespace: str, policy_version: str
) -> None:
    created = services.create(api, namespace, "web", image="nginx")
    assert created["metadata"]["finalizers"] == [constants.FINALIZER]
    wait_for(lambda: _state(api, namespace, "web") == "Running", "web to run")
    assert not _operator_wrote_metadata(services.get(api, namespace, "web"))

    # A server-side apply of the manifest (as GitOps tools do) keeps it, though the manifest
    # has no finalizer: nobody owns the field, so no apply takes it away.
    manifest = services.manifest("web", {"image": "nginx", "target_num_containers": 2})
    applied = Kube(api).request(
        "PATCH",
        f"/apis/{constants.GROUP}/{constants.VERSION}/namespaces/{namespace}/"
        f"{constants.PLURAL}/web",
        body=json.dumps(manifest).encode(),
        query=[("fieldManager", "gitops"), ("force", "true")],
        content_type="application/apply-patch+yaml",
    )
    assert applied["metadata"]["finalizers"] == [constants.FINALIZER]
    assert applied["spec"]["target_num_containers"] == 2

    # Deletion goes as it always does: the operator lets go once the containers are gone.
    services.delete(api, namespace, "web")
    wait_for(lambda: not services.pods(api, namespace, "web"), "the containers to go")
    wait_for(
        lambda: services.read_or_none(services.get, api, namespace, "web") is None,
        "the service to go",
    )


def test_without_the_policy_the_operator_adds_the_finalizer(
    api: client.ApiClient, namespace: str, policy_version: str
) -> None:
    binding = admission.finalizer_policy(policy_version)[1]
    plural = admission.PLURALS[binding["kind"]]
    url = f"/apis/{policy_version}/{plural}/{binding['metadata']['name']}"
    Kube(api).request("DELETE", url)
    try:
        # The API server stops applying the policy within moments of the binding going.
        def created_without() -> dict[str, Any] | None:
            name = f"web-{time.monotonic_ns() % 10**6}"
            created = services.create(api, namespace, name, image="nginx")
            return None if created["metadata"].get("finalizers") else created

        created = wait_for(created_without, "a service created without the finalizer", 30)
        name = created["metadata"]["name"]
        wait_for(
            lambda: (
                constants.FINALIZER
                in services.get(api, namespace, name)["metadata"].get("finalizers", [])
            ),
            "the operator to add the finalizer",
        )
        assert _operator_wrote_metadata(services.get(api, namespace, name))
        wait_for(lambda: _state(api, namespace, name) == "Running", f"{name} to run")
    finally:
        service_crd_module.install_finalizer_policy(api, FIELD_MANAGER)
    delete_services(api, namespace)
