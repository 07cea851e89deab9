"""The Service and Stack CRDs on a cluster, for the test suite, the benchmark and the fault suite:
server-side applied from the models, then waited for until the API server serves it; with it,
the finalizer policy, where the cluster serves MutatingAdmissionPolicies."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.schema import admission, crd, stack_crd
from dockercloud_operator.schema.constants import FINALIZER, GROUP, KIND, PLURAL, VERSION


def install(api: client.ApiClient, field_manager: str, timeout: float = 60.0) -> None:
    """The Service and Stack CRDs, and the finalizer policy."""
    for name, definition in (
        (crd.CRD_NAME, crd.custom_resource_definition()),
        (stack_crd.CRD_NAME, stack_crd.custom_resource_definition()),
    ):
        client.ApiextensionsV1Api(api).patch_custom_resource_definition(
            name,
            definition,
            field_manager=field_manager,
            force=True,
            _content_type="application/apply-patch+yaml",
        )
    policy = install_finalizer_policy(api, field_manager)
    deadline = time.monotonic() + timeout
    while not _served(api):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Service CRD was not served within {timeout:g}s")
        time.sleep(0.2)
    # The policy needs the new kind's schema, which the API server learns a moment after it
    # serves the kind: until then a create is refused (503) "There can be a delay ...".
    while policy and not _policy_applies(api):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the finalizer policy did not apply within {timeout:g}s")
        time.sleep(0.2)


def install_finalizer_policy(api: client.ApiClient, field_manager: str) -> str | None:
    """Applies the finalizer policy in the newest version the cluster serves; returns that
    version, or None (and installs nothing) if it serves none."""
    api_version = policy_api_version(api)
    if api_version is None:
        return None
    for obj in admission.finalizer_policy(api_version):
        Kube(api).request(
            "PATCH",
            f"/apis/{api_version}/{admission.PLURALS[obj['kind']]}/{obj['metadata']['name']}",
            body=obj,
            query=[("fieldManager", field_manager), ("force", "true")],
            content_type="application/apply-patch+yaml",
        )
    return api_version


def policy_api_version(api: client.ApiClient) -> str | None:
    """The newest admissionregistration version serving MutatingAdmissionPolicies, if any."""
    for api_version in admission.API_VERSIONS:
        group, version = api_version.split("/")
        try:
            listing = client.CustomObjectsApi(api).get_api_resources(group, version)
        except ApiException as error:
            if error.status == 404:
                continue
            raise
        if any(r.name == admission.PLURALS["MutatingAdmissionPolicy"] for r in listing.resources):
            return api_version
    return None


def _policy_applies(api: client.ApiClient) -> bool:
    """A dry-run create of a Service comes back with the finalizer."""
    probe = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": "finalizer-policy-probe"},
        "spec": {"image": "probe"},
    }
    try:
        created: Any = client.CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, probe, dry_run="All"
        )
    except ApiException as error:
        if error.status == 503:
            return False
        raise
    return FINALIZER in created["metadata"].get("finalizers", [])


def _served(api: client.ApiClient) -> bool:
    """Discovery lists the resource (it may lag the CRD's Established condition a moment)."""
    try:
        listing = client.CustomObjectsApi(api).get_api_resources(GROUP, VERSION)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    served = {resource.name for resource in listing.resources}
    return {PLURAL, stack_crd.PLURAL} <= served
