"""Helpers for tests that drive Service resources on a real cluster."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.schema.constants import GROUP, LABEL_SERVICE, PLURAL, VERSION


def manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": spec,
    }


def create(api: client.ApiClient, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, manifest(name, spec), field_validation="Strict"
    )
    return created


def get(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return found


def patch_spec(api: client.ApiClient, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    patched: dict[str, Any] = client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": spec}
    )
    return patched


def delete(api: client.ApiClient, namespace: str, name: str) -> None:
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )


def pods(api: client.ApiClient, namespace: str, service: str) -> list[client.V1Pod]:
    items: list[client.V1Pod] = (
        client.CoreV1Api(api)
        .list_namespaced_pod(namespace, label_selector=f"{LABEL_SERVICE}={service}")
        .items
    )
    return items


def running_pods(api: client.ApiClient, namespace: str, service: str) -> list[client.V1Pod]:
    return [
        pod
        for pod in pods(api, namespace, service)
        if pod.status.phase == "Running" and pod.metadata.deletion_timestamp is None
    ]


def exactly_running(
    api: client.ApiClient, namespace: str, service: str, count: int
) -> list[client.V1Pod] | None:
    """The service's Running pods once there are exactly `count` of them (and no others)."""
    every = [p for p in pods(api, namespace, service) if p.metadata.deletion_timestamp is None]
    running = [p for p in every if p.status.phase == "Running"]
    return running if len(running) == count == len(every) else None


def read_or_none(read: Any, *args: Any) -> Any:
    try:
        return read(*args)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def written(workload: Any) -> tuple[Any, ...]:
    """What a write to a workload's spec or metadata would change, and who owns which fields. Not
    its resourceVersion: the controller-manager goes on writing the status for a while after the
    pods are ready (its conditions move on), which is no write of the operator's."""
    meta = workload.metadata
    fields = meta.managed_fields
    owners = [(m.manager, m.operation, m.fields_v1) for m in fields if not m.subresource]
    return meta.generation, meta.labels, meta.annotations, meta.owner_references, owners
