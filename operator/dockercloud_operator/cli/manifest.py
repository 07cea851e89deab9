"""`kubectl dcs create|run` options as the Service they ask for (docker-cloud's option syntax)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from dockercloud_operator.cli.errors import CliError
from dockercloud_operator.documented.naming import default_name, service_reference
from dockercloud_operator.schema import constants

Object = dict[str, Any]

_PUBLISH = re.compile(r"^(?:(?P<outer>[0-9]{1,5}):)?(?P<inner>[0-9]{1,5})(?:/(?P<proto>tcp|udp))?$")
_EXPOSE = re.compile(r"^(?P<inner>[0-9]{1,5})(?:/(?P<proto>tcp|udp))?$")


def _port_number(text: str, what: str) -> int:
    number = int(text)
    if not 1 <= number <= 65535:
        raise CliError(f"{what}: port {number} is not between 1 and 65535")
    return number


def parse_publish(text: str) -> Object:
    """`-p [outer_port:]inner_port[/protocol]` (Docker's and docker-cloud's order: the node's
    port first) as a published container port."""
    match = _PUBLISH.match(text)
    if not match:
        raise CliError(
            f"--publish {text}: must be [outer_port:]inner_port[/protocol], e.g. 8080:80/tcp"
        )
    port: Object = {
        "protocol": match["proto"] or "tcp",
        "inner_port": _port_number(match["inner"], f"--publish {text}"),
        "published": True,
    }
    if match["outer"]:
        port["outer_port"] = _port_number(match["outer"], f"--publish {text}")
    return port


def parse_expose(text: str) -> Object:
    """`--expose inner_port[/protocol]`: a port reachable through links, not published."""
    match = _EXPOSE.match(text)
    if not match:
        raise CliError(f"--expose {text}: must be inner_port[/protocol], e.g. 5432/tcp")
    return {
        "protocol": match["proto"] or "tcp",
        "inner_port": _port_number(match["inner"], f"--expose {text}"),
        "published": False,
    }


def parse_env(text: str) -> Object:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise CliError(f"--env {text}: must be KEY=VALUE")
    return {"key": key, "value": value}


def parse_env_file(content: str) -> list[Object]:
    """A line-delimited file of KEY=VALUE (blank lines and # comments ignored)."""
    return [
        parse_env(line.strip())
        for line in content.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def parse_link(text: str) -> Object:
    """`--link-service SERVICE[:ALIAS]`: SERVICE is a name, a uuid or a resource URI (none has
    a colon); the alias names the link (its variables' prefix)."""
    target, colon, alias = text.partition(":")
    if not target or (colon and not alias):
        raise CliError(f"--link-service {text}: must be SERVICE:ALIAS, e.g. mysql:db")
    link: Object = {"to_service": service_reference(target)}
    if alias:
        link["name"] = alias
    return link


def parse_volume(text: str) -> Object:
    """`-v /container_path` or `-v /host_path:/container_path[:ro|:rw]`."""
    parts = text.split(":")
    writable = True
    if len(parts) > 1 and parts[-1] in ("ro", "rw"):
        writable = parts.pop() == "rw"
    if len(parts) == 1:
        return {"container_path": parts[0], "rewritable": writable}
    if len(parts) == 2:
        return {"host_path": parts[0], "container_path": parts[1], "rewritable": writable}
    raise CliError(f"--volume {text}: must be /container_path or /host_path:/container_path[:ro]")


def service_manifest(args: argparse.Namespace, running: bool) -> Object:
    """The Service a `create` (running: false) or `run` (running: true) asks for. Only the
    options given are set: the API server applies the documented defaults. (Its one I/O:
    reading the --env-file files.)"""
    name = args.name or default_name(args.image)
    spec: Object = {"image": args.image, "running": running}
    if args.target_num_containers is not None:
        spec["target_num_containers"] = args.target_num_containers
    simple = {
        "run_command": args.run_command,
        "entrypoint": args.entrypoint,
        "autorestart": args.autorestart,
        "autodestroy": args.autodestroy,
        "deployment_strategy": args.deployment_strategy,
        "net": args.net,
        "pid": args.pid,
        "nickname": args.nickname,
        "cpu_shares": args.cpushares,
        "memory": args.memory,
    }
    spec.update({key: value for key, value in simple.items() if value is not None})
    for flag, key in (
        ("privileged", "privileged"),
        ("sequential", "sequential_deployment"),
        ("autoredeploy", "autoredeploy"),
    ):
        if getattr(args, flag):
            spec[key] = True
    ports = [parse_publish(p) for p in args.publish or []]
    ports += [parse_expose(p) for p in args.expose or []]
    if ports:
        spec["container_ports"] = ports
    envvars: list[Object] = []
    for path in args.env_file or []:
        try:
            with open(path, encoding="utf-8") as file:
                envvars += parse_env_file(file.read())
        except OSError as error:
            raise CliError(f"--env-file {path}: {error.strerror or error}") from error
    envvars += [parse_env(e) for e in args.env or []]
    if envvars:  # a later value of the same key wins, as with docker
        spec["container_envvars"] = list({e["key"]: e for e in envvars}.values())
    if args.link_service:
        spec["linked_to_service"] = [parse_link(link) for link in args.link_service]
    bindings = [parse_volume(v) for v in args.volume or []]
    bindings += [{"volumes_from": service_reference(s)} for s in args.volumes_from or []]
    if bindings:
        spec["bindings"] = bindings
    if args.tag:
        spec["tags"] = [{"name": tag} for tag in dict.fromkeys(args.tag)]
    if args.role:
        spec["roles"] = list(dict.fromkeys(args.role))
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "metadata": {"name": name},
        "spec": spec,
    }
