"""The reconcile loop, which reads as a sentence: take the service as last seen, build the
objects it needs, compare them with its children, apply what is missing or drifted, delete
what is no longer wanted, and report the status. The thinking is in `resources` and `status`;
this module only does the I/O."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from dockercloud_operator import constants, names
from dockercloud_operator.actions import Decision, decide
from dockercloud_operator.kube import (
    CHILD_KINDS,
    SERVICE_API,
    Kube,
    NamespaceTerminating,
    error_kind,
)
from dockercloud_operator.model import Service, State
from dockercloud_operator.resources import Built, build
from dockercloud_operator.resources.compare import plan
from dockercloud_operator.resources.context import Context, resolve
from dockercloud_operator.resources.volumes import resets_volumes
from dockercloud_operator.status import Observed, compute
from dockercloud_operator.store import Key, Store
from dockercloud_operator.workqueue import Retry, WorkQueue

logger = logging.getLogger(__name__)
MANAGED = f"{constants.LABEL_MANAGED_BY}={names.OPERATOR}"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
CONFIRM_AFTER = 20.0  # seconds: ample for the watches' first listing, even at scale
Object = dict[str, Any]


class Reconciler:
    def __init__(self, kube: Kube, namespaces: list[str] | None = None) -> None:
        self.kube = kube
        self.namespaces: list[str | None] = list(namespaces) if namespaces else [None]
        self.store = Store()
        self.queue = WorkQueue(self._reconcile_key)
        self._confirming: asyncio.Task[None] | None = None

    async def prime(self) -> None:
        """Lists the services and their children once, before the first reconcile, so that
        a restarted operator finds everything in place and writes nothing."""
        for namespace in self.namespaces:
            try:
                services = await asyncio.to_thread(self.kube.list_objects, *SERVICE_API, namespace)
            except ApiException as error:
                if error.status == 404:
                    raise RuntimeError(
                        "The Service CRD is not installed in this cluster: "
                        "kubectl apply --server-side -f crds/service.yaml "
                        "(or: dockercloud-operator crd | kubectl apply -f -)"
                    ) from None
                raise
            for service in services:
                self.store.put_service(service, listed=True)
            for api_version, kind in CHILD_KINDS:
                children = await asyncio.to_thread(
                    self.kube.list_objects, api_version, kind, namespace, MANAGED
                )
                for child in children:
                    self.store.put_child(child, listed=True)
            for pod in await asyncio.to_thread(
                self.kube.list_objects, "v1", "Pod", namespace, MANAGED
            ):
                self.store.put_pod(pod, listed=True)
        logger.info(
            "Found %d services and %d children; reconciling.",
            len(self.store.services),
            sum(len(children) for children in self.store.children.values()),
        )
        self.queue.ready.set()
        self._confirming = asyncio.create_task(self._forget_unconfirmed())

    async def _forget_unconfirmed(self) -> None:
        """Once the watches have listed everything themselves, objects only the start-up
        listing saw were deleted in between: forget them, and look at their services again."""
        await asyncio.sleep(CONFIRM_AFTER)
        for key in self.store.forget_unconfirmed():
            self.queue.add(key)

    def service_seen(self, body: Object) -> None:
        """A service was created or changed: reconcile it, and the services that use it."""
        key = self.store.put_service(body)
        self.queue.add(key)
        for dependent in self.store.dependents(key):
            self.queue.add(dependent)

    def service_gone(self, key: Key) -> None:
        """A service is gone: the services that used it lose their links to it."""
        dependents = self.store.dependents(key)
        self.store.remove_service(key)
        for dependent in dependents:
            self.queue.add(dependent)

    async def _reconcile_key(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        try:
            with contextlib.suppress(NamespaceTerminating):  # it goes with its namespace
                await self.reconcile(key)
        except ApiException as error:
            if error.status == 409:  # someone wrote first: read their version, then try again
                raise Retry(f"{error.reason}: {key[0]}/{key[1]} changed meanwhile") from None
            if error.status == 404 and error_kind(error) == constants.PLURAL:
                return  # the service itself is gone; its deletion event tidies the store
            raise

    async def reconcile(self, key: Key) -> None:
        service = self.store.models.get(key)
        body = self.store.services.get(key)
        if service is None or body is None:
            return
        if service.metadata.deletionTimestamp:
            await self._terminate(key, service, body)
            return
        if constants.FINALIZER not in body["metadata"].get("finalizers", []):
            finalizers = [*body["metadata"].get("finalizers", []), constants.FINALIZER]
            body = await asyncio.to_thread(self.kube.set_finalizers, body, finalizers)
            self.store.put_service(body)

        context = resolve(service, self.store.index)
        children = self.store.children_of(key)
        last_state = (body.get("status") or {}).get("state")
        decision = decide(service, _workload(children), State(last_state) if last_state else None)
        service = decision.effective  # actions the state does not allow yet wait
        built = build(service, context)
        desired_workload = next(o for o in built.objects if o["kind"] in WORKLOAD_KINDS)
        if resets_volumes(service, desired_workload, _workload(children)):
            await self._reset_volumes(key)
        work = plan(built.objects, children)
        for obj in work.apply:
            logger.info("Applying %s %s/%s", obj["kind"], *key)
            self.store.put_child(await asyncio.to_thread(self.kube.apply, obj))
        for obj in work.delete:
            logger.info("Deleting %s %s/%s", obj["kind"], *key)
            await asyncio.to_thread(self.kube.delete, obj)
            self.store.remove_child(obj)
        await self._report(key, service, body, built, context, decision)

    async def _reset_volumes(self, key: Key) -> None:
        """Deletes the containers' claims; as the redeploy replaces each container, its claim
        goes, and the StatefulSet makes a new, empty one."""
        selector = f"{constants.LABEL_SERVICE}={key[1]}"
        claims = await asyncio.to_thread(
            self.kube.list_objects, "v1", "PersistentVolumeClaim", key[0], selector
        )
        for claim in claims:
            logger.info("Redeploying %s/%s without reusing volumes: deleting %s", *key,
                        claim["metadata"]["name"])  # fmt: skip
            await asyncio.to_thread(self.kube.delete, claim)

    async def _report(
        self,
        key: Key,
        service: Service,
        body: Object,
        built: Built,
        context: Context,
        decision: Decision | None = None,
    ) -> None:
        """Writes the status when it changed, with an Event for a new state."""
        children = self.store.children_of(key)
        observed = Observed(
            workload=_workload(children),
            pods=self.store.pods_of(key),
            published_service=next(
                (
                    c
                    for c in children
                    if c["kind"] == "Service"
                    and c["metadata"]["name"] == names.published_service(service.name)
                ),
                None,
            ),
            linked_from=self.store.linked_from(key),
            unsupported=built.unsupported,
            unresolved=context.unresolved,
            held=[str(action) for action in decision.held] if decision else [],
            held_message=decision.message() if decision and decision.held else "",
        )
        previous = body.get("status") or {}
        status = compute(service, observed, previous, datetime.now(UTC))
        if _same(status, previous):
            return
        self.store.put_service(await asyncio.to_thread(self.kube.patch_status, body, status))
        if status.get("state") != previous.get("state"):
            await self._event(body, status["state"], _describe(status))
        held = observed.held_message
        if held and _condition_message(previous, "ActionsAllowed") != held:
            await self._event(body, "ActionHeld", held, warning=True)

    async def _terminate(self, key: Key, service: Service, body: Object) -> None:
        """Terminating: delete the children, wait for the containers to go, then let go."""
        await self._report(key, service, body, Built([], []), Context())
        body = self.store.services.get(key, body)  # as the status write left it
        children = self.store.children_of(key)
        for child in children:
            await asyncio.to_thread(self.kube.delete, child)
            self.store.remove_child(child)
        if children or self.store.pods_of(key):
            return  # pod events bring us back
        finalizers = [f for f in body["metadata"].get("finalizers", []) if f != constants.FINALIZER]
        if len(finalizers) != len(body["metadata"].get("finalizers", [])):
            await asyncio.to_thread(self.kube.set_finalizers, body, finalizers)
            await self._event(body, State.TERMINATED, "the service and its containers are gone")

    async def _event(self, body: Object, state: str, message: str, warning: bool = False) -> None:
        reason = state.title().replace(" ", "") if " " in state else state
        kind = "Warning" if warning else "Normal"
        try:
            await asyncio.to_thread(self.kube.post_event, body, reason, f"{state}: {message}", kind)
        except ApiException as error:  # an Event is news, not state: never worth a retry
            # (a namespace being deleted accepts no new Events: nobody would read them)
            log = logger.debug if error.status == 403 else logger.warning
            log("Could not record the %s event: %s", reason, error.reason)


def _workload(children: list[Object]) -> Object | None:
    return next((c for c in children if c["kind"] in WORKLOAD_KINDS), None)


def _condition_message(status: Object, kind: str) -> str | None:
    return next(
        (c.get("message") for c in status.get("conditions", []) if c.get("type") == kind), None
    )


def _same(status: Object, previous: Object) -> bool:
    return {k: v for k, v in previous.items() if v is not None} == status


def _describe(status: Object) -> str:
    if status.get("state") == State.STOPPING:
        return f"{status.get('current_num_containers', 0)} containers stopping"
    return f"{status.get('running_of_target', '0/0')} containers running"
