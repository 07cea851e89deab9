"""The documented service object: a Service resource as the documented API returns it."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.documented.naming import image_name
from dockercloud_operator.resources.stack import stack_uri
from dockercloud_operator.schema.names import DEFAULT_NAMESPACE, resource_uri
from dockercloud_operator.schema.parts import (
    State,
)

Object = dict[str, Any]

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
# Attributes that are lists: [] when unset, never null.
LIST_ATTRIBUTES = (
    "bindings", "cap_add", "cap_drop", "container_envvars", "devices", "dns", "dns_search",
    "extra_hosts", "roles", "security_opt", "tags",
)  # fmt: skip
# Status fields for Kubernetes' sake, not documented attributes.
_KUBERNETES_ONLY = {
    "running_of_target", "selector", "observedGeneration", "observedRedeployToken", "conditions",
}  # fmt: skip
# What a service the operator has not reported on yet has: no containers, nothing linked.
_UNREPORTED: Object = {
    "current_num_containers": 0,
    "running_num_containers": 0,
    "stopped_num_containers": 0,
    "containers": [],
    "link_variables": {},
    "linked_from_service": [],
}


_UP = {State.RUNNING, State.PARTLY_RUNNING, State.STARTING, State.SCALING, State.REDEPLOYING}
_DOWN = {State.NOT_RUNNING, State.STOPPED, State.STOPPING}


def current_state(service: Object) -> State:
    """The documented state: the operator's, unless it has not reported on the spec yet. Then a
    start, stop or redeploy the spec asks for shows at once, as Starting, Stopping or
    Redeploying; a service never reported on is Not running when it is not to run (created
    without starting), else Starting; and one being deleted is Terminating."""
    metadata = service.get("metadata", {})
    spec = service.get("spec", {})
    status = service.get("status", {})
    running = bool(spec.get("running", True))
    if metadata.get("deletionTimestamp"):
        return State.TERMINATING
    reported = _state(status.get("state"))
    if reported is None:
        return State.STARTING if running else State.NOT_RUNNING
    seen = status.get("observedGeneration")
    current = seen is not None and int(seen) >= int(metadata.get("generation") or 0)
    token = (spec.get("redeploy") or {}).get("token")
    new_token = token and token != status.get("observedRedeployToken")
    # (A status with no token at all may be older than the field: then only an unseen
    # generation says the token is new.)
    if (
        running
        and reported in _UP
        and new_token
        and ("observedRedeployToken" in status or not current)
    ):
        return State.REDEPLOYING
    if current:
        return reported
    if running and reported in _DOWN:
        return State.STARTING
    if not running and reported in _UP:
        return State.STOPPING
    return reported


def _state(value: Any) -> State | None:
    try:
        return State(value) if value else None
    except ValueError:
        return None


def documented_view(service: Object) -> Object:
    """The service as the documented API returns it: spec and status attributes in one object
    (`image` appears as `image_name`; `running` and `redeploy` as the state), every documented
    attribute present (null when unset), keys sorted as in the documented example.

    The spec is what the service is now (an update shows at once); the status adds what the
    operator observed (state, counts, containers, the ports' endpoints)."""
    metadata = service.get("metadata", {})
    spec = dict(service.get("spec", {}))
    status = {k: v for k, v in service.get("status", {}).items() if k not in _KUBERNETES_ONLY}
    image = spec.pop("image", None)
    spec.pop("running", None)
    spec.pop("redeploy", None)
    uid = metadata.get("uid") or status.get("uuid")
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    uri = resource_uri(uid, namespace) if uid else None
    view: Object = dict.fromkeys(DOCUMENTED_ATTRIBUTES)
    view.update(_UNREPORTED)
    view.update(status)
    view.update(spec)
    view["container_ports"] = _ports(spec.get("container_ports", []), status)
    view["state"] = str(current_state(service))
    if view["synchronized"] is None:
        view["synchronized"] = not service.get("spec", {}).get("running", True)
    name = metadata.get("name")
    view["name"] = name
    view["nickname"] = view["nickname"] or name
    view["uuid"] = uid
    view["resource_uri"] = uri
    view["image_name"] = image_name(image) if image else view["image_name"]
    view["linked_to_service"] = [
        {"from_service": uri, **link} if uri else link for link in view["linked_to_service"] or []
    ]
    for key in LIST_ATTRIBUTES:
        if view[key] is None:
            view[key] = []
    if view["labels"] is None:
        view["labels"] = {}
    return view  # in DOCUMENTED_ATTRIBUTES' (alphabetical) order, as the documented example


def _ports(spec_ports: list[Object], status: Object) -> list[Object]:
    """The spec's ports, with what the operator observed of each: its endpoint, and the node
    port allocated to a published port without an outer_port."""
    observed = {
        (p.get("inner_port"), p.get("protocol")): p for p in status.get("container_ports", [])
    }
    ports = []
    for port in spec_ports:
        seen = observed.get((port.get("inner_port"), port.get("protocol")), {})
        ports.append(
            {
                "port_name": None,
                **port,
                "outer_port": port.get("outer_port") or seen.get("outer_port"),
                "endpoint_uri": seen.get("endpoint_uri"),
            }
        )
    return ports


def stack_view(stack: Object) -> Object:
    """A Stack resource as the documented API returns a stack."""
    metadata = stack.get("metadata", {})
    spec = stack.get("spec") or {}
    status = stack.get("status") or {}
    uid = metadata.get("uid") or ""
    uri = stack_uri(uid, metadata.get("namespace", "default"))
    state = status.get("state") or ("Starting" if spec.get("running", True) else "Not Running")
    if metadata.get("deletionTimestamp"):
        state = "Terminating"
    return {
        "deployed_datetime": status.get("deployed_datetime"),
        "destroyed_datetime": status.get("destroyed_datetime"),
        "name": metadata.get("name"),
        "nickname": spec.get("nickname") or metadata.get("name"),
        "resource_uri": uri,
        "services": list(status.get("services") or []),
        "state": state,
        # not while the operator has not reported on the current spec
        "synchronized": bool(status.get("synchronized", False))
        and status.get("observedGeneration") == metadata.get("generation"),
        "uuid": uid,
    }
