"""The documented service object: a Service resource as the documented API returns it."""

from __future__ import annotations

from typing import Any

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
