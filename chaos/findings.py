"""What the fault suite found, each as the smallest service that shows it: a regression check
(`scenarios.known_findings`) that fails until the operator handles it.

A finding is a spec the API server accepted when it was found, then, optionally, merge patches
of it made once the service is Running. A finding the operator handles must end Running with
exactly its children, and the operator must log no traceback about it. A finding closed by a
rule of the schema (`refused_at`) must instead be refused up front: the API server refuses the
create naming that field and saying `says`, and the model refuses the spec too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    name: str  # the service's name
    what: str  # what went wrong when it was found
    spec: Object
    then: list[Object] = field(default_factory=list)  # patches, each once it is Running
    refused_at: str = ""  # the field a schema rule now refuses it at; "" when it must reconcile
    says: str = ""  # words of that rule's message


FINDINGS = [
    Finding(
        "roles-removed",
        "Removing roles: [global] leaves serviceAccountName in the pod template (the API "
        "server's deprecated serviceAccount field, which no manager owns, restores it), while "
        "the operator deletes the ServiceAccount: the roll-out the removal starts, or the next "
        "one, cannot make pods (ReplicaFailure: serviceaccount not found) and the service "
        "stays Redeploying, holding any scale or start for good.",
        {"image": "nginx", "roles": ["global"]},
        [{"roles": []}, {"image": "nginx:1.27"}],
    ),
    Finding(
        "astral-plane-text",
        "A character outside the Basic Multilingual Plane (an emoji) in a string the operator "
        "copies into a child: the apply body is JSON with ensure_ascii escapes (surrogate "
        "pairs), sent as application/apply-patch+yaml, and the API server's YAML decoder "
        "refuses it (400 'found invalid Unicode character escape code'). Never reconciled.",
        {"image": "nginx", "container_envvars": [{"key": "GREETING", "value": "hi \U0001f600"}]},
    ),
    Finding(
        "uppercase-extra-host",
        "extra_hosts with upper-case letters in the hostname: the CRD allows it, a pod's "
        "hostAliases hostnames must be lower-case RFC 1123 names (422). Never reconciled.",
        {"image": "nginx", "extra_hosts": ["DB.example.com:10.0.0.1"]},
        refused_at="spec.extra_hosts[0]",
        says="lowercase DNS name",
    ),
    Finding(
        "numeric-port-name",
        "A port_name without a letter (or with '--', e.g. 'a--b'): the CRD allows a DNS label, "
        "a container port name must be an IANA service name: a letter at least, no '--' "
        "(422). Never reconciled.",
        {
            "image": "nginx",
            "container_ports": [{"protocol": "tcp", "inner_port": 80, "port_name": "80"}],
        },
        refused_at="spec.container_ports[0].port_name",
        says="IANA service name",
    ),
    Finding(
        "duplicate-port-name",
        "Two ports with the same port_name: the CRD allows it, a Kubernetes Service's port "
        "names must be unique (422). Never reconciled.",
        {
            "image": "nginx",
            "container_ports": [
                {"protocol": "tcp", "inner_port": 80, "port_name": "web"},
                {"protocol": "tcp", "inner_port": 8080, "port_name": "web"},
            ],
        },
        refused_at="spec.container_ports",
        says="cannot share a name",
    ),
    Finding(
        "huge-target",
        "status.link_variables (and the variables of any service linking to it) has 5 entries "
        "per container and port for every one of target_num_containers, which the schema lets "
        "go up to 2147483647: at 20000 the status is 5 MiB, more than the API server takes "
        "(never reported); the fuzzer's 2147483647 took the operator past 5.6 GiB of memory "
        "in 3 minutes (killed). Checked at that count: the suite's memory watchdog stops an "
        "operator that grows past 2 GiB.",
        {
            "image": "nginx",
            "running": False,
            "target_num_containers": 2**31 - 1,
            "container_ports": [{"protocol": "tcp", "inner_port": 80}],
        },
    ),
    Finding(
        "uid-out-of-range",
        "A numeric user (or group) above 2147483647: the CRD's pattern allows any digits, a "
        "pod's runAsUser/runAsGroup must be at most 2147483647 (422). Never reconciled.",
        {"image": "nginx", "user": "99999999999"},
        refused_at="spec.user",
        says="at most 2147483647",
    ),
    Finding(
        "duplicate-mount",
        "Two bindings with the same container_path: the CRD allows it, a container's "
        "volumeMounts are a map keyed by mountPath, so server-side apply refuses the object "
        "('duplicate entries for key [mountPath=\"/data\"]'). Never reconciled.",
        {
            "image": "nginx",
            "bindings": [
                {"host_path": "/srv/a", "container_path": "/data"},
                {"host_path": "/srv/b", "container_path": "/data"},
            ],
        },
        refused_at="spec.bindings",
        says="cannot share a container_path",
    ),
    Finding(
        "host-path-backsteps",
        "A host_path with a '..' element: the CRD allows any absolute path, a hostPath volume "
        "'must not contain ..' (422). Never reconciled.",
        {"image": "nginx", "bindings": [{"host_path": "/srv/../etc", "container_path": "/d"}]},
        refused_at="spec.bindings[0].host_path",
        says="'..'",
    ),
    Finding(
        "dns-search-limit",
        "More than 32 dns_search domains: the CRD allows 256, a pod's dnsConfig.searches at "
        "most 32 (and 2048 characters) (422). Never reconciled.",
        {"image": "nginx", "dns_search": [f"d{i}.example.com" for i in range(40)]},
        refused_at="spec.dns_search",
        says="must have at most 32 items",
    ),
    Finding(
        "labels-too-big",
        "labels of more than 256 KiB in all: the CRD allows 256 values of 4096 characters, a "
        "pod template's annotations at most 262144 bytes (422). Never reconciled.",
        {"image": "nginx", "labels": {f"k{i}": "x" * 4000 for i in range(70)}},
        refused_at="spec.labels",
        says="250 KiB",
    ),
    Finding(
        "integral-float",
        "memory_swap written 3.0: the schema's integer type takes it, the CEL rule that reads "
        "it cannot (invalid data, expected int, got float64), and the API server's refusal "
        "named only `spec`, the message not saying which field.",
        {"image": "nginx", "memory": 180, "memory_swap": 3.0},
        refused_at="spec.memory_swap",
        says="needs memory",
    ),
]
