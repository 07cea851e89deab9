"""Invalid Service specs, each with the field its rejection must name.

One table serves two tests: the API server must reject each (the CRD schema and its CEL rules),
and so must the pydantic model (offline validation, `render`), except where a case says the
rule lives only in the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VALID_SPEC: dict[str, Any] = {"image": "tutum/hello-world:latest"}


@dataclass(frozen=True)
class Invalid:
    id: str
    spec: dict[str, Any]  # merged over VALID_SPEC; a None value removes the key
    field: str  # the path the server's message must name
    says: str = ""  # and, for rules of ours, words of their message
    server_only: bool = False
    metadata_name: str = "invalid"

    def full_spec(self) -> dict[str, Any]:
        merged = {**VALID_SPEC, **self.spec}
        return {key: value for key, value in merged.items() if value is not None}


def _port(**overrides: Any) -> dict[str, Any]:
    return {"protocol": "tcp", "inner_port": 80, **overrides}


def _binding(**fields: Any) -> dict[str, Any]:
    return fields


URI = "/api/app/v1/service/72f175bd-390b-46e3-9463-830aca32ce3e/"

INVALID_SPECS = [
    Invalid("image-missing", {"image": None}, "spec.image", "Required"),
    Invalid("image-with-spaces", {"image": "not an image"}, "spec.image"),
    Invalid("image-uppercase-path", {"image": "Tutum/Hello"}, "spec.image"),
    Invalid("image-empty-tag", {"image": "nginx:"}, "spec.image"),
    Invalid("target-negative", {"target_num_containers": -1}, "spec.target_num_containers"),
    Invalid(
        "target-not-a-number", {"target_num_containers": "three"}, "spec.target_num_containers"
    ),
    Invalid("running-not-a-bool", {"running": "yes"}, "spec.running"),
    Invalid(
        "port-zero",
        {"container_ports": [_port(inner_port=0)]},
        "spec.container_ports[0].inner_port",
    ),
    Invalid(
        "port-too-high",
        {"container_ports": [_port(inner_port=65536)]},
        "spec.container_ports[0].inner_port",
    ),
    Invalid(
        "outer-port-too-high",
        {"container_ports": [_port(outer_port=70000, published=True)]},
        "spec.container_ports[0].outer_port",
    ),
    Invalid(
        "protocol-unknown",
        {"container_ports": [_port(protocol="sctp")]},
        "spec.container_ports[0].protocol",
    ),
    Invalid(
        "protocol-missing",
        {"container_ports": [{"inner_port": 80}]},
        "spec.container_ports[0].protocol",
    ),
    Invalid(
        "port-duplicate",
        {"container_ports": [_port(), _port(published=True)]},
        "spec.container_ports[1]",
        "Duplicate",
    ),
    Invalid(
        "outer-port-unpublished",
        {"container_ports": [_port(outer_port=8080)]},
        "spec.container_ports[0].outer_port",
        "needs published: true",
    ),
    Invalid(
        "outer-port-shared",
        {
            "container_ports": [
                _port(outer_port=8080, published=True),
                _port(inner_port=81, outer_port=8080, published=True),
            ]
        },
        "spec.container_ports",
        "cannot share an outer_port",
    ),
    Invalid(
        "envvar-key-digit",
        {"container_envvars": [{"key": "1DB", "value": "x"}]},
        "spec.container_envvars[0].key",
    ),
    Invalid(
        "envvar-key-dash",
        {"container_envvars": [{"key": "DB-PASS", "value": "x"}]},
        "spec.container_envvars[0].key",
    ),
    Invalid(
        "envvar-value-missing",
        {"container_envvars": [{"key": "DB"}]},
        "spec.container_envvars[0].value",
    ),
    Invalid(
        "envvar-duplicate",
        {"container_envvars": [{"key": "DB", "value": "a"}, {"key": "DB", "value": "b"}]},
        "spec.container_envvars[1]",
        "Duplicate",
    ),
    Invalid(
        "binding-empty",
        {"bindings": [_binding(rewritable=True)]},
        "spec.bindings[0]",
        "exactly one of container_path",
    ),
    Invalid(
        "binding-both-sources",
        {"bindings": [_binding(container_path="/data", volumes_from=URI)]},
        "spec.bindings[0]",
        "exactly one of container_path",
    ),
    Invalid(
        "binding-relative-container-path",
        {"bindings": [_binding(container_path="data")]},
        "spec.bindings[0].container_path",
    ),
    Invalid(
        "binding-relative-host-path",
        {"bindings": [_binding(host_path="etc", container_path="/etc")]},
        "spec.bindings[0].host_path",
    ),
    Invalid(
        "binding-host-path-alone",
        {"bindings": [_binding(host_path="/etc", volumes_from=URI)]},
        "spec.bindings[0].host_path",
        "needs the container_path",
    ),
    Invalid(
        "binding-volumes-from-garbage",
        {"bindings": [_binding(volumes_from="/api/app/v1/")]},
        "spec.bindings[0].volumes_from",
    ),
    Invalid(
        "link-target-garbage",
        {"linked_to_service": [{"to_service": "DB Service"}]},
        "spec.linked_to_service[0].to_service",
    ),
    Invalid(
        "link-target-missing",
        {"linked_to_service": [{"name": "db"}]},
        "spec.linked_to_service[0].to_service",
    ),
    Invalid(
        "link-name-with-space",
        {"linked_to_service": [{"to_service": "db", "name": "my db"}]},
        "spec.linked_to_service[0].name",
    ),
    Invalid(
        "autorestart-unknown", {"autorestart": "SOMETIMES"}, "spec.autorestart", "Unsupported value"
    ),
    Invalid(
        "autodestroy-unknown", {"autodestroy": "NEVER"}, "spec.autodestroy", "Unsupported value"
    ),
    Invalid("strategy-unknown", {"deployment_strategy": "RANDOM_NODE"}, "spec.deployment_strategy"),
    Invalid("net-unknown", {"net": "overlay"}, "spec.net", "Unsupported value"),
    Invalid("pid-unknown", {"pid": "container"}, "spec.pid", "Unsupported value"),
    Invalid("role-unknown", {"roles": ["admin"]}, "spec.roles[0]", "Unsupported value"),
    Invalid("role-duplicate", {"roles": ["global", "global"]}, "spec.roles[1]", "Duplicate"),
    Invalid("tag-invalid", {"tags": [{"name": "bad tag!"}]}, "spec.tags[0].name"),
    Invalid("tag-too-long", {"tags": [{"name": "t" * 64}]}, "spec.tags[0].name"),
    Invalid("cpu-shares-too-low", {"cpu_shares": 1}, "spec.cpu_shares"),
    Invalid("memory-zero", {"memory": 0}, "spec.memory"),
    Invalid("memory-negative", {"memory": -512}, "spec.memory"),
    Invalid(
        "memory-swap-below-memory",
        {"memory": 512, "memory_swap": 256},
        "spec.memory_swap",
        "at least memory",
    ),
    Invalid(
        "memory-swap-without-memory", {"memory_swap": 1024}, "spec.memory_swap", "needs memory"
    ),
    Invalid("working-dir-relative", {"working_dir": "app"}, "spec.working_dir"),
    Invalid("mac-address-garbage", {"mac_address": "02:42:ac:11:65"}, "spec.mac_address"),
    Invalid("dns-not-an-ip", {"dns": ["dns.example.com"]}, "spec.dns", "IP addresses"),
    Invalid("extra-host-without-ip", {"extra_hosts": ["onehost"]}, "spec.extra_hosts[0]"),
    Invalid(
        "extra-host-bad-ip",
        {"extra_hosts": ["onehost:50.31.209"]},
        "spec.extra_hosts",
        "hostname:IP",
    ),
    Invalid("cpuset-garbage", {"cpuset": "0,a"}, "spec.cpuset"),
    Invalid("device-relative", {"devices": ["dev/ttyUSB0"]}, "spec.devices[0]"),
    Invalid("capability-lowercase", {"cap_add": ["net_admin"]}, "spec.cap_add[0]"),
    Invalid("hostname-underscore", {"hostname": "web_1"}, "spec.hostname"),
    Invalid("user-with-space", {"user": "web user"}, "spec.user"),
    Invalid(
        "port-name-too-long",
        {"container_ports": [_port(port_name="a-very-long-port-name")]},
        "spec.container_ports[0].port_name",
    ),
    Invalid(
        "port-name-without-letter",
        {"container_ports": [_port(port_name="80")]},
        "spec.container_ports[0].port_name",
        "IANA service name",
    ),
    Invalid(
        "port-name-double-dash",
        {"container_ports": [_port(port_name="a--b")]},
        "spec.container_ports[0].port_name",
        "IANA service name",
    ),
    Invalid(
        "port-name-shared",
        {"container_ports": [_port(port_name="web"), _port(inner_port=8080, port_name="web")]},
        "spec.container_ports",
        "cannot share a name",
    ),
    Invalid(
        "port-name-shares-an-unnamed-ports-name",
        {"container_ports": [_port(), _port(inner_port=81, port_name="tcp-80")]},
        "spec.container_ports",
        "cannot share a name",
    ),
    Invalid("user-uid-too-big", {"user": "99999999999"}, "spec.user", "at most 2147483647"),
    Invalid("user-gid-too-big", {"user": "1000:2147483648"}, "spec.user", "at most 2147483647"),
    Invalid(
        "binding-container-path-shared",
        {
            "bindings": [
                _binding(host_path="/srv/a", container_path="/data"),
                _binding(container_path="/data"),
            ]
        },
        "spec.bindings",
        "cannot share a container_path",
    ),
    Invalid(
        "bindings-too-many",
        {"bindings": [_binding(container_path=f"/data/{i}") for i in range(65)]},
        "spec.bindings",
        "must have at most 64 items",
    ),
    Invalid(
        "binding-host-path-backsteps",
        {"bindings": [_binding(host_path="/srv/../etc", container_path="/etc")]},
        "spec.bindings[0].host_path",
        "'..'",
    ),
    Invalid(
        "extra-host-uppercase",
        {"extra_hosts": ["DB.example.com:10.0.0.1"]},
        "spec.extra_hosts[0]",
        "lowercase DNS name",
    ),
    Invalid(
        "extra-host-name-too-long",
        {"extra_hosts": ["h" * 254 + ":10.0.0.1"]},
        "spec.extra_hosts[0]",
        "at most 253 characters",
    ),
    Invalid(
        "dns-search-too-many",
        {"dns_search": [f"d{i}.example.com" for i in range(33)]},
        "spec.dns_search",
        "must have at most 32 items",
    ),
    Invalid(
        "dns-search-too-long",
        {"dns_search": [f"{i}." + "d" * 250 for i in range(9)]},
        "spec.dns_search",
        "2048 characters",
    ),
    Invalid(
        "labels-too-big",
        {"labels": {f"k{i}": "x" * 4000 for i in range(70)}},
        "spec.labels",
        "250 KiB",
    ),
    Invalid(  # few characters, many bytes: the limit is in UTF-8 bytes
        "labels-too-big-in-bytes",
        {"labels": {f"k{i}": "\u00e9" * 4000 for i in range(33)}},
        "spec.labels",
        "250 KiB",
    ),
    Invalid("redeploy-token-empty", {"redeploy": {"token": ""}}, "spec.redeploy.token"),
    Invalid("label-key-empty", {"labels": {"": "x"}}, "spec.labels"),
    Invalid("label-key-with-space", {"labels": {"a b": "x"}}, "spec.labels", "[dns.prefix/]name"),
    Invalid("dns-three-servers", {"dns": ["8.8.8.8", "8.8.4.4", "1.1.1.1"]}, "spec.dns", "most 2"),
    Invalid(
        "metadata-name-starts-with-digit",
        {},
        "metadata.name",
        "DNS-1035 label",
        server_only=True,
        metadata_name="1web",
    ),
    Invalid(
        "metadata-name-too-long",
        {},
        "metadata.name",
        "at most 52 characters",
        server_only=True,
        metadata_name="w" * 53,
    ),
    Invalid("unknown-attribute", {"colour": "blue"}, "spec.colour", "unknown field"),
    Invalid(
        "name-differs-from-metadata",
        {"name": "other"},
        "spec.name",
        "must equal metadata.name",
        server_only=True,
    ),
]

# Specs at the very limits of the rules above: both the API server and the model accept them.
AT_THE_LIMITS: dict[str, dict[str, Any]] = {
    "port-names": {
        "container_ports": [
            _port(port_name="a-1-b-2-c-3-d-4"),  # 15 characters
            _port(inner_port=81, port_name="9a"),
            _port(inner_port=82),  # tcp-82
            _port(inner_port=82, protocol="udp"),  # udp-82
        ]
    },
    "user-ids": {"user": "2147483647:0002147483647"},
    "user-names": {"user": "www-data:99999999999x"},
    "bindings": {
        "bindings": [
            _binding(host_path="/srv/..a/b..", container_path="/data"),
            _binding(container_path="/data/"),
            _binding(volumes_from=URI),
            _binding(volumes_from="db"),
        ]
    },
    "extra-hosts": {"extra_hosts": ["h" * 253 + ":10.0.0.1", "db.example-1.com:fe80::1"]},
    "dns-search": {  # 32 names, 2048 characters joined by spaces
        "dns_search": [f"{i:02}." + "d" * 58 for i in range(31)] + ["e" * 62 + "." + "e" * 63]
    },
    "labels": {  # 256000 bytes of keys and values
        "labels": {
            **{f"k{i:02}": "\u00e9" * 2000 for i in range(63)},
            "k63": "x" * (256000 - 63 * (3 + 4000) - 3),
        }
    },
}
