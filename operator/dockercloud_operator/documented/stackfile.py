"""Docker Cloud stackfiles (`docker-cloud.yml`) as Stack resources, and back: offline and
deterministic.

A stackfile is a YAML mapping of service names to their keys; each key converts to the
documented service attribute it names (docs/stacks.md, key by key). An unknown key, a value of
the wrong form, or a link to a service that is not in the stack and is not named like another
stack's (`service.stack`) is an error naming the service, the key and the line. A bare `KEY` in
`environment` takes its value from the environment given (the shell of whoever converts).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from dockercloud_operator.schema import constants
from dockercloud_operator.schema.stack import STACK_NAME_MAX, StackSpec

Object = dict[str, Any]

RESTART = {"no": "OFF", "on-failure": "ON_FAILURE", "always": "ALWAYS"}
AUTODESTROY = {"no": "OFF", "on-success": "ON_SUCCESS", "always": "ALWAYS"}
STRATEGIES = {"emptiest_node", "high_availability", "every_node"}
NOT_STACKFILE = {
    "build": "Docker Cloud deploys images: build the image and name it in `image`",
    "external_links": "name the other service in `links` (`service` or `service.stack`)",
    "env_file": "list the variables in `environment`",
}
# Keys whose value passes as it is (YAML already gives the right type), and the attribute each
# becomes.
AS_IS = {
    "image": "image", "autoredeploy": "autoredeploy", "cap_add": "cap_add",
    "cap_drop": "cap_drop", "cgroup_parent": "cgroup_parent", "cpu_shares": "cpu_shares",
    "cpuset": "cpuset", "devices": "devices", "domainname": "domainname",
    "extra_hosts": "extra_hosts", "hostname": "hostname", "mac_address": "mac_address",
    "net": "net", "nickname": "nickname", "pid": "pid", "privileged": "privileged",
    "read_only": "read_only", "roles": "roles", "security_opt": "security_opt",
    "sequential_deployment": "sequential_deployment", "stdin_open": "stdin_open",
    "target_num_containers": "target_num_containers", "tty": "tty", "user": "user",
    "working_dir": "working_dir",
}  # fmt: skip
OTHER_KEYS = {
    "autodestroy", "autorestart", "restart", "command", "deployment_strategy", "dns",
    "dns_search", "entrypoint", "environment", "expose", "labels", "links", "mem_limit",
    "memswap_limit", "ports", "tags", "volumes", "volumes_from",
}  # fmt: skip
KEYS = frozenset(AS_IS) | OTHER_KEYS
_SIZE = re.compile(r"^([0-9]+)\s*([bkmg]?)b?$", re.IGNORECASE)
_PORT = re.compile(r"^(?:([0-9]+):)?([0-9]+)(?:/(tcp|udp))?$")
_REFERENCE = re.compile(r"^([a-z0-9-]+)(?:\.([a-z0-9-]+))?(?::(.+))?$")


class StackfileError(ValueError):
    """A stackfile that cannot be converted; the message names the service, key and line."""


@dataclass(frozen=True)
class _At:
    """Where a service's key is: for error messages."""

    service: str
    key: str | None
    line: int | None  # None: not from a file (a REST request)

    def fail(self, message: str) -> StackfileError:
        where = f"service {self.service!r}" + (f", key {self.key!r}" if self.key else "")
        line = f"line {self.line}: " if self.line is not None else ""
        return StackfileError(f"{line}{where}: {message}")


def _lines(text: str) -> dict[tuple[str, str | None], int | None]:
    """The line of each service and each of its keys (1-based)."""
    root = yaml.compose(text)
    lines: dict[tuple[str, str | None], int | None] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        name = str(key.value)
        lines[(name, None)] = key.start_mark.line + 1
        if isinstance(value, yaml.MappingNode):
            for inner, _ in value.value:
                lines[(name, str(inner.value))] = inner.start_mark.line + 1
    return lines


def _strings(value: Any, at: _At) -> list[str]:
    """A value or a list of values, as strings."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str | int | float) and not isinstance(item, bool)
               for item in items):  # fmt: skip
        raise at.fail("must be a string or a list of strings")
    return [str(item) for item in items]


def _words(value: Any, at: _At) -> str:
    """A command: a string as it is, a list as a shell would read it back."""
    if isinstance(value, list):
        return shlex.join(_strings(value, at))
    if not isinstance(value, str):
        raise at.fail("must be a string or a list of strings")
    return value


def _pairs(value: Any, at: _At, separator: str = "=") -> list[tuple[str, str | None]]:
    """`KEY=value` entries or a mapping; a bare `KEY` has no value (None)."""
    if isinstance(value, Mapping):
        return [(str(k), None if v is None else _scalar(v)) for k, v in value.items()]
    pairs: list[tuple[str, str | None]] = []
    for item in _strings(value, at):
        key, has_value, rest = item.partition(separator)
        pairs.append((key, rest if has_value else None))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _megabytes(value: Any, at: _At, allow_unlimited: bool = False) -> int:
    """A Docker size (`100000m`, `1g`, `512k`, bytes) in MB, rounded up."""
    if allow_unlimited and value in (-1, "-1"):
        return -1
    match = _SIZE.match(str(value).strip())
    if isinstance(value, bool) or not match:
        raise at.fail(f"{value!r} is not a size (a number with b, k, m or g)")
    number, unit = int(match.group(1)), match.group(2).lower()
    factor = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    return max(1, -(-number * factor // 1024**2))


def _port(text: str, at: _At, published: bool) -> Object:
    match = _PORT.match(text)
    if not match:
        raise at.fail(f"{text!r} is not a port (80, 443:443, 500/udp, 4500:4500/udp)")
    outer, inner, protocol = match.groups()
    port: Object = {"protocol": protocol or "tcp", "inner_port": int(inner)}
    if published:
        port["published"] = True
        if outer:
            port["outer_port"] = int(outer)
    elif outer:
        raise at.fail(f"{text!r}: an exposed port is reachable through links only, with no "
                      "outer port")  # fmt: skip
    return port


def _volume(text: str, at: _At) -> Object:
    parts = text.split(":")
    if len(parts) == 1:
        return {"container_path": parts[0]}
    if len(parts) == 3 and parts[2] not in ("ro", "rw"):
        raise at.fail(f"{text!r}: the mode is ro or rw")
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise at.fail(f"{text!r} is not a volume (/path, /host:/path, /host:/path:ro)")
    binding: Object = {"host_path": parts[0], "container_path": parts[1]}
    if len(parts) == 3 and parts[2] == "ro":
        binding["rewritable"] = False
    return binding


def _reference(text: str, at: _At, aliased: bool) -> tuple[str, str | None]:
    """(`service` or `service.stack`, alias) of a link or volumes_from entry."""
    match = _REFERENCE.match(text)
    if not match or (match.group(3) and not aliased):
        form = "service, service:alias or service.stack:alias" if aliased else (
            "service or service.stack")  # fmt: skip
        raise at.fail(f"{text!r} is not {form}")
    service, stack, alias = match.groups()
    return (f"{service}.{stack}" if stack else service), alias


def _service(name: str, keys: Any, at: _At, lines: dict[tuple[str, str | None], int | None],
             environ: Mapping[str, str], names: set[str]) -> Object:  # fmt: skip
    if not isinstance(keys, Mapping):
        raise at.fail("must be a mapping of the service's keys")
    if "image" not in keys:
        raise at.fail("has no image (the only required key)")
    if "restart" in keys and "autorestart" in keys and keys["restart"] != keys["autorestart"]:
        raise _At(name, "restart", lines.get((name, "restart"), at.line)).fail(
            "restart and autorestart say different things: give one"
        )
    member: Object = {"name": name}
    for key, value in keys.items():
        here = _At(name, str(key), lines.get((name, str(key)), at.line))
        if key in NOT_STACKFILE:
            raise here.fail(f"not a stackfile key: {NOT_STACKFILE[key]}")
        if key not in KEYS:
            raise here.fail("not a stackfile key (docs/stacks.md lists them)")
        if key in AS_IS:
            member[AS_IS[key]] = value
        elif key in ("autorestart", "restart"):
            member["autorestart"] = _choice(value, RESTART, here)
        elif key == "autodestroy":
            member["autodestroy"] = _choice(value, AUTODESTROY, here)
        elif key == "deployment_strategy":
            if not isinstance(value, str) or value.lower() not in STRATEGIES:
                raise here.fail(f"{value!r} is not one of {', '.join(sorted(STRATEGIES))}")
            member["deployment_strategy"] = value.upper()
        elif key == "command":
            member["run_command"] = _words(value, here)
        elif key == "entrypoint":
            member["entrypoint"] = _words(value, here)
        elif key in ("dns", "dns_search"):
            member[key] = _strings(value, here)
        elif key == "environment":
            member["container_envvars"] = _environment(value, here, environ)
        elif key == "labels":
            member["labels"] = {k: "" if v is None else v for k, v in _pairs(value, here)}
        elif key == "tags":
            member["tags"] = [{"name": tag} for tag in _strings(value, here)]
        elif key == "mem_limit":
            member["memory"] = _megabytes(value, here)
        elif key == "memswap_limit":
            member["memory_swap"] = _megabytes(value, here, allow_unlimited=True)
        elif key in ("ports", "expose"):
            ports = member.setdefault("container_ports", [])
            ports += [_port(p, here, key == "ports") for p in _strings(value, here)]
        elif key == "volumes":
            member.setdefault("bindings", [])
            member["bindings"] += [_volume(v, here) for v in _strings(value, here)]
        elif key == "volumes_from":
            member.setdefault("bindings", [])
            for text in _strings(value, here):
                target, _ = _reference(text, here, aliased=False)
                _check_target(target, here, names)
                member["bindings"].append({"volumes_from": target})
        elif key == "links":
            member["linked_to_service"] = []
            for text in _strings(value, here):
                target, alias = _reference(text, here, aliased=True)
                _check_target(target, here, names)
                link: Object = {"to_service": target}
                if alias:
                    link["name"] = alias
                member["linked_to_service"].append(link)
    return member


def _check_target(target: str, at: _At, names: set[str]) -> None:
    if "." not in target and target not in names:
        raise at.fail(f"{target!r} is not a service of this stack (another stack's service is "
                      "<service>.<stack>)")  # fmt: skip


def _choice(value: Any, choices: Mapping[str, str], at: _At) -> str:
    if value is False:  # YAML reads a bare `no` as false
        value = "no"
    if not isinstance(value, str) or value.lower() not in choices:
        raise at.fail(f"{value!r} is not one of {', '.join(choices)}")
    return choices[value.lower()]


def _environment(value: Any, at: _At, environ: Mapping[str, str]) -> list[Object]:
    variables = []
    for key, text in _pairs(value, at):
        if text is None:
            if key not in environ:
                raise at.fail(f"{key} takes its value from the environment, where it is not set")
            text = environ[key]
        variables.append({"key": key, "value": text})
    return variables


def to_spec(text: str, environ: Mapping[str, str]) -> Object:
    """A stackfile's text as a Stack's spec (validated as the Stack resource is)."""
    try:
        document = yaml.safe_load(text)
        lines = _lines(text)
    except yaml.YAMLError as error:
        raise StackfileError(f"not YAML: {error}") from None
    if not isinstance(document, Mapping) or not document:
        raise StackfileError("a stackfile is a mapping of service names to their keys")
    names = {str(name) for name in document}
    services = []
    for name, keys in document.items():
        at = _At(str(name), None, lines.get((str(name), None), 1))
        services.append(_service(str(name), keys, at, lines, environ, names))
    spec = {"services": services}
    try:
        StackSpec.model_validate(spec)
    except ValidationError as error:
        raise _explained(error, services, lines) from None
    return spec


def _explained(error: ValidationError, services: list[Object],
               lines: dict[tuple[str, str | None], int | None]) -> StackfileError:  # fmt: skip
    problems = []
    for problem in error.errors():
        where = problem["loc"]
        if len(where) >= 2 and where[0] == "services" and isinstance(where[1], int):
            name = services[where[1]]["name"]
            attribute = ".".join(str(part) for part in where[2:]) or None
            line = lines.get((name, None))
            where_in = f", {attribute}" if attribute else ""
            at = f"line {line}: " if line is not None else ""
            problems.append(f"{at}service {name!r}{where_in}: {problem['msg']}")
        else:
            problems.append(problem["msg"])
    return StackfileError("; ".join(problems))


def members_from_request(services: Any) -> list[Object]:
    """The `services` of a stack create or update request: each an object with its `name` and
    either stackfile keys (as the documented clients send a stackfile's services) or the
    documented service attributes."""
    if not isinstance(services, list):
        raise StackfileError("services must be a list of service objects")
    names: set[str] = set()
    for index, service in enumerate(services):
        if not isinstance(service, Mapping) or not isinstance(service.get("name"), str):
            raise StackfileError(f"services[{index}] must be an object with a name")
        names.add(service["name"])
    members = []
    for service in services:
        keys = {k: v for k, v in service.items() if k != "name"}
        if set(keys) <= KEYS:  # a stackfile's service
            at = _At(service["name"], None, None)
            members.append(_service(service["name"], keys, at, {}, {}, names))
        else:
            members.append(dict(service))
    try:
        StackSpec.model_validate({"services": members})
    except ValidationError as error:
        raise _explained(error, members, {}) from None
    return members


def stack_name(text: str) -> str:
    """A name as Docker Cloud made one from a folder: a DNS-1035 label of at most
    STACK_NAME_MAX characters."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:STACK_NAME_MAX].rstrip("-")
    if not name:
        raise StackfileError(f"{text!r} makes no stack name: give --name")
    return name


def stack_manifest(name: str, spec: Object, namespace: str | None = None) -> Object:
    metadata: Object = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": f"{constants.GROUP}/{constants.VERSION}", "kind": "Stack",
            "metadata": metadata, "spec": spec}  # fmt: skip


def _port_text(port: Object) -> str:
    protocol = "" if port.get("protocol", "tcp") == "tcp" else f"/{port['protocol']}"
    outer = f"{port['outer_port']}:" if port.get("outer_port") else ""
    return f"{outer}{port['inner_port']}{protocol}"


def _size(megabytes: int) -> str | int:
    return -1 if megabytes == -1 else f"{megabytes}m"


def to_stackfile(spec: Object) -> str:
    """A Stack's spec as a stackfile's text: `to_spec` of it gives the same services back."""
    return yaml.safe_dump(stackfile_of(spec), sort_keys=False, width=100, allow_unicode=True)


def stackfile_of(spec: Object) -> Object:
    """A Stack's spec as a stackfile's mapping (service name -> keys)."""
    stackfile: Object = {}
    for member in StackSpec.model_validate(spec).services:
        given = member.model_dump(exclude_defaults=True, exclude_none=True)
        keys: Object = {"image": given.pop("image")}
        name = given.pop("name")
        for attribute in AS_IS.values():
            if attribute in given:
                keys[attribute] = given.pop(attribute)
        inverse = {"autorestart": RESTART, "autodestroy": AUTODESTROY}
        for attribute, table in inverse.items():
            if attribute in given:
                keys[attribute] = {v: k for k, v in table.items()}[given.pop(attribute)]
        if "deployment_strategy" in given:
            keys["deployment_strategy"] = given.pop("deployment_strategy").lower()
        if "run_command" in given:
            keys["command"] = given.pop("run_command")
        for attribute in ("entrypoint", "dns", "dns_search", "labels"):
            if attribute in given:
                keys[attribute] = given.pop(attribute)
        if "container_envvars" in given:
            keys["environment"] = {e["key"]: e["value"] for e in given.pop("container_envvars")}
        if "tags" in given:
            keys["tags"] = [tag["name"] for tag in given.pop("tags")]
        if "memory" in given:
            keys["mem_limit"] = _size(given.pop("memory"))
        if "memory_swap" in given:
            keys["memswap_limit"] = _size(given.pop("memory_swap"))
        for port in given.pop("container_ports", []):
            where = "ports" if port.get("published") else "expose"
            keys.setdefault(where, []).append(_port_text(port))
        for binding in given.pop("bindings", []):
            if binding.get("volumes_from"):
                keys.setdefault("volumes_from", []).append(binding["volumes_from"])
                continue
            text = binding["container_path"]
            if binding.get("host_path"):
                mode = "" if binding.get("rewritable", True) else ":ro"
                text = f"{binding['host_path']}:{text}{mode}"
            keys.setdefault("volumes", []).append(text)
        for link in given.pop("linked_to_service", []):
            alias = f":{link['name']}" if link.get("name") else ""
            keys.setdefault("links", []).append(f"{link['to_service']}{alias}")
        stackfile[name] = keys
    return stackfile
