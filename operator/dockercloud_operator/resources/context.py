"""What a service's objects depend on besides its own spec: the services it links to and
mounts volumes from, resolved beforehand so the builders stay pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dockercloud_operator.resources.restarts import GivenUp
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.names import parse_resource_uri


@dataclass(frozen=True)
class Link:
    """A resolved link: its alias (the variables' prefix) and the service it reaches."""

    alias: str
    target: Service


@dataclass(frozen=True)
class Context:
    links: list[Link] = field(default_factory=list)
    # binding index -> the service whose volumes that binding mounts
    volumes_from: dict[int, Service] = field(default_factory=dict)
    # References that name no service (yet): reported in a condition, retried when it appears.
    unresolved: list[str] = field(default_factory=list)
    # The cluster offers a container's own restartPolicy (ContainerRestartRules): see restarts.
    restart_rules: bool = False
    # The containers of the current epoch that stopped for good (restarts.plan).
    given_up: GivenUp = field(default_factory=GivenUp)


class Finder(Protocol):
    def find(self, reference: str, namespace: str) -> Service | None:
        """A service by resource URI (any namespace) or by name (in `namespace`)."""


class Services:
    """Services of the cluster by namespace/name and by uid, for resolving references."""

    def __init__(self, services: Iterable[Service] = ()) -> None:
        self.by_key: dict[tuple[str, str], Service] = {}
        self.by_uid: dict[str, Service] = {}
        for service in services:
            self.add(service)

    def add(self, service: Service) -> None:
        self.by_key[(service.namespace, service.name)] = service
        if service.metadata.uid:
            self.by_uid[service.metadata.uid] = service

    def remove(self, service: Service) -> None:
        self.by_key.pop((service.namespace, service.name), None)
        if service.metadata.uid:
            self.by_uid.pop(service.metadata.uid, None)

    def find(self, reference: str, namespace: str) -> Service | None:
        """A service by resource URI (any namespace) or by name (in `namespace`)."""
        parsed = parse_resource_uri(reference)
        if parsed:  # the uuid alone names it: a uid is unique in the cluster
            return self.by_uid.get(parsed[1])
        return self.by_key.get((namespace, reference))


def references(service: Service) -> list[str]:
    """Every other service this one names: link targets and volumes_from sources."""
    return [link.to_service for link in service.spec.linked_to_service] + [
        binding.volumes_from for binding in service.spec.bindings if binding.volumes_from
    ]


def resolve(service: Service, services: Finder | Mapping[tuple[str, str], Service]) -> Context:
    """Resolves the links and volumes_from bindings of `service`."""
    if isinstance(services, Mapping):
        services = Services(services.values())
    links: list[Link] = []
    volumes_from: dict[int, Service] = {}
    unresolved: list[str] = []
    for index, link in enumerate(service.spec.linked_to_service):
        target = services.find(link.to_service, service.namespace)
        if target is None:
            unresolved.append(f"linked_to_service[{index}]: no service {link.to_service}")
        else:
            links.append(Link(alias=link.name or target.name, target=target))
    for index, binding in enumerate(service.spec.bindings):
        if binding.volumes_from is None:
            continue
        source = services.find(binding.volumes_from, service.namespace)
        if source is None:
            unresolved.append(f"bindings[{index}].volumes_from: no service {binding.volumes_from}")
        else:
            volumes_from[index] = source
    return Context(links=links, volumes_from=volumes_from, unresolved=unresolved)
