"""The operator's view of the cluster: the Services and their children, as last seen.

Kept up to date from watch events (and a first full listing at start-up, so nothing is
reconciled against a half-known world). The children and pods come from `informer.py`, whose
first list is that listing. The services come from kopf's watch: what the start-up listing
found is confirmed by that watch's own first listing; a service deleted in between is never
confirmed, and `forget_unconfirmed` drops it.

Bodies are stored without managedFields, which are most of an object's size and never read
here; services and children as JSON text (`Packed`), pods as the few fields the status reads
(as JSON text too: a quarter of their size as Python objects, and nothing for the garbage
collector to go through)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dockercloud_operator.resources import object_key
from dockercloud_operator.resources.context import Services, references
from dockercloud_operator.schema import constants, encoding
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]
Key = tuple[str, str]  # (namespace, name) of a Service


def _version(body: Object | None) -> int | None:
    try:
        return int((body or {}).get("metadata", {}).get("resourceVersion", ""))
    except ValueError:
        return None


def _older(new: int | None, old: int | None) -> bool:
    """Version `new` is older than `old`. A write's response and the watch event of a later
    write race each other: the older must not overwrite the newer. (Resource versions are
    opaque strings; the API server's are etcd revisions, compared as such.)"""
    return new is not None and old is not None and new < old


def _trimmed(body: Object) -> Object:
    """The body without its managedFields. Bodies are never changed in place (each watch
    event brings new ones), so copying the top and the metadata is enough."""
    metadata = {k: v for k, v in body.get("metadata", {}).items() if k != "managedFields"}
    return {**body, "metadata": metadata}


# What the status reads of a pod; the rest (its spec above all) is never looked at, and at
# a thousand services it would be tens of MiB.
POD_METADATA = ("name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp")
POD_STATUS = ("phase", "hostIP")


def _pod_essentials(body: Object) -> Object:
    """What the status reads of a pod."""
    metadata, status = body.get("metadata", {}), body.get("status", {})
    kept: Object = {
        "metadata": {k: metadata[k] for k in POD_METADATA if k in metadata},
        "status": {k: status[k] for k in POD_STATUS if k in status},
    }
    ready = [  # of its conditions, only whether it is Ready
        {"type": "Ready", "status": c.get("status")}
        for c in status.get("conditions", [])
        if c.get("type") == "Ready"
    ]
    if ready:
        kept["status"]["conditions"] = ready
    if "containerStatuses" in status:
        kept["status"]["containerStatuses"] = [
            {"state": container.get("state", {})} for container in status["containerStatuses"]
        ]
    return kept


def _unversioned(pod: Object) -> Object:
    metadata = {k: v for k, v in pod["metadata"].items() if k != "resourceVersion"}
    return {**pod, "metadata": metadata}


@dataclass(frozen=True, slots=True)
class Packed:
    """A body kept as its JSON text: a Deployment is a few KiB so, and several times that as
    Python objects. It is read back at each reconcile, which costs far less than its watch
    event did."""

    version: int | None
    text: bytes

    @classmethod
    def of(cls, body: Object) -> Packed:
        # A copy of the exact size: orjson's own bytes keep the buffer it grew (four times the
        # text, measured), which at a thousand services was 14 MiB more.
        return cls(_version(body), bytes(memoryview(encoding.dumps(body))))

    def body(self) -> Object:
        body: Object = encoding.loads(self.text)
        return body


def _same_definition(model: Service, metadata: Object) -> bool:
    """The body defines the same service as the model: its spec has not changed (the same
    generation of the same object) and neither has the metadata the model reads."""
    known = model.metadata
    return (
        known.generation is not None
        and (known.uid, known.generation) == (metadata.get("uid"), metadata.get("generation"))
        and known.deletionTimestamp == metadata.get("deletionTimestamp")
        and known.labels == metadata.get("labels", {})
        and known.annotations == metadata.get("annotations", {})
    )


class Store:
    def __init__(self) -> None:
        self.services: dict[Key, Packed] = {}
        self.states: dict[Key, str | None] = {}  # each service's last reported state
        self.models: dict[Key, Service] = {}
        self.index = Services()  # the models by name and uid, for resolving references
        self.linking: set[Key] = set()  # services that reference others
        self.children: dict[Key, dict[tuple[str, str, str], Packed]] = defaultdict(dict)
        self.pods: dict[Key, dict[str, Packed]] = defaultdict(dict)
        self.unconfirmed: set[tuple[str, ...]] = set()  # listed at start, not yet watched

    def _seen(self, identity: tuple[str, ...], listed: bool) -> None:
        if listed:
            self.unconfirmed.add(identity)
        else:
            self.unconfirmed.discard(identity)

    def forget_unconfirmed(self) -> set[Key]:
        """Drops the services the start-up listing saw and the watch never did (they were
        deleted in between); returns the services that used them, to be reconciled again."""
        affected: set[Key] = set()
        for _, namespace, name in list(self.unconfirmed):
            affected.update(self.dependents((namespace, name)))
            self.remove_service((namespace, name))
        self.unconfirmed.clear()
        return {key for key in affected if key in self.services}

    # -- services --------------------------------------------------------------------------

    def service(self, key: Key) -> Object | None:
        """The service's body as last seen."""
        packed = self.services.get(key)
        return packed.body() if packed else None

    def knows_service(self, body: Object) -> bool:
        """This version of the service, or a newer one, is stored already (a watch event
        that says so still confirms what the start-up listing saw)."""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        stored = self.services.get(key)
        new, old = _version(body), stored.version if stored else None
        if new is None or old is None or new > old:
            return False
        self._seen(("service", *key), listed=False)
        return True

    def put_service(self, body: Object, listed: bool = False) -> Key:
        body = _trimmed(body)
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        stored, version = self.services.get(key), _version(body)
        if stored and _older(version, stored.version):
            return key  # a write's answer that a later watch event overtook
        self._seen(("service", *key), listed)
        self.services[key] = Packed.of(body)
        self.states[key] = (body.get("status") or {}).get("state")
        model = self.models.get(key)
        if model is not None and _same_definition(model, body["metadata"]):
            return key  # only its status or finalizers changed: the model stands
        self._forget_model(key)
        try:
            model = Service.model_validate(body)
        except ValidationError:
            return key  # the API server validated it: an object of an older schema
        self.models[key] = model
        self.index.add(model)
        if references(model):
            self.linking.add(key)
        return key

    def remove_service(self, key: Key) -> None:
        self.unconfirmed.discard(("service", *key))
        self.services.pop(key, None)
        self.states.pop(key, None)
        self._forget_model(key)

    def _forget_model(self, key: Key) -> None:
        self.linking.discard(key)
        model = self.models.pop(key, None)
        if model is not None:
            self.index.remove(model)

    def dependents(self, key: Key) -> list[Key]:
        """Services that link to, or mount volumes from, the service at `key`."""
        target = self.models.get(key)
        if target is None:
            return []
        return [
            other_key
            for other_key in self.linking
            if (other := self.models.get(other_key)) is not None
            and any(self.index.find(ref, other.namespace) is target for ref in references(other))
        ]

    # -- children --------------------------------------------------------------------------

    @staticmethod
    def owner_of(child: Object) -> Key | None:
        metadata = child.get("metadata", {})
        service = metadata.get("labels", {}).get(constants.LABEL_SERVICE)
        return (metadata.get("namespace", ""), service) if service else None

    def put_child(self, body: Object) -> Key | None:
        """Stores a child; returns its service, unless this version was stored already (the
        echo of the operator's own write: nothing new to look at)."""
        owner = self.owner_of(body)
        if owner is None:
            return None
        stored = self.children[owner].get(object_key(body))
        version = _version(body)
        if stored is not None and version is not None and version == stored.version:
            return None
        if stored is None or not _older(version, stored.version):
            self.children[owner][object_key(body)] = Packed.of(_trimmed(body))
        return owner

    def remove_child(self, body: Object) -> Key | None:
        owner = self.owner_of(body)
        if owner is not None:
            self.children[owner].pop(object_key(body), None)
            if not self.children[owner]:
                del self.children[owner]
        return owner

    def children_of(self, key: Key) -> list[Object]:
        return [packed.body() for packed in self.children.get(key, {}).values()]

    # -- pods (made by the workloads, watched for the status) ------------------------------

    def put_pod(self, body: Object) -> Key | None:
        """Stores a pod; returns its service, unless nothing the status reads has changed (a
        pod bound to its node, a condition other than Ready): no reconcile would write anything."""
        owner = self.owner_of(body)
        if owner is None:
            return None
        name = body["metadata"]["name"]
        stored = self.pods[owner].get(name)
        if stored is not None and _older(_version(body), stored.version):
            return owner
        pod = _pod_essentials(body)
        self.pods[owner][name] = Packed.of(pod)
        unchanged = stored is not None and _unversioned(stored.body()) == _unversioned(pod)
        return None if unchanged else owner

    def remove_pod(self, body: Object) -> Key | None:
        owner = self.owner_of(body)
        if owner is not None:
            self.pods[owner].pop(body["metadata"]["name"], None)
            if not self.pods[owner]:
                del self.pods[owner]
        return owner

    def pods_of(self, key: Key) -> list[Object]:
        return [packed.body() for packed in self.pods.get(key, {}).values()]

    def linked_from(self, key: Key) -> list[tuple[str, Service]]:
        """(alias, service) of each link to the service at `key`."""
        target = self.models.get(key)
        if target is None:
            return []
        return [
            (link.name or target.name, other)
            for other_key in self.dependents(key)
            if (other := self.models.get(other_key)) is not None
            for link in other.spec.linked_to_service
            if self.index.find(link.to_service, other.namespace) is target
        ]
