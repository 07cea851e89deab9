"""The Service CRD on a cluster, for the test suite, the benchmark and the fault suite:
server-side applied from the models, then waited for until the API server serves it."""

from __future__ import annotations

import time

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator import crd
from dockercloud_operator.constants import GROUP, PLURAL, VERSION


def install(api: client.ApiClient, field_manager: str, timeout: float = 60.0) -> None:
    client.ApiextensionsV1Api(api).patch_custom_resource_definition(
        crd.CRD_NAME,
        crd.custom_resource_definition(),
        field_manager=field_manager,
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    deadline = time.monotonic() + timeout
    while not _served(api):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Service CRD was not served within {timeout:g}s")
        time.sleep(0.2)


def _served(api: client.ApiClient) -> bool:
    """Discovery lists the resource (it may lag the CRD's Established condition a moment)."""
    try:
        listing = client.CustomObjectsApi(api).get_api_resources(GROUP, VERSION)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return any(resource.name == PLURAL for resource in listing.resources)
