"""The Stack reconcile: make the stack's services as Service resources it owns, change and
delete them as `spec.services` changes, and report the stack's state from theirs. The Service
resources are then reconciled as any other; this module only does the stack's I/O."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from dockercloud_operator.controller.kube import AsyncKube, error_message
from dockercloud_operator.controller.stack_status import compute, running_of
from dockercloud_operator.controller.store import Store
from dockercloud_operator.resources.stack import STACK_LABEL, member_services
from dockercloud_operator.schema import constants
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    State,
)
from dockercloud_operator.schema.stack import StackSpec

logger = logging.getLogger(__name__)
Object = dict[str, Any]
Key = tuple[str, str]


def stack_key(service: Object) -> tuple[str, str, str] | None:
    """The work-queue key of the stack a Service resource belongs to, if any."""
    meta = service.get("metadata") or {}
    stack = (meta.get("labels") or {}).get(STACK_LABEL)
    return ("stack", meta.get("namespace", "default"), stack) if stack else None


def _problems(error: ValidationError, prefix: str, spec: Object | None = None) -> str:
    """The validation errors in words; a service of the stack is named, not numbered."""
    listed = (spec or {}).get("services")
    parts = []
    for problem in error.errors():
        loc = list(problem["loc"])
        if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int):
            named = listed[loc[1]] if isinstance(listed, list) and loc[1] < len(listed) else {}
            loc[:2] = [f"services[{(named or {}).get('name', loc[1])}]"]
        where = ".".join(str(part) for part in loc)
        parts.append(f"{prefix}{where}: {problem['msg']}" if where else f"{prefix}{problem['msg']}")
    return "; ".join(parts)


class Stacks:
    def __init__(self, kube: AsyncKube, store: Store) -> None:
        self.kube = kube
        self.store = store  # the Service resources, as the service reconcile sees them
        self.bodies: dict[Key, Object] = {}
        # (the manifest applied, the generation it made) of each service of a stack
        self._applied: dict[Key, tuple[str, int | None]] = {}

    def seen(self, body: Object) -> tuple[str, str, str]:
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        self.bodies[key] = {"apiVersion": body.get("apiVersion"), "kind": "Stack", **body}
        return ("stack", *key)

    def gone(self, namespace: str, name: str) -> None:
        self.bodies.pop((namespace, name), None)
        prefix = f"{name}-"
        for key in [k for k in self._applied if k[0] == namespace and k[1].startswith(prefix)]:
            del self._applied[key]

    def _owned(self, namespace: str, name: str, uid: str) -> list[Object]:
        owned = []
        for (ns, service), packed in list(self.store.services.items()):
            if ns != namespace or not service.startswith(f"{name}-"):  # <stack>-<service>
                continue
            body = packed.body()
            meta = body.get("metadata") or {}
            owners = meta.get("ownerReferences") or []
            if (meta.get("labels") or {}).get(STACK_LABEL) == name and any(
                o.get("uid") == uid for o in owners
            ):
                owned.append(body)
        return owned

    async def reconcile(self, namespace: str, name: str) -> None:
        body = self.bodies.get((namespace, name))
        if body is None:
            return
        meta = body["metadata"]
        owned = self._owned(namespace, name, meta.get("uid", ""))
        if meta.get("deletionTimestamp"):
            await self._terminate(body, owned)
            return
        if constants.FINALIZER not in meta.get("finalizers", []):
            body = await self._set_finalizers(body, [*meta.get("finalizers", []),
                                                     constants.FINALIZER])  # fmt: skip
        invalid, wanted = "", []
        try:
            wanted = member_services(body, StackSpec.model_validate(body.get("spec") or {}))
        except ValidationError as error:
            invalid = _problems(error, "spec.", body.get("spec"))
        for manifest in wanted:  # every rule of the Service resource, before anything is made
            try:
                Service.model_validate(manifest)
            except ValidationError as error:
                invalid = _problems(error, f"service {manifest['metadata']['name']}: ")
                break
        current: list[Object | None] = []
        if not invalid:
            for manifest in wanted:
                try:
                    current.append(await self._apply(manifest))
                except ApiException as error:
                    invalid = f"service {manifest['metadata']['name']}: {error_message(error)}"
                    current.append(self.store.service((namespace, manifest["metadata"]["name"])))
            names = {m["metadata"]["name"] for m in wanted}
            for service in owned:  # a service removed from the stack is terminated
                if service["metadata"]["name"] not in names:
                    logger.info("Stack %s/%s: terminating %s, no longer in the stack",
                                namespace, name, service["metadata"]["name"])  # fmt: skip
                    await self.kube.delete(_reference(service))
        else:
            current = [self.store.service((namespace, m["metadata"]["name"])) for m in wanted]
        await self._report(body, [self._latest(s) for s in current], invalid)

    async def _apply(self, manifest: Object) -> Object:
        """Applies a service of the stack, unless it is as last applied: a stack is reconciled
        at each status change of each of its services, and an apply of N unchanged services each
        time would be N requests for nothing. Anyone else's change of the service's spec (a new
        generation) is overwritten all the same."""
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        text = json.dumps(manifest, sort_keys=True)
        live = self.store.service(key)
        generation = (live or {}).get("metadata", {}).get("generation")
        if live is not None and self._applied.get(key) == (text, generation):
            return live
        applied = await self.kube.apply(manifest)
        self._applied[key] = (text, applied["metadata"].get("generation"))
        return applied

    def _latest(self, service: Object | None) -> Object | None:
        """The newest of what an apply answered and what the watch has since brought."""
        if service is None:
            return None
        meta = service["metadata"]
        stored = self.store.service((meta["namespace"], meta["name"]))
        if stored is None:
            return service
        newer = int(stored["metadata"].get("resourceVersion", 0)) >= int(
            meta.get("resourceVersion", 0)
        )
        return stored if newer else service

    async def _terminate(self, body: Object, owned: list[Object]) -> None:
        for service in owned:
            if not service["metadata"].get("deletionTimestamp"):
                await self.kube.delete(_reference(service))
        await self._report(body, owned, "")
        if not owned:
            finalizers = [f for f in body["metadata"].get("finalizers", [])
                          if f != constants.FINALIZER]  # fmt: skip
            if len(finalizers) != len(body["metadata"].get("finalizers", [])):
                await self._set_finalizers(body, finalizers)
                await self._event(body, "Terminated", "the stack and its services are gone")

    async def _set_finalizers(self, body: Object, finalizers: list[str]) -> Object:
        patched = await self.kube.set_finalizers(body, finalizers)
        if self._key(patched) in self.bodies:
            self.seen(patched)
        return patched

    @staticmethod
    def _key(body: Object) -> Key:
        return body["metadata"]["namespace"], body["metadata"]["name"]

    async def _report(self, body: Object, services: Sequence[Object | None], invalid: str) -> None:
        previous = body.get("status") or {}
        status = compute(body, services, invalid, previous, datetime.now(UTC))
        if {k: v for k, v in previous.items() if v is not None} == status:
            return
        patched = await self.kube.patch_status(body, status)
        if self._key(patched) in self.bodies:
            self.seen(patched)
        if status.get("state") != previous.get("state"):
            reported = [((s or {}).get("status") or {}).get("state") for s in services]
            states = [State(state) if state else None for state in reported]
            await self._event(body, status["state"], running_of(states))

    async def _event(self, body: Object, state: str, message: str) -> None:
        reason = state.title().replace(" ", "")
        try:
            await self.kube.post_event(body, reason, f"{state}: {message}")
        except ApiException as error:
            logger.debug("Could not record the %s event: %s", reason, error.reason)


def _reference(service: Object) -> Object:
    meta = service["metadata"]
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "metadata": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta.get("uid")},
    }
