"""`kubectl dcs`: the Docker Cloud CLI's `service` commands, for Service resources.

People used to `docker-cloud service ps|inspect|create|run|start|stop|scale|redeploy|terminate|
logs` get the same commands, options and output on Kubernetes: `kubectl dcs ...` (a kubectl
plugin: the console script `kubectl-dcs` on PATH) talks to the cluster of the current kubeconfig
through the official Kubernetes client.

- A service is named by its name, or by its uuid (long or short, as `ps` shows it), as with
  `docker-cloud`.
- The documented actions become spec changes the operator carries out: start and stop set
  `spec.running`, scale goes through the scale subresource, redeploy sets a new
  `spec.redeploy.token`, terminate deletes the resource.
- An action the documentation does not allow in the service's current state (the "Service
  states" table, `ALLOWED_ACTIONS`) is refused, unless `--force` is given.
- `--sync` waits until the operator reports the state the action leads to.
- `logs` prints the documented log lines (`{"type": "log", "source": ..., ...}`).

The pure parts (arguments to spec, the rule table, log lines, names, tables) are functions
without I/O, unit tested on their own; `Cluster` holds every API call.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from kubernetes import client
from kubernetes import config as _config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from dockercloud_operator import constants, names
from dockercloud_operator.model import SERVICE_NAME, SERVICE_NAME_MAX, State

Object = dict[str, Any]
# The client's config loaders are unannotated; their results are checked where they are used.
config: Any = _config

PROG = "kubectl dcs"
FIELD_MANAGER = "kubectl-dcs"
DEFAULT_TAIL = 300  # documented: "Number of lines to show from the end of the logs (default: 300)"
DEFAULT_TIMEOUT = 300.0
POLL_INTERVAL = 0.5
CRD_HINT = (
    "install its CustomResourceDefinition first: "
    "kubectl apply --server-side -f crds/service.yaml "
    "(or: dockercloud-operator crd | kubectl apply --server-side -f -)"
)


class CliError(Exception):
    """A failure to report as one clear line, with exit code 1."""


class NotFound(CliError):
    """The service does not exist."""


# -- the documented rule table ------------------------------------------------------------------


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    SCALE = "scale"
    REDEPLOY = "redeploy"
    TERMINATE = "terminate"


_START, _STOP, _SCALE, _REDEPLOY, _TERMINATE = Action
# The documented "Service states" table: the actions each state allows ("No actions allowed in
# this state" is the empty set). Two readings beyond the table, as the operator makes them
# (`actions.ALLOWED`): start also in Partly running, as the start endpoint says ("Starts all
# containers in a stopped or partly running service"); and scale, which the table does not
# name (it is an update of target_num_containers), wherever the table allows any action.
ALLOWED_ACTIONS: dict[State, frozenset[Action]] = {
    State.NOT_RUNNING: frozenset({_START, _TERMINATE, _SCALE}),
    State.STARTING: frozenset(),
    State.RUNNING: frozenset({_STOP, _REDEPLOY, _TERMINATE, _SCALE}),
    State.PARTLY_RUNNING: frozenset({_START, _STOP, _REDEPLOY, _TERMINATE, _SCALE}),
    State.SCALING: frozenset(),
    State.REDEPLOYING: frozenset(),
    State.STOPPING: frozenset(),
    State.STOPPED: frozenset({_START, _REDEPLOY, _TERMINATE, _SCALE}),
    State.TERMINATING: frozenset(),
    State.TERMINATED: frozenset(),
}


def allowed_states(action: Action) -> list[State]:
    """The states in which the documentation allows `action`, in the table's order."""
    return [state for state in State if action in ALLOWED_ACTIONS[state]]


def refusal(action: Action, state: State | None, service: str) -> str | None:
    """Why `action` is not allowed on `service` in `state`, or None when it is.

    A service without a state yet (the operator has not reported one) is not refused: there is
    nothing to check against."""
    if state is None or action in ALLOWED_ACTIONS[state]:
        return None
    if not ALLOWED_ACTIONS[state]:
        return (
            f'cannot {action} service "{service}": it is {state}, and no action is allowed '
            f"while a service is {state}; wait until it settles, or pass --force"
        )
    allowed = " or ".join(str(s) for s in allowed_states(action))
    return (
        f'cannot {action} service "{service}": it is {state}; {action} is allowed only when '
        f"a service is {allowed} (pass --force to {action} it anyway)"
    )


def state_of(service: Object) -> State | None:
    value = service.get("status", {}).get("state")
    try:
        return State(value) if value else None
    except ValueError:
        return None


def resting_state(running: bool, before: State | None) -> State:
    """The state a service settles in after a change: Running when it runs; when it does not,
    Not running if it never ran, else Stopped."""
    if running:
        return State.RUNNING
    return State.NOT_RUNNING if before in (None, State.NOT_RUNNING) else State.STOPPED


def settled(service: Object, expected: State, generation: int) -> bool:
    """The operator has seen the spec of `generation` (or a later one), reports `expected`, and
    the containers run that spec (`synchronized`: a state computed before the workload took
    the change, a redeploy say, would otherwise still read Running)."""
    status = service.get("status", {})
    observed = status.get("observedGeneration")
    return (
        observed is not None
        and int(observed) >= generation
        and state_of(service) is expected
        and status.get("synchronized") is not False
    )


def progress(service: Object) -> str:
    """One line of --sync progress: the state and running/target containers."""
    status = service.get("status", {})
    state = status.get("state") or "(no state reported yet)"
    counts = status.get("running_of_target")
    return f"{state}, {counts} containers running" if counts else state


# -- names --------------------------------------------------------------------------------------

_SERVICE_NAME = re.compile(SERVICE_NAME)


def default_name(image: str) -> str:
    """The documented default name: the image without namespace (nor registry, tag or digest),
    made a valid service name (lowercase letters, digits and '-', starting with a letter, at
    most SERVICE_NAME_MAX characters)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    last = last.split(":", 1)[0]
    name = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")
    if not name:
        return "service"
    if not name[0].isalpha():
        name = f"svc-{name}"
    return name[:SERVICE_NAME_MAX].rstrip("-")


def valid_name(name: str) -> bool:
    return len(name) <= SERVICE_NAME_MAX and _SERVICE_NAME.match(name) is not None


def looks_like_uuid_prefix(identifier: str) -> bool:
    return (
        re.fullmatch(r"[0-9a-f]{4,8}(-[0-9a-f]{0,4}){0,3}(-[0-9a-f]{0,12})?", identifier)
        is not None
    )


def service_reference(identifier: str) -> str:
    """A link or volumes_from target as the spec takes it: a full uuid becomes the service's
    resource URI; a name (or a resource URI) is kept."""
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", identifier):
        return f"/api/app/v1/service/{identifier}/"
    return identifier


# -- arguments to spec --------------------------------------------------------------------------

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


def redeploy_patch(reuse_volumes: bool, token: str | None = None) -> Object:
    """The spec change that requests a redeploy: a token never used before."""
    return {
        "spec": {"redeploy": {"token": token or uuid.uuid4().hex, "reuse_volumes": reuse_volumes}}
    }


# -- inspect: the documented shape --------------------------------------------------------------

# Every attribute of the documented service object (its example, plus `pid`).
DOCUMENTED_ATTRIBUTES = [
    "autodestroy",
    "autoredeploy",
    "autorestart",
    "bindings",
    "cap_add",
    "cap_drop",
    "cgroup_parent",
    "container_envvars",
    "container_ports",
    "containers",
    "cpu_shares",
    "cpuset",
    "current_num_containers",
    "deployed_datetime",
    "deployment_strategy",
    "destroyed_datetime",
    "devices",
    "dns",
    "dns_search",
    "domainname",
    "entrypoint",
    "extra_hosts",
    "hostname",
    "image_name",
    "labels",
    "link_variables",
    "linked_from_service",
    "linked_to_service",
    "mac_address",
    "memory",
    "memory_swap",
    "name",
    "net",
    "nickname",
    "pid",
    "privileged",
    "public_dns",
    "read_only",
    "resource_uri",
    "roles",
    "run_command",
    "running_num_containers",
    "security_opt",
    "sequential_deployment",
    "stack",
    "started_datetime",
    "state",
    "stdin_open",
    "stopped_datetime",
    "stopped_num_containers",
    "synchronized",
    "tags",
    "target_num_containers",
    "tty",
    "user",
    "uuid",
    "working_dir",
]
# Status fields for Kubernetes' sake, not documented attributes.
_KUBERNETES_ONLY = {"running_of_target", "selector", "observedGeneration", "conditions"}


def _image_name(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"


def documented_view(service: Object) -> Object:
    """The service as the documented API returns it: spec and status attributes in one object
    (`image` appears as `image_name`; `running` and `redeploy` as the state), every documented
    attribute present (null when unset), keys sorted as in the documented example."""
    metadata = service.get("metadata", {})
    spec = dict(service.get("spec", {}))
    status = {k: v for k, v in service.get("status", {}).items() if k not in _KUBERNETES_ONLY}
    image = spec.pop("image", None)
    spec.pop("running", None)
    spec.pop("redeploy", None)
    view: Object = dict.fromkeys(DOCUMENTED_ATTRIBUTES)
    view.update(spec)
    spec_ports = {
        (p.get("inner_port"), p.get("protocol")): p for p in spec.get("container_ports", [])
    }
    view.update(status)
    if "container_ports" in status:  # the status' ports have endpoints; the spec's, names
        view["container_ports"] = [
            {
                **p,
                **{
                    k: v
                    for k, v in spec_ports.get((p.get("inner_port"), p.get("protocol")), {}).items()
                    if k == "port_name"
                },
            }
            for p in status["container_ports"]
        ]
    name = metadata.get("name")
    view["name"] = name
    view["nickname"] = view["nickname"] or name
    uid = view["uuid"] or metadata.get("uid")
    view["uuid"] = uid
    view["resource_uri"] = view["resource_uri"] or (f"/api/app/v1/service/{uid}/" if uid else None)
    if not view["image_name"] and image:
        view["image_name"] = _image_name(image)
    view["linked_to_service"] = [
        {"from_service": view["resource_uri"], **link} if view["resource_uri"] else link
        for link in view["linked_to_service"] or []
    ]
    for key in ("containers", "linked_from_service", "bindings", "container_envvars", "tags"):
        if view[key] is None:
            view[key] = []
    return dict(sorted(view.items()))


# -- ps -----------------------------------------------------------------------------------------


def short_uuid(uid: str | None) -> str:
    return (uid or "")[:8]


def age(created: str | None, now: datetime) -> str:
    """kubectl's short age: 42s, 5m, 3h, 12d, 2y."""
    if not created:
        return "<unknown>"
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 86400 * 365:
        return f"{seconds // 86400}d"
    return f"{seconds // (86400 * 365)}y"


PS_HEADERS = ["NAME", "UUID", "IMAGE", "STATE", "#CONTAINERS", "STRATEGY", "AGE"]


def ps_row(service: Object, now: datetime, with_namespace: bool = False) -> list[str]:
    metadata = service.get("metadata", {})
    spec = service.get("spec", {})
    status = service.get("status", {})
    image = status.get("image_name") or spec.get("image") or ""
    running = status.get("running_of_target") or f"0/{spec.get('target_num_containers', 0)}"
    row = [
        metadata.get("name", ""),
        short_uuid(status.get("uuid") or metadata.get("uid")),
        image,
        status.get("state") or "<none>",
        running,
        spec.get("deployment_strategy", ""),
        age(metadata.get("creationTimestamp"), now),
    ]
    return [metadata.get("namespace", ""), *row] if with_namespace else row


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns three spaces apart, as kubectl and docker-cloud print them."""
    lines = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


# -- logs ---------------------------------------------------------------------------------------

_STAMP = re.compile(
    r"^(?P<seconds>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class LogLine:
    source: str
    log: str
    seconds: int  # unix time
    nanos: int = 0

    def sort_key(self) -> tuple[int, int]:
        return (self.seconds, self.nanos)


def parse_timestamp(stamp: str) -> tuple[int, int] | None:
    """An RFC 3339 time as the log API writes it (nanoseconds, trailing zeros trimmed) as
    (unix seconds, nanoseconds); None if it is not one."""
    match = _STAMP.match(stamp)
    if not match:
        return None
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    moment = datetime.fromisoformat(match["seconds"] + zone)
    fraction = (match["fraction"] or "")[:9].ljust(9, "0")
    return int(moment.timestamp()), int(fraction)


def parse_log_line(source: str, raw: str, fallback: int = 0) -> LogLine:
    """A line of `timestamps=True` output: `<RFC 3339 time> <text>`."""
    stamp, _, text = raw.rstrip("\r\n").partition(" ")
    parsed = parse_timestamp(stamp)
    if parsed is None:  # not timestamped: keep the whole line
        return LogLine(source, raw.rstrip("\r\n"), fallback)
    return LogLine(source, text, *parsed)


def log_message(line: LogLine) -> str:
    """The documented log line. The Kubernetes log API merges a container's stdout and stderr,
    so every line is reported as stdout."""
    return json.dumps(
        {
            "type": "log",
            "source": line.source,
            "log": line.log,
            "streamType": "stdout",
            "timestamp": line.seconds,
        }
    )


def _natural(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)]


def container_sources(service: str, pods: Iterable[str], first: int = 1) -> dict[str, str]:
    """Each container's documented source name, `<service>-<n>`: n counts from `first` in the
    order of the pods' names (numbers in names compared as numbers, so a StatefulSet's
    `web-0, web-1, ..., web-10` are web-1, web-2, ..., web-11)."""
    return {
        pod: f"{service}-{number}"
        for number, pod in enumerate(sorted(pods, key=_natural), start=first)
    }


def merge_logs(lines: Iterable[LogLine]) -> list[LogLine]:
    """Every container's lines in one stream, oldest first (a stable sort: a container's own
    lines keep their order)."""
    return sorted(lines, key=LogLine.sort_key)


# -- the cluster --------------------------------------------------------------------------------


def _details(body: str | None) -> Object:
    """The `details` of an API error's Status body."""
    return dict(_status_body(body).get("details") or {})


def _status_body(body: str | None) -> Object:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def api_error_message(status: int, body: str | None, reason: str | None, namespace: str) -> str:
    """A clear line for an API error: a missing service, a missing CRD, or the server's own
    message (which names the field and what is allowed)."""
    parsed = _status_body(body)
    message = parsed.get("message") or reason or "unknown error"
    details = _details(body)
    if status == 404:
        if details.get("name"):  # the object is missing, not its kind
            kind = "service" if details.get("kind") in (None, constants.PLURAL) else "pod"
            return f'{kind} "{details["name"]}" not found in namespace "{namespace}"'
        return (
            f"the Service resource ({constants.PLURAL}.{constants.GROUP}) is not installed in "
            f"this cluster: {CRD_HINT}"
        )
    if status == 409 and parsed.get("reason") == "AlreadyExists":
        return f'service "{details.get("name", "")}" already exists in namespace "{namespace}"'
    if status == 401:
        return f"not authorized by the API server ({message}): check the kubeconfig's credentials"
    if status == 403:
        return f"forbidden: {message}"
    return str(message) if status in (400, 422) else f"{message} (HTTP {status})"


def transport_reason(error: BaseException) -> str:
    """The cause of a connection failure in a few words (urllib3 nests it in a long text)."""
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    for marker in ("Failed to establish a new connection: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip(" ()\"'")


def context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of the kubeconfig's (current or given) context, else `default`."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, OSError):
        return "default"
    chosen = current
    if context:
        chosen = next((c for c in contexts or [] if c.get("name") == context), None)
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else "default"


class Cluster:
    """Every API call the CLI makes."""

    def __init__(self, api: Any, namespace: str, host: str = "the API server") -> None:
        self.api = api
        self.namespace = namespace
        self.host = host
        self.objects = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str | None, namespace: str | None) -> Cluster:
        path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration
            )
        except config.ConfigException as error:
            if os.environ.get("KUBERNETES_SERVICE_HOST") and not kubeconfig:
                config.load_incluster_config(client_configuration=configuration)
            else:
                raise CliError(
                    f"no usable kubeconfig ({path}): {error}; set KUBECONFIG or pass --kubeconfig"
                ) from error
        except OSError as error:
            raise CliError(f"cannot read the kubeconfig {path}: {error}") from error
        configuration.retries = 1  # fail fast when there is no cluster
        chosen = namespace or context_namespace(path, context)
        return cls(client.ApiClient(configuration), chosen, str(configuration.host))

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ApiException as error:
            message = api_error_message(error.status, error.body, error.reason, self.namespace)
            if error.status == 404 and _details(error.body).get("name"):
                raise NotFound(message) from None
            raise CliError(message) from None
        except TransportError as error:
            raise CliError(
                f"cannot reach the Kubernetes API server at {self.host} "
                f"({transport_reason(error)}): is the cluster up, and is this the right "
                "kubeconfig (KUBECONFIG, --kubeconfig)?"
            ) from None

    def _args(self, namespace: str | None = None) -> tuple[str, str, str, str]:
        return (constants.GROUP, constants.VERSION, namespace or self.namespace, constants.PLURAL)

    def get(self, name: str) -> Object:
        found: Object = self._call(self.objects.get_namespaced_custom_object, *self._args(), name)
        return found

    def get_or_none(self, name: str) -> Object | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def list_services(
        self, all_namespaces: bool = False, field_selector: str | None = None
    ) -> list[Object]:
        options = {"field_selector": field_selector} if field_selector else {}
        if all_namespaces:
            found = self._call(
                self.objects.list_cluster_custom_object,
                constants.GROUP,
                constants.VERSION,
                constants.PLURAL,
                **options,
            )
        else:
            found = self._call(self.objects.list_namespaced_custom_object, *self._args(), **options)
        items: list[Object] = found.get("items", [])
        return items

    def resolve(self, identifier: str) -> Object:
        """A service by name, or by its uuid (long or a unique prefix, as `ps` shows it)."""
        try:
            return self.get(identifier)
        except NotFound:
            if not looks_like_uuid_prefix(identifier):
                raise
            matches = [
                s
                for s in self.list_services()
                if (s.get("metadata", {}).get("uid") or "").startswith(identifier)
            ]
            if len(matches) == 1:
                return matches[0]
            if matches:
                found = ", ".join(s["metadata"]["name"] for s in matches)
                raise CliError(
                    f'"{identifier}" is the uuid prefix of several services: {found}'
                ) from None
            raise NotFound(
                f'service "{identifier}" not found in namespace "{self.namespace}" '
                "(by name or uuid)"
            ) from None

    def create(self, manifest: Object) -> Object:
        created: Object = self._call(
            self.objects.create_namespaced_custom_object,
            *self._args(),
            manifest,
            field_manager=FIELD_MANAGER,
            field_validation="Strict",
        )
        return created

    def patch(self, name: str, patch: Object) -> Object:
        patched: Object = self._call(
            self.objects.patch_namespaced_custom_object,
            *self._args(),
            name,
            patch,
            field_manager=FIELD_MANAGER,
        )
        return patched

    def scale(self, name: str, replicas: int) -> None:
        self._call(
            self.objects.patch_namespaced_custom_object_scale,
            *self._args(),
            name,
            {"spec": {"replicas": replicas}},
            field_manager=FIELD_MANAGER,
        )

    def delete(self, name: str) -> None:
        self._call(self.objects.delete_namespaced_custom_object, *self._args(), name)

    def pods(self, service: str) -> list[Any]:
        found = self._call(
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=names.selector(service),
        )
        items: list[Any] = found.items
        return items

    def pod_exists(self, name: str) -> bool:
        try:
            self._call(self.core.read_namespaced_pod, name, self.namespace)
        except NotFound:
            return False
        return True

    def _log_options(self, pod: Any, tail: int | None) -> Object:
        options: Object = {"container": _container(pod), "timestamps": True}
        if tail is not None:
            options["tail_lines"] = tail
        return options

    def pod_log(self, pod: Any, tail: int | None) -> str:
        """The container's log, each line `<RFC 3339 time> <text>`."""
        text = self._call(
            self.core.read_namespaced_pod_log,
            pod.metadata.name,
            self.namespace,
            **self._log_options(pod, tail),
        )
        return str(text or "")

    def follow_pod_log(self, pod: Any, tail: int | None) -> Any:
        """The container's log as an open stream (an iterable of lines, as bytes). Raises
        ApiException as is: the caller tells a container not started yet (400) apart."""
        return self.core.read_namespaced_pod_log(
            pod.metadata.name,
            self.namespace,
            follow=True,
            _preload_content=False,
            **self._log_options(pod, tail),
        )


def _container(pod: Any) -> str:
    """The service's container in the pod (named after the workload), else its first."""
    containers = [c.name for c in pod.spec.containers]
    service = pod.metadata.labels.get(constants.LABEL_SERVICE, "")
    wanted = names.workload(service)
    return wanted if wanted in containers else str(containers[0])


# -- commands -----------------------------------------------------------------------------------


def _say(text: str, stream: TextIO | None = None) -> None:
    print(text, file=stream or sys.stdout, flush=True)


def _warn(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def wait_until(
    cluster: Cluster, name: str, expected: State | None, generation: int, timeout: float
) -> bool:
    """Waits until the service reports `expected` for `generation` or later (None: until it is
    gone), printing its state and running/target containers on stderr as they change."""
    deadline = time.monotonic() + timeout
    shown = ""
    what = f"to be {expected}" if expected else "to be gone"
    while True:
        service = cluster.get_or_none(name)
        if service is None:
            if expected is None:
                _say(f"{name}: terminated", sys.stderr)
                return True
            current = "gone"
        else:
            current = progress(service)
            if expected is not None and settled(service, expected, generation):
                if current != shown:
                    _say(f"{name}: {current}", sys.stderr)
                return True
        if current != shown:
            _say(f"{name}: {current}", sys.stderr)
            shown = current
        if time.monotonic() >= deadline:
            _warn(
                f'timed out after {timeout:g}s waiting for service "{name}" {what}; it is {current}'
            )
            return False
        time.sleep(POLL_INTERVAL)


@dataclass
class _Done:
    name: str
    expected: State | None
    generation: int


def _act(
    args: argparse.Namespace,
    cluster: Cluster,
    action: Action,
    change: Callable[[Object], _Done],
) -> int:
    """Applies `change` to every named service whose state allows `action` (or with --force),
    then with --sync waits for each. Goes on past a failing service; exit code 1 if any did."""
    failed = False
    done: list[_Done] = []
    for identifier in args.names:
        try:
            service = cluster.resolve(identifier)
            name = service["metadata"]["name"]
            refused = refusal(action, state_of(service), name)
            if refused and not args.force:
                raise CliError(refused)
            done.append(change(service))
            _say(name)
        except CliError as error:
            _warn(str(error))
            failed = True
    if args.sync:
        deadline = time.monotonic() + args.timeout
        for item in done:
            left = max(deadline - time.monotonic(), 0.0)
            if not wait_until(cluster, item.name, item.expected, item.generation, left):
                failed = True
    return 1 if failed else 0


def _generation(service: Object) -> int:
    return int(service.get("metadata", {}).get("generation") or 0)


def cmd_start(args: argparse.Namespace, cluster: Cluster) -> int:
    def start(service: Object) -> _Done:
        patched = cluster.patch(service["metadata"]["name"], {"spec": {"running": True}})
        return _Done(patched["metadata"]["name"], State.RUNNING, _generation(patched))

    return _act(args, cluster, Action.START, start)


def cmd_stop(args: argparse.Namespace, cluster: Cluster) -> int:
    def stop(service: Object) -> _Done:
        patched = cluster.patch(service["metadata"]["name"], {"spec": {"running": False}})
        expected = resting_state(False, state_of(service))
        return _Done(patched["metadata"]["name"], expected, _generation(patched))

    return _act(args, cluster, Action.STOP, stop)


def cmd_scale(args: argparse.Namespace, cluster: Cluster) -> int:
    if args.target_num_containers < 0:
        raise CliError("the number of containers cannot be negative")

    def scale(service: Object) -> _Done:
        name = service["metadata"]["name"]
        cluster.scale(name, args.target_num_containers)
        scaled = cluster.get(name)
        expected = resting_state(bool(scaled["spec"].get("running", True)), state_of(service))
        return _Done(name, expected, _generation(scaled))

    return _act(args, cluster, Action.SCALE, scale)


def cmd_redeploy(args: argparse.Namespace, cluster: Cluster) -> int:
    def redeploy(service: Object) -> _Done:
        patched = cluster.patch(
            service["metadata"]["name"], redeploy_patch(not args.not_reuse_volumes)
        )
        expected = resting_state(bool(patched["spec"].get("running", True)), state_of(service))
        return _Done(patched["metadata"]["name"], expected, _generation(patched))

    return _act(args, cluster, Action.REDEPLOY, redeploy)


def cmd_terminate(args: argparse.Namespace, cluster: Cluster) -> int:
    def terminate(service: Object) -> _Done:
        name = service["metadata"]["name"]
        cluster.delete(name)
        return _Done(name, None, 0)

    return _act(args, cluster, Action.TERMINATE, terminate)


def _create(args: argparse.Namespace, cluster: Cluster, running: bool) -> int:
    manifest = service_manifest(args, running)
    name = manifest["metadata"]["name"]
    if not valid_name(name):
        raise CliError(
            f'"{name}" is not a valid service name: lowercase letters, digits and "-", '
            f"starting with a letter, at most {SERVICE_NAME_MAX} characters"
        )
    try:
        created = cluster.create(manifest)
    except CliError as error:
        if "already exists" in str(error) and not args.name:
            raise CliError(f"{error} (the name comes from the image: pass --name)") from None
        raise
    _say(name)
    if args.sync:
        expected = resting_state(running, None)
        if not wait_until(cluster, name, expected, _generation(created), args.timeout):
            return 1
    return 0


def cmd_create(args: argparse.Namespace, cluster: Cluster) -> int:
    return _create(args, cluster, running=False)


def cmd_run(args: argparse.Namespace, cluster: Cluster) -> int:
    return _create(args, cluster, running=True)


def cmd_ps(args: argparse.Namespace, cluster: Cluster) -> int:
    selectors = []
    if args.state:
        selectors.append(f"status.state={args.state}")
    if args.name:
        selectors.append(f"metadata.name={args.name}")
    try:
        services = cluster.list_services(args.all_namespaces, ",".join(selectors) or None)
    except CliError as error:
        if args.state and "field label not supported" in str(error):
            raise CliError(
                f"{error}: this API server cannot filter services by state (field selectors on "
                "custom resources need Kubernetes 1.32+ and the current CRD)"
            ) from None
        raise
    services.sort(key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"]))
    if args.quiet:
        for service in services:
            _say(service.get("status", {}).get("uuid") or service["metadata"].get("uid", ""))
        return 0
    now = datetime.now(UTC)
    headers = ["NAMESPACE", *PS_HEADERS] if args.all_namespaces else PS_HEADERS
    rows = [ps_row(s, now, args.all_namespaces) for s in services]
    _say(table(headers, rows))
    return 0


def cmd_inspect(args: argparse.Namespace, cluster: Cluster) -> int:
    failed = False
    views = []
    for identifier in args.names:
        try:
            views.append(documented_view(cluster.resolve(identifier)))
        except CliError as error:
            _warn(str(error))
            failed = True
    if views:
        _say(json.dumps(views[0] if len(args.names) == 1 else views, indent=2))
    return 1 if failed else 0


class _LogPrinter:
    """Writes documented log lines from several threads, a whole line at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def write(self, line: LogLine) -> None:
        with self.lock:
            sys.stdout.write(log_message(line) + "\n")
            sys.stdout.flush()


def _follow_pod(
    cluster: Cluster, pod: Any, source: str, tail: int | None, printer: _LogPrinter
) -> None:
    """Streams one container's log until it ends; waits while the container is not started."""
    while True:
        try:
            stream = cluster.follow_pod_log(pod, tail)
        except ApiException as error:
            if error.status == 400 and cluster.pod_exists(pod.metadata.name):
                time.sleep(1)  # the container has not started yet: try again
                continue
            if error.status != 404:
                _warn(f"{source}: {api_error_message(error.status, error.body, error.reason, '')}")
            return
        except (TransportError, CliError) as error:
            _warn(f"{source}: {error}")
            return
        try:
            for raw in stream:
                text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
                printer.write(parse_log_line(source, text, int(time.time())))
        except (TransportError, OSError) as error:
            _warn(f"{source}: the log stream ended: {error}")
        finally:
            stream.release_conn()
        return


def cmd_logs(args: argparse.Namespace, cluster: Cluster) -> int:
    if args.tail < 0:
        raise CliError("--tail cannot be negative")
    service = cluster.resolve(args.name)
    name = service["metadata"]["name"]
    pods = {pod.metadata.name: pod for pod in cluster.pods(name)}
    sources = container_sources(name, pods)
    if not args.follow:
        lines: list[LogLine] = []
        failed = 0
        for pod_name, source in sources.items():
            try:
                text = cluster.pod_log(pods[pod_name], args.tail)
            except CliError as error:
                _warn(f"{source} ({pod_name}): no logs: {error}")
                failed += 1
                continue
            lines += [parse_log_line(source, raw) for raw in text.splitlines() if raw]
        for line in merge_logs(lines):
            sys.stdout.write(log_message(line) + "\n")
        sys.stdout.flush()
        return 1 if failed and failed == len(sources) else 0
    printer = _LogPrinter()
    followed: set[str] = set()
    try:
        while True:
            for pod_name in sorted(pods, key=_natural):
                if pod_name in followed:
                    continue
                if pod_name not in sources:  # a container that came later: the next number
                    sources[pod_name] = f"{name}-{len(sources) + 1}"
                followed.add(pod_name)
                threading.Thread(
                    target=_follow_pod,
                    args=(cluster, pods[pod_name], sources[pod_name], args.tail, printer),
                    daemon=True,
                ).start()
            time.sleep(2)
            pods = {pod.metadata.name: pod for pod in cluster.pods(name)}
    except KeyboardInterrupt:
        return 130


# -- the command line ---------------------------------------------------------------------------


def _connection_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """kubectl's options; accepted before and after the command (`kubectl dcs -n x ps`)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--kubeconfig",
        default=default,
        help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    parser.add_argument("--context", default=default, help="the kubeconfig context to use")
    parser.add_argument(
        "-n",
        "--namespace",
        default=default,
        help="the namespace (default: the context's namespace, else default)",
    )


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Docker Cloud's `service` commands for Service resources "
        f"({constants.PLURAL}.{constants.GROUP}), on the cluster of the current kubeconfig.",
    )
    _connection_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _connection_options(common, suppress=True)
    sync = argparse.ArgumentParser(add_help=False)
    sync.add_argument(
        "--sync",
        action="store_true",
        help="wait until the operator reports the resulting state (progress on stderr)",
    )
    sync.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"with --sync, give up after this many seconds (default: {DEFAULT_TIMEOUT:g})",
    )
    force = argparse.ArgumentParser(add_help=False)
    force.add_argument(
        "--force",
        action="store_true",
        help="act even when the documentation does not allow it in the service's state",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[[argparse.Namespace, Cluster], int], help: str,
        *parents: argparse.ArgumentParser,
    ) -> argparse.ArgumentParser:  # fmt: skip
        sub = commands.add_parser(name, help=help, description=help, parents=[common, *parents])
        sub.set_defaults(handler=handler)
        return sub

    ps = command("ps", cmd_ps, "List services")
    ps.add_argument(
        "-s",
        "--state",
        "--status",
        choices=[str(s) for s in State],
        metavar="STATE",
        help="only services in this state (" + ", ".join(State) + ")",
    )
    ps.add_argument("--name", help="only the service of this name")
    ps.add_argument(
        "-A", "--all-namespaces", action="store_true", help="services of every namespace"
    )
    ps.add_argument("-q", "--quiet", action="store_true", help="print only the services' uuids")

    inspect = command("inspect", cmd_inspect, "Get all details of services (documented JSON)")
    inspect.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")

    for name, handler, help in (
        ("create", cmd_create, "Create a new service without starting it"),
        ("run", cmd_run, "Create and run a new service"),
    ):
        sub = command(name, handler, help, sync)
        _create_options(sub)

    for name, handler, help in (
        ("start", cmd_start, "Start a stopped service"),
        ("stop", cmd_stop, "Stop a running service"),
        ("terminate", cmd_terminate, "Terminate a service (its containers and data go too)"),
    ):
        sub = command(name, handler, help, sync, force)
        sub.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")

    scale = command("scale", cmd_scale, "Scale a service", sync, force)
    scale.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")
    scale.add_argument(
        "target_num_containers", type=int, metavar="N", help="the number of containers"
    )

    redeploy = command(
        "redeploy", cmd_redeploy, "Redeploy a service with its current configuration", sync, force
    )
    redeploy.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")
    redeploy.add_argument(
        "--not-reuse-volumes",
        action="store_true",
        help="give the new containers fresh volumes instead of the old ones' data",
    )

    logs = command("logs", cmd_logs, "Get the aggregated logs of a service's containers")
    logs.add_argument("name", metavar="NAME", help="a service's name or uuid")
    logs.add_argument("-f", "--follow", action="store_true", help="follow the log output")
    logs.add_argument(
        "-t",
        "--tail",
        type=int,
        default=DEFAULT_TAIL,
        help=f"the last lines of each container to show (default: {DEFAULT_TAIL})",
    )
    return parser


def _create_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("image", help="the image to deploy, i.e. tutum/hello-world or nginx:1.27")
    add("--name", help="the service's name (default: the image without namespace nor tag)")
    add("--nickname", help="a user-friendly name (default: the name)")
    add("-t", "--target-num-containers", type=int, help="the number of containers (default: 1)")
    add("-r", "--run-command", help="the command the containers run (default: the image's)")
    add("--entrypoint", help="the command prefix of the containers (default: the image's)")
    add(
        "-p",
        "--publish",
        action="append",
        metavar="[OUTER:]INNER[/PROTO]",
        help="publish a container port on the nodes, i.e. 8080:80/tcp (repeatable)",
    )
    add(
        "--expose",
        action="append",
        metavar="INNER[/PROTO]",
        help="a port reachable through links, not published (repeatable)",
    )
    add("-e", "--env", action="append", metavar="KEY=VALUE", help="an environment variable")
    add("--env-file", action="append", metavar="FILE", help="a file of KEY=VALUE lines")
    add(
        "--link-service",
        action="append",
        metavar="SERVICE:ALIAS",
        help="link to another service (name or uuid), i.e. mysql:db (repeatable)",
    )
    add(
        "-v",
        "--volume",
        action="append",
        metavar="[HOST:]CONTAINER[:ro]",
        help="a volume: /container_path, or /host_path:/container_path (repeatable)",
    )
    add("--volumes-from", action="append", metavar="SERVICE", help="mount a service's volumes")
    add("--autorestart", choices=["OFF", "ON_FAILURE", "ALWAYS"], help="default: OFF")
    add("--autodestroy", choices=["OFF", "ON_SUCCESS", "ALWAYS"], help="default: OFF")
    add("--autoredeploy", action="store_true", help="redeploy when the image is updated")
    add(
        "--deployment-strategy",
        choices=["EMPTIEST_NODE", "HIGH_AVAILABILITY", "EVERY_NODE"],
        help="container distribution among nodes (default: EMPTIEST_NODE)",
    )
    add("--tag", action="append", help="deploy only to nodes with this tag (repeatable)")
    add("--role", action="append", choices=["global"], help="an API role to grant the service")
    add("--sequential", action="store_true", help="launch and scale containers in sequence")
    add("--privileged", action="store_true", help="give the containers extended privileges")
    add("--net", choices=["bridge", "host"], help="the network mode (default: bridge)")
    add("--pid", choices=["none", "host"], help="the PID namespace mode (default: none)")
    add("--cpushares", type=int, help="relative CPU weight (1024 = one CPU)")
    add("--memory", type=int, help="memory limit in MB")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cluster = Cluster.connect(args.kubeconfig, args.context, args.namespace)
        return int(args.handler(args, cluster))
    except CliError as error:
        _warn(str(error))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
