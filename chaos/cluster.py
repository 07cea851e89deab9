"""The few API calls the suite makes as a user would: Services in, objects out."""

from __future__ import annotations

import functools
import time
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaos.bed import retrying
from dockercloud_operator.controller.kube import CHILD_KINDS, Kube
from dockercloud_operator.schema import constants, names

Object = dict[str, Any]
Key = tuple[str, str]
MANAGED = f"{constants.LABEL_MANAGED_BY}={names.OPERATOR}"
# Every kind the operator's objects can be (pods and claims come from its workloads).
MANAGED_KINDS = [*CHILD_KINDS, ("v1", "Pod"), ("v1", "PersistentVolumeClaim")]
DRIVER = "dockercloud-chaos"  # the suite's own field manager for the Services it writes


def manifest(name: str, spec: Object) -> Object:
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "metadata": {"name": name},
        "spec": spec,
    }


def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def create_service(api: client.ApiClient, namespace: str, name: str, spec: Object) -> Object:
    created: Any = custom(api).create_namespaced_custom_object(
        constants.GROUP,
        constants.VERSION,
        namespace,
        constants.PLURAL,
        manifest(name, spec),
        field_validation="Strict",
        field_manager=DRIVER,
        _request_timeout=30,
    )
    return cast(Object, created)


def patch_spec(
    api: client.ApiClient, namespace: str, name: str, spec: Object, manager: str = DRIVER
) -> Object:
    """A JSON merge patch of the spec (lists are replaced whole, None removes a key)."""
    patched: Any = custom(api).patch_namespaced_custom_object(
        constants.GROUP,
        constants.VERSION,
        namespace,
        constants.PLURAL,
        name,
        {"spec": spec},
        field_manager=manager,
        _request_timeout=60,
    )
    return cast(Object, patched)


def delete_service(api: client.ApiClient, namespace: str, name: str) -> None:
    try:
        custom(api).delete_namespaced_custom_object(
            constants.GROUP, constants.VERSION, namespace, constants.PLURAL, name,
            _request_timeout=30,
        )  # fmt: skip
    except ApiException as error:
        if error.status != 404:
            raise


def get_service(api: client.ApiClient, namespace: str, name: str) -> Object | None:
    try:
        found: Any = custom(api).get_namespaced_custom_object(
            constants.GROUP, constants.VERSION, namespace, constants.PLURAL, name,
            _request_timeout=30,
        )  # fmt: skip
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return cast(Object, found)


def list_services(api: client.ApiClient, namespace: str | None = None) -> list[Object]:
    def call() -> Any:
        if namespace:
            return custom(api).list_namespaced_custom_object(
                constants.GROUP, constants.VERSION, namespace, constants.PLURAL,
                _request_timeout=60,
            )  # fmt: skip
        return custom(api).list_cluster_custom_object(
            constants.GROUP, constants.VERSION, constants.PLURAL, _request_timeout=60
        )

    items: list[Object] = retrying(call, "listing services")["items"]
    return items


def list_managed(api: client.ApiClient, namespace: str | None = None) -> list[Object]:
    """Every object labelled as the operator's, of every kind it makes (pods and claims too)."""
    kube = Kube(api)
    found: list[Object] = []
    for api_version, kind in MANAGED_KINDS:
        listing = functools.partial(kube.list_objects, api_version, kind, namespace, MANAGED)
        found.extend(retrying(listing, f"listing {kind}"))
    return found


def ensure_namespace(api: client.ApiClient, name: str) -> None:
    core = client.CoreV1Api(api)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except ApiException as error:
        if error.status != 409:
            raise
    # The namespace's default ServiceAccount is made by a controller; pods need it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_service_account("default", name)
            return
        except ApiException as error:
            if error.status != 404:
                raise
        time.sleep(0.2)


def namespace_exists(api: client.ApiClient, name: str) -> bool:
    try:
        client.CoreV1Api(api).read_namespace(name, _request_timeout=30)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def delete_namespace(api: client.ApiClient, name: str) -> None:
    try:
        client.CoreV1Api(api).delete_namespace(name, _request_timeout=30)
    except ApiException as error:
        if error.status != 404:
            raise
