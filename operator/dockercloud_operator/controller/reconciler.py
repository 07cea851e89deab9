"""The reconcile loop, which reads as a sentence: take the service as last seen, build the
objects it needs, compare them with its children, apply what is missing or drifted, delete
what is no longer wanted, and report the status. The thinking is in `resources` and `status`;
this module only does the I/O."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller.actions import Decision
from dockercloud_operator.controller.informer import DELETED, LISTED, Informer
from dockercloud_operator.controller.kube import (
    API_THREADS,
    CHILD_KINDS,
    SERVICE_API,
    AsyncKube,
    Kube,
    NamespaceTerminating,
    error_kind,
    error_message,
)
from dockercloud_operator.controller.retry import Retry
from dockercloud_operator.controller.rollouts import Rollouts, unstall
from dockercloud_operator.controller.stacks import Stacks, stack_key
from dockercloud_operator.controller.status import (
    TRANSITIONAL,
    Observed,
    compute,
    condition_message,
    describe,
    glance,
    moving,
    news,
    unchanged,
    unseen,
)
from dockercloud_operator.controller.step import Step, next_step, workload_of
from dockercloud_operator.controller.store import Key, Packed, Store, same_definition
from dockercloud_operator.controller.workqueue import WorkQueue
from dockercloud_operator.resources import Built, object_key
from dockercloud_operator.resources.context import Context
from dockercloud_operator.schema import constants, names
from dockercloud_operator.schema.model import (
    Service,
)
from dockercloud_operator.schema.parts import (
    State,
)

logger = logging.getLogger(__name__)
MANAGED = f"{constants.LABEL_MANAGED_BY}={names.OPERATOR}"
CONFIRM_AFTER = 20.0  # seconds: ample for the watches' first listing, even at scale
# Seconds the events of a service's children and pods are gathered, from the first, before it
# is looked at again: a rollout's pods and workload change in bursts (a pod made, bound,
# started, ready; the workload's status after each), and one look sees all of a burst.
CHANGE_BATCH = 0.3
STATUS_HOLD = 1.0  # seconds a transitional state lasts before it is written
# Seconds between a transition's progress writes (status.news) once its start is written.
STATUS_REFRESH = 5.0
REFUSED = (400, 403, 422)  # the API server would not take an object as built
# Requests of one kind (applies of Services, status patches, Events...) in flight at once, of
# the API_THREADS connections: a kind the API server is slow at cannot hold them all. (It creates
# ClusterIP Services at the pace of its own loopback client, 50 a second, so at scale a
# Service apply waits seconds, and the Deployments would wait behind them.)
LANE_WIDTH = API_THREADS // 4
# Reconciles under way at once. Unbounded, with 3,000 services changed at once, all of them
# were under way together, each holding its service's objects, decoded and built, while its
# writes waited in the lanes: the operator's memory grew by 160 MiB. A reconcile now waits with
# its writes as JSON text only (`step.Step`), and many may wait: at 128, the Deployments of later
# services waited behind the Kubernetes Services of earlier ones (ClusterIPs are allocated at
# the API server's pace), and 3,000 services took a third longer to be Running. At 256, 1,000
# services took a quarter longer than at 1,024, and kube-controller-manager, given their
# Deployments over a longer time, wrote their statuses more often (more events, more CPU).
RECONCILES_AT_ONCE = 32 * API_THREADS
Object = dict[str, Any]
T = TypeVar("T")


class Refused(Exception):
    """The API server refused a child as built; the status says why."""


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        namespaces: list[str] | None = None,
        status_hold: float = STATUS_HOLD,
        status_refresh: float = STATUS_REFRESH,
    ) -> None:
        self.kube = kube
        self.aio = AsyncKube(kube)  # the reconciles' calls, on the event loop
        self.namespaces: list[str | None] = list(namespaces) if namespaces else [None]
        self.store = Store()
        self.queue = WorkQueue(self._reconcile_key, concurrency=RECONCILES_AT_ONCE)
        self.status_hold = status_hold
        self.status_refresh = status_refresh
        self._written_at: dict[Key, float] = {}  # when each service's status was last written
        # Transitional statuses not written yet: since when, and the status as computed (as
        # JSON text: when thousands of services roll out at once, thousands are held).
        self._held: dict[Key, tuple[float, Packed]] = {}
        self._lanes: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(LANE_WIDTH)
        )
        self._confirming: asyncio.Task[None] | None = None
        self.informers: list[Informer] = []  # the children's and pods' watches
        # Reconciles waiting on their writes, told when the service's children or pods change.
        self._news: dict[Key, asyncio.Event] = {}
        # Whether containers may keep stopped (autorestart OFF, ON_FAILURE): checked in prime.
        self.restart_rules = False
        # Their work shares the queue: ("stack", namespace, name).
        self.stacks = Stacks(self.aio, self.store)
        self.rollouts = Rollouts()  # Deployments whose roll-out has not started

    async def prime(self) -> None:
        """Lists the services and their children once, before the first reconcile, so that
        a restarted operator finds everything in place and writes nothing."""
        where = next((n for n in self.namespaces if n), "default")
        try:
            self.restart_rules, why = await asyncio.to_thread(
                self.kube.offers_container_restart_rules, where
            )
        except Exception as error:  # the probe is a nicety: the services need no answer
            self.restart_rules, why = False, f"the check failed: {error}"
        logger.info("Containers that stop for good: %s (%s).",
                    "kept stopped" if self.restart_rules else "restarted", why)  # fmt: skip
        for namespace in self.namespaces:
            try:
                services = await self.aio.list_objects(*SERVICE_API, namespace)
            except ApiException as error:
                if error.status == 404:
                    raise RuntimeError(
                        "The Service CRD is not installed in this cluster: "
                        "kubectl apply --server-side -f crds/service.yaml "
                        "(or: dockercloud-operator crd | kubectl apply -f -)"
                    ) from None
                raise
            for service in services:  # each looked at once (its watch event may be skipped)
                self.queue.add(self.store.put_service(service, listed=True))
        await self._watch_owned()
        logger.info(
            "Found %d services and %d children; reconciling.",
            len(self.store.services),
            sum(len(children) for children in self.store.children.values()),
        )
        self.queue.ready.set()
        self._confirming = asyncio.create_task(self._forget_unconfirmed())

    async def _watch_owned(self) -> None:
        """Starts the watches of the services' children and pods, and waits for their first
        lists. They share a connection pool of their own: a watch holds its connection."""
        configuration = copy.deepcopy(self.kube.api.configuration)
        kinds = [*CHILD_KINDS, ("v1", "Pod")]
        configuration.connection_pool_maxsize = len(kinds) * len(self.namespaces)
        api = ApiClient(configuration)
        loop = asyncio.get_running_loop()
        self.informers = [
            Informer(
                api,
                api_version,
                kind,
                namespace,
                MANAGED,
                self.pod_changed if kind == "Pod" else self.child_changed,
                loop,
                owner_label=constants.LABEL_SERVICE,
            )
            for namespace in self.namespaces
            for api_version, kind in kinds
        ]
        for informer in self.informers:
            informer.start()
        await asyncio.gather(*(informer.listed.wait() for informer in self.informers))

    def stop_watching(self) -> None:
        for informer in self.informers:
            informer.stop()

    def child_changed(self, kind: str, body: Object) -> None:
        """A child was listed, changed or deleted: a deleted or edited one is restored."""
        owner = self.store.remove_child(body) if kind == DELETED else self.store.put_child(body)
        if owner is not None and kind != LISTED:  # the first list: every service is queued
            self.owned_changed(owner)

    def pod_changed(self, kind: str, body: Object) -> None:
        """Containers come and go, start and crash: the service's status follows."""
        owner = self.store.remove_pod(body) if kind == DELETED else self.store.put_pod(body)
        if owner is not None and kind != LISTED:
            self.owned_changed(owner)

    async def _forget_unconfirmed(self) -> None:
        """Once the watches have listed everything themselves, objects only the start-up
        listing saw were deleted in between: forget them, and look at their services again."""
        await asyncio.sleep(CONFIRM_AFTER)
        for key in self.store.forget_unconfirmed():
            self.queue.add(key)

    def service_seen(self, body: Object) -> None:
        """A service was created or changed: reconcile it, and the services that use it."""
        if self.store.knows_service(body):  # the echo of the operator's own write
            # (or the watch listed the world again, after an outage: retry now, not later)
            self.queue.wake((body["metadata"]["namespace"], body["metadata"]["name"]))
            if stack := stack_key(body):  # a status write: the stack's state may follow
                self.queue.add(stack)
            return
        key = self.store.put_service(body)
        self.queue.add(key)
        for dependent in self.store.dependents(key):
            self.queue.add(dependent)
        if stack := stack_key(body):  # its stack's state follows its own
            self.queue.add(stack)

    def owned_changed(self, key: Key) -> None:
        """A child or pod of the service changed: look at the service again shortly, with
        whatever else changes meanwhile. Never later than the status hold: a state that lasts
        it is seen (with no hold, every state is). A reconcile waiting on its writes reports
        the status meanwhile (`_reporting_while`)."""
        if (news := self._news.get(key)) is not None:
            news.set()
        batch = min(CHANGE_BATCH, self.status_hold)
        if batch > 0:
            self.queue.add_after(key, batch)
        else:
            self.queue.add(key)

    def stack_seen(self, body: Object) -> None:
        self.queue.add(self.stacks.seen(body))

    def stack_gone(self, namespace: str, name: str) -> None:
        self.stacks.gone(namespace, name)

    def service_gone(self, key: Key) -> None:
        """A service is gone: the services that used it lose their links to it."""
        body = self.store.service(key)
        if body is not None and (stack := stack_key(body)):
            self.queue.add(stack)
        dependents = self.store.dependents(key)
        self.store.remove_service(key)
        self._held.pop(key, None)
        self._written_at.pop(key, None)
        self.rollouts.forget(key)
        for dependent in dependents:
            self.queue.add(dependent)

    async def _reconcile_key(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        if key[0] == "stack":
            await self._reconcile_stack(key[1], key[2])
            return
        try:
            with contextlib.suppress(NamespaceTerminating):  # it goes with its namespace
                await self.reconcile(key)
        except ApiException as error:
            if error.status == 409:  # someone wrote first: read their version, then try again
                raise Retry(f"{error.reason}: {key[0]}/{key[1]} changed meanwhile") from None
            if error.status == 404 and error_kind(error) == constants.PLURAL:
                return  # the service itself is gone; its deletion event tidies the store
            raise
        except Refused as refusal:  # reported in the status; a new spec may mend it
            raise Retry(f"{key[0]}/{key[1]}: {refusal}") from None

    async def _reconcile_stack(self, namespace: str, name: str) -> None:
        try:
            with contextlib.suppress(NamespaceTerminating):
                await self.stacks.reconcile(namespace, name)
        except ApiException as error:
            if error.status == 409:
                raise Retry(f"{error.reason}: stack {namespace}/{name} changed meanwhile") from None
            if error.status == 404 and error_kind(error) == "stacks":
                return
            raise

    async def reconcile(self, key: Key) -> None:
        body = self.store.service(key)
        service = self.store.model(key, body)
        if service is None or body is None:
            return
        if service.metadata.deletionTimestamp:
            await self._terminate(key, service, body)
            return
        step = next_step(self.store, key, service, body, self.restart_rules)
        del body  # read again once the writes are answered: a waiting reconcile holds little
        if step.resets_volumes:
            # Each container's claim goes as the redeploy replaces the container, and the
            # StatefulSet makes a new, empty one.
            await self._delete_claims(key, "redeploying without reusing volumes")
        # The finalizer and the children are written side by side: each is its own request,
        # and none needs another's answer (the children's owner is the service's uid).
        writes = [self._apply(key, head, text) for head, text in step.applies]
        if step.finalizer is not None:
            writes.append(self._add_finalizer(step.finalizer))
        tasks = [asyncio.ensure_future(write) for write in writes]
        built = Built([], step.unsupported)  # what the status needs of what was built
        await self._reporting_while(key, tasks, functools.partial(self._report_so_far, key, step))
        refused = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if r]
        for failure in refused:
            if not isinstance(failure, Refused):
                raise failure
        for obj in step.deletes:
            logger.info("Deleting %s %s/%s", obj["kind"], *key)
            await self._call(obj["kind"], self.aio.delete, obj)
            self.store.remove_child(obj)
            if obj["kind"] == "StatefulSet":  # the new workload has no use for its claims
                await self._delete_claims(key, "no longer a StatefulSet")
        if step.stopped and not refused:  # the workload now remembers them: let them go
            for pod in step.stopped:
                logger.info("Deleting the stopped container %s of %s/%s", pod["metadata"]["name"],
                            *key)  # fmt: skip
                meta = pod["metadata"]
                the_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
                    "namespace": key[0], "name": meta["name"], "uid": meta.get("uid")}}  # fmt: skip
                await self._call("Pod", self.aio.delete, the_pod)
        fresh = self.store.service(key)  # as the finalizer write left it
        if fresh is None:
            return  # deleted meanwhile: its deletion event tidies up
        reasons = [str(failure) for failure in refused]
        report = self._report(key, step.service, fresh, built, step.context, step.decision,
                              reasons)  # fmt: skip
        # Its status write may wait long for its turn (thousands of services changed at once):
        # the report holds what it needs, and lets go of the rest before it waits.
        del service, step, fresh, built, tasks, writes
        await report
        if refused:
            raise Refused("; ".join(reasons))

    async def _report_so_far(self, key: Key, step: Step, reasons: list[str]) -> None:
        """The status while the writes of `step` wait, if it has settled."""
        if fresh := self.store.service(key):
            built = Built([], step.unsupported)
            await self._report(key, step.service, fresh, built, step.context, step.decision,
                               reasons, True)  # fmt: skip

    async def _reporting_while(
        self,
        key: Key,
        tasks: Sequence[asyncio.Future[Any]],
        report: Callable[[list[str]], Awaitable[None]],
    ) -> None:
        """Waits for the service's writes, and reports its status meanwhile whenever its
        children or pods change, if it has settled (Running, say): a Kubernetes Service waits
        seconds for its ClusterIP when many are made at once (the API server allocates them at
        the pace of its own client), and containers already running must not wait for it. A
        transition is left to the report that follows the writes, as before: written
        meanwhile, each new service's `Starting` would be a write and an Event more."""
        news = self._news[key] = asyncio.Event()
        try:
            while pending := [task for task in tasks if not task.done()]:
                changed = asyncio.ensure_future(news.wait())
                await asyncio.wait([*pending, changed], return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                if news.is_set() and any(not task.done() for task in tasks):
                    news.clear()
                    await asyncio.sleep(min(CHANGE_BATCH, self.status_hold))  # the burst
                    await report([str(r) for t in tasks if (r := _refusal(t)) is not None])
        except BaseException:  # cancelled (at shutdown), or the report failed: nobody waits
            for task in tasks:
                task.cancel()
            raise
        finally:
            del self._news[key]

    async def _call(self, lane: str, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """An API call, once its lane has room."""
        async with self._lanes[lane]:
            return await call(*args)

    async def _apply(self, key: Key, obj: Object, text: bytes) -> Refused | None:
        """Applies a child (`obj` names it, `text` is all of it); a refusal is returned, to be
        reported, rather than raised."""
        logger.info("Applying %s %s/%s", obj["kind"], *key)
        try:
            self.store.put_child(await self._call(obj["kind"], self.aio.apply, obj, text))
        except ApiException as error:
            if error.status not in REFUSED:
                raise
            if not _immutable(obj, error):
                return Refused(f"{obj['kind']} {obj['metadata']['name']}: {error_message(error)}")
            await self._recreate(key, obj)
        return None

    async def _recreate(self, key: Key, obj: Object) -> None:
        """A StatefulSet whose claim templates, pod management policy or service name change
        cannot be patched: it is deleted, and made anew once it is gone. Its containers go
        (the new one makes them afresh, as a redeploy does); their claims stay, and the new
        StatefulSet takes them up."""
        live = next(
            (c for c in self.store.children_of(key) if object_key(c) == object_key(obj)), None
        )
        if live is not None and not live["metadata"].get("deletionTimestamp"):
            logger.info("Recreating %s %s/%s: what changed cannot change in place",
                        obj["kind"], *key)  # fmt: skip
            await self._call(obj["kind"], self.aio.delete, live)
        raise Retry(f"{obj['kind']} {key[0]}/{key[1]} is being made anew")

    async def _add_finalizer(self, service: Object) -> None:
        """`service` names the service, as read, and the finalizers it is to have."""
        finalizers = service["metadata"]["finalizers"]
        self._keep_answer(
            await self._call("finalizer", self.aio.set_finalizers, service, finalizers)
        )

    def _keep_answer(self, body: Object) -> None:
        """Stores the service as a write of the operator's left it. The answer may carry what
        someone else changed meanwhile (a new spec, a deletion): the watch event of that change,
        arriving after it, would look like the echo of this write (`service_seen`) and be let
        go, so a definition the answer changes is reconciled now. (Without this a service
        deleted while its status was written could stay `Terminating` for good.)"""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        before = self.store.definitions.get(key)
        self.store.put_service(body)
        if not same_definition(self.store.definitions.get(key), before):
            self.queue.add(key)

    async def _delete_claims(self, key: Key, why: str) -> None:
        """Deletes the service's claims. A StatefulSet keeps its claims when it is deleted
        (so that one made anew takes them up): the operator deletes them when they are no
        longer needed."""
        selector = f"{constants.LABEL_SERVICE}={key[1]}"
        claims = await self._call(
            "PersistentVolumeClaim", self.aio.list_objects, "v1", "PersistentVolumeClaim",
            key[0], selector,
        )  # fmt: skip
        for claim in claims:
            logger.info("%s/%s %s: deleting %s", *key, why, claim["metadata"]["name"])
            await self._call("PersistentVolumeClaim", self.aio.delete, claim)

    async def _report(
        self,
        key: Key,
        service: Service,
        body: Object,
        built: Built,
        context: Context,
        decision: Decision | None = None,
        refused: list[str] | None = None,
        settled_only: bool = False,
    ) -> None:
        """Writes the status when it changed, with an Event for a new state. A transitional
        state is written once it has lasted `status_hold`: one that ends sooner (a start on a
        quiet cluster) is folded into the state that follows, saving a write and an Event."""
        children = self.store.children_of(key)
        observed = Observed(
            workload=workload_of(children),
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
            given_up=context.given_up.count,
            held=[str(action) for action in decision.held] if decision else [],
            held_message=decision.message() if decision and decision.held else "",
            refused=refused or [],
        )
        await self._mind_rollout(key, service, body, observed.workload)
        previous = body.get("status") or {}
        # The state machine goes on from a held status, as if it had been written.
        since, kept = self._held.get(key, (time.monotonic(), None))
        basis = kept.body() if kept else previous
        if settled_only and moving(glance(service, observed, basis)):
            return  # the reconcile's own report, once its writes are done, tells a transition
        status = compute(service, observed, basis, datetime.now(UTC))
        if unchanged(status, previous):
            self._held.pop(key, None)
            return
        # A transition, or a rollout under way (not synchronized): written once it has lasted
        # the hold, and then its progress (the state it turns into, and the containers coming
        # up) at most once a refresh interval; what ends it at once.
        if moving(status) and not refused:
            if moving(previous):  # told
                if not news(status, previous):
                    self._held.pop(key, None)
                    return
                # however many containers come and go, one write an interval
                due = self._written_at.get(key, 0.0) + self.status_refresh
            elif status["state"] not in TRANSITIONAL and unseen(observed.workload):
                # A change its workload's controller has not acted on yet (a redeploy, say):
                # which state it brings is the news, not the state before it.
                due = since + self.status_refresh
            else:
                due = since + self.status_hold
            left = due - time.monotonic()
            if left > 0:
                self._held[key] = (since, Packed.of(status))
                self.queue.add_after(key, left)  # written then, if it still holds
                return
        self._held.pop(key, None)
        # The write may wait seconds for its lane, with a thousand others: it holds the status
        # and the service's name, not the children, pods and models the status came from.
        held, message = observed.held_message, "; ".join(observed.refused)
        body = _head(body)
        del observed, children, service, built, context, decision
        self._keep_answer(await self._call("status", self.aio.patch_status, body, status))
        self._written_at[key] = time.monotonic()
        if status.get("state") != previous.get("state"):
            # A new service that comes straight up gets no Event: its creation and its status
            # (Running, started_datetime) say all one would, and at scale it is a write each.
            if previous.get("state") or status["state"] != State.RUNNING:
                await self._event(body, status["state"], describe(status))
            if held:  # the new state may allow what the old one held
                self.queue.add(key)
        if held and condition_message(previous, "ActionsAllowed") != held:
            await self._event(body, "ActionHeld", held, warning=True)
        if message and condition_message(previous, "Applied") != message:
            await self._event(body, "Refused", message, warning=True)

    async def _mind_rollout(
        self, key: Key, service: Service, body: Object, workload: Object | None
    ) -> None:
        """A Deployment whose roll-out has not started is looked at again once it has stalled
        long enough, and then mended if kube-controller-manager holds it (`rollouts`)."""
        wait = self.rollouts.due_in(key, workload, time.monotonic())
        if wait is None:
            return
        if wait > 0:
            self.queue.add_after(key, wait)
            return
        assert workload is not None
        self.rollouts.looked_into(key)
        if mended := await self._call("ReplicaSet", unstall, self.aio, service.name, workload):
            logger.warning("%s/%s: %s", *key, mended)
            await self._event(body, "RolloutUnblocked", mended, warning=True)

    async def _terminate(self, key: Key, service: Service, body: Object) -> None:
        """Terminating: delete the children, wait for the containers to go, then let go."""
        await self._report(key, service, body, Built([], []), Context())
        body = self.store.service(key) or body  # as the status write left it
        children = self.store.children_of(key)
        for child in children:
            await self._call(child["kind"], self.aio.delete, child)
            self.store.remove_child(child)
        if children or self.store.pods_of(key):
            return  # pod events bring us back
        await self._delete_claims(key, "terminating")
        finalizers = [f for f in body["metadata"].get("finalizers", []) if f != constants.FINALIZER]
        if len(finalizers) != len(body["metadata"].get("finalizers", [])):
            await self._call("finalizer", self.aio.set_finalizers, body, finalizers)
            await self._event(body, State.TERMINATED, "the service and its containers are gone")

    async def _event(self, body: Object, state: str, message: str, warning: bool = False) -> None:
        reason = state.title().replace(" ", "") if " " in state else state
        kind = "Warning" if warning else "Normal"
        try:
            await self._call(
                "event", self.aio.post_event, body, reason, f"{state}: {message}", kind
            )
        except ApiException as error:  # an Event is news, not state: never worth a retry
            # (a namespace being deleted accepts no new Events: nobody would read them)
            log = logger.debug if error.status == 403 else logger.warning
            log("Could not record the %s event: %s", reason, error.reason)


IMMUTABLE = "updates to statefulset spec for fields other than"


def _immutable(obj: Object, error: ApiException) -> bool:
    """The API server refused the change of a StatefulSet's fields that cannot change."""
    return (
        error.status == 422 and obj["kind"] == "StatefulSet" and IMMUTABLE in error_message(error)
    )


def _refusal(task: asyncio.Future[Any]) -> Refused | None:
    """What the API server said of a finished write it refused (None for any other)."""
    if not task.done() or task.cancelled():
        return None
    outcome = task.exception() or task.result()
    return outcome if isinstance(outcome, Refused) else None


def _head(service: Object) -> Object:
    """What a status write and its Events read of the service: its name and its status."""
    metadata = service["metadata"]
    return {
        "metadata": {k: metadata[k] for k in ("namespace", "name", "uid") if k in metadata},
        "status": service.get("status") or {},
    }
