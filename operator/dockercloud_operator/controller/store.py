"""The operator's view of the cluster: the Services and their children, as last seen.

Kept up to date from watch events (and a first full listing at start-up, so nothing is
reconciled against a half-known world). The children and pods come from `informer.py`, whose
first list is that listing. The services come from kopf's watch: what the start-up listing
found is confirmed by that watch's own first listing; a service deleted in between is never
confirmed, and `forget_unconfirmed` drops it.

Bodies are stored without managedFields, which are most of an object's size and never read
here; services and children as JSON text (`Packed`), pods as the few fields the status reads
(as JSON text too: a quarter of their size as Python objects, and nothing for the garbage
collector to go through). The services' pydantic models are kept for those used last
(`MODELS_KEPT`) and validated again from the text when needed."""

from __future__ import annotations

import hashlib
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dockercloud_operator.resources import object_key
from dockercloud_operator.resources.context import references
from dockercloud_operator.schema import constants, encoding
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.names import parse_resource_uri

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


Definition = tuple[Any, ...]  # (uid, generation, deletionTimestamp, digest of labels, annotations)


def _definition(metadata: Object) -> Definition:
    """What the service's model is made of besides its spec, which the generation stands for:
    the same definition is the same model."""
    read = encoding.dumps([metadata.get("labels") or {}, metadata.get("annotations") or {}])
    return (
        metadata.get("uid"),
        metadata.get("generation"),
        metadata.get("deletionTimestamp"),
        hashlib.blake2b(read, digest_size=16).digest(),
    )


def same_definition(new: Definition | None, old: Definition | None) -> bool:
    """Both define the same model (an object without a generation is never taken as such)."""
    return new is not None and new[1] is not None and new == old


# Models kept decoded. A model is five KiB and its validation from the stored body 45 us: a
# thousand services keep all of theirs; at ten thousand, those not reconciled lately are
# validated again when they are (a reconcile costs some 5 ms).
MODELS_KEPT = 1024


class Store:
    def __init__(self, models_kept: int = MODELS_KEPT) -> None:
        self.services: dict[Key, Packed] = {}
        self.states: dict[Key, str | None] = {}  # each service's last reported state
        self.definitions: dict[Key, Definition] = {}
        self.uids: dict[str, Key] = {}
        self.linking: dict[Key, list[str]] = {}  # services that reference others: what they name
        self.models_kept = models_kept
        self._models: OrderedDict[Key, Service | None] = OrderedDict()  # most recently used last
        self.index = Index(self)  # the services by name and uid, for resolving references
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

    def model(self, key: Key, body: Object | None = None) -> Service | None:
        """The service's model (from `body`, its stored body if the caller has it at hand,
        when it is not kept); None for a service not known, or whose stored body does not
        validate (the API server validated it: an object of an older schema)."""
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        packed = self.services.get(key)
        if packed is None:
            return None
        return self._keep_model(key, _validated(body if body is not None else packed.body()))

    def _keep_model(self, key: Key, model: Service | None) -> Service | None:
        self._models[key] = model
        if len(self._models) > self.models_kept:
            self._models.popitem(last=False)
        return model

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
        definition = _definition(body["metadata"])
        if same_definition(definition, self.definitions.get(key)):
            return key  # only its status or finalizers changed: the model stands
        self._forget_model(key)
        self.definitions[key] = definition
        if uid := body["metadata"].get("uid"):
            self.uids[uid] = key
        model = self._keep_model(key, _validated(body))
        if model is not None and (named := references(model)):
            self.linking[key] = named
        return key

    def remove_service(self, key: Key) -> None:
        self.unconfirmed.discard(("service", *key))
        self.services.pop(key, None)
        self.states.pop(key, None)
        self._forget_model(key)
        self.definitions.pop(key, None)

    def _forget_model(self, key: Key) -> None:
        self.linking.pop(key, None)
        self._models.pop(key, None)
        definition = self.definitions.get(key)
        if definition is not None and self.uids.get(definition[0]) == key:
            del self.uids[definition[0]]

    def find(self, reference: str, namespace: str) -> Key | None:
        """The service a reference names: by resource URI (any namespace) or by name (in
        `namespace`)."""
        parsed = parse_resource_uri(reference)
        if parsed:  # the uuid alone names it: a uid is unique in the cluster
            return self.uids.get(parsed[1])
        key = (namespace, reference)
        return key if key in self.services else None

    def dependents(self, key: Key) -> list[Key]:
        """Services that link to, or mount volumes from, the service at `key`."""
        if key not in self.services:
            return []
        return [
            other_key
            for other_key, named in self.linking.items()
            if any(self.find(reference, other_key[0]) == key for reference in named)
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
        target = self.model(key)
        if target is None:
            return []
        return [
            (link.name or target.name, other)
            for other_key in self.dependents(key)
            if (other := self.model(other_key)) is not None
            for link in other.spec.linked_to_service
            if self.find(link.to_service, other.namespace) == key
        ]


class Index:
    """The store's services as `resolve` finds them: their models, from the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, reference: str, namespace: str) -> Service | None:
        key = self.store.find(reference, namespace)
        return self.store.model(key) if key is not None else None


def _validated(body: Object) -> Service | None:
    try:
        return Service.model_validate(body)
    except ValidationError:
        return None  # the API server validated it: an object of an older schema
