"""Property-based checks of the model against the builders, offline: every spec the model
accepts must build objects that Kubernetes accepts too. Otherwise the API server takes the
Service, and the operator can never apply its children (it retries forever and the service
gets no status); the fault suite (`chaos/`, spec fuzzing) found each rule below that way.

The rules are the few Kubernetes validations the builders' output can break, written out;
hypothesis shrinks a failure to its smallest spec."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from chaos.specs import field_values
from hypothesis import HealthCheck, assume, given, settings
from pydantic import ValidationError

from dockercloud_operator.resources import build
from dockercloud_operator.resources.links import link_variables
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
# k8s.io/apimachinery/pkg/util/validation
IANA_SERVICE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_INT32 = 2**31 - 1
MAX_DNS_SEARCH_PATHS, MAX_DNS_SEARCH_CHARS = 32, 2048
MAX_ANNOTATIONS_BYTES = 256 * 1024


def _with(**fields: Any) -> Object:
    return {"image": "nginx", **fields}


def _built(spec: Object) -> list[Object]:
    try:
        service = Service.model_validate({"metadata": {"name": "web", "namespace": "ns"},
                                          "spec": spec})  # fmt: skip
    except ValidationError:
        assume(False)
        raise
    return build(service).objects


def _pod_spec(objects: list[Object]) -> Object:
    workload = next(o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet"))
    template: Object = workload["spec"]["template"]
    return template


def _iana_service_name_errors(name: str) -> list[str]:
    errors = []
    if len(name) > 15:
        errors.append("longer than 15")
    if not IANA_SERVICE_NAME.match(name):
        errors.append("not lower-case letters, digits and '-'")
    if "--" in name:
        errors.append("consecutive hyphens")
    if not re.search("[a-z]", name):
        errors.append("no letter")
    return errors


@FUZZ
@given(ports=field_values("container_ports"))
def test_port_names_are_iana_service_names_and_unique(ports: list[Object]) -> None:
    objects = _built(_with(container_ports=ports))
    container = _pod_spec(objects)["spec"]["containers"][0]
    names = [port["name"] for port in container.get("ports", []) if "name" in port]
    for name in names:
        assert not _iana_service_name_errors(name), (name, _iana_service_name_errors(name))
    assert len(names) == len(set(names)), f"duplicate container port names: {names}"
    for obj in objects:
        if obj["kind"] == "Service":
            service_names = [port.get("name") for port in obj["spec"].get("ports", [])]
            assert len(service_names) == len(set(service_names)), service_names


@FUZZ
@given(hosts=field_values("extra_hosts"))
def test_host_aliases_are_lower_case_dns_names(hosts: list[str]) -> None:
    for alias in _pod_spec(_built(_with(extra_hosts=hosts)))["spec"].get("hostAliases", []):
        for hostname in alias["hostnames"]:
            assert DNS1123_SUBDOMAIN.match(hostname) and len(hostname) <= 253, hostname


@FUZZ
@given(user=field_values("user"))
def test_user_and_group_ids_fit_in_32_bits(user: str) -> None:
    container = _pod_spec(_built(_with(user=user)))["spec"]["containers"][0]
    context = container.get("securityContext", {})
    for field in ("runAsUser", "runAsGroup"):
        if field in context:
            assert 0 <= context[field] <= MAX_INT32, (field, context[field])


@FUZZ
@given(bindings=field_values("bindings"))
def test_mounts_are_unique_and_host_paths_have_no_backsteps(bindings: list[Object]) -> None:
    pod = _pod_spec(_built(_with(bindings=bindings)))["spec"]
    mounts = [m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])]
    assert len(mounts) == len(set(mounts)), f"duplicate mountPaths: {mounts}"
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            assert ".." not in volume["hostPath"]["path"].split("/"), volume["hostPath"]["path"]


@FUZZ
@given(domains=field_values("dns_search"))
def test_dns_search_fits_a_pod(domains: list[str]) -> None:
    pod = _pod_spec(_built(_with(dns_search=domains)))["spec"]
    searches = pod.get("dnsConfig", {}).get("searches", [])
    assert len(searches) <= MAX_DNS_SEARCH_PATHS, len(searches)
    assert len(" ".join(searches)) <= MAX_DNS_SEARCH_CHARS


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@FUZZ
@given(labels=field_values("labels"))
def test_pod_annotations_fit_a_pod_template(labels: dict[str, str]) -> None:
    annotations = _pod_spec(_built(_with(labels=labels)))["metadata"].get("annotations", {})
    size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    assert size <= MAX_ANNOTATIONS_BYTES, size


@pytest.mark.timeout(60)
def test_link_variables_stay_bounded_for_the_largest_target() -> None:
    """The schema allows target_num_containers up to 2**31 - 1; the variables a link (and
    status.link_variables) carries must not grow with it past what an object can hold. At
    20000 containers they are 5 MiB today; at 2**31 - 1 the operator runs out of memory."""
    target = Service.model_validate({
        "metadata": {"name": "db", "namespace": "ns"},
        "spec": {"image": "mysql", "running": False, "target_num_containers": 20000,
                 "container_ports": [{"protocol": "tcp", "inner_port": 3306}]},
    })  # fmt: skip
    size = len(json.dumps(link_variables("db", target)))
    assert size < 1024 * 1024, f"{size / 2**20:.1f} MiB of link variables for 20000 containers"
